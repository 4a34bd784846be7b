// Pure: the filefrag parser against output recorded on this kernel (btrfs, NOCOW file, a clone taken after a 4 KiB
// write at 10 MiB and a 1 MiB write at 100 MiB), and the extent-map difference.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { changedRanges, dataRanges, parseFilefrag, rangeBytes, type Extent } from "./fiemap.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const rec = readFileSync(new URL("./testdata/filefrag-btrfs-nocow.txt", import.meta.url), "utf8");

test("parseFilefrag: byte units from the header, flags", () => {
  const e = parseFilefrag(rec);
  assert.equal(e.length, 5);
  assert.deepEqual(e[2], { logical: 10 * MiB, physical: 49200 * 4096, length: 4096, unwritten: false });
  assert.deepEqual(dataRanges(e, 256 * MiB), [
    { offset: 0, length: 64 * MiB },
    { offset: 100 * MiB, length: MiB },
  ]);
  assert.throws(() => parseFilefrag("garbage"), /FiemapUnparsable|no "\(N blocks/);
});

test("changedRanges: physical moves, new data, holes, unwritten, clipped to the size", () => {
  const x = (logical: number, physical: number, length: number, unwritten = false): Extent => ({ logical, physical, length, unwritten });
  const before = [x(0, 1000 * MiB, 8 * MiB), x(16 * MiB, 2000 * MiB, 4 * MiB, true)];
  // same data split differently (one extent → two pieces, same addresses): no change
  assert.deepEqual(changedRanges(before, [x(0, 1000 * MiB, 3 * MiB), x(3 * MiB, 1003 * MiB, 5 * MiB), before[1]!], 32 * MiB), []);
  const after = [
    x(0, 1000 * MiB, 4 * MiB),
    x(4 * MiB, 5000 * MiB, 4 * KiB), // rewritten (CoW)
    x(4 * MiB + 4 * KiB, 1004 * MiB + 4 * KiB, 4 * MiB - 4 * KiB),
    x(16 * MiB, 2000 * MiB, 4 * MiB), // unwritten → written in place: changed
    x(30 * MiB, 7000 * MiB, 8 * MiB), // new data, past the size
  ];
  assert.deepEqual(changedRanges(before, after, 32 * MiB), [
    { offset: 4 * MiB, length: 4 * KiB },
    { offset: 16 * MiB, length: 4 * MiB },
    { offset: 30 * MiB, length: 2 * MiB },
  ]);
  // a punched range (data → hole) is a change too
  assert.deepEqual(changedRanges(before, [x(0, 1000 * MiB, 2 * MiB)], 32 * MiB), [{ offset: 2 * MiB, length: 6 * MiB }]);
  assert.equal(rangeBytes(changedRanges([], after, 32 * MiB)), 8 * MiB + 4 * MiB + 2 * MiB); // everything with data is new
});
