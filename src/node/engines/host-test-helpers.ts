// Cleanup for the engines' host tests (*.host.test.ts): everything under one temp dir goes, in the order the
// kernel needs — replica loops, then pool mounts, then disk loops (forgotten by btrfs first), then the link
// root and the dir. Every step tolerates "already gone", so it also cleans up after a failed test.

import { realpath, rm } from "node:fs/promises";
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
