// LocalDiskAction `replace`: which pairs of disks are refused, and with which words (pure).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Ld } from "../../../kube/hwameistor.ts";
import { replaceBlocker } from "./reconciler.ts";

const disk = (name: string, spec: Record<string, unknown> = {}, claimState = "Available"): Ld =>
  ({ metadata: { name }, spec: { nodeName: "n1", state: "Active", capacity: 100, devicePath: `/dev/${name}`, ...spec }, status: { claimState } }) as Ld;
const names = { oldDisk: "old", newDisk: "new" };
const old = disk("old", { claimRef: { name: "n1-hdd-claim" }, owner: "local-storage" }, "Bound");

test("replace: a free, empty, large enough disk of the same node is accepted", () => {
  assert.equal(replaceBlocker("n1", "replace-old", old, disk("new"), names), undefined);
  assert.equal(replaceBlocker("n1", "replace-old", old, disk("new", { capacity: 200 }), names), undefined);
});

test("replace: claimed by this very action (a crash after claiming it) goes on", () => {
  const mine = disk("new", { claimRef: { kind: "LocalDiskAction", name: "replace-old" }, owner: "local-storage" }, "Bound");
  assert.equal(replaceBlocker("n1", "replace-old", old, mine, names), undefined);
});

test("replace: refusals name the disk and what to do", () => {
  const cases: Array<[Ld | undefined, Ld | undefined, RegExp, typeof names?]> = [
    [old, disk("new"), /both old/, { oldDisk: "old", newDisk: "old" }],
    [undefined, disk("new"), /LocalDisk old does not exist/],
    [old, undefined, /LocalDisk new does not exist: attach the new disk to n1/],
    [old, disk("new", { nodeName: "n2" }), /LocalDisk new is on node n2, not n1/],
    [old, disk("new", { state: "Inactive" }), /new is Inactive: the new disk must be attached/],
    [old, disk("new", { claimRef: { kind: "LocalDiskClaim", name: "c1" } }, "Bound"), /claimed by LocalDiskClaim c1: name an unclaimed disk/],
    [old, disk("new", {}, "Pending"), /new is Pending, not Available/],
    [old, disk("new", { partitioned: true }), /holds data .* never overwritten/],
    [old, disk("new", { capacity: 99 }), /smaller than old .* at least as large/],
  ];
  for (const [o, n, re, nm] of cases) assert.match(replaceBlocker("n1", "replace-old", o, n, nm ?? names) ?? "(accepted)", re);
});
