import { test } from "node:test";
import assert from "node:assert/strict";
import { decideExpand, roundUp4MiB, type ExpandFacts, type ExpandInput } from "./states.ts";

const G = 2 ** 30;
const M = 2 ** 20;
const x = (state: string, more: Partial<ExpandInput> = {}): ExpandInput => ({
  name: "v",
  volumeName: "v",
  requiredCapacityBytes: 2 * G,
  abort: false,
  state,
  ...more,
});
const vol = (state: string, required: number, allocated: number) => ({
  state,
  deleting: false,
  requiredCapacityBytes: required,
  allocatedCapacityBytes: allocated,
});
const rep = (required: number, allocated: number, state = "Ready", notReadyMessage?: string) => ({
  name: "v-a",
  nodeName: "n1",
  state,
  delete: false,
  requiredCapacityBytes: required,
  allocatedCapacityBytes: allocated,
  ...(notReadyMessage ? { notReadyMessage } : {}),
});

const table: Array<[string, ExpandInput, ExpandFacts, { state: string; actions?: string[]; message?: RegExp }]> = [
  ["Completed → delete", x("Completed"), { replicas: [] }, { state: "Completed", actions: ["deleteObject"] }],
  ["abort", x("InProgress", { abort: true }), { replicas: [] }, { state: "Aborted", message: /aborted/ }],
  ["new → Submitted", x(""), { replicas: [] }, { state: "Submitted" }],
  ["volume missing → Failed", x("Submitted"), { replicas: [] }, { state: "Failed", message: /does not exist/ }],
  [
    "nothing to grow → Completed",
    x("Submitted", { requiredCapacityBytes: G - M }),
    { volume: vol("Ready", G, G), replicas: [rep(G, G)] },
    { state: "Completed" },
  ],
  [
    "pool too small → Failed, nothing written",
    x("Submitted"),
    { volume: vol("Ready", G, G), replicas: [rep(G, G)], poolProblem: "cannot grow volume v: pool full" },
    { state: "Failed", actions: [], message: /pool full/ },
  ],
  [
    "Submitted → InProgress + raise volume",
    x("Submitted"),
    { volume: vol("Ready", G, G), replicas: [rep(G, G)] },
    { state: "InProgress", actions: ["setVolumeCapacity"] },
  ],
  [
    "replica behind → raise replica",
    x("InProgress"),
    { volume: vol("Creating", 2 * G, G), replicas: [rep(G, G)] },
    { state: "InProgress", actions: ["setReplicaCapacity"] },
  ],
  [
    "replica failed → message",
    x("InProgress"),
    { volume: vol("NotReady", 2 * G, G), replicas: [rep(2 * G, G, "NotReady", "insufficient free space")] },
    { state: "InProgress", message: /insufficient/ },
  ],
  ["waiting", x("InProgress"), { volume: vol("NotReady", 2 * G, G), replicas: [rep(2 * G, G, "NotReady")] }, { state: "InProgress", message: /waiting/ }],
  ["all grown → Completed", x("InProgress"), { volume: vol("Ready", 2 * G, 2 * G), replicas: [rep(2 * G, 2 * G)] }, { state: "Completed", message: /grown/ }],
  ["Failed stays", x("Failed"), { replicas: [] }, { state: "Failed", actions: [] }],
];

for (const [name, input, facts, want] of table) {
  test(`expand: ${name}`, () => {
    const d = decideExpand(input, facts);
    assert.equal(d.state, want.state);
    if (want.actions)
      assert.deepEqual(
        d.actions.map((a) => a.type),
        want.actions,
      );
    if (want.message) assert.match(d.status.message ?? "", want.message);
  });
}

test("expand: sizes round up to 4 MiB", () => {
  assert.equal(roundUp4MiB(1), 4 * M);
  assert.equal(roundUp4MiB(4 * M), 4 * M);
  const d = decideExpand(x("Submitted", { requiredCapacityBytes: G + 1 }), { volume: vol("Ready", G, G), replicas: [rep(G, G)] });
  assert.deepEqual(d.actions, [{ type: "setVolumeCapacity", bytes: G + 4 * M }]);
});
