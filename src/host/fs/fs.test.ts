import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkfsArgv, parseBlkidExport, parseFstrimOutput, parseWipefsJson, parseXfsIoStat } from "./fs.ts";
import { HwError } from "../../api/errors.ts";

const fixture = (f: string) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8");

test("parseBlkidExport: xfs captured on a loop device", () => {
  const p = parseBlkidExport(fixture("blkid-xfs.txt"))!;
  assert.equal(p.type, "xfs");
  assert.equal(p.usage, "filesystem");
  assert.equal(p.uuid, "7458c3db-879c-401e-b049-91dda76a39a4");
  assert.equal(p.pttype, null);
});

test("parseBlkidExport: empty device, and a partition table", () => {
  assert.equal(parseBlkidExport(""), null);
  assert.equal(parseBlkidExport("DEVNAME=/dev/loop1\n"), null);
  assert.equal(parseBlkidExport("DEVNAME=/dev/sda\nPTUUID=abc\nPTTYPE=gpt\n")!.pttype, "gpt");
});

test("parseWipefsJson (captured: ext4 superblock at 0x438)", () => {
  const sigs = parseWipefsJson('{"signatures":[{"device":"loop0","offset":"0x438","type":"ext4","uuid":"5cebbab0-f130-4e8d-ac3c-e298119ea606","label":null}]}');
  assert.deepEqual(sigs, [{ offset: "0x438", type: "ext4", uuid: "5cebbab0-f130-4e8d-ac3c-e298119ea606", label: null }]);
  assert.deepEqual(parseWipefsJson(""), []);
});

test("mkfsArgv: xfs with reflink option, force only when asked; ext4 -F", () => {
  assert.deepEqual(mkfsArgv("/dev/loop0", "xfs", { reflink: false }), ["mkfs.xfs", "-q", "-m", "reflink=0", "/dev/loop0"]);
  assert.deepEqual(mkfsArgv("/dev/loop0", "xfs", { reflink: true, force: true, label: "pool" }), [
    "mkfs.xfs",
    "-q",
    "-f",
    "-m",
    "reflink=1",
    "-L",
    "pool",
    "/dev/loop0",
  ]);
  assert.deepEqual(mkfsArgv("/dev/loop0", "xfs"), ["mkfs.xfs", "-q", "/dev/loop0"]);
  assert.deepEqual(mkfsArgv("/dev/loop0", "ext4"), ["mkfs.ext4", "-q", "-F", "/dev/loop0"]);
  assert.throws(() => mkfsArgv("/dev/../etc/passwd", "xfs"), HwError);
  assert.throws(() => mkfsArgv("/dev/loop0", "xfs", { label: "x; rm -rf /" }), HwError);
  assert.throws(() => mkfsArgv("/dev/loop0", "btrfs" as "xfs"), HwError);
});

test("parseFstrimOutput", () => {
  assert.equal(parseFstrimOutput("/mnt: 123 MiB (128974848 bytes) trimmed\n"), 128974848);
  assert.equal(parseFstrimOutput(""), 0);
});

test("mkfsArgv: an xfs UUID chosen by the caller joins -m; a bad UUID or another fs is refused", () => {
  const uuid = "5f0c2a64-3a43-4f0e-9d51-0c6f1f1e2a01";
  assert.deepEqual(mkfsArgv("/dev/loop0", "xfs", { reflink: true, uuid, label: "hwspHDD" }), [
    "mkfs.xfs",
    "-q",
    "-m",
    `reflink=1,uuid=${uuid}`,
    "-L",
    "hwspHDD",
    "/dev/loop0",
  ]);
  assert.throws(() => mkfsArgv("/dev/loop0", "xfs", { uuid: "x; rm -rf /" }), HwError);
  assert.throws(() => mkfsArgv("/dev/loop0", "ext4", { uuid }), HwError);
});

test("parseXfsIoStat: the hints of a directory (captured: xfs_io -c stat after cowextsize 1048576)", () => {
  assert.deepEqual(parseXfsIoStat(fixture("xfs_io-stat-cowextsize.txt")), { extsizeBytes: 0, cowextsizeBytes: 1048576 });
  assert.deepEqual(parseXfsIoStat("fd.path = x\n"), { extsizeBytes: NaN, cowextsizeBytes: NaN });
});
