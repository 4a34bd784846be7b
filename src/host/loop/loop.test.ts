import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseLosetupList, parseSysfsLoop } from "./loop.ts";

const fixture = (f: string) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8");

test("parseLosetupList: two devices, offset/sizelimit/ro/dio, padded maj:min", () => {
  const loops = parseLosetupList(fixture("losetup-list.json"));
  assert.equal(loops.length, 2);
  const [b, a] = loops;
  assert.deepEqual(b, {
    name: "/dev/loop1",
    backFile: "/tmp/hwcap.YCkW/b.img",
    backFileDeleted: false,
    backIno: 2146582,
    majMin: "7:1",
    offset: 1048576,
    sizeLimit: 67108864,
    readOnly: true,
    directIo: true,
    autoclear: false,
    partscan: false,
    logicalSectorSize: 512,
  });
  assert.equal(a!.name, "/dev/loop0");
  assert.equal(a!.offset, 0);
  assert.equal(a!.readOnly, false);
});

test("parseLosetupList: empty list and empty output", () => {
  assert.deepEqual(parseLosetupList('{\n   "loopdevices": [\n\n   ]\n}\n'), []);
  assert.deepEqual(parseLosetupList(""), []);
});

test("parseLosetupList: deleted backing file (measured: losetup appends ' (deleted)')", () => {
  const [l] = parseLosetupList('{"loopdevices":[{"name":"/dev/loop0","back-file":"/tmp/x.img (deleted)"}]}');
  assert.equal(l!.backFile, "/tmp/x.img");
  assert.equal(l!.backFileDeleted, true);
});

test("parseSysfsLoop: the attribute texts of /sys/block/loopN (deleted backing file, offset window)", () => {
  const l = parseSysfsLoop("loop7", {
    back: "/pool/volumes/pvc-a.img (deleted)",
    offset: "1048576",
    sizelimit: "4194304",
    dio: "1",
    autoclear: "0",
    partscan: "0",
    ro: "1",
    dev: "7:7",
    lbs: "512",
  });
  assert.deepEqual(l, {
    name: "/dev/loop7",
    backFile: "/pool/volumes/pvc-a.img",
    backFileDeleted: true,
    backIno: null,
    majMin: "7:7",
    offset: 1048576,
    sizeLimit: 4194304,
    readOnly: true,
    directIo: true,
    autoclear: false,
    partscan: false,
    logicalSectorSize: 512,
  });
});
