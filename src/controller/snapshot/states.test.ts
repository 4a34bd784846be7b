import { test } from "node:test";
import assert from "node:assert/strict";
import { decideRestore, decideSnapshot, restoreRefusal, type RestoreFacts, type SnapshotFacts } from "./states.ts";

const rs = (name: string, nodeName: string, state: string, extra: object = {}) => ({ name, nodeName, state, delete: false, ...extra });

test("LocalVolumeSnapshot: scenario table", () => {
  const rows: Array<[string, SnapshotFacts, string | undefined, string[]]> = [
    ["new → Creating", { state: "", deleteRequested: false, nodes: ["n1"], replicaSnapshots: [] }, "Creating", []],
    [
      "Creating → one replica snapshot per node",
      { state: "Creating", deleteRequested: false, nodes: ["n1"], replicaSnapshots: [] },
      "NotReady",
      ["createReplicaSnapshots"],
    ],
    [
      "Creating, child exists (crash window) → no second",
      { state: "Creating", deleteRequested: false, nodes: ["n1"], replicaSnapshots: [rs("s-a", "n1", "")] },
      "NotReady",
      [],
    ],
    [
      "NotReady + Ready child → Ready",
      {
        state: "NotReady",
        deleteRequested: false,
        nodes: ["n1"],
        replicaSnapshots: [rs("s-a", "n1", "Ready", { allocatedCapacityBytes: 8, creationTime: "t" })],
      },
      "Ready",
      [],
    ],
    [
      "Ready + child lost → NotReady",
      { state: "Ready", deleteRequested: false, nodes: ["n1"], replicaSnapshots: [rs("s-a", "n1", "NotReady")] },
      "NotReady",
      [],
    ],
    [
      "delete → children marked",
      { state: "Ready", deleteRequested: true, nodes: ["n1"], replicaSnapshots: [rs("s-a", "n1", "Ready")] },
      "ToBeDeleted",
      ["markReplicaSnapshotsDeleted"],
    ],
    [
      "delete, children going → wait",
      { state: "ToBeDeleted", deleteRequested: true, nodes: ["n1"], replicaSnapshots: [{ ...rs("s-a", "n1", "ToBeDeleted"), delete: true }] },
      "ToBeDeleted",
      [],
    ],
    ["delete, none left → Deleted", { state: "ToBeDeleted", deleteRequested: true, nodes: ["n1"], replicaSnapshots: [] }, "Deleted", []],
    ["Deleted → object deleted", { state: "Deleted", deleteRequested: true, nodes: ["n1"], replicaSnapshots: [] }, undefined, ["deleteObject"]],
  ];
  for (const [name, f, state, actions] of rows) {
    const d = decideSnapshot(f);
    assert.equal(d.status?.state, state, name);
    assert.deepEqual(
      d.actions.map((a) => a.kind),
      actions,
      name,
    );
  }
  const ready = decideSnapshot(rows[3]![1]);
  assert.equal(ready.status?.allocatedCapacityBytes, 8);
  assert.equal(ready.status?.creationTime, "t");
  const failing = decideSnapshot({
    state: "NotReady",
    deleteRequested: false,
    nodes: ["n1"],
    replicaSnapshots: [rs("s-a", "n1", "Creating", { reason: "no space" })],
  });
  assert.match(failing.status?.message ?? "", /s-a on n1: no space/);
});

const base = (o: Partial<RestoreFacts> = {}): RestoreFacts => ({
  state: "Submitted",
  abort: false,
  restoreType: "create",
  snapshot: { name: "snapcontent-1", state: "Ready", sourceVolume: "pvc-a", nodes: ["n1"], poolName: "LocalStorage_PoolHDD", sizeBytes: 100 },
  target: { name: "pvc-b", exists: true, nodes: ["n1"], poolName: "LocalStorage_PoolHDD", requiredCapacityBytes: 100, state: "Ready" },
  replicaRestores: [],
  ...o,
});

test("LocalVolumeSnapshotRestore: refusals name the object and change nothing", () => {
  const rows: Array<[string, RestoreFacts, RegExp]> = [
    ["unknown snapshot", base({ snapshot: undefined }), /snapshot does not exist/],
    ["snapshot not Ready", base({ snapshot: { ...base().snapshot!, state: "Creating" } }), /not Ready \(state Creating\)/],
    ["smaller target", base({ target: { ...base().target!, requiredCapacityBytes: 50 } }), /smaller than snapshot/],
    ["other node", base({ target: { ...base().target!, nodes: ["n2"] } }), /in place only/],
    ["rollback while published", base({ restoreType: "rollback", target: { ...base().target!, name: "pvc-a", publishedNode: "n1" } }), /published on node n1/],
  ];
  for (const [name, f, re] of rows) {
    assert.match(restoreRefusal(f) ?? "", re, name);
    const d = decideRestore(f);
    assert.equal(d.state, "Failed", name);
    assert.deepEqual(d.actions, [], name);
  }
  assert.equal(restoreRefusal(base()), undefined);
});

test("LocalVolumeSnapshotRestore: scenario table", () => {
  assert.equal(decideRestore(base({ state: "" })).state, "Submitted");
  const sub = decideRestore(base());
  assert.equal(sub.state, "InProgress");
  assert.deepEqual(sub.actions, [{ kind: "createReplicaRestores", nodes: ["n1"], targetVolume: "pvc-b", poolName: "LocalStorage_PoolHDD" }]);
  assert.deepEqual(
    decideRestore(base({ state: "InProgress" })).actions.map((a) => a.kind),
    ["createReplicaRestores"],
    "crash window: missing child created",
  );
  assert.deepEqual(decideRestore(base({ state: "InProgress", replicaRestores: [{ name: "r", nodeName: "n1", state: "InProgress" }] })), { actions: [] });
  const done = decideRestore(base({ state: "InProgress", replicaRestores: [{ name: "r", nodeName: "n1", state: "Completed" }] }));
  assert.equal(done.state, "Completed");
  assert.deepEqual(done.actions, [{ kind: "annotateTarget", volume: "pvc-b" }]);
  const failed = decideRestore(base({ state: "InProgress", replicaRestores: [{ name: "r", nodeName: "n1", state: "Failed", message: "in use" }] }));
  assert.deepEqual([failed.state, failed.message], ["Failed", "in use"]);
  assert.equal(decideRestore(base({ abort: true })).state, "Aborted");
  assert.deepEqual(decideRestore(base({ state: "Completed", replicaRestores: [{ name: "r", nodeName: "n1", state: "Completed" }] })).actions, [
    { kind: "cleanupReplicaRestores" },
  ]);
});
