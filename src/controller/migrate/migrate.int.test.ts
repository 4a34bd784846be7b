// The migrate controller against the REAL embedded API server, the test playing the LocalVolume reconciler and
// both node agents (replicas appear Ready, the copy reports equal checksums). The controller is stopped and a
// fresh one started at every phase it reaches: each resumes from the objects, the volume never has two
// primaries, and it ends on the target with the annotation `migrateCompleted` and the migration deleted.
// (A stop between two writes, not a SIGKILL mid-write: the API server applies each write atomically.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { syncConfigName } from "../../api/volume-sync.ts";
import { hwameistorClients, type HwameistorClients } from "../../kube/hwameistor.ts";
import { CONFIG_MAP, EVENT } from "../../kube/resources.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";
import { TestServer, useServerWithCrds, waitFor } from "../../../test/helpers/api-server.ts";
import { migrateController } from "./reconciler.ts";

const GiB = 1024 ** 3;
const POOL = "LocalStorage_PoolHDD";
let srv: TestServer | undefined;
let c!: HwameistorClients;
let stopAgents = false;
/** What the played target's re-read of its disk reports ("abc": equal to the copy). */
let onDisk = "abc";
useServerWithCrds((s) => {
  srv = s;
  c = hwameistorClients(s.client);
}).push(async () => {
  stopAgents = true;
});

/**
 * The LocalVolume reconciler's and the node agents' part, played every 100 ms — only while `mayAct` says so: the
 * test holds the agents at each phase until it has restarted the controller there, so no phase the controller
 * waits in (for a replica, a checksum, a deletion) goes by between two polls, however fast the API server is.
 */
async function playAgents(mayAct: () => Promise<boolean>): Promise<void> {
  const cms = srv!.client.forKind<KubeObject & { data?: Record<string, string> }>(CONFIG_MAP);
  while (!stopAgents) {
    try {
      if (!(await mayAct())) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const lv = await c.lv.get("v1");
      const nodes = (lv?.spec?.config?.replicas ?? []).map((r) => r.hostname);
      const lvrs = (await c.lvr.list()).items;
      for (const n of nodes) {
        if (lvrs.some((r) => r.spec?.nodeName === n)) continue;
        await c.lvr.create({ metadata: { name: `v1-${n}` }, spec: { volumeName: "v1", poolName: POOL, nodeName: n, requiredCapacityBytes: GiB } } as never);
        const r = (await c.lvr.get(`v1-${n}`))!;
        await c.lvr.updateStatus({ ...r, status: { state: "Ready", synced: true } } as never);
      }
      for (const r of lvrs) if (!nodes.includes(r.spec?.nodeName ?? "")) await c.lvr.delete(r.metadata!.name!);
      const cm = await cms.get(syncConfigName("v1"), "hwameistor");
      if (cm && !cm.data?.targetChecksum) {
        const attempt = cm.data?.attempt ?? "1";
        await cms.patch(
          syncConfigName("v1"),
          { data: { sourceChecksum: "abc", sourceAttempt: attempt, targetChecksum: "abc", targetAttempt: attempt } },
          { namespace: "hwameistor", type: "merge" },
        );
      } else if (cm && !cm.data?.targetDiskChecksum) {
        // the target's re-read of its disk (src/node/migrate/verify.ts) comes after its checksum
        await cms.patch(
          syncConfigName("v1"),
          { data: { targetDiskChecksum: onDisk, targetDiskAttempt: cm.data?.attempt ?? "1" } },
          { namespace: "hwameistor", type: "merge" },
        );
      }
    } catch {
      // a conflict with the controller: next round
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("stopped and restarted at every phase, a migration resumes and ends on the target with one primary", { timeout: 90_000 }, async () => {
  for (const n of ["n1", "n2"]) {
    await c.lsn.create({ metadata: { name: n }, spec: { hostname: n, storageIP: "" } } as never);
    const lsn = (await c.lsn.get(n))!;
    await c.lsn.updateStatus({
      ...lsn,
      status: {
        state: "Ready",
        pools: {
          [POOL]: {
            name: POOL,
            class: "HDD",
            totalCapacityBytes: 10 * GiB,
            usedCapacityBytes: 0,
            freeCapacityBytes: 10 * GiB,
            totalVolumeCount: 1000,
            usedVolumeCount: 0,
            volumes: [],
          },
        },
      },
    } as never);
  }
  await c.lv.create({
    metadata: { name: "v1" },
    spec: {
      requiredCapacityBytes: GiB,
      poolName: POOL,
      replicaNumber: 1,
      accessibility: { nodes: ["n1"] },
      config: {
        version: 1,
        volumeName: "v1",
        requiredCapacityBytes: GiB,
        convertible: false,
        resourceID: -1,
        readyToInitialize: false,
        initialized: false,
        replicas: [{ id: 1, hostname: "n1", ip: "", primary: true }],
      },
    },
  } as never);
  const lv = (await c.lv.get("v1"))!;
  await c.lv.updateStatus({ ...lv, status: { state: "Ready", rawblock: false } } as never);
  // The phases the controller was restarted at, in order.
  const seen: string[] = [];
  const agents = playAgents(async () => {
    const st = (await c.lvmigrate.get("migrate-v1"))?.status?.state ?? "";
    return !st || seen.at(-1) === st;
  });
  await waitFor("the source replica", async () => !!(await c.lvr.get("v1-n1")));
  await c.lvmigrate.create({
    metadata: { name: "migrate-v1" },
    spec: { volumeName: "v1", sourceNode: "n1", targetNodesSuggested: ["n2"], migrateAllVols: true, abort: false },
  } as never);

  let restarts = 0;
  let ctl = migrateController({ client: srv!.client, log: silentLogger });
  await ctl.start();
  try {
    await waitFor(
      "the migration to finish",
      async () => {
        const lvNow = await c.lv.get("v1");
        const primaries = (lvNow?.spec?.config?.replicas ?? []).filter((r) => r.primary).map((r) => r.hostname);
        assert.ok(primaries.length === 1, `exactly one primary, saw ${primaries.join(", ") || "none"}`);
        const m = await c.lvmigrate.get("migrate-v1");
        const st = m?.status?.state ?? "";
        if (m && st && seen.at(-1) !== st) {
          await ctl.stop(); // the controller goes away at this phase …
          ctl = migrateController({ client: srv!.client, log: silentLogger }); // … and a new one takes over
          await ctl.start();
          restarts++;
          seen.push(st); // … and only now may the agents let this phase end
        }
        return !m;
      },
      60_000,
    );
  } finally {
    await ctl.stop();
    stopAgents = true;
    await agents;
  }
  // Every phase the controller waits in for the agents is held until the restart; Submitted and Completed are
  // passed through by the controller alone and are restarted at when a poll sees them.
  for (const phase of ["AddReplica", "SyncReplica", "PruneReplica"]) assert.ok(seen.includes(phase), `restarted at ${phase}; phases seen: ${seen.join(" → ")}`);
  assert.ok(restarts >= 3, `restarted at every phase held for it (${restarts}: ${seen.join(" → ")})`);
  const done = (await c.lv.get("v1"))!;
  assert.deepEqual(
    done.spec?.config?.replicas.map((r) => `${r.hostname}:${r.primary}`),
    ["n2:true"],
  );
  assert.equal(done.spec?.replicaNumber, 1);
  assert.deepEqual(done.spec?.accessibility?.nodes, ["n2"]);
  assert.equal(done.metadata?.annotations?.["hwameistor.io/volume-migrate-state"], "migrateCompleted");
  assert.equal(await srv!.client.forKind(CONFIG_MAP).get(syncConfigName("v1"), "hwameistor"), undefined, "sync ConfigMap removed");
});

test(
  "the target's disk reads back differently: the target runs, the source replica is kept, condition and Event; accepted, it goes",
  { timeout: 60_000 },
  async () => {
    // v1 lives on n2 after the test above; it moves back to n1, whose played disk reads back something else.
    assert.deepEqual(
      (await c.lv.get("v1"))?.spec?.config?.replicas.map((r) => r.hostname),
      ["n2"],
      "needs the test above",
    );
    stopAgents = false;
    onDisk = "crc32c:1:deadbeef";
    const agents = playAgents(async () => true);
    const ctl = migrateController({ client: srv!.client, log: silentLogger });
    await ctl.start();
    try {
      await c.lvmigrate.create({
        metadata: { name: "migrate-back" },
        spec: { volumeName: "v1", sourceNode: "n2", targetNodesSuggested: ["n1"], migrateAllVols: true, abort: false },
      } as never);
      await waitFor("the condition TargetVerified=False", async () =>
        ((await c.lvmigrate.get("migrate-back"))?.status?.conditions ?? []).some((x) => x.type === "TargetVerified" && x.status === "False"),
      );
      const m = (await c.lvmigrate.get("migrate-back"))!;
      assert.equal(m.status?.state, "PruneReplica");
      assert.match(
        m.status?.message ?? "",
        /volume v1: the copy on node n1 does not read back from its disk as it was written \(on disk: crc32c:1:deadbeef; copied: abc\)/,
      );
      await waitFor("the Warning Event MigrateVerifyFailed", async () =>
        (await srv!.client.forKind<KubeObject & { reason?: string; message?: string }>(EVENT).list({})).items.some(
          (e) => e.reason === "MigrateVerifyFailed" && /volume v1/.test(e.message ?? ""),
        ),
      );
      // The target runs (primary, released to publish); nothing of the source was deleted, and stays so.
      await new Promise((r) => setTimeout(r, 1500));
      const lv = (await c.lv.get("v1"))!;
      assert.deepEqual(lv.spec?.config?.replicas.map((r) => `${r.hostname}:${r.primary}`).sort(), ["n1:true", "n2:false"]);
      assert.equal(lv.metadata?.annotations?.["hwameistor.io/volume-migrate-state"], "migrateCompleted");
      assert.ok(await c.lvr.get("v1-n2"), "the source replica is kept");
      assert.equal((await c.lvmigrate.get("migrate-back"))?.status?.state, "PruneReplica");
      // The operator accepts the target: the source goes, the migration completes.
      await c.lvmigrate.patch("migrate-back", { metadata: { annotations: { "hwameistor.io/migrate-accept-unverified": "true" } } }, { type: "merge" });
      await waitFor("the migration to finish", async () => !(await c.lvmigrate.get("migrate-back")));
      assert.deepEqual(
        (await c.lv.get("v1"))?.spec?.config?.replicas.map((r) => `${r.hostname}:${r.primary}`),
        ["n1:true"],
      );
      await waitFor("the source replica deleted", async () => !(await c.lvr.get("v1-n2")));
    } finally {
      await ctl.stop();
      stopAgents = true;
      await agents;
    }
  },
);
