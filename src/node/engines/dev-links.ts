// Stable device paths of replicas: `<devLinkRoot>/<pool>/<volume>` → /dev/loopN (like LVM's /dev/<VG>/<LV> →
// /dev/dm-N), re-pointed atomically, so the path the CSI layer recorded survives a changed loop number; and
// whether a block device is in use.

import { constants, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { open, readlink, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { ifExists, ifExistsSync } from "../../host/files.ts";
import { findMountsBySource } from "../../host/mount/mount.ts";

/**
 * Point `link` at `target`, atomically (a temp symlink renamed over the old one). No-op when it already does.
 * Synchronous calls on purpose: five metadata operations (on /dev, a memory filesystem, by default) of a few
 * microseconds each, which through the libuv thread pool queue behind the slow file work of other passes
 * (fsyncs, directory scans) — measured 25-195 ms on a loaded node for what takes well under 1 ms.
 */
export async function ensureDevLink(link: string, target: string): Promise<void> {
  if (ifExistsSync(() => readlinkSync(link), "EINVAL") === target) return;
  mkdirSync(dirname(link), { recursive: true, mode: 0o755 });
  const tmp = `${link}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, link);
}

/** Remove `link` (missing = done). */
export async function removeDevLink(link: string): Promise<void> {
  await ifExists(unlink(link));
}

/** The link's target; undefined when nothing is there or it is not a link. */
export async function readDevLink(link: string): Promise<string | undefined> {
  return ifExists(readlink(link), "EINVAL");
}

/**
 * Whether a block device is in use: mounted (findmnt by source), or held open exclusively (a filesystem,
 * another loop/btrfs/LVM holder): opening it with O_EXCL then fails with EBUSY. A raw block device that is
 * only bind-mounted into a pod is not detected by either; the CSI layer tracks publications for that.
 */
export async function isDeviceInUse(dev: string): Promise<boolean> {
  if ((await findMountsBySource(dev)).length > 0) return true;
  try {
    const fh = await open(dev, constants.O_RDONLY | constants.O_EXCL);
    await fh.close();
    return false;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EBUSY") return true;
    if (code === "ENOENT" || code === "ENXIO") return false;
    throw e;
  }
}
