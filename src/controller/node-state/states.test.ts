import assert from "node:assert/strict";
import { test } from "node:test";
import { leaseFresh, nextNodeState, replicaNotReady } from "./states.ts";

test("worker lease freshness by renewTime + duration", () => {
  const now = Date.parse("2026-01-01T00:01:00Z");
  assert.equal(leaseFresh(undefined, now), undefined);
  assert.equal(leaseFresh({ renewTime: "2026-01-01T00:00:45.000000Z", leaseDurationSeconds: 30 }, now), true);
  assert.equal(leaseFresh({ renewTime: "2026-01-01T00:00:29.000000Z", leaseDurationSeconds: 30 }, now), false);
  assert.equal(leaseFresh({ renewTime: "garbage" }, now), false);
});

test("LocalStorageNode / LocalDiskNode state table", () => {
  const rows: Array<[string | undefined, boolean | undefined, string | undefined]> = [
    ["Ready", true, undefined],
    ["Ready", false, "Offline"],
    ["Offline", false, undefined],
    ["Offline", true, "Ready"],
    ["Maintain", true, undefined],
    ["Maintain", false, "Offline"],
    [undefined, false, "Offline"],
    ["Ready", undefined, undefined],
  ];
  for (const [cur, fresh, want] of rows) assert.equal(nextNodeState(cur, fresh), want, `${cur} fresh=${fresh}`);
});

test("replicas of an unreachable node lose Ready", () => {
  assert.equal(replicaNotReady("Ready", "Unknown", true), true);
  assert.equal(replicaNotReady("Ready", "True", false), true);
  assert.equal(replicaNotReady("Ready", "True", true), false);
  assert.equal(replicaNotReady("Ready", "True", undefined), false);
  assert.equal(replicaNotReady("NotReady", "Unknown", false), false);
  assert.equal(replicaNotReady("Creating", "Unknown", false), false);
});
