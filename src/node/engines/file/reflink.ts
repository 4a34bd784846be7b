// The file engine's snapshots and clones, all by reflink (FICLONE): a clone is a new volume file sharing the
// source's extents; a snapshot is such a copy under `snapshots/` with `<snap>.json` (source, time). A snapshot
// is crash-consistent at the instant of FICLONE; the caller freezes the volume's filesystem around it for an
// application-consistent one. Restore/rollback clone the snapshot over an unpublished target (the original's
// precheck), re-attach it and re-point its devPath link. Simplification: snapshot files are never attached.

import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { HwError } from "../../../api/errors.ts";
import { cloneFile } from "../../../host/fs/reflink.ts";
import { detachLoop, findLoopsByBackingFile, growSparseFile } from "../../../host/loop/loop.ts";
import type { RunOptions } from "../../../host/runner.ts";
import { assertPoolName, assertVolumeName, insufficientSpace, isDeviceInUse, writeJsonAtomic } from "../common.ts";
import type { KeyedLock } from "../../../kube/keyed-lock.ts";
import type { Replica, SnapshotInfo } from "../engine.ts";
import { IMG, imageSizes, partialPath, writeImage } from "./images.ts";
import type { PoolLayout, PoolRecord } from "./pool-fs.ts";
import { ifExists, readJsonIfExists } from "../../../host/files.ts";

interface SnapshotMeta {
  sourceVolume: string;
  creationTime: string;
}

/** What the reflink operations need from the engine (its lock, pool checks, accounting and attach). */
export interface ReflinkHost {
  lock: KeyedLock;
  ro: RunOptions;
  poolExists(poolName: string): Promise<boolean>;
  mountedPool(poolName: string): Promise<{ rec: PoolRecord; l: PoolLayout }>;
  /** Free capacity; call inside the pool's lock. */
  freeBytes(poolName: string): Promise<number>;
  activateReplica(poolName: string, volumeName: string, file: string): Promise<Replica>;
}

export class ReflinkOps {
  constructor(private readonly h: ReflinkHost) {}

  async cloneReplica(poolName: string, sourceVolume: string, targetVolume: string): Promise<Replica> {
    assertPoolName(poolName);
    assertVolumeName(sourceVolume);
    assertVolumeName(targetVolume);
    return this.h.lock.with(poolName, async () => {
      const { l } = await this.h.mountedPool(poolName);
      const src = join(l.volumesDir, sourceVolume + IMG);
      const dst = join(l.volumesDir, targetVolume + IMG);
      if (!(await ifExists(stat(dst)))) {
        const st = await ifExists(stat(src));
        if (!st) throw new HwError("NOT_FOUND", "VolumeNotFound", `source volume ${sourceVolume} not found in pool ${poolName}`);
        const free = await this.h.freeBytes(poolName);
        if (free < st.size) throw insufficientSpace(poolName, targetVolume, st.size, free);
        await writeImage(l.volumesDir, targetVolume, (partial) => cloneFile(src, partial));
      }
      return this.h.activateReplica(poolName, targetVolume, dst);
    });
  }

  async createSnapshot(poolName: string, volumeName: string, snapshotName: string): Promise<SnapshotInfo> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    assertVolumeName(snapshotName, "snapshot");
    return this.h.lock.with(poolName, async () => {
      const { l } = await this.h.mountedPool(poolName);
      const metaFile = join(l.snapshotsDir, `${snapshotName}.json`);
      const img = join(l.snapshotsDir, snapshotName + IMG);
      const meta = await readJsonIfExists<SnapshotMeta>(metaFile);
      if (meta && meta.sourceVolume !== volumeName) {
        throw new HwError("ALREADY_EXISTS", "SnapshotExists", `snapshot ${snapshotName} exists in pool ${poolName} for volume ${meta.sourceVolume}`);
      }
      if (!meta || !(await ifExists(stat(img)))) {
        const src = join(l.volumesDir, volumeName + IMG);
        const st = await ifExists(stat(src));
        if (!st) throw new HwError("NOT_FOUND", "VolumeNotFound", `volume ${volumeName} not found in pool ${poolName}`);
        const free = await this.h.freeBytes(poolName);
        if (free < st.size) throw insufficientSpace(poolName, snapshotName, st.size, free);
        // Meta first: an image without meta is never left (the partial is renamed last).
        await writeJsonAtomic(metaFile, { sourceVolume: volumeName, creationTime: new Date().toISOString() } satisfies SnapshotMeta);
        await writeImage(l.snapshotsDir, snapshotName, (partial) => cloneFile(src, partial));
      }
      return (await this.snapshotsIn(poolName, l)).find((s) => s.snapshotName === snapshotName)!;
    });
  }

  private async snapshotsIn(poolName: string, l: PoolLayout): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const [name, size] of await imageSizes(l.snapshotsDir)) {
      const meta = await readJsonIfExists<SnapshotMeta>(join(l.snapshotsDir, `${name}.json`));
      if (!meta) continue;
      out.push({ poolName, sourceVolume: meta.sourceVolume, snapshotName: name, sizeBytes: size, creationTime: meta.creationTime, readyToUse: true });
    }
    return out.sort((a, b) => a.snapshotName.localeCompare(b.snapshotName));
  }

  async listSnapshots(poolName: string, volumeName?: string): Promise<SnapshotInfo[]> {
    assertPoolName(poolName);
    const { l } = await this.h.mountedPool(poolName);
    return (await this.snapshotsIn(poolName, l)).filter((s) => volumeName === undefined || s.sourceVolume === volumeName);
  }

  async deleteSnapshot(poolName: string, snapshotName: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    await this.h.lock.with(poolName, async () => {
      if (!(await this.h.poolExists(poolName))) return;
      const { l } = await this.h.mountedPool(poolName);
      await rm(join(l.snapshotsDir, snapshotName + IMG), { force: true });
      await rm(partialPath(l.snapshotsDir, snapshotName), { force: true });
      await rm(join(l.snapshotsDir, `${snapshotName}.json`), { force: true });
    });
  }

  async restoreSnapshot(poolName: string, snapshotName: string, targetVolume: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    assertVolumeName(targetVolume);
    await this.h.lock.with(poolName, async () => {
      const { l } = await this.h.mountedPool(poolName);
      const snap = join(l.snapshotsDir, snapshotName + IMG);
      const target = join(l.volumesDir, targetVolume + IMG);
      const [sst, tst] = await Promise.all([ifExists(stat(snap)), ifExists(stat(target))]);
      if (!sst) throw new HwError("NOT_FOUND", "SnapshotNotFound", `snapshot ${snapshotName} not found in pool ${poolName}`);
      if (!tst) throw new HwError("NOT_FOUND", "VolumeNotFound", `restore target ${targetVolume} not found in pool ${poolName}`);
      const loops = await findLoopsByBackingFile(target, this.h.ro);
      for (const lo of loops) {
        if (await isDeviceInUse(lo.name)) throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `restore target ${targetVolume} (${lo.name}) is in use`);
      }
      // The loop device holds the old inode: detach, swap the file, re-attach (the devPath link is re-pointed).
      for (const lo of loops) await detachLoop(lo.name, this.h.ro);
      await writeImage(l.volumesDir, targetVolume, async (partial) => {
        await cloneFile(snap, partial);
        if (tst.size > sst.size) await growSparseFile(partial, tst.size);
      });
      await this.h.activateReplica(poolName, targetVolume, target);
    });
  }

  async rollbackSnapshot(poolName: string, snapshotName: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    const { l } = await this.h.mountedPool(poolName);
    const meta = await readJsonIfExists<SnapshotMeta>(join(l.snapshotsDir, `${snapshotName}.json`));
    if (!meta) throw new HwError("NOT_FOUND", "SnapshotNotFound", `snapshot ${snapshotName} not found in pool ${poolName}`);
    await this.restoreSnapshot(poolName, snapshotName, meta.sourceVolume);
  }
}
