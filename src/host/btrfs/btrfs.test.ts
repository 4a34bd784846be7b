import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { deviceAddArgv, mkfsBtrfsArgv, parseFilesystemShow, parseFilesystemUsage, parseLsattrFlags, parseReplaceStatus, replaceStartArgv } from "./btrfs.ts";

const td = (f: string) => readFileSync(join(import.meta.dirname, "testdata", f), "utf8");

test("parseFilesystemShow: two devices", () => {
  const s = parseFilesystemShow(td("filesystem-show-2dev.txt"))!;
  assert.equal(s.uuid, "7d32c20f-6193-4970-a80f-a7c3641c464d");
  assert.equal(s.label, null);
  assert.equal(s.totalDevices, 2);
  assert.equal(s.bytesUsed, 147456);
  assert.deepEqual(
    s.devices.map((d) => [d.devid, d.sizeBytes, d.path, d.missing]),
    [
      [1, 1073741824, "/dev/loop0", false],
      [2, 1073741824, "/dev/loop1", false],
    ],
  );
  assert.equal(s.someMissing, false);
});

test("parseFilesystemShow: label, missing device, nothing", () => {
  const s = parseFilesystemShow(
    "Label: 'pool'  uuid: 0a-1b\n\tTotal devices 2 FS bytes used 10\n\tdevid    1 size 5 used 1 path /dev/loop9\n\t*** Some devices missing\n",
  )!;
  assert.equal(s.label, "pool");
  assert.equal(s.someMissing, true);
  assert.equal(parseFilesystemShow(""), undefined);
});

test("parseFilesystemUsage", () => {
  const u = parseFilesystemUsage(td("filesystem-usage-2dev.txt"));
  assert.equal(u.deviceSizeBytes, 2147483648);
  assert.equal(u.deviceUnallocatedBytes, 1907621888);
  assert.equal(u.usedBytes, 294912);
  assert.equal(u.freeEstimatedBytes, 1916010496);
  assert.equal(u.freeEstimatedMinBytes, 962199552);
  assert.equal(u.dataRatio, 1);
  assert.equal(u.metadataRatio, 2);
  assert.equal(u.globalReserveBytes, 5767168);
  assert.deepEqual(u.groups["Data,single"], { sizeBytes: 8388608, usedBytes: 0 });
  assert.deepEqual(u.groups["Metadata,RAID1"], { sizeBytes: 107347968, usedBytes: 131072 });
  assert.deepEqual(u.unallocated, { "/dev/loop0": 949616640, "/dev/loop1": 958005248 });
});

test("mkfsBtrfsArgv: profiles by device count, validation", () => {
  assert.deepEqual(mkfsBtrfsArgv(["/dev/loop0", "/dev/loop1"]), ["mkfs.btrfs", "-q", "-d", "single", "-m", "raid1", "--", "/dev/loop0", "/dev/loop1"]);
  assert.deepEqual(mkfsBtrfsArgv(["/dev/loop0"], { label: "p", force: true }), [
    "mkfs.btrfs",
    "-q",
    "-d",
    "single",
    "-m",
    "dup",
    "-L",
    "p",
    "-f",
    "--",
    "/dev/loop0",
  ]);
  assert.throws(() => mkfsBtrfsArgv([]), /at least one/);
  assert.throws(() => mkfsBtrfsArgv(["/dev/loop0", "/dev/loop0"]), /duplicate/);
  assert.throws(() => mkfsBtrfsArgv(["-f"]), /must start with \/dev/);
  assert.throws(() => mkfsBtrfsArgv(["/dev/loop0"], { label: "a b" }), /label/);
  assert.deepEqual(deviceAddArgv(["/dev/loop2"], "/mnt/p"), ["btrfs", "device", "add", "--", "/dev/loop2", "/mnt/p"]);
  assert.throws(() => deviceAddArgv(["/dev/../etc"], "/mnt"), /\.\./);
});

test("parseLsattrFlags", () => {
  assert.equal(parseLsattrFlags("---------------C------ /x/volumes\n"), "---------------C------");
});

test("parseReplaceStatus: never, running, finished (btrfs-progs 6.2 output recorded on this machine)", () => {
  const [never, running, finished] = td("replace-status.txt").split("\n");
  assert.deepEqual(parseReplaceStatus(never!), { state: "never" });
  assert.deepEqual(parseReplaceStatus(running!), { state: "running", percent: 11.5, writeErrors: 0, readErrors: 0 });
  assert.equal(parseReplaceStatus(finished!)?.state, "finished");
  assert.equal(parseReplaceStatus("Started on  5.Dec 06:06:38, canceled on  5.Dec 06:06:39, 2 write errs, 1 uncorr. read errs")?.state, "canceled");
  assert.equal((parseReplaceStatus("Started on 5.Dec, canceled on 5.Dec, 2 write errs, 1 uncorr. read errs") as { writeErrors: number }).writeErrors, 2);
  assert.equal(parseReplaceStatus("something else"), undefined);
});

test("a replace in progress shows its target as devid 0", () => {
  const s = parseFilesystemShow(td("filesystem-show-replacing.txt"))!;
  assert.deepEqual(
    s.devices.map((d) => [d.devid, d.path]),
    [
      [0, "/dev/loop2"],
      [1, "/dev/loop6"],
      [2, "/dev/loop4"],
    ],
  );
});

test("replaceStartArgv: validated, never -f", () => {
  assert.deepEqual(replaceStartArgv("/dev/loop1", "/dev/loop3", "/var/lib/p"), ["btrfs", "replace", "start", "--", "/dev/loop1", "/dev/loop3", "/var/lib/p"]);
  assert.throws(() => replaceStartArgv("/dev/loop1", "/dev/loop1", "/p"), /both \/dev\/loop1/);
  assert.throws(() => replaceStartArgv("-f", "/dev/loop1", "/p"));
  assert.throws(() => replaceStartArgv("/dev/loop1", "/dev/loop2", "rel"));
});
