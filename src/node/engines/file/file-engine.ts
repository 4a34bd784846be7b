// The `file` engine: a pool is one btrfs over its disks, or one XFS per disk (pool-fs.ts, `--file-fs`); a
// replica is a sparse file `<store>/volumes/<volume>.img` (a store = one of the pool's filesystems) attached to a loop device with direct I/O; its stable devPath is the
// symlink `<devLinkRoot>/<pool>/<volume>` → /dev/loopN (devLinkRoot defaults to /dev, which gives exactly the
// original's LV path /dev/LocalStorage_Pool<Class>/<volume>). After a reboot the loop number may differ; the
// symlink is re-pointed by activateAll(), so the path the CSI layer recorded stays valid.
//
// Crash safety (every create step is re-runnable):
// - a replica file is created as `.<volume>.img.partial`, sized, and renamed into place: a `<volume>.img` is
//   always complete; a leftover partial is removed by the next create or by activateAll;
// - attachLoop is idempotent per backing file (a crash after losetup but before the symlink re-uses it);
// - the symlink is replaced atomically (temp link + rename).
// Concurrency: a pool's lock covers the free-space check and the space it promises, not the slow part of a
// create: the new image's bytes are promised in memory (`writing`) under the lock, and its file (two fsyncs)
// and loop device are made after the lock is released, so the creates of one pool overlap. Operations on one
// volume (create, expand, delete) are serialised by a per-volume lock, taken before the pool's.
// Accounting: thin storage (sparse files; fstrim inside a volume returns space), thick accounting: a pool's
// used capacity is the sum of its replicas' (and snapshots') sizes, so promised space can never be
// oversubscribed — the same answer the original's thick LVs give.
// Simplification: btrfs metadata growth and CoW of reflinked extents are not reserved; at 100 % promised a
// pool can still run out of real space if snapshots diverge from their volumes (next issue adds reserves).

import { readdir, realpath, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { HwError } from "../../../api/errors.ts";
import type { PoolClass } from "../../../api/names.ts";
import {
  attachLoop,
  createSparseFile,
  detachLoop,
  findLoopsByBackingFile,
  growSparseFile,
  listLoops,
  setLoopCapacity,
  type LoopDevice,
} from "../../../host/loop/loop.ts";
import type { RunOptions } from "../../../host/runner.ts";
import { assertPoolName, assertVolumeName, insufficientSpace, replicasOfPools, requestedSize, syncDir } from "../common.ts";
import { ensureDevLink, isDeviceInUse, readDevLink, removeDevLink } from "../dev-links.ts";
import { KeyedLock } from "../../../kube/keyed-lock.ts";
import {
  POOL_VOLUME_LIMIT,
  type ActivationReport,
  type CreateReplicaOptions,
  type EngineCapabilities,
  type PoolStats,
  type Replica,
  type SnapshotInfo,
  type StorageEngine,
} from "../engine.ts";
import {
  createPoolFs,
  ensureMounted,
  extendPoolFs,
  formatPendingMembers,
  isMounted,
  listRecords,
  poolDisks,
  poolLayout,
  poolStores,
  readRecord,
  replacePoolDevice,
  storeCapacities,
  unmountPool,
  XFS_COWEXTSIZE_BYTES,
  type PoolFsType,
  type PoolRecord,
  type Store,
  type StoreTuning,
} from "./pool-fs.ts";
import { findImage, IMG, imagesIn, PARTIAL, partialPath, promisedPerStore, writeImage } from "./images.ts";
import { ReflinkOps } from "./reflink.ts";
import { ifExists } from "../../../host/files.ts";

export interface FileEngineOptions {
  /** Node state root (NodeContext.stateDir). Pools mount at <stateDir>/pools/<pool>. */
  stateDir: string;
  /** Replica devPath = <devLinkRoot>/<pool>/<volume>. Default /dev (the original's LV path). */
  devLinkRoot?: string;
  /** Pool filesystem: btrfs over all disks (default) or one XFS per disk (docs/engines.md has the measurements). */
  fsType?: PoolFsType;
  /** btrfs only: NOCOW volume files (default true; 4k random write ~5x faster through the loop device). */
  noCow?: boolean;
  /** xfs only: cowextsize hint of volume files (default XFS_COWEXTSIZE_BYTES; 0 = XFS's own default). */
  xfsCowExtSizeBytes?: number;
  run?: RunOptions;
}

export class FileEngine implements StorageEngine {
  readonly kind = "file" as const;
  readonly poolFilesystem: PoolFsType;
  private readonly stateDir: string;
  private readonly devLinkRoot: string;
  private readonly fsType: PoolFsType;
  private readonly tuning: StoreTuning;
  private readonly ro: RunOptions;
  private readonly lock = new KeyedLock();
  /** Per `<pool>/<volume>`: a create, expand or delete of one volume at a time (taken before the pool lock). */
  private readonly volumeLock = new KeyedLock();
  /** Images being written outside the pool lock (`<pool>/<volume>` → store uuid and bytes): counted as used. */
  private readonly writing = new Map<string, { pool: string; volume: string; store: string; bytes: number }>();
  private readonly reflink: ReflinkOps;
  /**
   * Data capacity of each of a pool's stores as last computed (btrfs `filesystem usage` + `show`: two
   * processes). It changes only when a disk joins or grows (ensurePool) and by metadata growth, so the
   * free-space check of a create uses it and poolStats (LocalStorageNode status) refreshes it; used space is
   * always summed from the files.
   */
  private readonly capacities = new Map<string, Map<string, number>>();

  constructor(o: FileEngineOptions) {
    this.stateDir = o.stateDir;
    this.devLinkRoot = o.devLinkRoot ?? "/dev";
    this.fsType = o.fsType ?? "btrfs";
    this.poolFilesystem = this.fsType;
    this.tuning = { noCow: o.noCow ?? true, xfsCowExtSizeBytes: o.xfsCowExtSizeBytes ?? XFS_COWEXTSIZE_BYTES };
    this.ro = o.run ?? {};
    this.reflink = new ReflinkOps({
      lock: this.lock,
      ro: this.ro,
      poolExists: async (p) => (await readRecord(this.stateDir, p)) !== undefined,
      mountedPool: (p) => this.mountedPool(p),
      freeBytes: async (p, store) => (await this.freeLocked(p)).perStore.get(store) ?? 0,
      activateReplica: (p, v, f) => this.activateReplica(p, v, f),
    });
  }

  capabilities(): EngineCapabilities {
    return {
      multiDiskPools: true,
      snapshots: { supported: true },
      clones: { supported: true },
      blockDevices: { supported: true },
    };
  }

  devPathOf(poolName: string, volumeName: string): string {
    return join(this.devLinkRoot, poolName, volumeName);
  }

  // -------------------------------------------------------------------------------------------------------
  // Pools

  async ensurePool(poolName: string, poolClass: PoolClass, devices: string[]): Promise<PoolStats> {
    assertPoolName(poolName, poolClass);
    const devs = [...new Set(devices)];
    return this.lock.with(poolName, async () => {
      let rec = await readRecord(this.stateDir, poolName);
      // Crash window covered: mkfs done, registry not yet written → createPoolFs adopts the labelled fs.
      if (!rec) rec = await createPoolFs(this.stateDir, poolName, poolClass, this.fsType, devs, this.ro);
      // A crash between the record and mkfs of an XFS member: format it now (only one of these devices).
      rec = await formatPendingMembers(this.stateDir, rec, devs, this.ro);
      await ensureMounted(this.stateDir, rec, this.tuning, this.ro, devs);
      await extendPoolFs(this.stateDir, rec, devs, this.tuning, this.ro);
      return this.statsLocked(poolName);
    });
  }

  async poolStats(poolName: string): Promise<PoolStats> {
    assertPoolName(poolName);
    return this.statsLocked(poolName);
  }

  async replaceDisk(poolName: string, oldDevice: string, newDevice: string): Promise<{ done: boolean; percent: number }> {
    assertPoolName(poolName);
    return this.lock.with(poolName, async () => {
      const { rec } = await this.mountedPool(poolName);
      const step = await replacePoolDevice(this.stateDir, rec, oldDevice, newDevice, this.ro);
      if (step.done) this.capacities.delete(poolName); // the capacity may have changed: the next stats re-read it
      return { done: step.done, percent: step.percent };
    });
  }

  async listPools(): Promise<string[]> {
    return (await listRecords(this.stateDir)).map((r) => r.poolName);
  }

  private async mountedPool(poolName: string): Promise<{ rec: PoolRecord; stores: Store[] }> {
    const rec = await readRecord(this.stateDir, poolName);
    if (!rec) throw new HwError("NOT_FOUND", "PoolNotFound", `pool ${poolName} does not exist on this node`);
    if (!(await isMounted(this.stateDir, rec, this.ro))) {
      throw new HwError("UNAVAILABLE", "PoolNotMounted", `pool ${poolName} is not mounted`, { hint: "the node agent mounts it on start (activateAll)" });
    }
    return { rec, stores: poolStores(this.stateDir, rec) };
  }

  private async statsLocked(poolName: string): Promise<PoolStats> {
    const { rec, stores } = await this.mountedPool(poolName);
    const [caps, disks, files, snaps] = await Promise.all([
      storeCapacities(this.stateDir, rec, this.ro),
      poolDisks(this.stateDir, rec, this.ro),
      imagesIn(stores, "volumesDir"),
      imagesIn(stores, "snapshotsDir"),
    ]);
    const total = [...caps.values()].reduce((a, b) => a + b, 0);
    const used = [...files.values(), ...snaps.values()].reduce((a, i) => a + i.size, 0);
    const volumes = [...files.keys()].sort();
    this.capacities.set(poolName, caps);
    return {
      name: poolName,
      class: rec.class,
      path: poolLayout(this.stateDir, poolName).mountPoint,
      totalCapacityBytes: total,
      usedCapacityBytes: used,
      freeCapacityBytes: Math.max(0, total - used),
      // One XFS per disk: no volume can be larger than one disk's filesystem.
      volumeCapacityBytesLimit: Math.max(0, ...caps.values()),
      totalVolumeCount: POOL_VOLUME_LIMIT,
      usedVolumeCount: volumes.length,
      freeVolumeCount: Math.max(0, POOL_VOLUME_LIMIT - volumes.length),
      disks,
      volumes,
    };
  }

  /** Free capacity per store (cached capacity minus the files' sizes) and the volume count. Inside the lock. */
  private async freeLocked(poolName: string): Promise<{ perStore: Map<string, number>; volumes: number }> {
    if (!this.capacities.has(poolName)) await this.statsLocked(poolName);
    const caps = this.capacities.get(poolName)!;
    const stores = poolStores(this.stateDir, (await readRecord(this.stateDir, poolName))!);
    const [files, snaps] = await Promise.all([imagesIn(stores, "volumesDir"), imagesIn(stores, "snapshotsDir")]);
    const promised = promisedPerStore(files, snaps);
    let writing = 0;
    for (const w of this.writing.values()) {
      // Renamed into place already (the directory fsync and the bookkeeping still to come): the file counts itself.
      if (w.pool !== poolName || files.has(w.volume)) continue;
      promised.set(w.store, (promised.get(w.store) ?? 0) + w.bytes);
      writing++;
    }
    const perStore = new Map(stores.map((st) => [st.uuid, Math.max(0, (caps.get(st.uuid) ?? 0) - (promised.get(st.uuid) ?? 0))]));
    return { perStore, volumes: files.size + writing };
  }

  /** The store a new volume goes to: the one with the most free capacity (btrfs: the only one). Inside the lock. */
  private async placeLocked(poolName: string, stores: Store[], volumeName: string, size: number): Promise<Store> {
    const { perStore, volumes } = await this.freeLocked(poolName);
    if (volumes >= POOL_VOLUME_LIMIT) {
      throw new HwError("RESOURCE_EXHAUSTED", "VolumeCountExceeded", `pool ${poolName} already holds ${volumes} volumes (limit ${POOL_VOLUME_LIMIT})`);
    }
    const best = [...stores].sort((a, b) => (perStore.get(b.uuid) ?? 0) - (perStore.get(a.uuid) ?? 0))[0];
    const free = best ? (perStore.get(best.uuid) ?? 0) : 0;
    if (!best || free < size) throw insufficientSpace(poolName, volumeName, size, free, stores.length > 1);
    return best;
  }

  // -------------------------------------------------------------------------------------------------------
  // Replicas

  async createReplica(poolName: string, volumeName: string, sizeBytes: number, opts: CreateReplicaOptions = {}): Promise<Replica> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    const size = requestedSize(sizeBytes, `volume ${volumeName}`);
    if (opts.sourceVolume !== undefined) {
      await this.cloneReplica(poolName, opts.sourceVolume, volumeName);
      return this.expandReplica(poolName, volumeName, size);
    }
    const key = `${poolName}/${volumeName}`;
    return this.volumeLock.with(key, async () => {
      const made = await this.lock.with(poolName, async () => {
        const { stores } = await this.mountedPool(poolName);
        const existing = await findImage(stores, "volumesDir", volumeName);
        if (existing) {
          if (existing.size < size) {
            throw new HwError(
              "ALREADY_EXISTS",
              "VolumeExists",
              `volume ${volumeName} exists in pool ${poolName} with ${existing.size} bytes, less than ${size}`,
              {
                hint: "expand it instead",
              },
            );
          }
          // Crash window covered: file complete but never attached, or attached but the link not written.
          return { file: existing.file, fresh: false };
        }
        const store = await this.placeLocked(poolName, stores, volumeName, size);
        this.writing.set(key, { pool: poolName, volume: volumeName, store: store.uuid, bytes: size });
        return { file: join(store.volumesDir, volumeName + IMG), dir: store.volumesDir, fresh: true };
      });
      if (made.dir) {
        try {
          await writeImage(made.dir, volumeName, (partial) => createSparseFile(partial, size));
        } finally {
          this.writing.delete(key); // the complete image now counts itself (or, on failure, nothing does)
        }
      }
      return this.activateReplica(poolName, volumeName, made.file, made.fresh);
    });
  }

  /** `fresh`: the image was just made under the pool lock, so no loop device can be backed by it yet. */
  private async activateReplica(poolName: string, volumeName: string, file: string, fresh = false): Promise<Replica> {
    const loop = await attachLoop(file, { directIo: true, neverAttached: fresh }, this.ro);
    await ensureDevLink(this.devPathOf(poolName, volumeName), loop.name);
    const size = (await stat(file)).size;
    return this.replicaOf(poolName, volumeName, size, [loop]);
  }

  private replicaOf(poolName: string, volumeName: string, size: number, loops: LoopDevice[], link?: string): Replica {
    const devPath = this.devPathOf(poolName, volumeName);
    const kernelDevice = loops[0]?.name ?? "";
    const active = kernelDevice !== "" && (link === undefined || link === kernelDevice);
    return {
      poolName,
      volumeName,
      devPath,
      storagePath: devPath,
      allocatedCapacityBytes: size,
      kernelDevice,
      active,
      ...(active ? {} : { inactiveReason: kernelDevice ? `${devPath} does not point at ${kernelDevice}` : "no loop device attached (run activateAll)" }),
    };
  }

  async expandReplica(poolName: string, volumeName: string, sizeBytes: number): Promise<Replica> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    const size = requestedSize(sizeBytes, `volume ${volumeName}`);
    return this.volumeLock.with(`${poolName}/${volumeName}`, () =>
      this.lock.with(poolName, async () => {
        const { stores } = await this.mountedPool(poolName);
        const img = await findImage(stores, "volumesDir", volumeName);
        if (!img) throw new HwError("NOT_FOUND", "VolumeNotFound", `volume ${volumeName} not found in pool ${poolName}`);
        if (size > img.size) {
          // The volume grows on its own filesystem (one disk of an XFS pool).
          const free = (await this.freeLocked(poolName)).perStore.get(img.store.uuid) ?? 0;
          if (free < size - img.size) throw insufficientSpace(poolName, volumeName, size - img.size, free, stores.length > 1);
          await growSparseFile(img.file, size);
        }
        // Re-read capacity also when the file was grown by an earlier, interrupted call.
        const rep = await this.activateReplica(poolName, volumeName, img.file);
        await setLoopCapacity(rep.kernelDevice, this.ro);
        return rep;
      }),
    );
  }

  async deleteReplica(poolName: string, volumeName: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    await this.volumeLock.with(`${poolName}/${volumeName}`, () =>
      this.lock.with(poolName, async () => {
        const rec = await readRecord(this.stateDir, poolName);
        if (!rec) return; // no pool, no replica
        const { stores } = await this.mountedPool(poolName);
        const img = await findImage(stores, "volumesDir", volumeName);
        // A failing losetup is an error, not "no loop device": removing the file under an attached loop device
        // would leave a device whose data is gone (the caller retries).
        const loops = img ? await findLoopsByBackingFile(img.file, this.ro) : [];
        for (const lo of loops) {
          if (await isDeviceInUse(lo.name)) {
            throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `volume ${volumeName} (${lo.name}) is in use (mounted or open)`, {
              hint: "unpublish it first",
            });
          }
        }
        await removeDevLink(this.devPathOf(poolName, volumeName));
        for (const lo of loops) await detachLoop(lo.name, this.ro);
        for (const st of stores) {
          await rm(join(st.volumesDir, volumeName + IMG), { force: true });
          await rm(partialPath(st.volumesDir, volumeName), { force: true });
          await syncDir(st.volumesDir);
        }
      }),
    );
  }

  async getReplica(poolName: string, volumeName: string): Promise<Replica | undefined> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    if (!(await readRecord(this.stateDir, poolName))) return undefined;
    // An unmounted pool is UNAVAILABLE, not empty: "not found" would make a reconciler re-create the replica.
    const { stores } = await this.mountedPool(poolName);
    const img = await findImage(stores, "volumesDir", volumeName);
    if (!img) return undefined;
    const loops = await findLoopsByBackingFile(img.file, this.ro);
    return this.replicaOf(poolName, volumeName, img.size, loops, await readDevLink(this.devPathOf(poolName, volumeName)));
  }

  async listReplicas(poolName?: string): Promise<Replica[]> {
    const ofPool = async (p: string, loops: LoopDevice[]) => {
      const { stores } = await this.mountedPool(p);
      const out: Replica[] = [];
      for (const img of (await imagesIn(stores, "volumesDir")).values()) {
        const realDir = (await ifExists(realpath(img.store.volumesDir))) ?? img.store.volumesDir; // the kernel reports resolved paths
        const file = join(realDir, img.name + IMG);
        const mine = loops.filter((lo) => lo.backFile === file && !lo.backFileDeleted);
        out.push(this.replicaOf(p, img.name, img.size, mine, await readDevLink(this.devPathOf(p, img.name))));
      }
      return out;
    };
    const out = await replicasOfPools(poolName, () => this.listPools(), ofPool, this.ro);
    return out.sort((a, b) => (a.poolName + "/" + a.volumeName).localeCompare(b.poolName + "/" + b.volumeName));
  }

  // -------------------------------------------------------------------------------------------------------
  // Activation

  async activateAll(): Promise<ActivationReport> {
    const report: ActivationReport = { pools: [], activated: [], cleaned: [], errors: [] };
    for (const rec of await listRecords(this.stateDir)) {
      await this.lock.with(rec.poolName, async () => {
        let stores: Store[];
        try {
          stores = await ensureMounted(this.stateDir, rec, this.tuning, this.ro);
        } catch (e) {
          report.errors.push({ object: rec.poolName, message: (e as Error).message });
          return;
        }
        report.pools.push(rec.poolName);
        for (const dir of stores.flatMap((st) => [st.volumesDir, st.snapshotsDir])) {
          for (const f of (await ifExists(readdir(dir))) ?? []) {
            if (f.startsWith(".") && f.endsWith(PARTIAL)) {
              await rm(join(dir, f), { force: true });
              report.cleaned.push(join(dir, f));
            }
          }
        }
        const images = [...(await imagesIn(stores, "volumesDir")).values()].sort((a, b) => a.name.localeCompare(b.name));
        for (const img of images) {
          try {
            await this.activateReplica(rec.poolName, img.name, img.file);
            report.activated.push(img.name);
          } catch (e) {
            report.errors.push({ object: `${rec.poolName}/${img.name}`, message: (e as Error).message });
          }
        }
        // Links left by replicas deleted while the agent was down (or by a crash mid-delete).
        const names = images.map((i) => i.name);
        const linkDir = join(this.devLinkRoot, rec.poolName);
        for (const f of (await ifExists(readdir(linkDir))) ?? []) {
          if (!names.includes(f) && !f.includes(".tmp-")) {
            await removeDevLink(join(linkDir, f));
            report.cleaned.push(join(linkDir, f));
          }
        }
      });
    }
    return report;
  }

  async deactivateAll(): Promise<void> {
    for (const rec of await listRecords(this.stateDir)) {
      await this.lock.with(rec.poolName, async () => {
        if (!(await isMounted(this.stateDir, rec, this.ro))) return;
        const stores = poolStores(this.stateDir, rec);
        const realMounts = await Promise.all(stores.map((st) => realpath(st.mountPoint)));
        const loops = (await listLoops(this.ro)).filter((lo) => realMounts.some((m) => lo.backFile.startsWith(m + "/")));
        for (const lo of loops) {
          if (await isDeviceInUse(lo.name)) throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `${lo.backFile} (${lo.name}) is in use`);
        }
        for (const name of (await imagesIn(stores, "volumesDir")).keys()) await removeDevLink(this.devPathOf(rec.poolName, name));
        for (const lo of loops) await detachLoop(lo.name, this.ro);
        await unmountPool(this.stateDir, rec, this.ro);
      });
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Snapshots and clones: reflink.ts

  cloneReplica(poolName: string, sourceVolume: string, targetVolume: string): Promise<Replica> {
    return this.reflink.cloneReplica(poolName, sourceVolume, targetVolume);
  }
  createSnapshot(poolName: string, volumeName: string, snapshotName: string): Promise<SnapshotInfo> {
    return this.reflink.createSnapshot(poolName, volumeName, snapshotName);
  }
  listSnapshots(poolName: string, volumeName?: string): Promise<SnapshotInfo[]> {
    return this.reflink.listSnapshots(poolName, volumeName);
  }
  deleteSnapshot(poolName: string, snapshotName: string): Promise<void> {
    return this.reflink.deleteSnapshot(poolName, snapshotName);
  }
  restoreSnapshot(poolName: string, snapshotName: string, targetVolume: string): Promise<void> {
    return this.reflink.restoreSnapshot(poolName, snapshotName, targetVolume);
  }
  rollbackSnapshot(poolName: string, snapshotName: string): Promise<void> {
    return this.reflink.rollbackSnapshot(poolName, snapshotName);
  }
}
