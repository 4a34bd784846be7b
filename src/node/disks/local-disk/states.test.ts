import { test } from "node:test";
import assert from "node:assert/strict";
import { nextDiskState } from "./states.ts";
import type { LocalDiskSpec } from "../../../api/kinds/local-disk.ts";

const base: LocalDiskSpec = { nodeName: "n1", devicePath: "/dev/loop3", state: "Active" };
const none = { inStoragePool: false, inDiskPool: false };

// given claimState + spec + facts → expected claimState, owner written, event reasons
const table: Array<[string, string | undefined, Partial<LocalDiskSpec>, typeof none, string, string | undefined, string[]]> = [
  ["new disk", undefined, {}, none, "Pending", undefined, []],
  ["empty pending disk becomes Available", "Pending", {}, none, "Available", undefined, []],
  ["partitioned pending disk is Bound, owner system", "Pending", { partitioned: true, reserved: true }, none, "Bound", "system", []],
  ["claimed available disk is Bound", "Available", { claimRef: { name: "c" }, owner: "local-storage" }, none, "Bound", undefined, []],
  ["bound disk, claim gone, no data → released", "Bound", { owner: "local-disk-manager" }, none, "Available", undefined, ["LocalDiskRelease"]],
  ["bound partitioned disk stays Bound", "Bound", { partitioned: true, owner: "system" }, none, "Bound", undefined, []],
  ["reserved empty disk stays Available (reserve is a spec flag)", "Available", { reserved: true }, none, "Available", undefined, []],
  ["never writes system on an Available disk", "Available", { owner: "" }, none, "Available", undefined, []],
  [
    "owner system in a storage pool → local-storage",
    "Bound",
    { partitioned: true, owner: "system" },
    { inStoragePool: true, inDiskPool: false },
    "Bound",
    "local-storage",
    [],
  ],
  [
    "ownerless in a disk pool → local-disk-manager",
    "Bound",
    { claimRef: { name: "c" } },
    { inStoragePool: false, inDiskPool: true },
    "Bound",
    "local-disk-manager",
    [],
  ],
  [
    "a set owner other than system is kept",
    "Bound",
    { claimRef: { name: "c" }, owner: "local-storage" },
    { inStoragePool: false, inDiskPool: true },
    "Bound",
    undefined,
    [],
  ],
  ["unknown state (Reserved) re-derived", "Reserved", {}, none, "Available", undefined, []],
];

for (const [title, state, spec, facts, want, owner, events] of table) {
  test(`LocalDisk states: ${title}`, () => {
    const d = nextDiskState("localdisk-x", { ...base, ...spec }, state, facts);
    assert.equal(d.claimState, want);
    assert.equal(d.owner, owner);
    assert.deepEqual(
      d.events.map((e) => e.reason),
      events,
    );
  });
}
