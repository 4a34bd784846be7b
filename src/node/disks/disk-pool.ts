// The disk pool directory of the original (§6 consumers): `<stateDir>/LocalDisk_Pool<class>/disk/<LocalDisk>`
// is a symlink to the disk's device. The original links the stable by-id (else by-path) link; without udev
// there are none here, so the link points at the current device path and is refreshed when the disk comes
// back on another path (the LocalDiskNode pass keeps every link current — level-triggered).
import { mkdir, readlink, rename, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ifExists } from "../../host/files.ts";

export const poolDiskDir = (stateDir: string, pool: string): string => join(stateDir, pool, "disk");

/** Creates or repoints the link; true when it changed. Atomic: a temp link renamed over the old one. */
export async function ensurePoolLink(stateDir: string, pool: string, diskName: string, target: string): Promise<boolean> {
  const dir = poolDiskDir(stateDir, pool);
  const link = join(dir, diskName);
  const current = await ifExists(readlink(link), "EINVAL");
  if (current === target) return false;
  await mkdir(dir, { recursive: true });
  const tmp = `${link}.tmp-${process.pid}`;
  await ifExists(unlink(tmp));
  await symlink(target, tmp);
  await rename(tmp, link);
  return true;
}

/** Removes a link (gone already = fine). */
export async function removePoolLink(stateDir: string, pool: string, diskName: string): Promise<void> {
  await ifExists(unlink(join(poolDiskDir(stateDir, pool), diskName)));
}
