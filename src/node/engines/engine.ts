// The one interface a node agent drives its pools through (ARCHITECTURE.md "Data path: pool engines").
// Engines: `file` (btrfs spanning the pool's disks, a replica = sparse file + loop device) and `lvm`
// (VG `LocalStorage_Pool<Class>`, a replica = LV). The raw-disk path (`disk.hwameistor.io`) is not an engine
// of this interface: it has no pool to carve.
//
// Contract every engine keeps (the reconcilers above rely on it):
// - Every call is idempotent and level-triggered: it converges from whatever a crash left behind, and a
//   repeated call with the same arguments returns the same result without side effects.
// - Names (pool, volume, snapshot) are validated before any command or path is built.
// - A replica that does not fit fails with HwError RESOURCE_EXHAUSTED whose message contains
//   "insufficient free space" (the original's CSI checks that text) and leaves nothing behind.
// - Sizes are rounded up to 4 MiB (the original's LVM extent; minimum 4 MiB) for both engines, so a volume
//   reports the same allocated size whichever engine holds it.
// - devPath is stable across node agent restarts and reboots: `activateAll()` brings back the same path.

import type { PoolClass } from "../../api/names.ts";

export type EngineKind = "lvm" | "file";
export type EngineChoice = "auto" | EngineKind;

/** LVM extent size of the original; both engines round sizes up to it. */
export const EXTENT_BYTES = 4 * 1024 * 1024;
/** The original's fixed `totalVolumeCount` per pool. */
export const POOL_VOLUME_LIMIT = 1000;

export interface PoolDisk {
  devPath: string;
  capacityBytes: number;
}

/** What feeds a LocalStorageNode `status.pools[name]` (reference §1.7 LocalPool). */
export interface PoolStats {
  name: string;
  class: PoolClass;
  /** The engine's handle on the pool: the VG path `/dev/<VG>` (lvm) or the pool mount point (file). */
  path: string;
  totalCapacityBytes: number;
  /** Capacity promised to replicas (the sum of their allocated sizes: thick accounting in both engines). */
  usedCapacityBytes: number;
  freeCapacityBytes: number;
  /** The original sets this to the pool size. */
  volumeCapacityBytesLimit: number;
  totalVolumeCount: number;
  usedVolumeCount: number;
  freeVolumeCount: number;
  disks: PoolDisk[];
  /** Volume names of the replicas in this pool, sorted. */
  volumes: string[];
  /** Additive (lvm with a thin pool): the thin pool's numbers. */
  thinPool?: ThinPoolStats;
}

export interface CreateReplicaOptions {
  /**
   * Create as a clone of this snapshot/volume (lvm: a thin snapshot `lvcreate -s -k n --thinpool …` of a thin
   * origin, which needs `thin`). Engines without it reject it (UNIMPLEMENTED / FAILED_PRECONDITION with the reason).
   */
  sourceVolume?: string;
  /** A thin volume in the pool's thin pool (lvm with dm-thin; the StorageClass parameter `thin`). */
  thin?: boolean;
  /** The thin pool's overProvisionRatio (from the node's ThinPoolClaim records), default "1.0". */
  overProvisionRatio?: string;
}

/** Additive: the thin pool of a pool (lvm engine with dm-thin only), → LocalPool.thinPool. */
export interface ThinPoolStats {
  name: string;
  sizeBytes: number;
  metadataSizeBytes: number;
  dataPercent: number | null;
  metadataPercent: number | null;
  /** Σ virtual sizes of thin volumes + Σ size × data% of thin snapshots (they never grow: read-only). */
  totalProvisionedBytes: number;
  thinVolumes: string[];
}

/** Additive: a rollback that LVM has accepted but not finished (merging, or delayed to the next activation). */
export interface RollbackProgress {
  pending: true;
  message: string;
}

export interface Replica {
  poolName: string;
  volumeName: string;
  /** Stable block device path for publishing (a symlink to the kernel device where the engine needs one). */
  devPath: string;
  /** The original's `storagePath` (= devPath for non-HA replicas). */
  storagePath: string;
  /** Size after rounding to EXTENT_BYTES. */
  allocatedCapacityBytes: number;
  /** The kernel device behind devPath right now (/dev/loopN, /dev/dm-N), or "" when not active. */
  kernelDevice: string;
  /** The block device is present (devPath resolves to an attached device). */
  active: boolean;
  /** Why the replica is not active, when the engine knows (e.g. no device-mapper, multi-segment LV). */
  inactiveReason?: string;
}

export interface ActivationReport {
  pools: string[];
  /** Replicas whose device is present after the call (volume names). */
  activated: string[];
  /** Leftovers of interrupted operations that were cleaned up (paths). */
  cleaned: string[];
  /** Per object errors; activation continues past them. */
  errors: Array<{ object: string; message: string }>;
}

export interface EngineCapabilities {
  /** Pools can span several disks and grow online by adding a disk. */
  multiDiskPools: boolean;
  snapshots: { supported: boolean; reason?: string };
  clones: { supported: boolean; reason?: string };
  /** Replicas reachable as block devices on this kernel. */
  blockDevices: { supported: boolean; reason?: string };
  /** Additive: thin volumes in a thin pool (lvm + dm-thin). Absent = not supported. */
  thin?: { supported: boolean; reason?: string };
  /** Additive: LUKS on the replica device (dm-crypt + cryptsetup). Absent = not supported. */
  encryption?: { supported: boolean; reason?: string };
}

/** Placeholders for the snapshot issue (reference §5.7); shapes may grow, names will not change. */
export interface SnapshotInfo {
  poolName: string;
  sourceVolume: string;
  snapshotName: string;
  sizeBytes: number;
  creationTime: string;
  readyToUse: boolean;
  /** Additive (lvm): a rollback into the source is pending or running (lv_merging). */
  merging?: boolean;
  /** Additive (lvm): a COW snapshot whose area overflowed (lv_snapshot_invalid): its content is lost. */
  invalid?: boolean;
  /** Additive (lvm): a thin snapshot. */
  thin?: boolean;
}

export interface CreateSnapshotOptions {
  /** Thick LVM snapshots: the COW area's size (VolumeSnapshotClass `snapsize`), default the volume's size. */
  sizeBytes?: number;
}

export interface StorageEngine {
  readonly kind: EngineKind;
  /** file engine: the filesystem new pools get (`--file-fs`); reported in LocalStorageNode status.engine. */
  readonly poolFilesystem?: "btrfs" | "xfs";
  capabilities(): EngineCapabilities;

  /**
   * Create the pool from `devices`, or extend it online with the ones it does not hold yet. Devices already in
   * the pool are skipped; a device holding foreign data is refused (FAILED_PRECONDITION DeviceNotEmpty). The
   * pool is left usable (mounted / VG present) on return.
   */
  ensurePool(poolName: string, poolClass: PoolClass, devices: string[]): Promise<PoolStats>;
  /** NOT_FOUND when the pool does not exist on this node. */
  poolStats(poolName: string): Promise<PoolStats>;
  /** Names of the pools this engine holds on this node. */
  listPools(): Promise<string[]>;

  /** Idempotent by name: an existing replica of at least sizeBytes is returned as is. */
  createReplica(poolName: string, volumeName: string, sizeBytes: number, opts?: CreateReplicaOptions): Promise<Replica>;
  /** Grow to sizeBytes (rounded); a smaller or equal size returns the replica unchanged (never shrinks). */
  expandReplica(poolName: string, volumeName: string, sizeBytes: number, opts?: { overProvisionRatio?: string }): Promise<Replica>;
  /** Idempotent: a missing replica counts as deleted. Refuses (FAILED_PRECONDITION VolumeInUse) while mounted. */
  deleteReplica(poolName: string, volumeName: string): Promise<void>;
  getReplica(poolName: string, volumeName: string): Promise<Replica | undefined>;
  listReplicas(poolName?: string): Promise<Replica[]>;

  /**
   * After a node agent restart or a reboot: bring every pool and replica back from persisted state (mount
   * pools, re-attach loop devices, re-point devPath symlinks) so each replica's devPath is the same as before.
   * Idempotent; safe to run while replicas are in use.
   */
  activateAll(): Promise<ActivationReport>;
  /**
   * The reverse, for a clean shutdown and for tests that simulate a reboot: detach replica devices and
   * unmount pools. Refuses replicas that are in use. The node agent does NOT call this on restart (a published
   * volume keeps serving I/O while the agent is down).
   */
  deactivateAll(): Promise<void>;

  // Snapshot / restore / rollback / clone: next issue. Engines that cannot do them here throw UNIMPLEMENTED
  // or FAILED_PRECONDITION with the reason (capabilities() says which).
  createSnapshot(poolName: string, volumeName: string, snapshotName: string, opts?: CreateSnapshotOptions): Promise<SnapshotInfo>;
  deleteSnapshot(poolName: string, snapshotName: string): Promise<void>;
  listSnapshots(poolName: string, volumeName?: string): Promise<SnapshotInfo[]>;
  /** Copy a snapshot's content into another (existing, unpublished) replica (original: `dd`). */
  restoreSnapshot(poolName: string, snapshotName: string, targetVolume: string): Promise<void>;
  /**
   * Revert the source volume to the snapshot (original: `lvconvert --merge`). The lvm engine may return
   * RollbackProgress (merge running or delayed to the next activation): call again until it returns nothing.
   */
  rollbackSnapshot(poolName: string, snapshotName: string): Promise<void | RollbackProgress>;
  /** A new replica whose content is a copy of `sourceVolume` (file engine: O(1) reflink). */
  cloneReplica(poolName: string, sourceVolume: string, targetVolume: string): Promise<Replica>;

  /**
   * Additive, optional (lvm with dm-thin): create the pool's thin pool or grow it to `capacityGiB` data and
   * `metadataGiB` metadata (ThinPoolClaim). Never shrinks. Engines without thin pools do not have it.
   */
  ensureThinPool?(poolName: string, capacityGiB: number, metadataGiB: number): Promise<ThinPoolStats>;

  /**
   * Move the pool's data off member `oldDevice` onto the empty `newDevice` while its volumes stay in use, and
   * drop `oldDevice` from the pool (LocalDiskAction `replace`). One idempotent step per call: starts the move or
   * reports its progress; `done` once `newDevice` holds the data in `oldDevice`'s place. file: btrfs replace;
   * lvm: vgextend + pvmove + vgreduce, refused (NoDeviceMapper) where device-mapper is missing.
   */
  replaceDisk(poolName: string, oldDevice: string, newDevice: string): Promise<{ done: boolean; percent: number }>;
}

/** Round up to EXTENT_BYTES (minimum one extent), as the original does for every LV size. */
export function roundToExtent(sizeBytes: number): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new RangeError(`size ${sizeBytes} must be a non-negative integer`);
  return Math.max(EXTENT_BYTES, Math.ceil(sizeBytes / EXTENT_BYTES) * EXTENT_BYTES);
}
