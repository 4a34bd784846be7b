// LVM metadata on real loop PVs, with activation off (no device-mapper here). The LV's bytes are reached
// through a loop window over the PV (offset = pe_start + seg_start_pe × extent size), as PLATFORM.md describes.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HwError } from "../../api/errors.ts";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../loop/loop.ts";
import { run } from "../runner.ts";
import * as lvm from "./lvm.ts";

const MiB = 1024 * 1024;
const VG = `hwtest_${process.pid}`;
const na = { noActivation: true };
let dir = "";
let p1!: LoopDevice;
let p2!: LoopDevice;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-lvm-"));
  await createSparseFile(join(dir, "pv1.img"), 128 * MiB);
  await createSparseFile(join(dir, "pv2.img"), 128 * MiB);
  p1 = await attachLoop(join(dir, "pv1.img"));
  p2 = await attachLoop(join(dir, "pv2.img"));
});

after(async () => {
  // -ff also removes LVs a failed step left behind.
  await run(["vgremove", "--config", lvm.NO_ACTIVATION_CONFIG, "-ff", "-y", VG], { env: { LVM_SUPPRESS_FD_WARNINGS: "1" } }).catch(() => undefined);
  for (const p of [p1, p2]) if (p) await lvm.pvremove([p.name]).catch(() => undefined);
  for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/")) await detachLoop(l.name);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("pvcreate, vgcreate, vgextend, lvcreate/extend/remove with activation off", async () => {
  await lvm.pvcreate([p1.name, p2.name]);
  await lvm.vgcreate(VG, [p1.name], na);
  await lvm.vgextend(VG, [p2.name], na);
  const vg = await lvm.getVg(VG);
  assert.equal(vg?.pvCount, 2);
  assert.equal(vg?.extentSizeBytes, 4 * MiB);
  assert.equal(await lvm.getVg(`${VG}_missing`), undefined);

  await lvm.lvcreate(VG, "pvc-a", lvm.roundUpToExtent(10 * MiB), na);
  await assert.rejects(lvm.lvcreate(VG, "pvc-a", 4 * MiB, na), (e: unknown) => e instanceof HwError && e.code === "ALREADY_EXISTS");
  await assert.rejects(lvm.lvcreate(VG, "pvc-big", 1024 * MiB, na), (e: unknown) => e instanceof HwError && e.code === "RESOURCE_EXHAUSTED");
  await assert.rejects(
    lvm.lvcreate(VG, "pvc-b", 4 * MiB),
    (e: unknown) => e instanceof HwError && e.code === "FAILED_PRECONDITION" && e.reason === "NoDeviceMapper",
  );

  let [lv] = await lvm.listLvs(VG);
  assert.equal(lv?.name, "pvc-a");
  assert.equal(lv?.sizeBytes, 12 * MiB);
  await lvm.lvextend(VG, "pvc-a", 16 * MiB, na);
  [lv] = await lvm.listLvs(VG);
  assert.equal(lv?.sizeBytes, 16 * MiB);

  // Reach the LV's bytes through a loop window over its PV and check they land where the metadata says.
  const pv = (await lvm.listPvs([p1.name]))[0]!;
  const offset = pv.peStartBytes + (lv!.segStartPe ?? 0) * vg!.extentSizeBytes;
  const win = await attachLoop(join(dir, "pv1.img"), { offset, sizeLimit: lv!.sizeBytes });
  try {
    const fh = await open(win.name, "r+");
    await fh.write(Buffer.from("hello-lv"), 0, 8, 0);
    await fh.sync();
    await fh.close();
    const back = await open(join(dir, "pv1.img"), "r");
    const buf = Buffer.alloc(8);
    await back.read(buf, 0, 8, offset);
    await back.close();
    assert.equal(buf.toString(), "hello-lv");
  } finally {
    await detachLoop(win.name);
  }

  await lvm.lvremove(VG, "pvc-a", na);
  assert.deepEqual(await lvm.listLvs(VG), []);
  await assert.rejects(lvm.lvremove(VG, "pvc-a", na), (e: unknown) => e instanceof HwError && e.code === "NOT_FOUND");
  await lvm.vgremove(VG, na);
  await lvm.pvremove([p1.name, p2.name]);
});
