import { test } from "node:test";
import assert from "node:assert/strict";
import { disksToReserve, nextMatchedList } from "./states.ts";
import type { LocalDisk } from "../../../api/kinds/local-disk.ts";
import type { LocalDiskAction } from "../../../api/kinds/local-disk-action.ts";

const GiB = 2 ** 30;
const disk = (name: string, cap: number, path: string, reserved = false): LocalDisk => ({
  metadata: { name },
  spec: { nodeName: "n1", capacity: cap, devicePath: path, reserved },
});
const action = (rule: NonNullable<LocalDiskAction["spec"]>["rule"]): LocalDiskAction => ({ metadata: { name: "a" }, spec: { action: "reserve", rule } });

test("reserve selects unreserved disks smaller than min / larger than max / matching the glob", () => {
  const disks = [disk("ld-a", GiB, "/dev/loop1"), disk("ld-b", 5 * GiB, "/dev/loop2"), disk("ld-c", GiB, "/dev/sdb"), disk("ld-d", GiB, "/dev/loop4", true)];
  assert.deepEqual(
    disksToReserve(action({ minCapacity: 2 * GiB }), disks).map((d) => d.metadata!.name),
    ["ld-a", "ld-c"],
  );
  assert.deepEqual(
    disksToReserve(action({ maxCapacity: 2 * GiB }), disks).map((d) => d.metadata!.name),
    ["ld-b"],
  );
  assert.deepEqual(
    disksToReserve(action({ devicePath: "/dev/loop*" }), disks).map((d) => d.metadata!.name),
    ["ld-a", "ld-b"],
  );
  assert.deepEqual(
    disksToReserve(action({ minCapacity: 2 * GiB, devicePath: "/dev/loop*" }), disks).map((d) => d.metadata!.name),
    ["ld-a"],
  );
  assert.deepEqual(disksToReserve(action({}), disks), [], "an empty rule reserves nothing");
  assert.deepEqual(disksToReserve(action(undefined), disks), []);
});

test("latestMatchedLds: newest first, deduplicated, at most 10", () => {
  assert.deepEqual(nextMatchedList(undefined, ["a", "b"]), ["b", "a"]);
  assert.deepEqual(nextMatchedList(["b", "a"], ["c"]), ["c", "b", "a"]);
  assert.deepEqual(nextMatchedList(["c", "b", "a"], ["a"]), ["a", "c", "b"]);
  const many = Array.from({ length: 12 }, (_, i) => `d${i}`);
  const l = nextMatchedList(["x"], many);
  assert.equal(l.length, 10);
  assert.equal(l[0], "d11");
});
