// The `file` engine's pool: one filesystem over the pool's disks, mounted at `<stateDir>/pools/<pool>`.
//
// - btrfs (default): `mkfs.btrfs -d single -m raid1` (one disk: `-m dup`) over every disk; a disk claimed later
//   joins online with `btrfs device add` (no balance: `single` allocates new chunks on the emptiest device).
// - xfs (measured alternative, single disk only): XFS cannot span devices by itself; it would need LVM/md/
//   dm-linear underneath, none of which exists on a kernel without device-mapper. A second disk is refused
//   with FAILED_PRECONDITION XfsCannotSpan (the LocalStorageNode shows it as an ExpandFailure).
//
// Persisted state (survives a reboot):
// - `<stateDir>/engine/file/<pool>.json`: the registry record (fs type, UUID, member devices, mount point),
//   outside the pool because it is needed to find and mount the pool;
// - on the pool filesystem itself: `.hwameistor/pool.json` (which pool this filesystem is), `volumes/<vol>.img`
//   (a replica: its size is the allocated capacity), `snapshots/<snap>.img` + `.json`.

import { mkdir, readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { HwError } from "../../../api/errors.ts";
import type { PoolClass } from "../../../api/names.ts";
import * as btrfs from "../../../host/btrfs/btrfs.ts";
import { deviceSizeBytes } from "../../../host/blkdev.ts";
import { fsStats, mkfs, probeFilesystem } from "../../../host/fs/fs.ts";
import { findMountsAt, mount, unmount } from "../../../host/mount/mount.ts";
import { listSysBlock, readSysBlock } from "../../../host/sysfs/sysfs.ts";
import type { RunOptions } from "../../../host/runner.ts";
import { floorToExtent, writeJsonAtomic } from "../common.ts";
import type { PoolDisk } from "../engine.ts";
import { ifExists, readJsonIfExists } from "../../../host/files.ts";

export type PoolFsType = "btrfs" | "xfs";

export interface PoolRecord {
  poolName: string;
  class: PoolClass;
  fsType: PoolFsType;
  uuid: string;
  /** Member devices as last seen (kernel paths); re-read from the filesystem on every ensurePool. */
  devices: string[];
  createdAt: string;
}

export interface PoolLayout {
  mountPoint: string;
  volumesDir: string;
  snapshotsDir: string;
  metaFile: string;
}

export function poolLayout(stateDir: string, poolName: string): PoolLayout {
  const mountPoint = join(stateDir, "pools", poolName);
  return {
    mountPoint,
    volumesDir: join(mountPoint, "volumes"),
    snapshotsDir: join(mountPoint, "snapshots"),
    metaFile: join(mountPoint, ".hwameistor", "pool.json"),
  };
}

export const registryDir = (stateDir: string): string => join(stateDir, "engine", "file");
export const registryFile = (stateDir: string, poolName: string): string => join(registryDir(stateDir), `${poolName}.json`);

/** The filesystem label we write: btrfs takes the pool name; XFS labels are at most 12 characters. */
export function fsLabel(fsType: PoolFsType, poolName: string, cls: PoolClass): string {
  return fsType === "btrfs" ? poolName : `hwsp${cls}`;
}

export async function readRecord(stateDir: string, poolName: string): Promise<PoolRecord | undefined> {
  return readJsonIfExists<PoolRecord>(registryFile(stateDir, poolName));
}

export async function listRecords(stateDir: string): Promise<PoolRecord[]> {
  const names = (await ifExists(readdir(registryDir(stateDir)))) ?? [];
  const out: PoolRecord[] = [];
  for (const n of names.filter((f) => f.endsWith(".json")).sort()) {
    const r = await readJsonIfExists<PoolRecord>(join(registryDir(stateDir), n));
    if (r) out.push(r);
  }
  return out;
}

const resolveDev = async (d: string): Promise<string> => (await ifExists(realpath(d))) ?? d;

/**
 * Create the filesystem over `devices`, or adopt one a crashed earlier call already made (same label on the
 * first device: the crash window between mkfs and writing the registry record).
 */
export async function createPoolFs(
  stateDir: string,
  poolName: string,
  cls: PoolClass,
  fsType: PoolFsType,
  devices: string[],
  opts: RunOptions,
): Promise<PoolRecord> {
  if (devices.length === 0) throw new HwError("INVALID_ARGUMENT", "NoDisks", `pool ${poolName}: no disks to create it from`);
  if (fsType === "xfs" && devices.length > 1) throw xfsCannotSpan(poolName);
  const label = fsLabel(fsType, poolName, cls);
  const first = await probeFilesystem(devices[0]!, opts);
  if (!(first?.type === fsType && first.label === label)) {
    if (fsType === "btrfs") await btrfs.mkfsBtrfs(devices, { label }, opts);
    else await mkfs(devices[0]!, "xfs", { reflink: true, label }, opts);
  }
  const probe = await probeFilesystem(devices[0]!, opts);
  if (!probe?.uuid) throw new HwError("INTERNAL", "PoolFsMissing", `pool ${poolName}: no ${fsType} found on ${devices[0]} right after mkfs`);
  const rec: PoolRecord = { poolName, class: cls, fsType, uuid: probe.uuid, devices, createdAt: new Date().toISOString() };
  await writeJsonAtomic(registryFile(stateDir, poolName), rec);
  return rec;
}

export function xfsCannotSpan(poolName: string): HwError {
  return new HwError("FAILED_PRECONDITION", "XfsCannotSpan", `pool ${poolName}: an XFS pool lives on one disk and cannot take another`, {
    hint: "use the btrfs pool filesystem (the default) for multi-disk pools",
  });
}

/**
 * The pool's member devices that are present now, found by filesystem UUID among the recorded devices and
 * `hints` (the disks the caller knows are claimed): after a reboot device names can change (loop numbers in a
 * dev cluster, sdX order on a server).
 */
async function presentMembers(rec: PoolRecord, hints: string[], opts: RunOptions): Promise<string[]> {
  const byUuid = async (devs: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const d of devs) {
      const p = await probeFilesystem(d, opts).catch(() => null);
      if (p?.uuid === rec.uuid) out.push(d);
    }
    return out;
  };
  const found = await byUuid([...new Set([...hints, ...rec.devices])]);
  if (found.length >= rec.devices.length) return found;
  // Some recorded names are gone or reused (a reboot renumbered the disks): look at every non-empty block
  // device, or the mount fails for want of a member the kernel was never told about.
  const all: string[] = [];
  for (const name of await listSysBlock()) {
    const info = await readSysBlock(name).catch(() => undefined);
    if (info && info.sizeBytes > 0) all.push(info.devPath);
  }
  return byUuid(all);
}

/** Mount the pool (idempotent) and make its directories. Verifies that what is mounted is this pool. */
export async function ensureMounted(stateDir: string, rec: PoolRecord, noCow: boolean, opts: RunOptions, hints: string[] = []): Promise<PoolLayout> {
  const l = poolLayout(stateDir, rec.poolName);
  await mkdir(l.mountPoint, { recursive: true, mode: 0o700 });
  const existing = await findMountsAt(l.mountPoint, opts);
  if (existing.length === 0) {
    const members = await presentMembers(rec, hints, opts);
    if (members.length === 0) {
      throw new HwError("UNAVAILABLE", "PoolDisksMissing", `pool ${rec.poolName}: none of its disks (filesystem ${rec.uuid}) is present`, {
        hint: `last seen as ${rec.devices.join(", ")}`,
      });
    }
    // Without udev nobody registers btrfs members with the kernel: scan them, or a multi-device mount fails.
    if (rec.fsType === "btrfs") await btrfs.deviceScan(members, opts);
    await mount(members[0]!, l.mountPoint, { fstype: rec.fsType, options: ["noatime"] }, opts);
  } else if (existing.at(-1)!.fstype !== rec.fsType) {
    throw new HwError(
      "FAILED_PRECONDITION",
      "PoolMountConflict",
      `pool ${rec.poolName}: ${l.mountPoint} holds a ${existing.at(-1)!.fstype} mount, not the pool`,
    );
  }
  await mkdir(join(l.mountPoint, ".hwameistor"), { recursive: true });
  const meta = await readJsonIfExists<{ poolName: string; uuid: string }>(l.metaFile);
  if (meta && meta.poolName !== rec.poolName) {
    throw new HwError("FAILED_PRECONDITION", "PoolIdentityMismatch", `${l.mountPoint} holds pool ${meta.poolName}, not ${rec.poolName}`);
  }
  if (!meta) await writeJsonAtomic(l.metaFile, { poolName: rec.poolName, class: rec.class, fsType: rec.fsType, uuid: rec.uuid, createdAt: rec.createdAt });
  for (const d of [l.volumesDir, l.snapshotsDir]) {
    const made = !(await ifExists(stat(d)));
    if (made) await mkdir(d, { mode: 0o700 });
    // Files created later inherit NOCOW; the flag can only be set while the directory is empty.
    if (made && noCow && rec.fsType === "btrfs") await btrfs.setNoCow(d, opts);
  }
  return l;
}

export async function isMounted(stateDir: string, poolName: string, opts: RunOptions): Promise<boolean> {
  return (await findMountsAt(poolLayout(stateDir, poolName).mountPoint, opts)).length > 0;
}

export async function unmountPool(stateDir: string, rec: PoolRecord, opts: RunOptions): Promise<void> {
  await unmount(poolLayout(stateDir, rec.poolName).mountPoint, opts);
}

/** Member devices as the filesystem knows them now, with their sizes. */
export async function poolDisks(stateDir: string, rec: PoolRecord, opts: RunOptions): Promise<PoolDisk[]> {
  if (rec.fsType === "btrfs") {
    const show = await btrfs.filesystemShow(poolLayout(stateDir, rec.poolName).mountPoint, opts);
    if (!show) throw new HwError("INTERNAL", "PoolFsMissing", `pool ${rec.poolName}: no btrfs at its mount point`);
    return show.devices.filter((d) => !d.missing).map((d) => ({ devPath: d.path, capacityBytes: d.sizeBytes }));
  }
  return Promise.all(rec.devices.map(async (d) => ({ devPath: d, capacityBytes: await deviceSizeBytes(d, opts) })));
}

/**
 * Add the devices the pool does not hold yet (btrfs `device add`, online), and grow members whose disk grew.
 * Returns the updated record (already persisted).
 */
export async function extendPoolFs(stateDir: string, rec: PoolRecord, devices: string[], opts: RunOptions): Promise<PoolRecord> {
  const l = poolLayout(stateDir, rec.poolName);
  const members = await poolDisks(stateDir, rec, opts);
  const memberReal = new Set(await Promise.all(members.map((m) => resolveDev(m.devPath))));
  const fresh: string[] = [];
  for (const d of devices) if (!memberReal.has(await resolveDev(d))) fresh.push(d);
  if (fresh.length && rec.fsType === "xfs") throw xfsCannotSpan(rec.poolName);
  if (fresh.length) await btrfs.deviceAdd(fresh, l.mountPoint, opts);
  if (rec.fsType === "btrfs") {
    const show = await btrfs.filesystemShow(l.mountPoint, opts);
    for (const d of show?.devices ?? []) {
      if (d.missing) continue;
      if ((await deviceSizeBytes(d.path, opts)) > d.sizeBytes) await btrfs.resizeMax(l.mountPoint, d.devid, opts);
    }
  }
  const now = (await poolDisks(stateDir, rec, opts)).map((d) => d.devPath);
  if (now.join("\n") !== rec.devices.join("\n")) {
    rec = { ...rec, devices: now };
    await writeJsonAtomic(registryFile(stateDir, rec.poolName), rec);
  }
  return rec;
}

/**
 * The data capacity of the pool filesystem, rounded down to the extent: for btrfs "Free (estimated)" plus the
 * data already written (= what data can ever occupy with the current profiles, after metadata); for XFS the
 * statfs size.
 */
export async function poolCapacityBytes(stateDir: string, rec: PoolRecord, opts: RunOptions): Promise<number> {
  const l = poolLayout(stateDir, rec.poolName);
  if (rec.fsType === "btrfs") {
    const u = await btrfs.filesystemUsage(l.mountPoint, opts);
    const dataUsed = Object.entries(u.groups)
      .filter(([k]) => k.startsWith("Data,"))
      .reduce((s, [, g]) => s + g.usedBytes, 0);
    return floorToExtent(u.freeEstimatedBytes + dataUsed);
  }
  return floorToExtent((await fsStats(l.mountPoint)).totalBytes);
}
