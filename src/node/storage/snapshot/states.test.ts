import { test } from "node:test";
import assert from "node:assert/strict";
import { afterRestore, afterSnapshotAction, decideReplicaRestore, decideReplicaSnapshot } from "./states.ts";

test("replica snapshot: scenario table", () => {
  const rows: Array<[string, Parameters<typeof decideReplicaSnapshot>[0], { state?: string; action?: string }]> = [
    ["new → Creating", { state: "", deleteRequested: false, present: false }, { state: "Creating" }],
    ["Creating → take it", { state: "Creating", deleteRequested: false, present: false }, { action: "createSnapshot" }],
    ["NotReady + present → Ready", { state: "NotReady", deleteRequested: false, present: true }, { state: "Ready" }],
    ["Ready + gone → NotReady", { state: "Ready", deleteRequested: false, present: false }, { state: "NotReady" }],
    ["delete → ToBeDeleted", { state: "Ready", deleteRequested: true, present: true }, { state: "ToBeDeleted" }],
    ["ToBeDeleted → remove it", { state: "ToBeDeleted", deleteRequested: true, present: true }, { action: "deleteSnapshot" }],
    ["Deleted → delete the object", { state: "Deleted", deleteRequested: true, present: false }, { action: "deleteObject" }],
    ["delete while Creating → ToBeDeleted", { state: "Creating", deleteRequested: true, present: false }, { state: "ToBeDeleted" }],
    ["lvm: COW area overflowed → NotReady", { state: "Ready", deleteRequested: false, present: true, invalid: true }, { state: "NotReady" }],
  ];
  for (const [name, facts, want] of rows) {
    const d = decideReplicaSnapshot(facts);
    assert.deepEqual({ state: d.state, action: d.action }, { state: want.state, action: want.action }, name);
  }
  assert.equal(afterSnapshotAction("createSnapshot", true).state, "NotReady");
  const failed = afterSnapshotAction("createSnapshot", false, "no space");
  assert.equal(failed.state, undefined);
  assert.deepEqual(failed.conditions, [{ type: "Create", status: "False", message: "no space" }]);
  assert.equal(afterSnapshotAction("deleteSnapshot", true).state, "Deleted");
});

test("replica restore: scenario table", () => {
  const rows: Array<[string, Parameters<typeof decideReplicaRestore>[0], { state?: string; action?: string }]> = [
    ["new → Submitted", { state: "", abort: false }, { state: "Submitted" }],
    ["Submitted → InProgress", { state: "Submitted", abort: false }, { state: "InProgress" }],
    ["InProgress → run", { state: "InProgress", abort: false }, { action: "restore" }],
    ["abort before running → Aborted", { state: "Submitted", abort: true }, { state: "Aborted" }],
    ["abort while running is too late", { state: "InProgress", abort: true }, { action: "restore" }],
    ["Completed is terminal", { state: "Completed", abort: false }, {}],
    ["Failed is terminal (never re-run behind the user's back)", { state: "Failed", abort: false }, {}],
  ];
  for (const [name, facts, want] of rows) assert.deepEqual(decideReplicaRestore(facts), want, name);
  assert.equal(afterRestore(true), "Completed");
  assert.equal(afterRestore(false), "Failed");
});
