// Integration: the controller process watches each kind once (issue: the LocalVolume kind was listed and
// watched by six informers). The API server's own count of open watches per resource (/metrics) is the
// judge. A second replica (not leader: CSI only) adds one watch for each kind the CSI caches read; after a
// hand-over the new leader's reconcilers join its shared informers, and a stopped controller leaves no watch.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startController, type RunningController } from "./index.ts";
import { applyKindCrds, loadServer, SERVER_UNAVAILABLE, TestServer, waitFor } from "../../test/helpers/api-server.ts";
import { watchCounts } from "../kube/watch-counts.ts";
import { silentLogger } from "../kube/types.ts";

const start = await loadServer();
const skip = start ? false : SERVER_UNAVAILABLE;
const CSI_KINDS = ["localstoragenodes", "localvolumes", "localvolumegroups", "localvolumereplicas"].map((r) => `hwameistor.io/${r}`);

let srv: TestServer;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctl-watches-"));
before(async () => {
  if (!start) return;
  srv = await new TestServer(start).up();
  await applyKindCrds(srv.client);
});
after(async () => {
  await srv?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Watch counts once they have not changed for `quietMs` (reconcilers that are not awaited start late). */
async function settled(quietMs = 1500): Promise<Map<string, number>> {
  let last = "";
  let since = Date.now();
  for (;;) {
    const now = await watchCounts(srv.client);
    const s = JSON.stringify([...now].sort());
    if (s !== last) [last, since] = [s, Date.now()];
    else if (Date.now() - since >= quietMs) return now;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const show = (m: Map<string, number>) => JSON.stringify(Object.fromEntries([...m].sort()));

test("controller: one watch per kind, shared by the reconcilers and the CSI caches of every replica", { skip, timeout: 90_000 }, async () => {
  const replica = (identity: string) =>
    startController({
      client: srv.newClient(),
      csiSocketDir: path.join(dir, identity),
      log: silentLogger,
      identity,
      leaseDurationSeconds: 2,
      renewDeadlineMs: 1_500,
      retryPeriodMs: 300,
    });
  let a: RunningController | undefined;
  let b: RunningController | undefined;
  try {
    a = await replica("a");
    await waitFor("a leads", () => a!.isLeader(), 20_000);
    const leader = await settled();
    for (const [k, n] of leader) {
      // Leases: two namespaces (worker Leases in hwameistor, node heartbeats in kube-node-lease), one watch each.
      assert.equal(n, k === "coordination.k8s.io/leases" ? 2 : 1, `${k}: ${n} watches (all: ${show(leader)})`);
    }
    for (const k of CSI_KINDS) assert.equal(leader.get(k), 1, `${k} is watched (all: ${show(leader)})`);

    // A replica that does not lead serves CSI from its own caches: one watch for each kind they read, no more.
    b = await replica("b");
    const both = await settled();
    for (const [k, n] of both) assert.equal(n - (leader.get(k) ?? 0), CSI_KINDS.includes(k) ? 1 : 0, `${k} with a second replica (all: ${show(both)})`);

    // Hand-over: b's reconcilers join b's informers; a leaves nothing behind.
    await a.stop();
    a = undefined;
    await waitFor("b leads", () => b!.isLeader(), 20_000);
    const after = await settled();
    assert.equal(show(after), show(leader), "the new leader watches exactly what the first did");

    await b.stop();
    b = undefined;
    const none = await settled(500);
    assert.equal(
      [...none.values()].reduce((x, y) => x + y, 0),
      0,
      `no watch left (${show(none)})`,
    );
  } finally {
    await a?.stop();
    await b?.stop();
  }
});
