// The file engine's snapshots and clones, all by reflink (FICLONE): a clone is a new volume file sharing the
// source's extents; a snapshot is such a copy under `snapshots/` with `<snap>.json` (source, time). A snapshot
// is crash-consistent at the instant of FICLONE; the caller freezes the volume's filesystem around it for an
// application-consistent one. Restore/rollback clone the snapshot over an unpublished target (the original's
// precheck), re-attach it and re-point its devPath link. Simplification: snapshot files are never attached.
// A pool of several filesystems (one XFS per disk): a clone or snapshot lives on its source's filesystem
// (reflink works within one); a restore into a volume on another disk copies the snapshot's data (cp
// --sparse=always, O(data), the only operation that is not O(1) there).

import { rm } from "node:fs/promises";
import { join } from "node:path";
import { HwError } from "../../../api/errors.ts";
import { cloneFile, copyFileSparse } from "../../../host/fs/reflink.ts";
import { detachLoop, findLoopsByBackingFile, growSparseFile } from "../../../host/loop/loop.ts";
import type { RunOptions } from "../../../host/runner.ts";
import { assertPoolName, assertVolumeName, insufficientSpace, writeJsonAtomic } from "../common.ts";
import { isDeviceInUse } from "../dev-links.ts";
import type { KeyedLock } from "../../../kube/keyed-lock.ts";
import type { Replica, SnapshotInfo } from "../engine.ts";
import { findImage, IMG, imagesIn, partialPath, writeImage } from "./images.ts";
import type { PoolRecord, Store } from "./pool-fs.ts";
import { readJsonIfExists } from "../../../host/files.ts";

interface SnapshotMeta {
  sourceVolume: string;
  creationTime: string;
}

/** What the reflink operations need from the engine (its lock, pool checks, accounting and attach). */
export interface ReflinkHost {
  lock: KeyedLock;
  ro: RunOptions;
  poolExists(poolName: string): Promise<boolean>;
  mountedPool(poolName: string): Promise<{ rec: PoolRecord; stores: Store[] }>;
  /** Free capacity of one store (filesystem) of the pool; call inside the pool's lock. */
  freeBytes(poolName: string, storeUuid: string): Promise<number>;
  activateReplica(poolName: string, volumeName: string, file: string): Promise<Replica>;
}

export class ReflinkOps {
  constructor(private readonly h: ReflinkHost) {}

  async cloneReplica(poolName: string, sourceVolume: string, targetVolume: string): Promise<Replica> {
    assertPoolName(poolName);
    assertVolumeName(sourceVolume);
    assertVolumeName(targetVolume);
    return this.h.lock.with(poolName, async () => {
      const { stores } = await this.h.mountedPool(poolName);
      let dst = await findImage(stores, "volumesDir", targetVolume);
      if (!dst) {
        const src = await findImage(stores, "volumesDir", sourceVolume);
        if (!src) throw new HwError("NOT_FOUND", "VolumeNotFound", `source volume ${sourceVolume} not found in pool ${poolName}`);
        const free = await this.h.freeBytes(poolName, src.store.uuid);
        if (free < src.size) throw insufficientSpace(poolName, targetVolume, src.size, free, stores.length > 1);
        await writeImage(src.store.volumesDir, targetVolume, (partial) => cloneFile(src.file, partial));
        dst = { ...src, name: targetVolume, file: join(src.store.volumesDir, targetVolume + IMG) };
      }
      return this.h.activateReplica(poolName, targetVolume, dst.file);
    });
  }

  async createSnapshot(poolName: string, volumeName: string, snapshotName: string): Promise<SnapshotInfo> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    assertVolumeName(snapshotName, "snapshot");
    return this.h.lock.with(poolName, async () => {
      const { stores } = await this.h.mountedPool(poolName);
      const found = await this.metaOf(stores, snapshotName);
      if (found && found.meta.sourceVolume !== volumeName) {
        throw new HwError("ALREADY_EXISTS", "SnapshotExists", `snapshot ${snapshotName} exists in pool ${poolName} for volume ${found.meta.sourceVolume}`);
      }
      if (!found || !(await findImage([found.store], "snapshotsDir", snapshotName))) {
        const src = await findImage(stores, "volumesDir", volumeName);
        if (!src) throw new HwError("NOT_FOUND", "VolumeNotFound", `volume ${volumeName} not found in pool ${poolName}`);
        const free = await this.h.freeBytes(poolName, src.store.uuid);
        if (free < src.size) throw insufficientSpace(poolName, snapshotName, src.size, free, stores.length > 1);
        // Meta first: an image without meta is never left (the partial is renamed last). On the source's filesystem.
        const metaFile = join(src.store.snapshotsDir, `${snapshotName}.json`);
        await writeJsonAtomic(metaFile, { sourceVolume: volumeName, creationTime: new Date().toISOString() } satisfies SnapshotMeta);
        await writeImage(src.store.snapshotsDir, snapshotName, (partial) => cloneFile(src.file, partial));
      }
      return (await this.snapshotsIn(poolName, stores)).find((s) => s.snapshotName === snapshotName)!;
    });
  }

  /** A snapshot's metadata and the store holding it. */
  private async metaOf(stores: Store[], snapshotName: string): Promise<{ meta: SnapshotMeta; store: Store } | undefined> {
    for (const store of stores) {
      const meta = await readJsonIfExists<SnapshotMeta>(join(store.snapshotsDir, `${snapshotName}.json`));
      if (meta) return { meta, store };
    }
    return undefined;
  }

  private async snapshotsIn(poolName: string, stores: Store[]): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const img of (await imagesIn(stores, "snapshotsDir")).values()) {
      const meta = await readJsonIfExists<SnapshotMeta>(join(img.store.snapshotsDir, `${img.name}.json`));
      if (!meta) continue;
      out.push({ poolName, sourceVolume: meta.sourceVolume, snapshotName: img.name, sizeBytes: img.size, creationTime: meta.creationTime, readyToUse: true });
    }
    return out.sort((a, b) => a.snapshotName.localeCompare(b.snapshotName));
  }

  async listSnapshots(poolName: string, volumeName?: string): Promise<SnapshotInfo[]> {
    assertPoolName(poolName);
    const { stores } = await this.h.mountedPool(poolName);
    return (await this.snapshotsIn(poolName, stores)).filter((s) => volumeName === undefined || s.sourceVolume === volumeName);
  }

  async deleteSnapshot(poolName: string, snapshotName: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    await this.h.lock.with(poolName, async () => {
      if (!(await this.h.poolExists(poolName))) return;
      const { stores } = await this.h.mountedPool(poolName);
      for (const st of stores) {
        await rm(join(st.snapshotsDir, snapshotName + IMG), { force: true });
        await rm(partialPath(st.snapshotsDir, snapshotName), { force: true });
        await rm(join(st.snapshotsDir, `${snapshotName}.json`), { force: true });
      }
    });
  }

  async restoreSnapshot(poolName: string, snapshotName: string, targetVolume: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    assertVolumeName(targetVolume);
    await this.h.lock.with(poolName, async () => {
      const { stores } = await this.h.mountedPool(poolName);
      const [sst, tst] = await Promise.all([findImage(stores, "snapshotsDir", snapshotName), findImage(stores, "volumesDir", targetVolume)]);
      if (!sst) throw new HwError("NOT_FOUND", "SnapshotNotFound", `snapshot ${snapshotName} not found in pool ${poolName}`);
      if (!tst) throw new HwError("NOT_FOUND", "VolumeNotFound", `restore target ${targetVolume} not found in pool ${poolName}`);
      const loops = await findLoopsByBackingFile(tst.file, this.h.ro);
      for (const lo of loops) {
        if (await isDeviceInUse(lo.name)) throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `restore target ${targetVolume} (${lo.name}) is in use`);
      }
      // The loop device holds the old inode: detach, swap the file, re-attach (the devPath link is re-pointed).
      for (const lo of loops) await detachLoop(lo.name, this.h.ro);
      // The target stays on its filesystem: a clone there, or a copy of the data from another disk's filesystem.
      const sameFs = sst.store.uuid === tst.store.uuid;
      await writeImage(tst.store.volumesDir, targetVolume, async (partial) => {
        await (sameFs ? cloneFile(sst.file, partial) : copyFileSparse(sst.file, partial, this.h.ro));
        if (tst.size > sst.size) await growSparseFile(partial, tst.size);
      });
      await this.h.activateReplica(poolName, targetVolume, tst.file);
    });
  }

  async rollbackSnapshot(poolName: string, snapshotName: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    const { stores } = await this.h.mountedPool(poolName);
    const meta = (await this.metaOf(stores, snapshotName))?.meta;
    if (!meta) throw new HwError("NOT_FOUND", "SnapshotNotFound", `snapshot ${snapshotName} not found in pool ${poolName}`);
    await this.restoreSnapshot(poolName, snapshotName, meta.sourceVolume);
  }
}
