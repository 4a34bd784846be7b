// Integration: Lease-based leader election between two candidates on the real embedded API server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaderElector, type LeaseObject } from "./leader-election.ts";
import { NodeHeartbeat, type NodeObject } from "./node-lease.ts";
import { LEASE, NODE, NODE_LEASE_NAMESPACE } from "./resources.ts";
import { withTestServer, TestServer, waitFor } from "../../test/helpers/api-server.ts";
import { silentLogger } from "./types.ts";

let srv: TestServer;
const skip = await withTestServer((s) => (srv = s));

function candidate(name: string, identity: string, state: { leading: Set<string>; overlaps: number; starts: string[] }, extra = {}) {
  return new LeaderElector({
    client: srv.newClient(),
    namespace: "default",
    name,
    identity,
    leaseDurationSeconds: 2,
    renewDeadlineMs: 1500,
    retryPeriodMs: 200,
    log: silentLogger,
    onStartedLeading: (signal) => {
      state.leading.add(identity);
      state.starts.push(identity);
      if (state.leading.size > 1) state.overlaps++;
      signal.addEventListener("abort", () => state.leading.delete(identity));
    },
    ...extra,
  });
}

test("leader election: exactly one leads; on release the other takes over quickly", { skip, timeout: 30_000 }, async () => {
  const state = { leading: new Set<string>(), overlaps: 0, starts: [] as string[] };
  const a = candidate("ctl", "a", state);
  const b = candidate("ctl", "b", state);
  a.start();
  b.start();
  try {
    await waitFor("a leader", () => state.leading.size === 1);
    // Hold for a few lease durations: still exactly one leader, the same one.
    const end = Date.now() + 2500;
    while (Date.now() < end) {
      assert.equal([a, b].filter((e) => e.isLeader()).length, 1);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(state.starts.length, 1, "no flapping while the leader renews");
    const first = state.starts[0]!;
    const [leader, other] = first === "a" ? [a, b] : [b, a];
    const lease = await srv.client.forKind<LeaseObject>(LEASE).get("ctl", "default");
    assert.equal(lease?.spec?.holderIdentity, first);
    assert.equal(lease?.spec?.leaseDurationSeconds, 2);

    const t0 = Date.now();
    await leader.stop(); // releases the Lease
    await waitFor("takeover", () => other.isLeader(), 3000);
    const took = Date.now() - t0;
    assert.ok(took < 2000, `takeover after release took ${took} ms (< lease duration)`);
    assert.equal(state.overlaps, 0);
    const after = await srv.client.forKind<LeaseObject>(LEASE).get("ctl", "default");
    assert.equal(after?.spec?.holderIdentity, first === "a" ? "b" : "a");
    assert.equal(after?.spec?.leaseTransitions, 1);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("leader election: a crashed leader (no release) is replaced after the lease expires", { skip, timeout: 30_000 }, async () => {
  const state = { leading: new Set<string>(), overlaps: 0, starts: [] as string[] };
  const a = candidate("crash", "a", state, { releaseOnStop: false });
  a.start();
  await waitFor("a leads", () => a.isLeader());
  await a.stop(); // like a crash: the Lease still names "a"
  const b = candidate("crash", "b", state);
  const t0 = Date.now();
  b.start();
  try {
    await waitFor("b leads", () => b.isLeader(), 6000);
    const took = Date.now() - t0;
    assert.ok(took >= 1800, `b waited for the lease to expire (${took} ms)`);
    assert.ok(took < 4000, `but not much longer (${took} ms)`);
  } finally {
    await b.stop();
  }
});

test("leader election: a leader that cannot renew steps down within renewDeadline, then campaigns again", { skip, timeout: 30_000 }, async () => {
  const own = await srv.another();
  let stopped = 0;
  const a = new LeaderElector({
    client: own.newClient(),
    namespace: "default",
    name: "flaky",
    identity: "a",
    leaseDurationSeconds: 2,
    renewDeadlineMs: 1500,
    retryPeriodMs: 200,
    log: silentLogger,
    onStartedLeading: () => {},
    onStoppedLeading: () => void stopped++,
  });
  a.start();
  try {
    await waitFor("a leads", () => a.isLeader());
    await own.down();
    const t0 = Date.now();
    await waitFor("a steps down", () => !a.isLeader(), 4000);
    const took = Date.now() - t0;
    assert.ok(took >= 1000 && took < 2500, `stepped down after ${took} ms (renewDeadline 1500)`);
    assert.equal(stopped, 1);
    await own.up();
    await waitFor("a leads again", () => a.isLeader(), 6000);
  } finally {
    await a.stop();
    await own.dispose();
  }
});

test("node heartbeat registers the Node, renews its Lease and keeps Ready current", { skip, timeout: 30_000 }, async () => {
  const hb = new NodeHeartbeat({
    client: srv.newClient(),
    nodeName: "edge-1",
    renewIntervalMs: 200,
    statusIntervalMs: 200,
    labels: { "hwameistor.io/test": "yes" },
    log: silentLogger,
  });
  await hb.start();
  try {
    const nodes = srv.client.forKind<NodeObject>(NODE);
    const leases = srv.client.forKind<LeaseObject>(LEASE);
    const node = await nodes.get("edge-1");
    assert.equal(node?.metadata?.labels?.["kubernetes.io/hostname"], "edge-1");
    assert.equal(node?.metadata?.labels?.["hwameistor.io/test"], "yes");
    const ready = node?.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "True");
    const lease1 = await leases.get("edge-1", NODE_LEASE_NAMESPACE);
    assert.equal(lease1?.spec?.holderIdentity, "edge-1");
    assert.equal(lease1?.metadata?.ownerReferences?.[0]?.kind, "Node");
    await waitFor("lease renewal", async () => (await leases.get("edge-1", NODE_LEASE_NAMESPACE))?.spec?.renewTime !== lease1?.spec?.renewTime, 3000);
    const t1 = ready?.lastHeartbeatTime;
    await waitFor("heartbeat", async () => (await nodes.get("edge-1"))?.status?.conditions?.find((c) => c.type === "Ready")?.lastHeartbeatTime !== t1, 4000);
    const later = (await nodes.get("edge-1"))?.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(later?.lastTransitionTime, ready?.lastTransitionTime, "no transition while Ready stays True");
  } finally {
    await hb.stop();
  }
});
