import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { driveType, localDiskName } from "./identity.ts";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

test("a disk with a serial is named by vendor+serial+wwn, whatever node or path it is on", () => {
  const a = localDiskName({ hostname: "n1", vendor: "ATA", serial: "S1", wwn: "0x5000", byPathLinks: ["/dev/disk/by-path/x"] });
  const b = localDiskName({ hostname: "n2", vendor: "ATA", serial: "S1", wwn: "0x5000", byPathLinks: [] });
  assert.equal(a, "localdisk-" + md5("ATAS10x5000"));
  assert.equal(a, b);
});

test("a disk without a serial is named by hostname + its by-path links (order-independent)", () => {
  const a = localDiskName({ hostname: "n1", vendor: "QEMU", byPathLinks: ["/p/b", "/p/a"] });
  assert.equal(a, "localdisk-" + md5("QEMU" + "n1/p/a" + "n1/p/b"));
  assert.equal(a, localDiskName({ hostname: "n1", vendor: "QEMU", byPathLinks: ["/p/a", "/p/b"] }));
  assert.notEqual(a, localDiskName({ hostname: "n2", vendor: "QEMU", byPathLinks: ["/p/a", "/p/b"] }));
});

test("a loop device is named by its backing file; no identity at all gives undefined", () => {
  const a = localDiskName({ hostname: "n1", byPathLinks: [], loopBackingFile: "/var/lib/x/disk1.img" });
  assert.match(a!, /^localdisk-[0-9a-f]{32}$/);
  assert.equal(a, localDiskName({ hostname: "n1", byPathLinks: [], loopBackingFile: "/var/lib/x/disk1.img" }));
  assert.notEqual(a, localDiskName({ hostname: "n1", byPathLinks: [], loopBackingFile: "/var/lib/x/disk2.img" }));
  assert.equal(localDiskName({ hostname: "n1", byPathLinks: [] }), undefined);
});

test("drive type from rotational and sysfs path", () => {
  assert.equal(driveType(true, "/sys/devices/pci0000:00/ata1/sda"), "HDD");
  assert.equal(driveType(false, "/sys/devices/pci0000:00/nvme/nvme0/nvme0n1"), "NVMe");
  assert.equal(driveType(false, "/sys/devices/virtual/block/loop0"), "SSD");
});
