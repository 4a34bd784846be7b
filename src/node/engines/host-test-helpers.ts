// What the engines' host tests (*.host.test.ts) share: data written and checksummed through a device, an
// error matcher, and the cleanup — everything under one temp dir goes, in the order the kernel needs: replica
// loops, then pool mounts, then disk loops (forgotten by btrfs first), then the link root and the dir. Every
// step tolerates "already gone", so it also cleans up after a failed test.

import { createHash } from "node:crypto";
import { open, realpath, rm } from "node:fs/promises";
import { HwError } from "../../api/errors.ts";
import { forgetDevices } from "../../host/btrfs/btrfs.ts";
import { detachLoop, listLoops } from "../../host/loop/loop.ts";
import { listMounts, unmount } from "../../host/mount/mount.ts";

/** Remove everything a test under `dir` may have left: replica loops, mounts, disk loops, btrfs registrations. */
export async function cleanupUnder(dir: string, linkRoot: string): Promise<void> {
  const real = await realpath(dir).catch(() => dir);
  const mounts = (await listMounts()).filter((m) => m.target.startsWith(real + "/")).reverse();
  const loops = (await listLoops()).filter((l) => l.backFile.startsWith(real + "/"));
  const onMounts = loops.filter((l) => mounts.some((m) => l.backFile.startsWith(m.target + "/")));
  for (const l of onMounts) await detachLoop(l.name).catch(() => undefined);
  for (const m of mounts) await unmount(m.target).catch(() => undefined);
  const disks = loops.filter((l) => !onMounts.includes(l));
  await forgetDevices(disks.map((l) => l.name)).catch(() => undefined);
  for (const l of disks) await detachLoop(l.name).catch(() => undefined);
  await rm(linkRoot, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}

/** An assert.rejects matcher: an HwError with this code (and a message matching `text`). */
export const isCode = (code: string, text?: RegExp) => (e: unknown) => e instanceof HwError && e.code === code && (!text || text.test(e.message));

/** Writes `data` at `offset` of a device and syncs it. */
export async function writeAt(dev: string, offset: number, data: Buffer): Promise<void> {
  const fh = await open(dev, "r+");
  try {
    await fh.write(data, 0, data.length, offset);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The sha256 of `len` bytes at `offset` of a device. */
export async function sha(dev: string, offset: number, len: number): Promise<string> {
  const fh = await open(dev, "r");
  try {
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, offset);
    return createHash("sha256").update(buf).digest("hex");
  } finally {
    await fh.close();
  }
}

/** Polls `ok` every 20 ms until it holds; throws naming `what` after `ms`. (The migration copy's source learns of
 * the target's confirmation a moment after the target returns: another process tells it.) */
export async function until(ok: () => boolean, what: string, ms = 30_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
