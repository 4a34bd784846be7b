// What a node's data plane should hold for a replicated volume, and what its status means for the API.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { VolumeConfig } from "../../api/kinds/local-volume.ts";
import type { DpVolumeStatus } from "../../host/dataplane/protocol.ts";
import { desiredConfig, haStateOf, needsConfigure, peerSynced, peersAwaitingConsent, primarySynced, resyncOf } from "./ha.ts";
import { nodeIsDead, peerAddress, replicationRefusal } from "../../api/replication.ts";

const cfg = (version: number, primary: string): VolumeConfig => ({
  version,
  volumeName: "pvc-1",
  requiredCapacityBytes: 1 << 30,
  convertible: true,
  resourceID: 0,
  readyToInitialize: false,
  initialized: false,
  replicas: [
    { id: 1, hostname: "n1", ip: "10.0.0.1", primary: primary === "n1" },
    { id: 2, hostname: "n2", ip: "10.0.0.2", primary: primary === "n2" },
    { id: 3, hostname: "n3", ip: "10.0.0.3", primary: primary === "n3" },
  ],
});
const addr = (_n: string, ip: string) => `${ip}:43000`;
const dp = (o: Partial<DpVolumeStatus>): DpVolumeStatus => ({
  volume: "pvc-1",
  sizeBytes: 1 << 30,
  role: "primary",
  epoch: 3,
  localState: "UpToDate",
  peers: [],
  ...o,
});

test("desiredConfig: epoch = config.version, role from primary, peers = the others with their addresses", () => {
  assert.deepEqual(desiredConfig(cfg(3, "n2"), "n2", addr), {
    epoch: 3,
    role: "primary",
    peers: [
      { node: "n1", address: "10.0.0.1:43000" },
      { node: "n3", address: "10.0.0.3:43000" },
    ],
  });
  assert.equal((desiredConfig(cfg(3, "n2"), "n1", addr) as { role: string }).role, "secondary");
  assert.match((desiredConfig(cfg(3, "n2"), "n9", addr) as { error: string }).error, /node n9 holds no replica in config version 3/);
  assert.match((desiredConfig(cfg(3, "n2"), "n1", (n, ip) => (n === "n3" ? undefined : ip)) as { error: string }).error, /peer node\(s\) n3/);
});

test("needsConfigure: epoch, role or the peer set differ (order does not matter)", () => {
  const want = { epoch: 3, role: "primary" as const, peers: [{ node: "n1", address: "a:1" }] };
  assert.equal(needsConfigure(undefined, want), true);
  assert.equal(needsConfigure(dp({ peers: [{ node: "n1", address: "a:1", state: "UpToDate" }] }), want), false);
  assert.equal(needsConfigure(dp({ epoch: 2, peers: [{ node: "n1", address: "a:1", state: "UpToDate" }] }), want), true);
  assert.equal(needsConfigure(dp({ role: "secondary", peers: [{ node: "n1", address: "a:1", state: "UpToDate" }] }), want), true);
  assert.equal(needsConfigure(dp({ peers: [{ node: "n1", address: "a:2", state: "UpToDate" }] }), want), true);
});

test("haState and synced: UpToDate only is Consistent/synced; fenced is Down; a suspended primary waits for consent on Disconnected peers", () => {
  assert.deepEqual(haStateOf(undefined, "no socket"), { state: "Down", reason: "no socket" });
  assert.equal(haStateOf(dp({})).state, "Consistent");
  assert.equal(haStateOf(dp({ localState: "Inconsistent", role: "secondary" })).state, "Inconsistent");
  assert.equal(haStateOf(dp({ localState: "Outdated" })).state, "Inconsistent");
  assert.equal(haStateOf(dp({ fenced: true })).state, "Down");
  assert.equal(primarySynced(dp({})), true);
  assert.equal(primarySynced(dp({ fenced: true })), false);
  assert.equal(primarySynced(dp({ role: "secondary" })), false);
  assert.equal(peerSynced({ node: "n1", address: "", state: "UpToDate" }), true);
  for (const s of ["SyncTarget", "Disconnected", "Outdated", "Connecting", "StaleEpoch"])
    assert.equal(peerSynced({ node: "n1", address: "", state: s }), false);
  const peers = [
    { node: "n1", address: "", state: "Disconnected" },
    { node: "n3", address: "", state: "UpToDate" },
  ];
  assert.deepEqual(
    peersAwaitingConsent(dp({ suspended: true, peers })).map((p) => p.node),
    ["n1"],
  );
  assert.deepEqual(peersAwaitingConsent(dp({ suspended: false, peers })), []);
  // a peer still Connecting: given a grace period (a replica being set up), then outdated too (a dead old primary)
  const connecting = [{ node: "n1", address: "", state: "Connecting" }];
  assert.deepEqual(
    peersAwaitingConsent(dp({ suspended: true, peers: connecting }), () => 1000),
    [],
  );
  assert.deepEqual(
    peersAwaitingConsent(dp({ suspended: true, peers: connecting }), () => 3000).map((p) => p.node),
    ["n1"],
  );
  assert.deepEqual(peersAwaitingConsent(dp({ suspended: true, role: "secondary", peers })), []);
  assert.deepEqual(resyncOf({ node: "n1", address: "", state: "SyncTarget", resyncDoneBytes: 5, resyncTotalBytes: 10 }), {
    doneBytes: 5,
    totalBytes: 10,
    dirtyBytes: 0,
  });
});

test("replication facts: refusal reasons, peer address, a dead node by Offline or an expired Lease", () => {
  assert.match(replicationRefusal(undefined)!, /no data plane/);
  assert.match(replicationRefusal({ status: { replication: { available: false, reason: "socket gone" } } })!, /socket gone/);
  assert.match(replicationRefusal({ status: { replication: { available: true } }, spec: {} })!, /no storage IP/);
  assert.equal(replicationRefusal({ status: { replication: { available: true, address: "10.0.0.1:43000" } } }), undefined);
  assert.equal(peerAddress({ status: { replication: { available: true, address: "10.0.0.1:43100" } } }, "10.0.0.1"), "10.0.0.1:43100");
  assert.equal(peerAddress(undefined, "10.0.0.2"), "10.0.0.2:43000");
  assert.equal(peerAddress(undefined, ""), undefined);
  // Learnt from the LocalStorageNode: a data plane restarted on another IP or port is followed at once.
  const lsn = (address: string | undefined, available = true, storageIP = "10.0.0.9") => ({
    spec: { storageIP },
    status: { replication: { available, ...(address ? { address } : {}) } },
  });
  assert.equal(peerAddress(lsn("10.0.0.7:43017"), "10.0.0.1", "10.0.0.1:43000"), "10.0.0.7:43017");
  // A wildcard listen gives the port; the host is the node's storage IP (the current one, not the config's).
  assert.equal(peerAddress(lsn("0.0.0.0:43100"), "10.0.0.1"), "10.0.0.9:43100");
  assert.equal(peerAddress(lsn("[::]:43100"), "10.0.0.1"), "10.0.0.9:43100");
  assert.equal(peerAddress(lsn("0.0.0.0:43100", true, ""), ""), undefined);
  assert.match(replicationRefusal(lsn("0.0.0.0:43100", true, ""))!, /no storage IP/);
  assert.equal(replicationRefusal(lsn("0.0.0.0:43100")), undefined);
  // Its data plane restarting (unavailable): the address in use stays (no guess that moves the peer).
  assert.equal(peerAddress(lsn(undefined, false), "10.0.0.1", "10.0.0.7:43017"), "10.0.0.7:43017");
  assert.equal(peerAddress(lsn(undefined, false), "10.0.0.1"), "10.0.0.9:43000");
  const now = Date.parse("2026-01-01T00:01:00Z");
  assert.equal(nodeIsDead({ status: { state: "Offline" } }, undefined, now), true);
  assert.equal(nodeIsDead({ status: { state: "Ready" } }, undefined, now), false);
  assert.equal(nodeIsDead(undefined, { spec: { renewTime: "2026-01-01T00:00:00Z", leaseDurationSeconds: 30 } }, now), true);
  assert.equal(nodeIsDead(undefined, { spec: { renewTime: "2026-01-01T00:00:45Z", leaseDurationSeconds: 30 } }, now), false);
});
