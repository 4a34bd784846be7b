// The node's snapshot reconcilers (reference §5.7): LocalVolumeReplicaSnapshot (take / drop the replica's
// snapshot through the engine) and LocalVolumeReplicaSnapshotRestore (restore a snapshot into a replica, or
// roll the source replica back to it). Only objects whose spec.nodeName is this node are touched.
//
// Consistency: a snapshot of a replica whose filesystem is mounted here is taken with the filesystem frozen
// (`fsfreeze --freeze` on one of its mount points; freezing is per superblock), the engine's reflink in the
// middle, and `fsfreeze --unfreeze` in a finally: writers block for the reflink only, constant time whatever
// the size. A raw-block or unpublished replica is snapshotted as is (crash-consistent).
//
// Crash windows: engine calls are idempotent by name (createSnapshot of an existing snapshot returns it,
// deleteSnapshot of a missing one is done), so a crash between the engine call and the status write re-runs
// it harmlessly. A restore is re-run only while the LVRSR is InProgress (its target is not in use then); once
// Completed it never runs again, so data written after a restore is never overwritten.
// An agent killed between freeze and unfreeze would leave the filesystem frozen: the mount point is recorded
// in `<stateDir>/snapshot-freeze/` before the freeze and removed after the thaw, and start() thaws whatever
// is recorded there (the original has this window around its lvcreate and no such recovery).

import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isHwError, toErrorStatus } from "../../../api/errors.ts";
import { volumeRecords } from "../../../csi/volume-record.ts";
import type { LocalVolumeReplicaSnapshotStatus } from "../../../api/kinds/local-volume-replica-snapshot.ts";
import { OperationStates, RestoreTypes } from "../../../api/names.ts";
import { freeze, unfreeze } from "../../../host/fs/fs.ts";
import { findMountsBySource } from "../../../host/mount/mount.ts";
import { Controller, type ReconcileResult } from "../../../kube/controller.ts";
import type { HwameistorClients, LocalVolumeReplicaSnapshotObject, LocalVolumeReplicaSnapshotRestoreObject } from "../../../kube/hwameistor.ts";
import { Informer } from "../../../kube/informer.ts";
import type { NodeContext, Service } from "../../context.ts";
import type { StorageEngine } from "../../engines/engine.ts";
import { mergeConditions, type ReplicaCondition } from "../replica/states.ts";
import { afterRestore, afterSnapshotAction, decideReplicaRestore, decideReplicaSnapshot, type CondChange } from "./states.ts";
import { ifExists } from "../../../host/files.ts";

type Lvrs = LocalVolumeReplicaSnapshotObject;
type Lvrsr = LocalVolumeReplicaSnapshotRestoreObject;

/**
 * The lvm.hwameistor.io node service's volume records (node/csi/lvm/node.ts keeps them under this name).
 * A restored or cloned volume carries its source's filesystem, which NodePublish would refuse as foreign data;
 * the restore hands the source's record (filesystem type and UUID) on to the target, so it mounts.
 */
const lvmRecords = volumeRecords("lvm-volume");

/** How often a pending LVM merge is looked at again (the original's lvconvert polls every 15 s). */
const ROLLBACK_POLL_MS = 2_000;
const FREEZABLE = new Set(["xfs", "ext4", "ext3", "btrfs"]);
const errorText = (e: unknown): string => (isHwError(e) ? e.fullMessage : e instanceof Error ? e.message : String(e));

export interface SnapshotControllerOptions {
  ctx: NodeContext;
  c: HwameistorClients;
  engine: StorageEngine;
  /** Called after a snapshot was taken or dropped (pool usage changes). */
  onPoolChange?: () => void;
}

/**
 * Freeze the filesystem mounted from `kernelDevice` around fn (one mount point: freezing is per superblock).
 * With `markerDir`, the mount point is recorded there while frozen (see thawRecorded).
 */
export async function withFrozenFilesystem<T>(
  kernelDevice: string,
  fn: () => Promise<T>,
  markerDir?: string,
): Promise<{ result: T; frozen: string | undefined }> {
  const mounts = kernelDevice ? (await findMountsBySource(kernelDevice)).filter((m) => FREEZABLE.has(m.fstype)) : [];
  const mp = mounts[0]?.target;
  if (!mp) return { result: await fn(), frozen: undefined };
  const marker = markerDir ? join(markerDir, createHash("sha256").update(mp).digest("hex").slice(0, 32)) : undefined;
  if (marker) {
    await mkdir(markerDir!, { recursive: true });
    await writeFile(marker, mp);
  }
  await freeze(mp);
  try {
    return { result: await fn(), frozen: mp };
  } finally {
    await unfreeze(mp);
    if (marker) await rm(marker, { force: true });
  }
}

/** Thaw every mount point recorded in `markerDir` (an agent killed while a filesystem was frozen). */
export async function thawRecorded(markerDir: string): Promise<string[]> {
  const thawed: string[] = [];
  for (const f of (await ifExists(readdir(markerDir))) ?? []) {
    const mp = ((await ifExists(readFile(join(markerDir, f), "utf8"))) ?? "").trim();
    if (mp.startsWith("/")) {
      await unfreeze(mp).catch(() => undefined); // gone or not frozen: nothing to thaw
      thawed.push(mp);
    }
    await rm(join(markerDir, f), { force: true });
  }
  return thawed;
}

export function snapshotControllers(o: SnapshotControllerOptions): Service & { start(): Promise<void> } {
  const { ctx, c, engine } = o;
  const markerDir = join(ctx.stateDir, "snapshot-freeze");
  const mine = (x: { spec?: { nodeName?: string }; metadata?: { name?: string } }) => (x.spec?.nodeName === ctx.nodeName ? x.metadata?.name : undefined);
  const lvrsInf = new Informer<Lvrs>(c.lvrs, { log: ctx.log, name: "localvolumereplicasnapshots", resyncPeriodMs: 60_000 });
  const snapCtl = new Controller({ name: "local-volume-replica-snapshot", log: ctx.log, workers: 2, reconcile: (k) => reconcileSnapshot(k) });
  snapCtl.watch(lvrsInf, mine);
  const lvrsrInf = new Informer<Lvrsr>(c.lvrsrestore, { log: ctx.log, name: "localvolumereplicasnapshotrestores" });
  const restoreCtl = new Controller({ name: "local-volume-replica-snapshot-restore", log: ctx.log, workers: 2, reconcile: (k) => reconcileRestore(k) });
  restoreCtl.watch(lvrsrInf, mine);

  async function reconcileSnapshot(name: string): Promise<ReconcileResult | void> {
    const lvrs = await c.lvrs.get(name);
    if (!lvrs || lvrs.spec?.nodeName !== ctx.nodeName) return;
    const spec = lvrs.spec;
    const st: LocalVolumeReplicaSnapshotStatus = lvrs.status ?? {};
    const pool = spec.poolName ?? "";
    const volume = spec.sourceVolume ?? "";
    const snap = spec.volumeSnapshotName ?? "";
    const present = await engine
      .listSnapshots(pool, volume)
      .then((l) => l.find((s) => s.snapshotName === snap))
      .catch((e: unknown) => {
        if (isHwError(e)) return undefined;
        throw e;
      });
    const d = decideReplicaSnapshot({ state: st.state ?? "", deleteRequested: !!spec.delete, present: !!present, invalid: !!present?.invalid });
    let state = d.state ?? st.state ?? "";
    let changes: CondChange[] = d.conditions;
    const next: LocalVolumeReplicaSnapshotStatus = { ...st };
    let failure: string | undefined;
    if (present) {
      next.creationTime = present.creationTime;
      next.allocatedCapacityBytes = present.sizeBytes;
      // lvm: lv_merging / lv_snapshot_invalid (reference §5.7); the file engine has neither.
      next.attr = { merging: !!present.merging, invalid: !!present.invalid };
    }
    if (d.action === "deleteObject") {
      await c.lvrs.delete(name);
      ctx.log.info({ lvrs: name, snapshot: snap }, "replica snapshot object deleted");
      return;
    }
    if (d.action) {
      try {
        if (d.action === "createSnapshot") {
          const rep = await engine.getReplica(pool, volume);
          const t0 = Date.now();
          const { result, frozen } = await withFrozenFilesystem(
            rep?.kernelDevice ?? "",
            () => engine.createSnapshot(pool, volume, snap, { sizeBytes: spec.requiredCapacityBytes }),
            markerDir,
          );
          ctx.log.info({ lvrs: name, snapshot: snap, volume, frozen, ms: Date.now() - t0 }, "replica snapshot taken");
          next.creationTime = result.creationTime;
          next.allocatedCapacityBytes = result.sizeBytes;
          next.attr = { merging: !!result.merging, invalid: !!result.invalid };
        } else {
          await engine.deleteSnapshot(pool, snap);
        }
        const a = afterSnapshotAction(d.action, true);
        state = a.state ?? state;
        changes = a.conditions;
        delete next.error;
        o.onPoolChange?.();
      } catch (e) {
        if (!isHwError(e)) throw e;
        failure = errorText(e);
        next.error = toErrorStatus(e);
        const a = afterSnapshotAction(d.action, false, failure, e.reason);
        changes = a.conditions;
        void ctx.recorder.recordEvent(
          lvrs,
          "Warning",
          d.action === "createSnapshot" ? "SnapshotCreateFailed" : "SnapshotDeleteFailed",
          `replica snapshot ${name} of volume ${volume}: ${failure}`,
        );
      }
    }
    next.state = state;
    next.conditions = mergeConditions((st.conditions ?? []) as ReplicaCondition[], changes, new Date().toISOString(), lvrs.metadata?.generation);
    const failedCond = next.conditions.find((x) => x.status === "False");
    next.reason = failedCond?.message ?? "";
    const strip = (s: LocalVolumeReplicaSnapshotStatus) =>
      JSON.stringify({ ...s, conditions: (s.conditions ?? []).map((x) => ({ ...x, lastTransitionTime: undefined })) });
    const changed = strip(next) !== strip(st);
    if (changed) await c.lvrs.updateStatus({ ...lvrs, status: next });
    if (failure) throw new Error(`replica snapshot ${name}: ${failure}`); // status written; retried with backoff
    if (changed && next.state !== (st.state ?? "")) return { requeueAfterMs: 0 };
    return undefined;
  }

  async function reconcileRestore(name: string): Promise<ReconcileResult | void> {
    const r = await c.lvrsrestore.get(name);
    if (!r || r.spec?.nodeName !== ctx.nodeName) return;
    const st = r.status ?? {};
    const d = decideReplicaRestore({ state: st.state ?? "", abort: !!r.spec.abort });
    let state = d.state ?? st.state ?? "";
    let message = st.message ?? "";
    if (d.action === "restore") {
      const pool = r.spec.targetPoolName ?? "";
      const snap = r.spec.sourceVolumeSnapshot;
      try {
        const t0 = Date.now();
        if (r.spec.restoreType === RestoreTypes.Rollback) {
          // lvm: the merge runs in the background (or waits for the next activation); stay InProgress and look again.
          const progress = await engine.rollbackSnapshot(pool, snap);
          if (progress) {
            if (progress.message !== (st.message ?? "")) await c.lvrsrestore.updateStatus({ ...r, status: { state, message: progress.message } });
            return { requeueAfterMs: ROLLBACK_POLL_MS };
          }
        } else {
          const target = r.spec.targetVolume ?? "";
          await engine.restoreSnapshot(pool, snap, target);
          await adoptSourceRecord(pool, snap, target);
        }
        message = `${r.spec.restoreType} from ${snap} into ${r.spec.targetVolume} done in ${Date.now() - t0} ms`;
        state = afterRestore(true);
      } catch (e) {
        if (!isHwError(e)) throw e;
        message = `${r.spec.restoreType} of ${r.spec.targetVolume} from snapshot ${snap} on node ${ctx.nodeName} failed: ${errorText(e)}`;
        state = afterRestore(false);
      }
      ctx.log.info({ lvrsrestore: name, state, message }, "replica snapshot restore");
    }
    if (state === (st.state ?? "") && message === (st.message ?? "")) return;
    await c.lvrsrestore.updateStatus({ ...r, status: { state, message } });
    if (state !== OperationStates.Completed && state !== OperationStates.Failed) return { requeueAfterMs: 0 };
    return undefined;
  }

  /** The target now holds the source's filesystem: record it as this system's (idempotent). */
  async function adoptSourceRecord(pool: string, snap: string, target: string): Promise<void> {
    const info = (await engine.listSnapshots(pool)).find((s) => s.snapshotName === snap);
    const src = info && lvmRecords.read(ctx.stateDir, info.sourceVolume);
    const rep = await engine.getReplica(pool, target);
    if (!src?.formatted || !rep) return; // the source was never formatted by us: nothing to hand on
    lvmRecords.write(ctx.stateDir, {
      volume: target,
      devPath: rep.devPath,
      accessType: src.accessType,
      formatted: src.formatted,
      firstPublishedAt: new Date().toISOString(),
    });
  }

  return {
    async start() {
      const thawed = await thawRecorded(markerDir);
      if (thawed.length) ctx.log.warn({ thawed }, "thawed filesystems left frozen by an interrupted snapshot");
      await Promise.all([snapCtl.start(), restoreCtl.start()]);
    },
    async stop() {
      await Promise.all([snapCtl.stop(), restoreCtl.stop()]);
    },
  };
}
