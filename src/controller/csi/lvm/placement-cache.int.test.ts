// CSI CreateVolume's placement over informer caches (placement-cache.ts) against the REAL embedded API server:
// with a cache that lags (here: frozen after its first list, the worst case of a slow watch), concurrent
// placements still see each other through the assumptions — no pool is promised more than it has, and two PVCs
// of one pod share one group; without the assumptions both would fail. With a live cache the assumptions end
// once the informer shows the LocalVolumes, and each volume is counted once.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { HwError } from "../../../api/errors.ts";
import { ScParams } from "../../../api/names.ts";
import { storageNodeViews } from "../../../api/placement/placement.ts";
import { hwameistorClients, nameOf, type HwameistorClients, type Lsn } from "../../../kube/hwameistor.ts";
import { KeyedLock } from "../../../kube/keyed-lock.ts";
import { NAMESPACE, POD } from "../../../kube/resources.ts";
import { silentLogger } from "../../../kube/types.ts";
import { TestServer, useServerWithCrds, waitFor } from "../../../../test/helpers/api-server.ts";
import { nodeTopology, parseLvmParams } from "./params.ts";
import { PlacementCache } from "./placement-cache.ts";
import { provisionVolume, type Provisioner } from "./provision.ts";

const GiB = 1024 ** 3;
const POOL = "LocalStorage_PoolHDD";
const NODES = ["pc-n1", "pc-n2"];
let srv!: TestServer;
let c!: HwameistorClients;
const stops = useServerWithCrds(async (s) => {
  srv = s;
  c = hwameistorClients(s.client);
  for (const node of NODES) {
    await c.lsn.create({ metadata: { name: node }, spec: { hostname: node, storageIP: "10.2.0.1" } } as Lsn);
    const lsn = (await c.lsn.get(node))!;
    const pool = { name: POOL, class: "HDD", type: "REGULAR", totalCapacityBytes: 10 * GiB, usedCapacityBytes: 0, freeCapacityBytes: 10 * GiB };
    await c.lsn.updateStatus({ ...lsn, status: { state: "Ready", pools: { [POOL]: { ...pool, totalVolumeCount: 1000, usedVolumeCount: 0, volumes: [] } } } });
  }
});

async function provisioner(): Promise<{ p: Provisioner; cache: PlacementCache }> {
  const cache = new PlacementCache(c, silentLogger);
  stops.push(() => cache.stop());
  cache.start();
  await waitFor("the placement cache synced", () => cache.synced());
  return { p: { c, cache, log: silentLogger, locks: new KeyedLock() }, cache };
}

const request = (name: string, bytes: number, params: Record<string, string> = {}) => ({
  name,
  csiName: name,
  params: parseLvmParams({ [ScParams.PoolClass]: "HDD", [ScParams.ReplicaNumber]: "1", ...params }, name),
  requiredBytes: bytes,
  topology: nodeTopology(undefined),
});

/** Bytes placed per node by the LocalVolumes named `prefix`*, read from the API server. */
async function placed(prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const lv of (await c.lv.list()).items.filter((v) => nameOf(v).startsWith(prefix))) {
    for (const n of lv.spec?.accessibility?.nodes ?? []) out[n] = (out[n] ?? 0) + (lv.spec?.requiredCapacityBytes ?? 0);
  }
  return out;
}

test("a frozen cache: concurrent placements see each other's assumed volumes; the pools fill exactly, the next is RESOURCE_EXHAUSTED", async () => {
  const { p, cache } = await provisioner();
  await cache.stop(); // the cache keeps what it listed and sees nothing from now on
  // 3 GiB each: 3 fit in each 10 GiB pool, so 6 in all.
  const names = Array.from({ length: 7 }, (_, i) => `pvc-frozen-${i}`);
  const res = await Promise.allSettled(names.map((n) => provisionVolume(p, request(n, 3 * GiB))));
  const failed = res.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as HwError);
  assert.equal(failed.length, 1, `exactly one of 7 must not fit: ${failed.map((e) => e.message).join("; ")}`);
  assert.equal(failed[0]!.code, "RESOURCE_EXHAUSTED");
  assert.match(failed[0]!.fullMessage, /after 3 pending volume\(s\)/);
  const perNode = await placed("pvc-frozen-");
  for (const n of NODES) assert.equal(perNode[n], 9 * GiB, `${n}: ${JSON.stringify(perNode)}`);
  for (const n of names) await c.lv.delete(n).catch(() => {});
});

test("a frozen cache: two PVCs of one pod placed at once share one group and its node", async () => {
  const { p, cache } = await provisioner();
  await srv.client.forKind(NAMESPACE).create({ metadata: { name: "ns-pc" } });
  await srv.client.forKind(POD).create(
    {
      metadata: { name: "db-0", namespace: "ns-pc" },
      spec: {
        containers: [{ name: "c", image: "x" }],
        volumes: [
          { name: "d", persistentVolumeClaim: { claimName: "data" } },
          { name: "l", persistentVolumeClaim: { claimName: "log" } },
        ],
      },
    },
    "ns-pc",
  );
  await cache.stop();
  const pvc = (name: string) => ({ [ScParams.PvcName]: name, [ScParams.PvcNamespace]: "ns-pc" });
  const [a, b] = await Promise.all([
    provisionVolume(p, request("pvc-pod-data", GiB, pvc("data"))),
    provisionVolume(p, request("pvc-pod-log", GiB, pvc("log"))),
  ]);
  assert.equal(a.spec?.volumegroup, b.spec?.volumegroup);
  assert.deepEqual(a.spec?.accessibility?.nodes, b.spec?.accessibility?.nodes);
  const g = (await c.lvg.get(a.spec!.volumegroup!))!;
  assert.deepEqual(g.spec?.volumes?.map((v) => v.localvolume).sort(), ["pvc-pod-data", "pvc-pod-log"]);
  assert.deepEqual(g.spec?.pods, ["db-0"]);
  assert.equal((await c.lvg.list()).items.filter((x) => x.spec?.namespace === "ns-pc").length, 1);
});

test("a live cache: assumptions end when the informer shows the volumes, each counted once; a failed write is forgotten", async () => {
  const { p, cache } = await provisioner();
  const before = (await cache.snapshot()).lvs.length;
  const names = Array.from({ length: 4 }, (_, i) => `pvc-live-${i}`);
  await Promise.all(names.map((n) => provisionVolume(p, request(n, GiB))));
  await waitFor("the cache to show the volumes", () => cache.assumedCount === 0);
  const snap = await cache.snapshot();
  assert.equal(snap.lvs.length, before + 4, "no volume both cached and assumed");
  const pending = storageNodeViews(snap.lsns, snap.lvs)
    .filter((v) => NODES.includes(v.name))
    .reduce((sum, v) => sum + (v.pools[POOL]?.pendingBytes ?? 0), 0);
  const placedNow = Object.values(await placed("pvc-")).reduce((a, b) => a + b, 0);
  assert.equal(pending, placedNow, "pending = every placed volume once");

  // The LocalVolume write fails (a name the API server refuses): the assumption goes, nothing is promised.
  await assert.rejects(provisionVolume(p, request("pvc-Not_Valid", GiB)));
  assert.equal(cache.assumedCount, 0);
  assert.equal((await cache.snapshot()).lvs.length, before + 4);
  assert.equal((await c.lvg.list()).items.filter((g) => g.spec?.volumes?.some((v) => v.localvolume === "pvc-Not_Valid")).length, 0);
});
