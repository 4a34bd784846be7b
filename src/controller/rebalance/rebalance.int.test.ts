// Rebalancing against the REAL embedded API server: `hwameictl volume rebalance --dry-run` prints the plan from the
// objects (and moves nothing), refuses while another migration runs, and the Cluster's spec.rebalance policy starts
// exactly one LocalVolumeMigrate (the planned target suggested), records RebalanceStarted on the Cluster and its
// status, and waits while that migration runs. (No migrate controller here: the migration stays pending, which is
// what "one at a time" is tested against; test/e2e/migration.test.ts moves a volume for real.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { hwameistorClients, type HwameistorClients } from "../../kube/hwameistor.ts";
import { EVENT } from "../../kube/resources.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";
import { runHwameictl } from "../../../test/helpers/hwameictl.ts";
import { TestServer, useServerWithCrds, waitFor } from "../../../test/helpers/api-server.ts";
import { rebalanceController } from "./reconciler.ts";

const GiB = 1024 ** 3;
const POOL = "LocalStorage_PoolHDD";
let srv!: TestServer;
let c!: HwameistorClients;
const stops = useServerWithCrds((s) => {
  srv = s;
  c = hwameistorClients(s.client);
});

const ctl = (args: string[]) => runHwameictl(srv.kubeconfigPath, srv.dir, args);

async function node(name: string, usedGiB: number, volumes: string[]): Promise<void> {
  await c.lsn.create({ metadata: { name }, spec: { hostname: name, storageIP: "" } } as never);
  const lsn = (await c.lsn.get(name))!;
  const pool = {
    name: POOL,
    class: "HDD",
    totalCapacityBytes: 10 * GiB,
    usedCapacityBytes: usedGiB * GiB,
    freeCapacityBytes: (10 - usedGiB) * GiB,
    totalVolumeCount: 1000,
    usedVolumeCount: volumes.length,
    volumes,
  };
  await c.lsn.updateStatus({ ...lsn, status: { state: "Ready", engine: { kind: "file" }, pools: { [POOL]: pool } } } as never);
}

async function volume(name: string, on: string, gib: number): Promise<void> {
  await c.lv.create({
    metadata: { name },
    spec: {
      poolName: POOL,
      requiredCapacityBytes: gib * GiB,
      replicaNumber: 1,
      accessibility: { nodes: [on] },
      config: {
        version: 1,
        volumeName: name,
        requiredCapacityBytes: gib * GiB,
        convertible: false,
        resourceID: 1,
        readyToInitialize: true,
        initialized: true,
        replicas: [{ id: 1, hostname: on, ip: "", primary: true }],
      },
    },
  } as never);
  const lv = (await c.lv.get(name))!;
  await c.lv.updateStatus({ ...lv, status: { state: "Ready" } } as never);
  await c.lvr.create({
    metadata: { name: `${name}-${on}` },
    spec: { volumeName: name, poolName: POOL, nodeName: on, requiredCapacityBytes: gib * GiB },
  } as never);
  const r = (await c.lvr.get(`${name}-${on}`))!;
  await c.lvr.updateStatus({ ...r, status: { state: "Ready" } } as never);
}

test("rebalance: the dry run's plan, one at a time, and the Cluster policy", { timeout: 60_000 }, async () => {
  // a: 9 of 10 GiB (v-big 5, v-small 2, v-snap 2 with a snapshot); b: 6 GiB; c: 1 GiB.
  await node("a", 9, ["v-big", "v-small", "v-snap"]);
  await node("b", 6, ["v-b"]);
  await node("c", 1, ["v-c"]);
  for (const [n, on, g] of [
    ["v-big", "a", 5],
    ["v-small", "a", 2],
    ["v-snap", "a", 2],
    ["v-b", "b", 6],
    ["v-c", "c", 1],
  ] as const)
    await volume(n, on, g);
  await c.lvs.create({ metadata: { name: "snap-1" }, spec: { sourceVolume: "v-snap", requiredCapacityBytes: GiB, accessibility: { nodes: ["a"] } } } as never);

  // --dry-run: the smallest volume that brings a under 80% goes to the least full node; nothing is created.
  const dry = await ctl(["volume", "rebalance", "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /dry run: nothing is moved/);
  assert.match(dry.stdout, /1\s+v-small\s+2Gi\s+a\s+c\s+LocalStorage_PoolHDD\s+90% → 70%\s+10% → 30%/);
  assert.match(dry.stdout, /v-snap\s+a\s+has 1 snapshot\(s\) \(snap-1\), which stay on their node/);
  assert.match(dry.stdout, /a\s+LocalStorage_PoolHDD\s+10Gi\s+9Gi\s+90% \(over\)\s+70%/);
  // At 50%: v-big alone would do but would fill any target above 50%; v-small moves, a stays over and says so.
  const json = JSON.parse((await ctl(["-o", "json", "volume", "rebalance", "--dry-run", "--threshold", "50"])).stdout);
  assert.deepEqual(
    json.moves.map((m: { volumes: string[]; to: string }) => `${m.volumes.join("+")}>${m.to}`),
    ["v-small>c"],
  );
  assert.match(JSON.stringify(json.skipped), /v-big.*no node can take it \(5Gi\): b: .*c: would be 60% full/);
  assert.match(json.remaining[0], /^a LocalStorage_PoolHDD stays at 70% \(threshold 50%\)/);
  assert.deepEqual((await c.lvmigrate.list()).items, [], "a dry run creates nothing");
  // Bad input: a clear error naming the flag or the node.
  const bad = await ctl(["volume", "rebalance", "--threshold", "120", "--dry-run"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--threshold "120" is not a fill percentage/);
  assert.match((await ctl(["volume", "rebalance", "--node", "nope", "--dry-run"])).stderr, /nope/);

  // Another migration runs: rebalancing refuses, naming it.
  await c.lvmigrate.create({
    metadata: { name: "migrate-v-b" },
    spec: { volumeName: "v-b", sourceNode: "b", targetNodesSuggested: [], migrateAllVols: true, abort: false },
  } as never);
  const busy = await ctl(["volume", "rebalance"]);
  assert.notEqual(busy.code, 0);
  assert.match(busy.stderr, /LocalVolumeMigrate migrate-v-b \(volume v-b, submitted\) is running; rebalancing moves one volume at a time/);
  await c.lvmigrate.delete("migrate-v-b");

  // The Cluster policy: one migration, the planned target suggested, an Event and status on the Cluster.
  let clock = Date.now();
  const rc = rebalanceController({ client: srv.client, log: silentLogger, now: () => clock });
  stops.push(() => rc.stop());
  await c.hmcluster.create({
    metadata: { name: "cluster-sample" },
    spec: { rebalance: { enabled: true, thresholdPercent: 80, intervalSeconds: 10 } },
  } as never);
  await rc.start();
  await waitFor("the policy's migration", async () => !!(await c.lvmigrate.get("rebalance-v-small")), 20_000);
  const m = (await c.lvmigrate.get("rebalance-v-small"))!;
  assert.deepEqual([m.spec?.sourceNode, m.spec?.targetNodesSuggested], ["a", ["c"]]);
  await waitFor(
    "status.rebalance.migration",
    async () => (await c.hmcluster.get("cluster-sample"))?.status?.rebalance?.migration === "rebalance-v-small",
    10_000,
  );
  const events = (await srv.client.forKind<KubeObject & { reason?: string; message?: string }>(EVENT).list({})).items;
  assert.ok(
    events.some((e) => e.reason === "RebalanceStarted" && /moving v-small \(2Gi\) from a .*to c .*LocalVolumeMigrate rebalance-v-small/.test(e.message ?? "")),
    JSON.stringify(events.map((e) => [e.reason, e.message])),
  );
  // The interval passes while the migration still runs: the loop waits, it does not start a second one.
  clock += 20_000;
  await c.hmcluster.patch("cluster-sample", { metadata: { annotations: { poke: "1" } } }, { type: "merge" });
  await waitFor(
    "the waiting message",
    async () => /waiting: LocalVolumeMigrate rebalance-v-small running/.test((await c.hmcluster.get("cluster-sample"))?.status?.rebalance?.message ?? ""),
    10_000,
  );
  assert.deepEqual(
    (await c.lvmigrate.list()).items.map((x) => x.metadata?.name),
    ["rebalance-v-small"],
  );
});
