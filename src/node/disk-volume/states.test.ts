import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, type Action, type VolumeFacts } from "./states.ts";

const base: VolumeFacts = { state: "", deleting: false, hasDisk: false, mountPointCount: 0, diskOnNode: false, poolLinkOk: false, diskMarkedInUse: false };

const scenarios: Array<[string, Partial<VolumeFacts>, string | undefined, Action[], boolean?]> = [
  // name, given, expected next state, expected actions, requeue?
  ["new, no disk yet", {}, undefined, []],
  ["new with disk, disk unknown here", { hasDisk: true }, undefined, [], true],
  ["Creating with disk on node", { state: "Creating", hasDisk: true, diskOnNode: true }, "Created", ["ensurePoolLink", "markDiskInUse"]],
  ["'' with disk on node (status written in one step)", { hasDisk: true, diskOnNode: true }, "Created", ["ensurePoolLink", "markDiskInUse"]],
  ["Created in sync", { state: "Created", hasDisk: true, diskOnNode: true, poolLinkOk: true, diskMarkedInUse: true }, undefined, []],
  ["Ready, link lost (node reinstalled)", { state: "Ready", hasDisk: true, diskOnNode: true, diskMarkedInUse: true }, undefined, ["ensurePoolLink"]],
  ["Ready, disk manager rewrote pool as Available", { state: "Ready", hasDisk: true, diskOnNode: true, poolLinkOk: true }, undefined, ["markDiskInUse"]],
  ["Ready, disk pulled: nothing to repair", { state: "Ready", hasDisk: true }, undefined, []],
  ["kubectl delete of a Ready volume", { state: "Ready", hasDisk: true, deleting: true }, "ToBeDeleted", []],
  ["ToBeDeleted while published", { state: "ToBeDeleted", hasDisk: true, mountPointCount: 1 }, undefined, [], true],
  ["ToBeDeleted unpublished", { state: "ToBeDeleted", hasDisk: true }, "Deleted", []],
  ["Deleted", { state: "Deleted", hasDisk: true }, undefined, ["removePoolLink", "wipeOwnFilesystem", "markDiskAvailable", "removeFinalizer", "deleteObject"]],
  ["Deleted without a disk (never assigned)", { state: "Deleted" }, undefined, ["removeFinalizer", "deleteObject"]],
  ["ToBeDeleted with deletionTimestamp stays on its path", { state: "ToBeDeleted", deleting: true }, "Deleted", []],
  ["unknown state is left alone", { state: "Bogus" }, undefined, []],
];

for (const [name, given, state, actions, requeue] of scenarios) {
  test(`LDV node states: ${name}`, () => {
    const d = decide({ ...base, ...given });
    assert.equal(d.state, state);
    assert.deepEqual(d.actions, actions);
    assert.equal(!!d.requeueAfterMs, !!requeue);
  });
}
