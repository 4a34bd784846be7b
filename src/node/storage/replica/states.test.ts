import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, mergeConditions, outcome, type ObservedReplica, type ReplicaFacts } from "./states.ts";

const MiB = 2 ** 20;
const rep = (o: Partial<ObservedReplica> = {}): ObservedReplica => ({
  allocatedCapacityBytes: 100 * MiB,
  devPath: "/dev/P/v",
  storagePath: "/dev/P/v",
  active: true,
  ...o,
});
const base: ReplicaFacts = { state: "", deleteRequested: false, requiredCapacityBytes: 100 * MiB };

// name, given, expected state, expected action, expected condition "type=status" list, requeue?
const scenarios: Array<[string, Partial<ReplicaFacts>, string | undefined, string | undefined, string[], boolean?]> = [
  ["new replica is submitted", {}, "Creating", undefined, ["Submit=True"]],
  ["Creating runs the engine", { state: "Creating" }, undefined, "createReplica", []],
  [
    "Creating with the replica already there (crash after create) still runs the idempotent create",
    { state: "Creating", replica: rep() },
    undefined,
    "createReplica",
    [],
  ],
  ["NotReady and active → Ready", { state: "NotReady", replica: rep() }, "Ready", undefined, ["Ready=True"]],
  ["Ready and active stays Ready", { state: "Ready", replica: rep() }, "Ready", undefined, ["Ready=True"]],
  ["Ready, replica lost", { state: "Ready" }, "NotReady", undefined, ["Ready=False"], true],
  ["Ready, device detached", { state: "Ready", replica: rep({ active: false, inactiveReason: "no loop" }) }, "NotReady", undefined, ["Ready=False"], true],
  [
    "required grew by 1 byte past the extent → expand",
    { state: "Ready", requiredCapacityBytes: 100 * MiB + 1, replica: rep() },
    undefined,
    "expandReplica",
    [],
  ],
  ["required within the allocated extent → no expand", { state: "Ready", requiredCapacityBytes: 99 * MiB, replica: rep() }, "Ready", undefined, ["Ready=True"]],
  ["spec.delete on a Ready replica", { state: "Ready", deleteRequested: true, replica: rep() }, "ToBeDeleted", undefined, []],
  ["spec.delete while Creating", { state: "Creating", deleteRequested: true }, "ToBeDeleted", undefined, []],
  ["ToBeDeleted deletes", { state: "ToBeDeleted", deleteRequested: true }, undefined, "deleteReplica", []],
  ["Deleted removes the object", { state: "Deleted", deleteRequested: true }, undefined, "deleteObject", []],
  ["unknown state is left alone", { state: "Invalid" }, undefined, undefined, []],
];

for (const [name, given, state, action, conds, requeue] of scenarios) {
  test(`LVR states: ${name}`, () => {
    const d = decide({ ...base, ...given });
    assert.equal(d.state, state);
    assert.equal(d.action, action);
    assert.deepEqual(
      d.conditions.map((c) => `${c.type}=${c.status}`),
      conds,
    );
    assert.equal(d.requeueAfterMs !== undefined, !!requeue);
  });
}

test("LVR outcomes carry the error text and the error's reason", () => {
  const full = outcome("createReplica", {
    ok: false,
    message: "insufficient free space in pool LocalStorage_PoolHDD for volume v: requested 8 bytes, free 4 bytes",
    reason: "InsufficientCapacity",
  });
  assert.equal(full.state, "Creating");
  assert.equal(full.failed, true);
  assert.match(full.conditions[0]!.message, /insufficient free space/);
  assert.deepEqual(
    full.conditions.map((c) => `${c.type}=${c.status}`),
    ["Create=False"],
  );
  assert.equal(mergeConditions([], full.conditions, "t0")[0]!.reason, "InsufficientCapacity", "a failed condition carries the error's reason");
  const ok = outcome("createReplica", { ok: true, replica: rep() });
  assert.equal(ok.state, "NotReady");
  assert.deepEqual(
    ok.conditions.map((c) => `${c.type}=${c.status}`),
    ["Create=True"],
  );
  assert.equal(outcome("expandReplica", { ok: false, message: "boom" }).conditions[0]!.message, "expansion failed: boom");
  assert.equal(outcome("deleteReplica", { ok: true }).state, "Deleted");
  assert.equal(outcome("deleteReplica", { ok: false, message: "busy" }).state, "ToBeDeleted");
});

test("mergeConditions: reason = type; lastTransitionTime moves only with status", () => {
  const c1 = mergeConditions([], [{ type: "Ready", status: "True", message: "a" }], "t1");
  assert.deepEqual(c1, [{ type: "Ready", status: "True", reason: "Ready", message: "a", lastTransitionTime: "t1" }]);
  const c2 = mergeConditions(c1, [{ type: "Ready", status: "True", message: "b" }], "t2");
  assert.equal(c2[0]!.lastTransitionTime, "t1");
  assert.equal(c2[0]!.message, "b");
  const c3 = mergeConditions(
    c2,
    [
      { type: "Ready", status: "False", message: "c" },
      { type: "Create", status: "True", message: "d" },
    ],
    "t3",
    2,
  );
  assert.equal(c3[0]!.lastTransitionTime, "t3");
  assert.equal(c3[1]!.observedGeneration, 2);
});
