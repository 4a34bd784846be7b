import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeDevT, encodeDevT, parseMajorMinor } from "./blkdev.ts";

test("decodeDevT follows Linux's dev_t encoding (values measured with stat on this machine)", () => {
  assert.deepEqual(decodeDevT(0xfe00), { major: 254, minor: 0 }); // /dev/vda
  assert.deepEqual(decodeDevT(0x700), { major: 7, minor: 0 }); // /dev/loop0
});

test("decodeDevT gets minors >= 256 right (the original's st_rdev/256 does not)", () => {
  // loop256 is 7:256; its st_rdev is 0x100700: the original computed 4103:0.
  const rdev = encodeDevT({ major: 7, minor: 256 });
  assert.equal(rdev, 0x100700n);
  assert.deepEqual(decodeDevT(rdev), { major: 7, minor: 256 });
  assert.notEqual(Math.floor(Number(rdev) / 256), 7);
  // a dynamic major beyond 4095 and a huge minor round-trip too
  for (const n of [
    { major: 259, minor: 1048575 },
    { major: 5000, minor: 70000 },
    { major: 0, minor: 0 },
  ]) {
    assert.deepEqual(decodeDevT(encodeDevT(n)), n);
  }
});

test("parseMajorMinor trims losetup's padding", () => {
  assert.deepEqual(parseMajorMinor("  7:1  "), { major: 7, minor: 1 });
});
