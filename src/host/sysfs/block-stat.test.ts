import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { HwError } from "../../api/errors.ts";
import { parseBlockStat, readBlockStat } from "./sysfs.ts";

// Recorded from /sys/block/loop0/stat on a Debian 12 machine (kernel 6.1: 17 fields).
const LOOP0 =
  "     174        0    19432       18       51        0     4399        3        0       24       21        0        0        0        0        0        0\n";

test("17-field stat line (kernel ≥ 5.5)", () => {
  const s = parseBlockStat(LOOP0);
  assert.equal(s.readIos, 174);
  assert.equal(s.readSectors, 19432);
  assert.equal(s.readTicksMs, 18);
  assert.equal(s.writeIos, 51);
  assert.equal(s.writeSectors, 4399);
  assert.equal(s.writeTicksMs, 3);
  assert.equal(s.ioTicksMs, 24);
  assert.equal(s.timeInQueueMs, 21);
  assert.equal(s.flushIos, 0);
});

test("11-field stat line (old kernels): discard and flush read as 0", () => {
  const s = parseBlockStat("1 2 3 4 5 6 7 8 9 10 11");
  assert.equal(s.writeTicksMs, 8);
  assert.equal(s.discardIos, 0);
  assert.equal(s.flushTicksMs, 0);
});

test("garbage is refused", () => {
  assert.throws(() => parseBlockStat("1 2 3"), HwError);
  assert.throws(() => parseBlockStat("a b c d e f g h i j k"), HwError);
});

test("a live device's stat parses; a missing device is NOT_FOUND", async (t) => {
  const live = await readFile("/sys/block/loop0/stat", "utf8").catch(() => undefined);
  if (live === undefined) return t.skip("no /sys/block/loop0 on this machine");
  const s = await readBlockStat("/dev/loop0");
  assert.ok(s.readIos >= 0);
  await assert.rejects(readBlockStat("nosuchdev0"), (e: unknown) => e instanceof HwError && e.code === "NOT_FOUND");
});
