// What a disk volume keeps on its node, under NodeContext.stateDir:
// - the pool link `<stateDir>/LocalDisk_Pool<TYPE>/volume/<volume>` → the disk (a by-id link when the
//   LocalDisk has one, else its device path; the original points at `../disk/<devlink>`, which needs udev
//   links this machine class lacks);
// - the volume record `<stateDir>/disk-volume/<volume>.json`: written when the disk is first handed to a
//   consumer, after checking it was empty, and naming the filesystem we created (type and UUID). It is the
//   proof that lets NodePublish mount (not format) again and DeleteVolume wipe only our own signature.
//   Its format, location rules and atomic writes are shared with the lvm driver (csi/volume-record.ts).
// All writes are atomic (temp file + rename) and every function is idempotent.

import fs from "node:fs";
import path from "node:path";
import { diskPoolName, type PoolClass } from "../../api/names.ts";
import { volumeRecords } from "../../csi/volume-record.ts";
import { ifExistsSync } from "../../host/files.ts";

/** The disk driver's volume records (../../csi/volume-record.ts), where existing nodes keep them. */
export const diskVolumeRecords = volumeRecords("disk-volume");

export const poolLinkPath = (stateDir: string, cls: PoolClass, volume: string): string => path.join(stateDir, diskPoolName(cls), "volume", volume);

/** The link target for a disk: a by-id devlink if present, else the device path. */
export function linkTargetOf(devPath: string, devLinks: string[] = []): string {
  return devLinks.find((l) => l.startsWith("/dev/disk/by-id/")) ?? devPath;
}

export function poolLinkOk(linkPath: string, target: string): boolean {
  return ifExistsSync(() => fs.readlinkSync(linkPath), "EINVAL") === target;
}

export function ensurePoolLink(linkPath: string, target: string): void {
  if (poolLinkOk(linkPath, target)) return;
  fs.mkdirSync(path.dirname(linkPath), { recursive: true, mode: 0o755 });
  // Crash window: a link to an old target (disk moved) or a half-written temp link is replaced atomically.
  const tmp = `${linkPath}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, linkPath);
}

export function removePoolLink(linkPath: string): void {
  fs.rmSync(linkPath, { force: true });
}
