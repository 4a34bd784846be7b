// The lvm engine's operations that need device-mapper (reference §5.3, §5.7, §1.15): thick COW snapshots, thin
// snapshots, restore by copy (dd), rollback by `lvconvert --merge` (with the merge-on-next-activation case),
// thin pools (ThinPoolClaim), thin volumes and thin clones. Each operation reads `lvs`, asks layout.ts (pure,
// tested against recorded lvs output) what to do, validates before any command, then runs the original's argv.
//
// NOT RUN ON THIS KERNEL (no device-mapper): every command here that creates or changes an LV. On such a node the
// engine refuses before any command (FAILED_PRECONDITION NoDeviceMapper / NoThinSupport naming the object and the
// probe's reason). What is tested here: the argv (src/host/lvm/lvm-dm.test.ts), the decisions on recorded lvs
// output (layout.test.ts), and the refusals (dm-ops.test.ts).
//
// Crash windows: snapshot/thin creation is idempotent by name (an existing LV is returned); restore re-runs the
// whole copy; a rollback writes a marker (<stateDir>/engine/lvm/merges/<VG>--<snap>.json) BEFORE lvconvert, so
// after a crash a vanished snapshot is known to be merged (done), not lost.

import { rm } from "node:fs/promises";
import { join } from "node:path";
import { HwError } from "../../../api/errors.ts";
import * as lvm from "../../../host/lvm/lvm.ts";
import type { RunOptions } from "../../../host/runner.ts";
import type { DmFeatures } from "../../../host/dm/targets.ts";
import { insufficientSpace, writeJsonAtomic } from "../common.ts";
import { isDeviceInUse } from "../dev-links.ts";
import type { CreateSnapshotOptions, RollbackProgress, SnapshotInfo, ThinPoolStats } from "../engine.ts";
import { checkSnapshotSpace, checkThinProvision, decideRollback, isThinLv, planThinPool, snapshotsOf, thinPoolOf, type LvmSnapshot } from "./layout.ts";
import { readJsonIfExists } from "../../../host/files.ts";

export interface DmOpsContext {
  vg: string;
  poolName: string;
  lo: lvm.LvmOptions;
  ro: RunOptions;
  features: DmFeatures;
  stateDir: string;
  /** The thin pool's overProvisionRatio (from the node's ThinPoolClaim records). */
  thinRatio?: string;
}

type Feature = "snapshot" | "thin" | "crypt";
const FEATURE_WORDS: Record<Feature, string> = {
  snapshot: "LVM snapshots (dm-snapshot)",
  thin: "thin provisioning (dm-thin-pool)",
  crypt: "encryption (dm-crypt)",
};

/** Refuse, before any command, what this kernel cannot do. */
export function requireFeature(features: DmFeatures, f: Feature, object: string): void {
  const st = features[f];
  if (st.available) return;
  throw new HwError(
    "FAILED_PRECONDITION",
    f === "thin" ? "NoThinSupport" : f === "crypt" ? "NoEncryptionSupport" : "NoDeviceMapper",
    `${object} needs ${FEATURE_WORDS[f]}, which this node lacks: ${st.reason}`,
    {
      hint:
        f === "snapshot"
          ? "use the file engine (reflink snapshots) on this node"
          : "use a StorageClass without it, or place the volume on a node with device-mapper",
    },
  );
}

const toInfo = (poolName: string, s: LvmSnapshot): SnapshotInfo => ({
  poolName,
  sourceVolume: s.sourceVolume,
  snapshotName: s.snapshotName,
  sizeBytes: s.sizeBytes,
  creationTime: s.creationTime,
  readyToUse: !s.invalid && !s.merging,
  merging: s.merging,
  invalid: s.invalid,
  thin: s.thin,
});

const toThinStats = (u: NonNullable<ReturnType<typeof thinPoolOf>>): ThinPoolStats => ({ ...u });

async function lvsOf(c: DmOpsContext): Promise<lvm.LogicalVolume[]> {
  return lvm.listLvs(c.vg, c.lo);
}

export async function listSnapshots(c: DmOpsContext, volume?: string): Promise<SnapshotInfo[]> {
  return snapshotsOf(await lvsOf(c), volume).map((s) => toInfo(c.poolName, s));
}

export async function thinPoolStats(c: DmOpsContext): Promise<ThinPoolStats | undefined> {
  const u = thinPoolOf(await lvsOf(c));
  return u && toThinStats(u);
}

export async function createSnapshot(c: DmOpsContext, volume: string, snap: string, o: CreateSnapshotOptions = {}): Promise<SnapshotInfo> {
  const object = `snapshot ${snap} of volume ${volume} in pool ${c.poolName}`;
  const lvs = await lvsOf(c);
  const existing = snapshotsOf(lvs).find((s) => s.snapshotName === snap);
  if (existing) {
    if (existing.sourceVolume !== volume)
      throw new HwError("ALREADY_EXISTS", "SnapshotExists", `${object}: a snapshot ${snap} of volume ${existing.sourceVolume} already exists`);
    return toInfo(c.poolName, existing); // crash window: lvcreate done, status not written
  }
  if (lvs.some((l) => l.name === snap)) throw new HwError("ALREADY_EXISTS", "NameTaken", `${object}: an LV named ${snap} already exists and is not a snapshot`);
  const origin = lvs.find((l) => l.name === volume && !l.hidden);
  if (!origin) throw new HwError("NOT_FOUND", "VolumeNotFound", `${object}: volume ${volume} not found`);
  requireFeature(c.features, "snapshot", object);
  if (isThinLv(origin)) {
    requireFeature(c.features, "thin", object);
    // Thin snapshots need no size; the original checks the pool against the requested size anyway.
    checkThinProvision(c.poolName, object, thinPoolOf(lvs), c.thinRatio ?? "1.0", 0);
    await lvm.lvSnapshot(c.vg, volume, snap, undefined, c.lo);
  } else {
    const size = lvm.roundUpToExtent(o.sizeBytes ?? origin.sizeBytes);
    const vg = await lvm.getVg(c.vg, c.lo);
    checkSnapshotSpace(c.poolName, snap, size, vg?.freeBytes ?? 0);
    await lvm.lvSnapshot(c.vg, volume, snap, size, c.lo);
  }
  const made = snapshotsOf(await lvsOf(c)).find((s) => s.snapshotName === snap);
  if (!made) throw new HwError("INTERNAL", "SnapshotMissing", `${object}: lvcreate succeeded but lvs does not list it`);
  return toInfo(c.poolName, made);
}

export async function deleteSnapshot(c: DmOpsContext, snap: string): Promise<void> {
  const s = snapshotsOf(await lvsOf(c)).find((x) => x.snapshotName === snap);
  if (!s) return;
  if (s.merging) {
    throw new HwError(
      "FAILED_PRECONDITION",
      "SnapshotMerging",
      `snapshot ${snap} in pool ${c.poolName} is being merged into volume ${s.sourceVolume}; it disappears when the merge finishes`,
    );
  }
  requireFeature(c.features, "snapshot", `deleting snapshot ${snap}`);
  await lvm.lvremove(c.vg, snap, c.lo);
  await rm(markerPath(c, snap), { force: true });
}

/** Restore by copy (the original's dd) into an existing, unpublished volume of at least the origin's size. */
export async function restoreSnapshot(c: DmOpsContext, snap: string, target: string): Promise<void> {
  const object = `restore of snapshot ${snap} into volume ${target} in pool ${c.poolName}`;
  const lvs = await lvsOf(c);
  const s = snapshotsOf(lvs).find((x) => x.snapshotName === snap);
  if (!s) throw new HwError("NOT_FOUND", "SnapshotNotFound", `${object}: snapshot ${snap} not found`);
  if (s.invalid) throw new HwError("FAILED_PRECONDITION", "SnapshotInvalid", `${object}: the snapshot is invalid (its COW area overflowed)`);
  const t = lvs.find((l) => l.name === target && !l.hidden);
  if (!t) throw new HwError("NOT_FOUND", "VolumeNotFound", `${object}: target volume ${target} not found`);
  const originSize = lvs.find((l) => l.name === s.sourceVolume)?.sizeBytes ?? 0;
  if (t.sizeBytes < originSize) {
    throw new HwError(
      "FAILED_PRECONDITION",
      "TargetTooSmall",
      `${object}: target has ${t.sizeBytes} bytes, the snapshot's volume ${s.sourceVolume} has ${originSize}`,
    );
  }
  requireFeature(c.features, "snapshot", object);
  const to = `/dev/${c.vg}/${target}`;
  if (t.deviceOpen || (await isDeviceInUse(to)))
    throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `${object}: volume ${target} is in use; unpublish it first`);
  await lvm.ddCopy(`/dev/${c.vg}/${snap}`, to, c.ro);
}

interface MergeMarker {
  origin: string;
  startedAt: string;
  refreshed?: boolean;
}
const markerPath = (c: DmOpsContext, snap: string) => join(c.stateDir, "engine", "lvm", "merges", `${c.vg}--${snap}.json`);

/** One step of a rollback; RollbackProgress while LVM merges (or waits for the next activation). */
export async function rollbackSnapshot(c: DmOpsContext, snap: string): Promise<void | RollbackProgress> {
  const lvs = await lvsOf(c);
  const marker = await readJsonIfExists<MergeMarker>(markerPath(c, snap));
  const sLv = lvs.find((l) => l.name === snap && (l.kind === "s" || l.kind === "S" || (isThinLv(l) && l.origin !== "")));
  const volume = sLv?.origin ?? marker?.origin ?? "";
  const oLv = lvs.find((l) => l.name === volume && !l.hidden);
  const step = decideRollback(snap, volume || "(unknown)", {
    snapshot: sLv && { merging: sLv.merging, invalid: sLv.snapshotInvalid || sLv.attr[4] === "I", mergeFailed: sLv.mergeFailed, origin: sLv.origin },
    origin: oLv && { deviceOpen: oLv.deviceOpen, active: oLv.active, merging: oLv.merging },
    mergeStarted: !!marker,
    refreshed: marker?.refreshed,
  });
  switch (step.kind) {
    case "fail":
      throw new HwError(step.code, step.reason, `rollback of volume ${volume || "(unknown)"} to snapshot ${snap} in pool ${c.poolName}: ${step.message}`);
    case "done":
      await rm(markerPath(c, snap), { force: true });
      return;
    case "wait":
      return { pending: true, message: step.why };
    case "refresh":
      requireFeature(c.features, "snapshot", `rollback to snapshot ${snap}`);
      await lvm.lvchangeRefresh(c.vg, volume, c.lo);
      await writeJsonAtomic(markerPath(c, snap), { ...marker!, refreshed: true });
      return { pending: true, message: step.why };
    case "merge": {
      requireFeature(c.features, "snapshot", `rollback to snapshot ${snap}`);
      // Marker first: once lvconvert has run, a vanished snapshot means "merged".
      await writeJsonAtomic(markerPath(c, snap), { origin: volume, startedAt: new Date().toISOString() } satisfies MergeMarker);
      const started = await lvm.lvconvertMerge(c.vg, snap, c.lo);
      return {
        pending: true,
        message:
          started === "delayed" ? `merge of ${snap} into ${volume} delayed to the next activation (the volume is open)` : `merging ${snap} into ${volume}`,
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Thin

/** A thin volume, or a thin clone of `sourceVolume` (grown to sizeBytes when the request is larger). */
export async function createThinReplica(c: DmOpsContext, volume: string, sizeBytes: number, sourceVolume: string | undefined): Promise<void> {
  const object = sourceVolume ? `thin clone ${volume} of ${sourceVolume} in pool ${c.poolName}` : `thin volume ${volume} in pool ${c.poolName}`;
  requireFeature(c.features, "thin", object);
  const lvs = await lvsOf(c);
  const usage = thinPoolOf(lvs);
  if (sourceVolume) {
    const src = lvs.find((l) => l.name === sourceVolume && !l.hidden);
    if (!src) throw new HwError("NOT_FOUND", "SourceNotFound", `${object}: source ${sourceVolume} not found`);
    if (!isThinLv(src))
      throw new HwError(
        "FAILED_PRECONDITION",
        "SourceNotThin",
        `${object}: source ${sourceVolume} is not a thin volume (thick clones go through a snapshot and a restore)`,
      );
    checkThinProvision(c.poolName, object, usage, c.thinRatio ?? "1.0", Math.max(sizeBytes, src.sizeBytes));
    await lvm.lvcreateThinClone(c.vg, sourceVolume, volume, c.lo);
    if (sizeBytes > src.sizeBytes) await lvm.lvextend(c.vg, volume, sizeBytes, c.lo);
    return;
  }
  checkThinProvision(c.poolName, object, usage, c.thinRatio ?? "1.0", sizeBytes);
  await lvm.lvcreateThin(c.vg, volume, sizeBytes, c.lo);
}

/** Thin growth is checked against the ratio, not the VG's free extents. */
export async function checkThinGrowth(c: DmOpsContext, volume: string, deltaBytes: number): Promise<void> {
  checkThinProvision(c.poolName, `growing thin volume ${volume}`, thinPoolOf(await lvsOf(c)), c.thinRatio ?? "1.0", deltaBytes);
}

export async function ensureThinPool(c: DmOpsContext, capacityGiB: number, metadataGiB: number): Promise<ThinPoolStats> {
  const object = `thin pool of ${c.poolName}`;
  requireFeature(c.features, "thin", object);
  const plan = planThinPool(thinPoolOf(await lvsOf(c)), { capacity: capacityGiB, poolMetadataSize: metadataGiB });
  if (plan.kind !== "none") {
    const vg = await lvm.getVg(c.vg, c.lo);
    const GiB = 1024 ** 3;
    const current = thinPoolOf(await lvsOf(c));
    // data + metadata + the metadata spare LVM keeps (lvol0_pmspare)
    const need =
      plan.kind === "create"
        ? (plan.capacityGiB + 2 * plan.metadataGiB) * GiB
        : (plan.capacityGiB ? plan.capacityGiB * GiB - (current?.sizeBytes ?? 0) : 0) +
          (plan.metadataGiB ? 2 * (plan.metadataGiB * GiB - (current?.metadataSizeBytes ?? 0)) : 0);
    if (need > (vg?.freeBytes ?? 0)) throw insufficientSpace(c.poolName, lvm.THIN_POOL_LV, need, vg?.freeBytes ?? 0);
    if (plan.kind === "create") await lvm.thinPoolCreate(c.vg, plan.capacityGiB, plan.metadataGiB, c.lo);
    else await lvm.thinPoolExtend(c.vg, { capacityGiB: plan.capacityGiB, metadataGiB: plan.metadataGiB }, c.lo);
  }
  const after = thinPoolOf(await lvsOf(c));
  if (!after) throw new HwError("INTERNAL", "ThinPoolMissing", `${object}: created but lvs does not list ${lvm.THIN_POOL_LV}`);
  return toThinStats(after);
}
