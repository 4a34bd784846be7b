// The `file` engine: a pool is one filesystem over its disks (pool-fs.ts); a replica is a sparse file
// `<pool mount>/volumes/<volume>.img` attached to a loop device with direct I/O; its stable devPath is the
// symlink `<devLinkRoot>/<pool>/<volume>` → /dev/loopN (devLinkRoot defaults to /dev, which gives exactly the
// original's LV path /dev/LocalStorage_Pool<Class>/<volume>). After a reboot the loop number may differ; the
// symlink is re-pointed by activateAll(), so the path the CSI layer recorded stays valid.
//
// Crash safety (every create step is re-runnable):
// - a replica file is created as `.<volume>.img.partial`, sized, and renamed into place: a `<volume>.img` is
//   always complete; a leftover partial is removed by the next create or by activateAll;
// - attachLoop is idempotent per backing file (a crash after losetup but before the symlink re-uses it);
// - the symlink is replaced atomically (temp link + rename).
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
import {
  assertPoolName,
  assertVolumeName,
  ensureDevLink,
  insufficientSpace,
  isDeviceInUse,
  readDevLink,
  removeDevLink,
  requestedSize,
  syncDir,
} from "../common.ts";
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
  isMounted,
  listRecords,
  poolCapacityBytes,
  poolDisks,
  poolLayout,
  readRecord,
  unmountPool,
  type PoolFsType,
  type PoolLayout,
  type PoolRecord,
} from "./pool-fs.ts";
import { IMG, imageSizes, PARTIAL, partialPath, writeImage } from "./images.ts";
import { ReflinkOps } from "./reflink.ts";
import { ifExists } from "../../../host/files.ts";

export interface FileEngineOptions {
  /** Node state root (NodeContext.stateDir). Pools mount at <stateDir>/pools/<pool>. */
  stateDir: string;
  /** Replica devPath = <devLinkRoot>/<pool>/<volume>. Default /dev (the original's LV path). */
  devLinkRoot?: string;
  /** Pool filesystem; default btrfs (see docs/engines.md for the measurements behind the choice). */
  fsType?: PoolFsType;
  /** btrfs only: NOCOW volume files (default true; 4k random write ~5x faster through the loop device). */
  noCow?: boolean;
  run?: RunOptions;
}

export class FileEngine implements StorageEngine {
  readonly kind = "file" as const;
  private readonly stateDir: string;
  private readonly devLinkRoot: string;
  private readonly fsType: PoolFsType;
  private readonly noCow: boolean;
  private readonly ro: RunOptions;
  private readonly lock = new KeyedLock();
  private readonly reflink: ReflinkOps;
  /**
   * Pool data capacity as last computed (btrfs `filesystem usage` + `show`: two processes). It changes only
   * when a disk joins or grows (ensurePool) and by metadata growth, so the free-space check of a create uses
   * it and poolStats (LocalStorageNode status) refreshes it; used space is always summed from the files.
   */
  private readonly totals = new Map<string, number>();

  constructor(o: FileEngineOptions) {
    this.stateDir = o.stateDir;
    this.devLinkRoot = o.devLinkRoot ?? "/dev";
    this.fsType = o.fsType ?? "btrfs";
    this.noCow = o.noCow ?? true;
    this.ro = o.run ?? {};
    this.reflink = new ReflinkOps({
      lock: this.lock,
      ro: this.ro,
      poolExists: async (p) => (await readRecord(this.stateDir, p)) !== undefined,
      mountedPool: (p) => this.mountedPool(p),
      freeBytes: async (p) => (await this.freeLocked(p)).free,
      activateReplica: (p, v, f) => this.activateReplica(p, v, f),
    });
  }

  capabilities(): EngineCapabilities {
    return {
      multiDiskPools: this.fsType === "btrfs",
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
      await ensureMounted(this.stateDir, rec, this.noCow, this.ro, devs);
      await extendPoolFs(this.stateDir, rec, devs, this.ro);
      return this.statsLocked(poolName);
    });
  }

  async poolStats(poolName: string): Promise<PoolStats> {
    assertPoolName(poolName);
    return this.statsLocked(poolName);
  }

  async listPools(): Promise<string[]> {
    return (await listRecords(this.stateDir)).map((r) => r.poolName);
  }

  private async mountedPool(poolName: string): Promise<{ rec: PoolRecord; l: PoolLayout }> {
    const rec = await readRecord(this.stateDir, poolName);
    if (!rec) throw new HwError("NOT_FOUND", "PoolNotFound", `pool ${poolName} does not exist on this node`);
    if (!(await isMounted(this.stateDir, poolName, this.ro))) {
      throw new HwError("UNAVAILABLE", "PoolNotMounted", `pool ${poolName} is not mounted`, { hint: "the node agent mounts it on start (activateAll)" });
    }
    return { rec, l: poolLayout(this.stateDir, poolName) };
  }

  private async statsLocked(poolName: string): Promise<PoolStats> {
    const { rec, l } = await this.mountedPool(poolName);
    const [total, disks, files, snaps] = await Promise.all([
      poolCapacityBytes(this.stateDir, rec, this.ro),
      poolDisks(this.stateDir, rec, this.ro),
      imageSizes(l.volumesDir),
      imageSizes(l.snapshotsDir),
    ]);
    const used = [...files.values(), ...snaps.values()].reduce((s, n) => s + n, 0);
    const volumes = [...files.keys()].sort();
    this.totals.set(poolName, total);
    return {
      name: poolName,
      class: rec.class,
      path: l.mountPoint,
      totalCapacityBytes: total,
      usedCapacityBytes: used,
      freeCapacityBytes: Math.max(0, total - used),
      volumeCapacityBytesLimit: total,
      totalVolumeCount: POOL_VOLUME_LIMIT,
      usedVolumeCount: volumes.length,
      freeVolumeCount: Math.max(0, POOL_VOLUME_LIMIT - volumes.length),
      disks,
      volumes,
    };
  }

  /** Free capacity and volume count for an allocation: the cached total minus the files' sizes. Inside the lock. */
  private async freeLocked(poolName: string): Promise<{ free: number; volumes: number }> {
    const total = this.totals.get(poolName);
    if (total === undefined) {
      const st = await this.statsLocked(poolName);
      return { free: st.freeCapacityBytes, volumes: st.usedVolumeCount };
    }
    const l = poolLayout(this.stateDir, poolName);
    const [files, snaps] = await Promise.all([imageSizes(l.volumesDir), imageSizes(l.snapshotsDir)]);
    const used = [...files.values(), ...snaps.values()].reduce((s, n) => s + n, 0);
    return { free: Math.max(0, total - used), volumes: files.size };
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
    return this.lock.with(poolName, async () => {
      const { l } = await this.mountedPool(poolName);
      const file = join(l.volumesDir, volumeName + IMG);
      const existing = await ifExists(stat(file));
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
      } else {
        const { free, volumes } = await this.freeLocked(poolName);
        if (free < size) throw insufficientSpace(poolName, volumeName, size, free);
        if (volumes >= POOL_VOLUME_LIMIT) {
          throw new HwError("RESOURCE_EXHAUSTED", "VolumeCountExceeded", `pool ${poolName} already holds ${volumes} volumes (limit ${POOL_VOLUME_LIMIT})`);
        }
        await writeImage(l.volumesDir, volumeName, (partial) => createSparseFile(partial, size));
      }
      // Crash window covered: file complete but never attached, or attached but the link not written.
      return this.activateReplica(poolName, volumeName, file);
    });
  }

  private async activateReplica(poolName: string, volumeName: string, file: string): Promise<Replica> {
    const loop = await attachLoop(file, { directIo: true }, this.ro);
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
    return this.lock.with(poolName, async () => {
      const { l } = await this.mountedPool(poolName);
      const file = join(l.volumesDir, volumeName + IMG);
      const st = await ifExists(stat(file));
      if (!st) throw new HwError("NOT_FOUND", "VolumeNotFound", `volume ${volumeName} not found in pool ${poolName}`);
      if (size > st.size) {
        const { free } = await this.freeLocked(poolName);
        if (free < size - st.size) throw insufficientSpace(poolName, volumeName, size - st.size, free);
        await growSparseFile(file, size);
      }
      // Re-read capacity also when the file was grown by an earlier, interrupted call.
      const rep = await this.activateReplica(poolName, volumeName, file);
      await setLoopCapacity(rep.kernelDevice, this.ro);
      return rep;
    });
  }

  async deleteReplica(poolName: string, volumeName: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    await this.lock.with(poolName, async () => {
      const rec = await readRecord(this.stateDir, poolName);
      if (!rec) return; // no pool, no replica
      const { l } = await this.mountedPool(poolName);
      const file = join(l.volumesDir, volumeName + IMG);
      // A failing losetup is an error, not "no loop device": removing the file under an attached loop device
      // would leave a device whose data is gone (the caller retries).
      const loops = await findLoopsByBackingFile(file, this.ro);
      for (const lo of loops) {
        if (await isDeviceInUse(lo.name)) {
          throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `volume ${volumeName} (${lo.name}) is in use (mounted or open)`, {
            hint: "unpublish it first",
          });
        }
      }
      await removeDevLink(this.devPathOf(poolName, volumeName));
      for (const lo of loops) await detachLoop(lo.name, this.ro);
      await rm(file, { force: true });
      await rm(partialPath(l.volumesDir, volumeName), { force: true });
      await syncDir(l.volumesDir);
    });
  }

  async getReplica(poolName: string, volumeName: string): Promise<Replica | undefined> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    if (!(await readRecord(this.stateDir, poolName))) return undefined;
    // An unmounted pool is UNAVAILABLE, not empty: "not found" would make a reconciler re-create the replica.
    const { l } = await this.mountedPool(poolName);
    const file = join(l.volumesDir, volumeName + IMG);
    const st = await ifExists(stat(file));
    if (!st) return undefined;
    const loops = await findLoopsByBackingFile(file, this.ro);
    return this.replicaOf(poolName, volumeName, st.size, loops, await readDevLink(this.devPathOf(poolName, volumeName)));
  }

  async listReplicas(poolName?: string): Promise<Replica[]> {
    if (poolName !== undefined) assertPoolName(poolName);
    const pools = poolName ? [poolName] : await this.listPools();
    const loops = await listLoops(this.ro);
    const out: Replica[] = [];
    for (const p of pools) {
      const { l } = await this.mountedPool(p);
      const realDir = (await ifExists(realpath(l.volumesDir))) ?? l.volumesDir; // the kernel reports resolved paths
      for (const [name, size] of await imageSizes(l.volumesDir)) {
        const file = join(realDir, name + IMG);
        const mine = loops.filter((lo) => lo.backFile === file && !lo.backFileDeleted);
        out.push(this.replicaOf(p, name, size, mine, await readDevLink(this.devPathOf(p, name))));
      }
    }
    return out.sort((a, b) => (a.poolName + "/" + a.volumeName).localeCompare(b.poolName + "/" + b.volumeName));
  }

  // -------------------------------------------------------------------------------------------------------
  // Activation

  async activateAll(): Promise<ActivationReport> {
    const report: ActivationReport = { pools: [], activated: [], cleaned: [], errors: [] };
    for (const rec of await listRecords(this.stateDir)) {
      await this.lock.with(rec.poolName, async () => {
        let l: PoolLayout;
        try {
          l = await ensureMounted(this.stateDir, rec, this.noCow, this.ro);
        } catch (e) {
          report.errors.push({ object: rec.poolName, message: (e as Error).message });
          return;
        }
        report.pools.push(rec.poolName);
        for (const dir of [l.volumesDir, l.snapshotsDir]) {
          for (const f of (await ifExists(readdir(dir))) ?? []) {
            if (f.startsWith(".") && f.endsWith(PARTIAL)) {
              await rm(join(dir, f), { force: true });
              report.cleaned.push(join(dir, f));
            }
          }
        }
        const names = [...(await imageSizes(l.volumesDir)).keys()].sort();
        for (const name of names) {
          try {
            await this.activateReplica(rec.poolName, name, join(l.volumesDir, name + IMG));
            report.activated.push(name);
          } catch (e) {
            report.errors.push({ object: `${rec.poolName}/${name}`, message: (e as Error).message });
          }
        }
        // Links left by replicas deleted while the agent was down (or by a crash mid-delete).
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
        if (!(await isMounted(this.stateDir, rec.poolName, this.ro))) return;
        const l = poolLayout(this.stateDir, rec.poolName);
        const realMount = await realpath(l.mountPoint);
        const loops = (await listLoops(this.ro)).filter((lo) => lo.backFile.startsWith(realMount + "/"));
        for (const lo of loops) {
          if (await isDeviceInUse(lo.name)) throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `${lo.backFile} (${lo.name}) is in use`);
        }
        for (const name of (await imageSizes(l.volumesDir)).keys()) await removeDevLink(this.devPathOf(rec.poolName, name));
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
