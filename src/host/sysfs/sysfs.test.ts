// readSysBlock against a fake /sys/block tree (the real one is exercised by disk-lifecycle.host.test.ts).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelName, listSysBlock, readSysBlock } from "./sysfs.ts";
import { HwError } from "../../api/errors.ts";

let root = "";
let block = "";

before(async () => {
  root = await mkdtemp(join(tmpdir(), "hw-sysfs-"));
  block = join(root, "block");
  await mkdir(block);
  // a virtual loop device: /sys/block/loop3 -> ../devices/virtual/block/loop3 (values as read on this machine)
  const loop = join(root, "devices/virtual/block/loop3");
  await mkdir(join(loop, "queue"), { recursive: true });
  await mkdir(join(loop, "loop"));
  await mkdir(join(loop, "holders"));
  await writeFile(join(loop, "size"), "1048576\n");
  await writeFile(join(loop, "queue/rotational"), "1\n");
  await writeFile(join(loop, "ro"), "0\n");
  await writeFile(join(loop, "removable"), "0\n");
  await writeFile(join(loop, "dev"), "7:3\n");
  await writeFile(join(loop, "loop/backing_file"), "/tmp/disk-a.img\n");
  await symlink("../devices/virtual/block/loop3", join(block, "loop3"));
  // a SATA SSD with a partition
  const sda = join(root, "devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda");
  await mkdir(join(sda, "queue"), { recursive: true });
  await mkdir(join(sda, "device"));
  await mkdir(join(sda, "sda1"));
  await writeFile(join(sda, "size"), "976773168\n");
  await writeFile(join(sda, "queue/rotational"), "0\n");
  await writeFile(join(sda, "dev"), "8:0\n");
  await writeFile(join(sda, "device/model"), "Samsung SSD 860 \n");
  await writeFile(join(sda, "device/vendor"), "ATA     \n");
  await symlink(sda, join(block, "sda"));
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

test("loop device attributes", async () => {
  const d = await readSysBlock("/dev/loop3", block);
  assert.equal(d.name, "loop3");
  assert.equal(d.sizeBytes, 1048576 * 512);
  assert.equal(d.rotational, true);
  assert.equal(d.majMin, "7:3");
  assert.equal(d.loopBackingFile, "/tmp/disk-a.img");
  assert.equal(d.isVirtual, true);
  assert.equal(d.model, null);
});

test("SATA disk: model/vendor trimmed, partition listed, not virtual", async () => {
  const d = await readSysBlock("sda", block);
  assert.equal(d.sizeBytes, 500107862016);
  assert.equal(d.rotational, false);
  assert.equal(d.model, "Samsung SSD 860");
  assert.equal(d.vendor, "ATA");
  assert.deepEqual(d.partitions, ["sda1"]);
  assert.equal(d.isVirtual, false);
  assert.deepEqual(await listSysBlock(block), ["loop3", "sda"]);
});

test("missing device is NOT_FOUND; bad names are rejected", async () => {
  await assert.rejects(readSysBlock("sdz", block), (e: unknown) => e instanceof HwError && e.code === "NOT_FOUND");
  assert.throws(() => kernelName("../etc"), HwError);
  assert.throws(() => kernelName("/dev/sda 1"), HwError);
});
