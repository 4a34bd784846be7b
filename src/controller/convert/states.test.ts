// LocalVolumeConvert (§5.5) as a scenario table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decideConvert, type ConvertFacts } from "./states.ts";

const vol = (o: Partial<NonNullable<ConvertFacts["volume"]>> = {}): NonNullable<ConvertFacts["volume"]> => ({
  name: "v",
  replicaNumber: 1,
  convertible: true,
  state: "Ready",
  replicas: [{ node: "a", ready: true, synced: true }],
  ...o,
});

test("convert table", () => {
  const rows: Array<[string, ConvertFacts, string, string[], RegExp?]> = [
    ["new, convertible 1 → 2", { state: "", abort: false, target: 2, volume: vol() }, "Submitted", []],
    ["new, not convertible", { state: "", abort: false, target: 2, volume: vol({ convertible: false }) }, "Failed", [], /Inconvertible volume: v/],
    ["new, volume missing", { state: "", abort: false, target: 2 }, "Failed", [], /not found/],
    ["new, 3 → 2 is not a conversion", { state: "", abort: false, target: 2, volume: vol({ replicaNumber: 3 }) }, "Failed", [], /Not supported/],
    ["abort before anything changed", { state: "Submitted", abort: true, target: 2, volume: vol() }, "Aborted", []],
    ["Submitted raises the count", { state: "Submitted", abort: false, target: 2, volume: vol() }, "InProgress", ["setReplicaNumber"]],
    [
      "InProgress, new replica resyncing",
      {
        state: "InProgress",
        abort: false,
        target: 2,
        volume: vol({
          replicaNumber: 2,
          state: "NotReady",
          replicas: [vol().replicas[0]!, { node: "b", ready: true, synced: false, resync: { doneBytes: 1, totalBytes: 4 } }],
        }),
      },
      "InProgress",
      [],
      /1 of 2 replicas in sync; b syncing 25 %/,
    ],
    [
      "InProgress, both in sync, volume Ready → Completed",
      {
        state: "InProgress",
        abort: false,
        target: 2,
        volume: vol({ replicaNumber: 2, replicas: [vol().replicas[0]!, { node: "b", ready: true, synced: true }] }),
      },
      "Completed",
      [],
    ],
    [
      "Completed is deleted (after its status was written)",
      { state: "Completed", abort: false, target: 2, volume: vol({ replicaNumber: 2 }) },
      "Completed",
      ["deleteObject"],
    ],
  ];
  for (const [what, f, state, actions, msg] of rows) {
    const d = decideConvert(f);
    assert.equal(d.state, state, what);
    assert.deepEqual(
      d.actions.map((a) => a.type),
      actions,
      what,
    );
    if (msg) assert.match(d.message, msg, what);
  }
});
