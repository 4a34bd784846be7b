// What a disk volume keeps on its node, under NodeContext.stateDir:
// - the pool link `<stateDir>/LocalDisk_Pool<TYPE>/volume/<volume>` → the disk (a by-id link when the
//   LocalDisk has one, else its device path; the original points at `../disk/<devlink>`, which needs udev
//   links this machine class lacks);
// - the volume record `<stateDir>/disk-volume/<volume>.json`: written when the disk is first handed to a
//   consumer, after checking it was empty, and naming the filesystem we created (type and UUID). It is the
//   proof that lets NodePublish mount (not format) again and DeleteVolume wipe only our own signature.
// All writes are atomic (temp file + rename) and every function is idempotent.

import fs from "node:fs";
import path from "node:path";
import { diskPoolName, type PoolClass } from "../../api/names.ts";

export interface VolumeRecord {
  volume: string;
  localDiskName: string;
  devPath: string;
  /** How the disk was first handed out. */
  accessType: "block" | "mount";
  /** Set just before mkfs (crash window: mkfs done, record not yet updated). */
  formatting?: string;
  /** The filesystem this system created. */
  formatted?: { fsType: string; uuid: string };
  firstPublishedAt: string;
}

export const poolLinkPath = (stateDir: string, cls: PoolClass, volume: string): string =>
  path.join(stateDir, diskPoolName(cls), "volume", volume);

const recordPath = (stateDir: string, volume: string) => path.join(stateDir, "disk-volume", `${volume}.json`);

/** The link target for a disk: a by-id devlink if present, else the device path. */
export function linkTargetOf(devPath: string, devLinks: string[] = []): string {
  return devLinks.find((l) => l.startsWith("/dev/disk/by-id/")) ?? devPath;
}

export function poolLinkOk(linkPath: string, target: string): boolean {
  try {
    return fs.readlinkSync(linkPath) === target;
  } catch {
    return false;
  }
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

export function readRecord(stateDir: string, volume: string): VolumeRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(recordPath(stateDir, volume), "utf8")) as VolumeRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export function writeRecord(stateDir: string, rec: VolumeRecord): void {
  const p = recordPath(stateDir, rec.volume);
  fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
  const tmp = `${p}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(rec, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, p);
}

export function removeRecord(stateDir: string, volume: string): void {
  fs.rmSync(recordPath(stateDir, volume), { force: true });
}

/** Whether `devPath` is (still) a block device node. */
export function isBlockDevice(devPath: string): boolean {
  try {
    return fs.statSync(devPath).isBlockDevice();
  } catch {
    return false;
  }
}
