import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { blockEventDisk, MonitorParser, parseUdevInfo, type UdevEvent } from "./udev.ts";
import { diffBlockSnapshots, type BlockSnapshot } from "./poll.ts";
import type { SysBlockInfo } from "../sysfs/sysfs.ts";

const fixture = (f: string) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8");

test("parseUdevInfo: loop device without udevd has kernel keys only", () => {
  const d = parseUdevInfo(fixture("udevadm-info-loop.txt"));
  assert.equal(d.devname, "/dev/loop0");
  assert.equal(d.devtype, "disk");
  assert.equal(d.major, 7);
  assert.equal(d.minor, 0);
  assert.equal(d.devpath, "/devices/virtual/block/loop0");
  assert.deepEqual(d.devlinks, []);
  assert.equal(d.serial, null);
});

test("parseUdevInfo: SATA disk (synthetic fixture) — links split, sorted and grouped", () => {
  const d = parseUdevInfo(fixture("udevadm-info-sata-SYNTHETIC.txt"));
  assert.deepEqual(d.byId, ["/dev/disk/by-id/ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K123456A", "/dev/disk/by-id/wwn-0x5002538e40a1b2c3"]);
  assert.deepEqual(d.byPath, ["/dev/disk/by-path/pci-0000:00:1f.2-ata-1", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1.0"]);
  assert.deepEqual(d.byUuid, []);
  assert.equal(d.serial, "Samsung_SSD_860_EVO_500GB_S3Z1NB0K123456A");
  assert.equal(d.serialShort, "S3Z1NB0K123456A");
  assert.equal(d.wwn, "0x5002538e40a1b2c3");
  assert.equal(d.bus, "ata");
  assert.equal(d.type, "disk");
  assert.equal(d.partTableType, "gpt");
  assert.equal(d.properties.ID_MODEL_ENC?.startsWith("Samsung\\x20SSD"), true);
});

test("parseUdevInfo accepts --query=all E: lines", () => {
  const d = parseUdevInfo("P: /devices/x\nN: vda\nE: DEVNAME=/dev/vda\nE: MAJOR=254\n");
  assert.equal(d.devname, "/dev/vda");
  assert.equal(d.major, 254);
});

test("MonitorParser: kernel events captured during a loop attach", () => {
  const events: UdevEvent[] = [];
  const p = new MonitorParser((e) => events.push(e));
  for (const line of fixture("udevadm-monitor-kernel-loop.txt").split("\n")) p.push(line);
  p.flush();
  assert.equal(events.length, 3);
  assert.deepEqual(
    events.map((e) => [e.source, e.action, e.devname, e.devtype]),
    [
      ["KERNEL", "change", "/dev/loop0", "disk"],
      ["KERNEL", "change", "/dev/loop0", "disk"],
      ["KERNEL", "change", "/dev/loop0", "disk"],
    ],
  );
  assert.equal(events[2]!.properties.DISK_MEDIA_CHANGE, "1");
  assert.equal(events[0]!.devpath, "/devices/virtual/block/loop0");
});

const recorded = (f: string): UdevEvent[] => {
  const events: UdevEvent[] = [];
  const p = new MonitorParser((e) => events.push(e));
  for (const line of fixture(f).split("\n")) p.push(line);
  p.flush();
  return events;
};

test("blockEventDisk: the recorded loop attach and detach name the loop device", () => {
  assert.deepEqual(recorded("udevadm-monitor-kernel-loop.txt").map(blockEventDisk), ["loop0", "loop0", "loop0"]);
});

test("blockEventDisk: recorded attach, mkfs, wipefs and detach on a shared machine: each event names its own loop device", () => {
  const events = recorded("udevadm-monitor-kernel-loop-mkfs-detach.txt");
  assert.deepEqual(
    events.map((e) => [e.action, e.devtype, blockEventDisk(e)]),
    [
      ["change", "disk", "loop4"], // attach
      ["change", "disk", "loop4"], // detach: two events 43 µs apart (the scanner probes loop4 once for both)
      ["change", "disk", "loop4"],
      ["change", "disk", "loop4"], // someone else attaches loop4 again
      ["change", "disk", "loop5"],
      ["change", "disk", "loop6"],
      ["change", "disk", "loop7"],
    ],
  );
  // mkfs.ext4 and wipefs -a wrote onto loop4 in between and made no event: without udevd nothing does.
});

test("blockEventDisk: partition events (synthetic: this kernel has no partition support) name the whole disk", () => {
  const events = recorded("udevadm-monitor-kernel-partitions-SYNTHETIC.txt");
  assert.deepEqual(
    events.map((e) => [e.action, e.devname, e.devtype, blockEventDisk(e)]),
    [
      ["change", "/dev/sdb", "disk", "sdb"],
      ["add", "/dev/sdb1", "partition", "sdb"],
      ["add", "/dev/sdb2", "partition", "sdb"],
      ["remove", "/dev/nvme0n1p1", "partition", "nvme0n1"],
      ["remove", "/dev/nvme0n1", "disk", "nvme0n1"],
    ],
  );
});

test("blockEventDisk: DEVNAME with and without /dev/, no DEVNAME, and what names no disk", () => {
  const ev = (devpath: string, devtype: string, devname: string | null, properties: Record<string, string> = {}) => ({
    devpath,
    devtype,
    devname,
    properties: { SUBSYSTEM: "block", ...properties },
  });
  assert.equal(blockEventDisk(ev("/devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdb/sdb1", "partition", "/dev/sdb1")), "sdb");
  assert.equal(blockEventDisk(ev("/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p2", "partition", "nvme0n1p2")), "nvme0n1");
  assert.equal(blockEventDisk(ev("/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1", "disk", "nvme0n1")), "nvme0n1");
  assert.equal(blockEventDisk(ev("/devices/virtual/block/dm-0", "disk", null)), "dm-0", "no DEVNAME: the last DEVPATH component");
  assert.equal(blockEventDisk(ev("/devices/virtual/block/loop1", "disk", "/dev/loop1", { SUBSYSTEM: "bdi" })), undefined, "not a block event");
  assert.equal(blockEventDisk(ev("/devices/x/block/weird", "disk", "/dev/mapper/vg-lv")), undefined, "a DEVNAME in a subdirectory is no /sys/block name");
  assert.equal(blockEventDisk(ev("/", "partition", "/dev/sda1")), undefined, "a partition without a parent in DEVPATH");
});

test("MonitorParser: UDEV header and an event without trailing blank line", () => {
  const events: UdevEvent[] = [];
  const p = new MonitorParser((e) => events.push(e));
  ["UDEV  [1234.5] add      /devices/virtual/block/loop3 (block)", "ACTION=add", "DEVNAME=/dev/loop3", "DEVTYPE=disk"].forEach((l) => p.push(l));
  p.flush();
  assert.equal(events[0]!.source, "UDEV");
  assert.equal(events[0]!.action, "add");
  assert.equal(events[0]!.devname, "/dev/loop3");
});

const info = (name: string, over: Partial<SysBlockInfo> = {}): SysBlockInfo => ({
  name,
  devPath: `/dev/${name}`,
  sysPath: `/sys/devices/virtual/block/${name}`,
  isVirtual: true,
  sizeBytes: 0,
  rotational: true,
  readOnly: false,
  removable: false,
  majMin: "7:0",
  model: null,
  vendor: null,
  serial: null,
  wwid: null,
  loopBackingFile: null,
  partitions: [],
  holders: [],
  ...over,
});

test("diffBlockSnapshots: added, removed, changed (size / backing file)", () => {
  const before: BlockSnapshot = new Map([
    ["loop0", info("loop0")],
    ["loop1", info("loop1")],
    ["vda", info("vda")],
  ]);
  const after: BlockSnapshot = new Map([
    ["loop0", info("loop0", { sizeBytes: 1024, loopBackingFile: "/tmp/a" })],
    ["vda", info("vda")],
    ["loop2", info("loop2")],
  ]);
  const c = diffBlockSnapshots(before, after);
  assert.deepEqual(
    c.added.map((d) => d.name),
    ["loop2"],
  );
  assert.deepEqual(
    c.removed.map((d) => d.name),
    ["loop1"],
  );
  assert.deepEqual(
    c.changed.map((d) => d.name),
    ["loop0"],
  );
});
