// The `file` engine's pool: the filesystem(s) over the pool's disks, under `<stateDir>/pools/<pool>`.
//
// - btrfs (default): ONE filesystem over every disk, `mkfs.btrfs -d single -m raid1` (one disk: `-m dup`),
//   mounted at `<stateDir>/pools/<pool>`; a disk claimed later joins online with `btrfs device add` (no
//   balance: `single` allocates new chunks on the emptiest device). A volume may use space on every disk.
// - xfs (`--file-fs xfs`): ONE XFS PER DISK (`mkfs.xfs -m reflink=1`), each mounted at
//   `<stateDir>/pools/<pool>/disks/<fs uuid>`. XFS cannot span devices by itself (that needs LVM/md/dm-linear,
//   absent where this engine is the default), so a volume lives on one disk's filesystem: the pool's capacity
//   is the sum, a volume is limited to one disk's free space (docs/compatibility.md). A disk claimed later is a
//   new filesystem (pool growth without a balance). Snapshots and clones stay on their source's filesystem
//   (reflink works within one filesystem only).
//
// Each filesystem of a pool is a "store" (Store below): its own `volumes/` and `snapshots/` directories. A btrfs
// pool has one store whose directories are the ones it always had, so existing pools see no change.
//
// Persisted state (survives a reboot):
// - `<stateDir>/engine/file/<pool>.json`: the registry record (fs type, UUIDs, member devices), outside the
//   pool because it is needed to find and mount the pool;
// - on each filesystem: `.hwameistor/pool.json` (which pool and filesystem this is), `volumes/<vol>.img`
//   (a replica: its size is the allocated capacity), `snapshots/<snap>.img` + `.json`.
//
// Crash safety of an XFS member: its UUID is chosen here and written to the record as `pending` BEFORE
// `mkfs.xfs -m uuid=<it>`; the next ensurePool formats a pending member only if its device is one of the disks
// the caller hands over and holds no signature (mkfs refuses otherwise), adopts it if it already carries the
// UUID (mkfs done, record not yet updated), and only then clears `pending`. A pending member is never mounted.

import { randomUUID } from "node:crypto";
import { mkdir, readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { HwError, isHwError } from "../../../api/errors.ts";
import type { PoolClass } from "../../../api/names.ts";
import * as btrfs from "../../../host/btrfs/btrfs.ts";
import { deviceSizeBytes } from "../../../host/blkdev.ts";
import { fsStats, growXfs, mkfs, probeFilesystem, setXfsHints } from "../../../host/fs/fs.ts";
import { findMountsAt, listMounts, mount, mountTargets, unmount } from "../../../host/mount/mount.ts";
import { listSysBlock, readSysBlock } from "../../../host/sysfs/sysfs.ts";
import type { RunOptions } from "../../../host/runner.ts";
import { floorToExtent, writeJsonAtomic } from "../common.ts";
import type { PoolDisk } from "../engine.ts";
import { ifExists, readJsonIfExists } from "../../../host/files.ts";

export type PoolFsType = "btrfs" | "xfs";
export const POOL_FS_TYPES: readonly PoolFsType[] = ["btrfs", "xfs"];

/** An XFS pool's filesystem on one disk. */
export interface PoolMember {
  uuid: string;
  /** Kernel path as last seen (names can change after a reboot; the UUID is the identity). */
  device: string;
  /** Recorded before mkfs (the intent); cleared once the filesystem with this UUID exists. */
  pending?: boolean;
  /** The disk's size when the filesystem was last made to fill it: a larger disk is grown (xfs_growfs). */
  sizeBytes?: number;
}

export interface PoolRecord {
  poolName: string;
  class: PoolClass;
  fsType: PoolFsType;
  /** btrfs: the filesystem's UUID; xfs: the first member's. */
  uuid: string;
  /** Member devices as last seen (kernel paths); re-read on every ensurePool. */
  devices: string[];
  /** xfs only: one filesystem per disk. */
  members?: PoolMember[];
  createdAt: string;
}

export interface PoolLayout {
  /** The pool's directory: btrfs' mount point; for xfs the directory holding the members' mount points. */
  mountPoint: string;
  volumesDir: string;
  snapshotsDir: string;
  metaFile: string;
}

/** One filesystem of a pool, holding volumes and their snapshots. */
export interface Store {
  /** The filesystem UUID (btrfs: the pool's). */
  uuid: string;
  mountPoint: string;
  volumesDir: string;
  snapshotsDir: string;
  metaFile: string;
}

export function poolLayout(stateDir: string, poolName: string): PoolLayout {
  const mountPoint = join(stateDir, "pools", poolName);
  return storeAt(mountPoint, "");
}

function storeAt(mountPoint: string, uuid: string): Store {
  return {
    uuid,
    mountPoint,
    volumesDir: join(mountPoint, "volumes"),
    snapshotsDir: join(mountPoint, "snapshots"),
    metaFile: join(mountPoint, ".hwameistor", "pool.json"),
  };
}

/** The pool's stores: btrfs one (the pool mount), xfs one per formatted member, in record order. */
export function poolStores(stateDir: string, rec: PoolRecord): Store[] {
  const top = poolLayout(stateDir, rec.poolName).mountPoint;
  if (rec.fsType === "btrfs") return [storeAt(top, rec.uuid)];
  return (rec.members ?? []).filter((m) => !m.pending).map((m) => storeAt(join(top, "disks", m.uuid), m.uuid));
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
 * Create the pool's filesystem(s) over `devices`. btrfs: one filesystem, or adopt one a crashed earlier call
 * already made (same label on the first device: the crash window between mkfs and writing the record). xfs:
 * the record with every member pending is written first, then each is formatted (formatPendingMembers).
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
  if (fsType === "xfs") {
    const members = devices.map((device) => ({ uuid: randomUUID(), device, pending: true }));
    const rec: PoolRecord = { poolName, class: cls, fsType, uuid: members[0]!.uuid, devices, members, createdAt: new Date().toISOString() };
    await writeJsonAtomic(registryFile(stateDir, poolName), rec);
    return formatPendingMembers(stateDir, rec, devices, opts);
  }
  const label = fsLabel(fsType, poolName, cls);
  const first = await probeFilesystem(devices[0]!, opts);
  if (!(first?.type === fsType && first.label === label)) await btrfs.mkfsBtrfs(devices, { label }, opts);
  const probe = await probeFilesystem(devices[0]!, opts);
  if (!probe?.uuid) throw new HwError("INTERNAL", "PoolFsMissing", `pool ${poolName}: no ${fsType} found on ${devices[0]} right after mkfs`);
  const rec: PoolRecord = { poolName, class: cls, fsType, uuid: probe.uuid, devices, createdAt: new Date().toISOString() };
  await writeJsonAtomic(registryFile(stateDir, poolName), rec);
  return rec;
}

/**
 * XFS: format every pending member whose device is among `claimed` (the disks the caller hands over), or adopt
 * it when it already carries the member's UUID; then persist the record without `pending`. A pending member
 * whose device is not handed over stays pending (never formatted on a guess).
 */
export async function formatPendingMembers(stateDir: string, rec: PoolRecord, claimed: string[], opts: RunOptions): Promise<PoolRecord> {
  const pending = (rec.members ?? []).filter((m) => m.pending);
  if (pending.length === 0) return rec;
  const claimedReal = new Set(await Promise.all(claimed.map(resolveDev)));
  const done = new Set<string>();
  for (const m of pending) {
    if (!claimedReal.has(await resolveDev(m.device))) continue;
    const p = await probeFilesystem(m.device, opts);
    if (!(p?.type === "xfs" && p.uuid === m.uuid)) {
      await mkfs(m.device, "xfs", { reflink: true, uuid: m.uuid, label: fsLabel("xfs", rec.poolName, rec.class) }, opts);
    }
    done.add(m.uuid);
  }
  if (done.size === 0) return rec;
  const next: PoolRecord = { ...rec, members: rec.members!.map((m) => (done.has(m.uuid) ? { uuid: m.uuid, device: m.device } : m)) };
  await writeJsonAtomic(registryFile(stateDir, rec.poolName), next);
  return next;
}

/**
 * Find the devices carrying each UUID among `candidates`; if fewer than `want` says (uuid → number of member
 * devices: a btrfs spans several), among every non-empty block device.
 */
async function devicesByUuid(want: Map<string, number>, candidates: string[], opts: RunOptions): Promise<Map<string, string[]>> {
  const uuids = [...want.keys()];
  const probeAll = async (devs: string[]): Promise<Map<string, string[]>> => {
    const out = new Map<string, string[]>();
    for (const d of devs) {
      const p = await probeFilesystem(d, opts).catch(() => null);
      if (p?.uuid && uuids.includes(p.uuid)) out.set(p.uuid, [...(out.get(p.uuid) ?? []), d]);
    }
    return out;
  };
  const found = await probeAll([...new Set(candidates)]);
  if (uuids.every((u) => (found.get(u)?.length ?? 0) >= want.get(u)!)) return found;
  // Some recorded names are gone or reused (a reboot renumbered the disks): look at every non-empty block
  // device, or the mount fails for want of a member the kernel was never told about.
  const all: string[] = [];
  for (const name of await listSysBlock()) {
    const info = await readSysBlock(name).catch(() => undefined);
    if (info && info.sizeBytes > 0) all.push(info.devPath);
  }
  return probeAll(all);
}

function disksMissing(rec: PoolRecord, uuid: string, lastSeen: string[]): HwError {
  return new HwError("UNAVAILABLE", "PoolDisksMissing", `pool ${rec.poolName}: its disk with filesystem ${uuid} is not present`, {
    hint: `last seen as ${lastSeen.join(", ")}; reattach the disk (a pool is mounted only when all its disks are present)`,
  });
}

/** Mount the pool (idempotent) and make its directories. Verifies that what is mounted is this pool. */
export async function ensureMounted(stateDir: string, rec: PoolRecord, tuning: StoreTuning, opts: RunOptions, hints: string[] = []): Promise<Store[]> {
  const top = poolLayout(stateDir, rec.poolName).mountPoint;
  await mkdir(top, { recursive: true, mode: 0o700 });
  const stores = poolStores(stateDir, rec);
  const mounted = new Set((await listMounts(opts)).map((m) => m.target));
  const absent = stores.filter((s) => !mounted.has(s.mountPoint));
  if (absent.length) {
    const candidates = [...hints, ...rec.devices, ...(rec.members ?? []).map((m) => m.device)];
    const want = new Map(absent.map((s) => [s.uuid, rec.fsType === "btrfs" ? rec.devices.length : 1]));
    const byUuid = await devicesByUuid(want, candidates, opts);
    for (const s of absent) {
      const members = byUuid.get(s.uuid) ?? [];
      if (members.length === 0) throw disksMissing(rec, s.uuid, rec.fsType === "btrfs" ? rec.devices : [rec.members!.find((m) => m.uuid === s.uuid)!.device]);
      // Without udev nobody registers btrfs members with the kernel: scan them, or a multi-device mount fails.
      if (rec.fsType === "btrfs") await btrfs.deviceScan(members, opts);
      await mkdir(s.mountPoint, { recursive: true, mode: 0o700 });
      await mount(members[0]!, s.mountPoint, { fstype: rec.fsType, options: ["noatime"] }, opts);
    }
  }
  for (const s of stores) {
    if (!absent.includes(s)) {
      const top = (await findMountsAt(s.mountPoint, opts)).at(-1);
      if (top && top.fstype !== rec.fsType) {
        throw new HwError("FAILED_PRECONDITION", "PoolMountConflict", `pool ${rec.poolName}: ${s.mountPoint} holds a ${top.fstype} mount, not the pool`);
      }
    }
    await prepareStore(rec, s, tuning, opts);
  }
  return stores;
}

/** The pool identity file and the volumes/snapshots directories of one mounted store. */
async function prepareStore(rec: PoolRecord, s: Store, tuning: StoreTuning, opts: RunOptions): Promise<void> {
  await mkdir(join(s.mountPoint, ".hwameistor"), { recursive: true });
  const meta = await readJsonIfExists<{ poolName: string; uuid: string }>(s.metaFile);
  if (meta && meta.poolName !== rec.poolName) {
    throw new HwError("FAILED_PRECONDITION", "PoolIdentityMismatch", `${s.mountPoint} holds pool ${meta.poolName}, not ${rec.poolName}`);
  }
  if (!meta) await writeJsonAtomic(s.metaFile, { poolName: rec.poolName, class: rec.class, fsType: rec.fsType, uuid: s.uuid, createdAt: rec.createdAt });
  for (const d of [s.volumesDir, s.snapshotsDir]) {
    const made = !(await ifExists(stat(d)));
    if (made) await mkdir(d, { mode: 0o700 });
    // Files created later inherit NOCOW; the flag can only be set while the directory is empty.
    if (made && tuning.noCow && rec.fsType === "btrfs") await btrfs.setNoCow(d, opts);
    // XFS: copy-on-write of a shared block after a snapshot stages cowextsize at a time, so a 4k random write to
    // a snapshotted volume allocates once per 1 MiB instead of once per 128 KiB (the default; bench/snapshots.ts).
    if (made && rec.fsType === "xfs" && tuning.xfsCowExtSizeBytes) await setXfsHints(d, { cowextsizeBytes: tuning.xfsCowExtSizeBytes }, opts);
  }
}

/** The default copy-on-write extent size hint of an XFS pool's volume files (measured in bench/snapshots.ts). */
export const XFS_COWEXTSIZE_BYTES = 1024 * 1024;

/** How a store's directories are set up when made (later changes apply to new pools and disks only). */
export interface StoreTuning {
  /** btrfs: NOCOW volume files. */
  noCow: boolean;
  /** xfs: the cowextsize hint of volumes/ and snapshots/ (0 = the filesystem's default, 32 blocks). */
  xfsCowExtSizeBytes: number;
}

/** Every store of the pool is mounted (read from /proc/self/mountinfo: this runs before every replica lookup). */
export async function isMounted(stateDir: string, rec: PoolRecord, _opts?: RunOptions): Promise<boolean> {
  const stores = poolStores(stateDir, rec);
  const mounted = mountTargets();
  return stores.length > 0 && stores.every((s) => mounted.has(s.mountPoint));
}

export async function unmountPool(stateDir: string, rec: PoolRecord, opts: RunOptions): Promise<void> {
  for (const s of poolStores(stateDir, rec).reverse()) if ((await findMountsAt(s.mountPoint, opts)).length) await unmount(s.mountPoint, opts);
}

/** Member devices as the filesystem(s) know them now, with their sizes. */
export async function poolDisks(stateDir: string, rec: PoolRecord, opts: RunOptions): Promise<PoolDisk[]> {
  if (rec.fsType === "btrfs") {
    const show = await btrfs.filesystemShow(poolLayout(stateDir, rec.poolName).mountPoint, opts);
    if (!show) throw new HwError("INTERNAL", "PoolFsMissing", `pool ${rec.poolName}: no btrfs at its mount point`);
    return show.devices.filter((d) => !d.missing).map((d) => ({ devPath: d.path, capacityBytes: d.sizeBytes }));
  }
  const mounts = await listMounts(opts);
  return Promise.all(
    poolStores(stateDir, rec).map(async (s) => {
      // The mounted source is the device the kernel uses now (the record's name may be stale after a reboot).
      const dev = mounts.find((m) => m.target === s.mountPoint)?.source ?? rec.members!.find((m) => m.uuid === s.uuid)!.device;
      return { devPath: dev, capacityBytes: await deviceSizeBytes(dev, opts) };
    }),
  );
}

/**
 * Add the devices the pool does not hold yet (btrfs `device add`, online; xfs: a new filesystem each), and
 * grow members whose disk grew. Returns the updated record (already persisted).
 */
export async function extendPoolFs(stateDir: string, rec: PoolRecord, devices: string[], tuning: StoreTuning, opts: RunOptions): Promise<PoolRecord> {
  return rec.fsType === "btrfs" ? extendBtrfs(stateDir, rec, devices, opts) : extendXfs(stateDir, rec, devices, tuning, opts);
}

async function freshDevices(devices: string[], members: string[]): Promise<string[]> {
  const memberReal = new Set(await Promise.all(members.map(resolveDev)));
  const fresh: string[] = [];
  for (const d of devices) if (!memberReal.has(await resolveDev(d))) fresh.push(d);
  return fresh;
}

async function extendBtrfs(stateDir: string, rec: PoolRecord, devices: string[], opts: RunOptions): Promise<PoolRecord> {
  const l = poolLayout(stateDir, rec.poolName);
  const fresh = await freshDevices(
    devices,
    (await poolDisks(stateDir, rec, opts)).map((d) => d.devPath),
  );
  if (fresh.length) await btrfs.deviceAdd(fresh, l.mountPoint, opts);
  const show = await btrfs.filesystemShow(l.mountPoint, opts);
  for (const d of show?.devices ?? []) {
    if (d.missing) continue;
    if ((await deviceSizeBytes(d.path, opts)) > d.sizeBytes) await btrfs.resizeMax(l.mountPoint, d.devid, opts);
  }
  const now = (await poolDisks(stateDir, rec, opts)).map((d) => d.devPath);
  if (now.join("\n") !== rec.devices.join("\n")) {
    rec = { ...rec, devices: now };
    await writeJsonAtomic(registryFile(stateDir, rec.poolName), rec);
  }
  return rec;
}

/** XFS: a new filesystem per new disk (record first, then mkfs: formatPendingMembers), xfs_growfs of a grown disk. */
async function extendXfs(stateDir: string, rec: PoolRecord, devices: string[], tuning: StoreTuning, opts: RunOptions): Promise<PoolRecord> {
  const fresh = await freshDevices(devices, [...(await poolDisks(stateDir, rec, opts)).map((d) => d.devPath), ...rec.members!.map((m) => m.device)]);
  if (fresh.length) {
    rec = { ...rec, members: [...rec.members!, ...fresh.map((device) => ({ uuid: randomUUID(), device, pending: true }))] };
    await writeJsonAtomic(registryFile(stateDir, rec.poolName), rec);
  }
  rec = await formatPendingMembers(stateDir, rec, devices, opts);
  await ensureMounted(stateDir, rec, tuning, opts, devices);
  const disks = await poolDisks(stateDir, rec, opts);
  const stores = poolStores(stateDir, rec);
  const members = rec.members!.map((m) => {
    const i = stores.findIndex((s) => s.uuid === m.uuid);
    return i < 0 ? m : { ...m, device: disks[i]!.devPath, sizeBytes: disks[i]!.capacityBytes };
  });
  for (const m of members) {
    const before = rec.members!.find((o) => o.uuid === m.uuid)!;
    // The disk grew since the filesystem was made or last grown (a first sighting records the size only).
    if (before.sizeBytes !== undefined && m.sizeBytes !== undefined && m.sizeBytes > before.sizeBytes) {
      await growXfs(stores.find((s) => s.uuid === m.uuid)!.mountPoint, opts);
    }
  }
  const next: PoolRecord = { ...rec, devices: disks.map((d) => d.devPath), members };
  if (JSON.stringify(next) !== JSON.stringify(rec)) await writeJsonAtomic(registryFile(stateDir, rec.poolName), next);
  return next;
}

/**
 * One idempotent step of moving the pool's data off member `oldDev` onto the empty `newDev`, online (btrfs
 * `replace`: the kernel copies every chunk while volumes stay in use, then `newDev` takes `oldDev`'s devid and
 * `oldDev`'s superblock is wiped). Starts it, or reports the running one's progress, or — once `newDev` is a
 * member in `oldDev`'s place — grows `newDev` to its full size, records the members and answers done. The copy
 * runs in the kernel: it outlives the agent (a restarted agent finds it running) and resumes after a remount.
 */
export async function replacePoolDevice(
  stateDir: string,
  rec: PoolRecord,
  oldDev: string,
  newDev: string,
  opts: RunOptions,
): Promise<{ done: boolean; percent: number; rec: PoolRecord }> {
  if (rec.fsType !== "btrfs") {
    throw new HwError(
      "FAILED_PRECONDITION",
      "ReplaceUnsupported",
      `pool ${rec.poolName}: an XFS pool keeps one filesystem per disk; a disk of it cannot be replaced online`,
      {
        hint: "migrate its volumes to another node (LocalVolumeMigrate), then rebuild the pool on the new disk",
      },
    );
  }
  const l = poolLayout(stateDir, rec.poolName);
  const st = await btrfs.replaceStatus(l.mountPoint, opts);
  if (st.state === "running") return { done: false, percent: st.percent, rec };
  const show = await btrfs.filesystemShow(l.mountPoint, opts);
  if (!show) throw new HwError("INTERNAL", "PoolFsMissing", `pool ${rec.poolName}: no btrfs at its mount point`);
  const members = await Promise.all(show.devices.filter((d) => !d.missing).map(async (d) => ({ ...d, real: await resolveDev(d.path) })));
  const [oldReal, newReal] = await Promise.all([resolveDev(oldDev), resolveDev(newDev)]);
  const hasOld = members.some((m) => m.real === oldReal);
  const fresh = members.find((m) => m.real === newReal);
  if (fresh && !hasOld) {
    if ((await deviceSizeBytes(newDev, opts)) > fresh.sizeBytes) await btrfs.resizeMax(l.mountPoint, fresh.devid, opts);
    const now = (await poolDisks(stateDir, rec, opts)).map((d) => d.devPath);
    if (now.join("\n") !== rec.devices.join("\n")) {
      rec = { ...rec, devices: now };
      await writeJsonAtomic(registryFile(stateDir, rec.poolName), rec);
    }
    replaceStarts.delete(`${rec.poolName}\0${newReal}`);
    return { done: true, percent: 100, rec };
  }
  // Our own start, not reported yet (see below): the target may already be listed beside the old member.
  const key = `${rec.poolName}\0${newReal}`;
  const startedAt = replaceStarts.get(key);
  if (startedAt !== undefined && Date.now() - startedAt < REPLACE_START_GRACE_MS) return { done: false, percent: 0, rec };
  if (!hasOld) {
    throw new HwError("FAILED_PRECONDITION", "NotAPoolMember", `${oldDev} is not a disk of pool ${rec.poolName}`, {
      hint: `its disks: ${members.map((m) => m.path).join(", ")}`,
    });
  }
  if (fresh) {
    throw new HwError("FAILED_PRECONDITION", "AlreadyAPoolMember", `${newDev} is already a disk of pool ${rec.poolName}: it cannot replace ${oldDev}`, {
      hint: "name an empty disk that belongs to no pool",
    });
  }
  // `replace start` returns before the kernel reports the replace (btrfs-progs forks the ioctl into the
  // background): for a moment the status says "Never started", the old member is still listed and the target
  // may not carry a superblock yet. So a start of ours is trusted for REPLACE_START_GRACE_MS, and a target that
  // already carries this filesystem's UUID, or that the kernel holds, was started on: poll again instead of
  // starting twice (which would refuse the now non-empty target). After a restart the kernel reports it.
  if (await replaceTargetTaken(newDev, show.uuid, opts)) return { done: false, percent: 0, rec };
  try {
    await btrfs.replaceStart(oldDev, newDev, l.mountPoint, opts);
  } catch (e) {
    // The background start of an earlier step wrote the superblock between the probe above and this one.
    if (isHwError(e) && e.reason === "DeviceNotEmpty" && (await replaceTargetTaken(newDev, show.uuid, opts))) return { done: false, percent: 0, rec };
    throw e;
  }
  replaceStarts.set(key, Date.now());
  return { done: false, percent: 0, rec };
}

/** How long a replace this process started is waited for before the kernel reports it. */
const REPLACE_START_GRACE_MS = 60_000;
const replaceStarts = new Map<string, number>();

/** The replace target carries the pool's btrfs UUID, or the kernel holds it: a replace was started on it. */
async function replaceTargetTaken(dev: string, poolUuid: string, opts: RunOptions): Promise<boolean> {
  const target = await probeFilesystem(dev, opts).catch((e: unknown) => {
    if (isHwError(e) && e.code === "UNAVAILABLE") return "held" as const;
    throw e;
  });
  return target === "held" || (target?.type === "btrfs" && target.uuid === poolUuid);
}

/**
 * The data capacity of each store, rounded down to the extent: for btrfs "Free (estimated)" plus the data
 * already written (= what data can ever occupy with the current profiles, after metadata); for XFS the statfs
 * size of each member.
 */
export async function storeCapacities(stateDir: string, rec: PoolRecord, opts: RunOptions): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (rec.fsType === "btrfs") {
    const u = await btrfs.filesystemUsage(poolLayout(stateDir, rec.poolName).mountPoint, opts);
    const dataUsed = Object.entries(u.groups)
      .filter(([k]) => k.startsWith("Data,"))
      .reduce((s, [, g]) => s + g.usedBytes, 0);
    out.set(rec.uuid, floorToExtent(u.freeEstimatedBytes + dataUsed));
    return out;
  }
  for (const s of poolStores(stateDir, rec)) out.set(s.uuid, floorToExtent((await fsStats(s.mountPoint)).totalBytes));
  return out;
}
