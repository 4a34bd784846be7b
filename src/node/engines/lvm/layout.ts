// Pure decisions of the lvm engine for what needs device-mapper: which LVs are volumes, snapshots and the thin
// pool; thin pool accounting (reference §5.3: thin volumes count their virtual size, `snapcontent-*` thin
// snapshots size × data%); the over-provisioning check; the rollback (merge) state machine; what a
// ThinPoolClaim asks of the VG. Inputs are parsed `lvs` rows, so every rule here is tested against recorded
// lvs output (src/host/lvm/testdata) although the commands behind them cannot run on a kernel without
// device-mapper.

import { HwError } from "../../../api/errors.ts";
import { THIN_POOL_LV, type LogicalVolume } from "../../../host/lvm/lvm.ts";
import { parseOverProvisionRatio, type ThinPoolClaimAsk } from "../../../api/thin-pool.ts";
import type { ThinPoolStats } from "../engine.ts";

export { checkThinPoolClaim, overProvisionRatioOf, parseOverProvisionRatio } from "../../../api/thin-pool.ts";

const GiB = 1024 * 1024 * 1024;

/** A snapshot LV: thick COW (attr s/S) or a read-only thin snapshot (thin, has an origin, permission r). */
export function isSnapshotLv(l: LogicalVolume): boolean {
  if (l.kind === "s" || l.kind === "S") return true;
  return l.segtype === "thin" && l.origin !== "" && l.attr[1] === "r";
}

/** A volume replica: not internal, not the thin pool, not a snapshot (a writable thin clone is a volume). */
export function isVolumeLv(l: LogicalVolume): boolean {
  if (l.hidden || isSnapshotLv(l)) return false;
  if (l.segtype === "thin-pool" || l.name === THIN_POOL_LV) return false;
  return !["t", "e", "T"].includes(l.kind);
}

export function isThinLv(l: LogicalVolume): boolean {
  return l.segtype === "thin";
}

export interface LvmSnapshot {
  snapshotName: string;
  sourceVolume: string;
  /** Thick: the COW area's size (snapsize). Thin: the origin's virtual size. */
  sizeBytes: number;
  creationTime: string;
  thin: boolean;
  /** lv_merging: a rollback was accepted and has not finished (running, or waiting for the next activation). */
  merging: boolean;
  /** The COW area overflowed: the snapshot is lost and cannot be merged or copied. */
  invalid: boolean;
  /** Usage of the COW area (thick) or of the pool by this snapshot (thin), percent; null without the kernel. */
  usedPercent: number | null;
}

/** `lv_time` "2026-12-04 16:01:00 +0000" → RFC 3339. Unknown formats pass through. */
export function lvTimeToIso(t: string): string {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)$/.exec(t);
  if (!m) return t;
  const d = new Date(`${m[1]}T${m[2]}${m[3]}:${m[4]}`);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().replace(/\.000Z$/, "Z");
}

export function snapshotsOf(lvs: LogicalVolume[], sourceVolume?: string): LvmSnapshot[] {
  return lvs
    .filter(isSnapshotLv)
    .filter((l) => sourceVolume === undefined || l.origin === sourceVolume)
    .map((l) => ({
      snapshotName: l.name,
      sourceVolume: l.origin,
      sizeBytes: l.sizeBytes,
      creationTime: lvTimeToIso(l.time),
      thin: isThinLv(l),
      merging: l.merging,
      invalid: l.snapshotInvalid || l.attr[4] === "I",
      usedPercent: l.segtype === "thin" ? l.dataPercent : (l.snapPercent ?? l.dataPercent),
    }))
    .sort((a, b) => a.snapshotName.localeCompare(b.snapshotName));
}

// ---------------------------------------------------------------------------------------------------------
// Thin pool

export function thinPoolOf(lvs: LogicalVolume[]): ThinPoolStats | undefined {
  const pool = lvs.find((l) => l.name === THIN_POOL_LV && l.segtype === "thin-pool");
  if (!pool) return undefined;
  const thins = lvs.filter((l) => l.segtype === "thin" && l.poolLv === THIN_POOL_LV);
  let provisioned = 0;
  for (const t of thins) {
    provisioned += isSnapshotLv(t) ? Math.ceil((t.sizeBytes * (t.dataPercent ?? 0)) / 100) : t.sizeBytes;
  }
  return {
    name: pool.name,
    sizeBytes: pool.sizeBytes,
    metadataSizeBytes: pool.metadataSizeBytes,
    dataPercent: pool.dataPercent,
    metadataPercent: pool.metadataPercent,
    totalProvisionedBytes: provisioned,
    thinVolumes: thins.map((t) => t.name).sort(),
  };
}

/**
 * Refuse a thin volume (or growth) that would commit more than size × overProvisionRatio. The message keeps the
 * words "insufficient free space" (what CreateVolume looks for to report RESOURCE_EXHAUSTED and reschedule).
 */
export function checkThinProvision(poolName: string, object: string, usage: ThinPoolStats | undefined, ratio: string, requestBytes: number): void {
  if (!usage) {
    throw new HwError("FAILED_PRECONDITION", "NoThinPool", `pool ${poolName} has no thin pool for thin volume ${object}`, {
      hint: `create one with a ThinPoolClaim for pool ${poolName} on this node`,
    });
  }
  const r = parseOverProvisionRatio(ratio, `thin pool of ${poolName}`);
  const limit = Math.floor(usage.sizeBytes * r);
  if (usage.totalProvisionedBytes + requestBytes > limit) {
    throw new HwError(
      "RESOURCE_EXHAUSTED",
      "ThinPoolOverCommitted",
      `insufficient free space in thin pool ${poolName}/${THIN_POOL_LV} for ${object}: requested ${requestBytes} bytes, ` +
        `provisioned ${usage.totalProvisionedBytes} of ${limit} bytes (size ${usage.sizeBytes} × overProvisionRatio ${ratio})`,
      { hint: "raise overProvisionRatio or grow the thin pool with a ThinPoolClaim" },
    );
  }
}

/** Warnings at ≥ 80 % (provision ratio / over-ratio, metadata %, data %), as the original reports them. */
export function thinPoolWarnings(u: ThinPoolStats, ratio: string): string[] {
  const out: string[] = [];
  const current = u.sizeBytes > 0 ? u.totalProvisionedBytes / u.sizeBytes : 0;
  if ((current / Number(ratio)) * 100 >= 80) out.push("current provision ratio is pretty high");
  if ((u.metadataPercent ?? 0) >= 80) out.push("metadata usage is pretty high, please extend it");
  if ((u.dataPercent ?? 0) >= 80) out.push("data usage is pretty high, please extend it");
  return out;
}

/** A thick snapshot's COW area comes from the VG's free extents: refuse before lvcreate when it cannot fit. */
export function checkSnapshotSpace(poolName: string, snapshotName: string, sizeBytes: number, vgFreeBytes: number): void {
  if (sizeBytes > vgFreeBytes) {
    throw new HwError(
      "RESOURCE_EXHAUSTED",
      "InsufficientCapacity",
      `insufficient free space in pool ${poolName} for snapshot ${snapshotName}: snapsize ${sizeBytes} bytes, free ${vgFreeBytes} bytes`,
      { hint: "use a VolumeSnapshotClass with a smaller snapsize, or free space in the pool" },
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// ThinPoolClaim → lvcreate / lvextend (the original's ExtendThinPool)

export type ThinPoolPlan =
  { kind: "create"; capacityGiB: number; metadataGiB: number } | { kind: "extend"; capacityGiB?: number; metadataGiB?: number } | { kind: "none" };

export function planThinPool(existing: ThinPoolStats | undefined, ask: ThinPoolClaimAsk): ThinPoolPlan {
  const meta = ask.poolMetadataSize ?? 1;
  if (!existing) return { kind: "create", capacityGiB: ask.capacity, metadataGiB: meta };
  const plan: { kind: "extend"; capacityGiB?: number; metadataGiB?: number } = { kind: "extend" };
  if (ask.capacity * GiB > existing.sizeBytes) plan.capacityGiB = ask.capacity;
  if (meta * GiB > existing.metadataSizeBytes) plan.metadataGiB = meta;
  return plan.capacityGiB === undefined && plan.metadataGiB === undefined ? { kind: "none" } : plan;
}

// ---------------------------------------------------------------------------------------------------------
// Rollback: lvconvert --merge, and the merge-on-next-activation case

export interface RollbackFacts {
  /** The snapshot LV as lvs shows it now (undefined: gone). */
  snapshot?: { merging: boolean; invalid: boolean; mergeFailed: boolean; origin: string };
  /** The origin volume LV (undefined: gone). */
  origin?: { deviceOpen: boolean; active: boolean; merging: boolean };
  /** A merge of this snapshot was started by us earlier (persisted marker, survives a crash). */
  mergeStarted: boolean;
  /** We already refreshed the closed origin once for this merge (persisted with the marker). */
  refreshed?: boolean;
}

export type RollbackStep =
  | { kind: "merge" } // run lvconvert --merge --background (after writing the marker)
  | { kind: "refresh"; why: string } // merge delayed, origin closed now: lvchange --refresh starts it
  | { kind: "wait"; why: string } // merge running or waiting for the origin to close: look again later
  | { kind: "done" } // merged: the snapshot LV is gone and the origin holds its content
  | { kind: "fail"; code: "NOT_FOUND" | "FAILED_PRECONDITION"; reason: string; message: string };

/**
 * One step of a rollback, from what lvs shows (reference §5.7: refuse an invalid or already-merging snapshot that
 * we did not start). Reads top to bottom; the first matching row wins.
 */
export function decideRollback(snapshotName: string, volume: string, f: RollbackFacts): RollbackStep {
  const s = f.snapshot;
  if (!s) {
    if (f.mergeStarted) return { kind: "done" };
    return { kind: "fail", code: "NOT_FOUND", reason: "SnapshotNotFound", message: `snapshot ${snapshotName} of volume ${volume} does not exist` };
  }
  if (s.invalid) {
    return {
      kind: "fail",
      code: "FAILED_PRECONDITION",
      reason: "SnapshotInvalid",
      message: `snapshot ${snapshotName} of volume ${volume} is invalid (its COW area overflowed); it cannot be merged`,
    };
  }
  if (s.mergeFailed) {
    return {
      kind: "fail",
      code: "FAILED_PRECONDITION",
      reason: "MergeFailed",
      message: `merging snapshot ${snapshotName} into volume ${volume} failed (lv_merge_failed); see the node's LVM log`,
    };
  }
  if (!f.origin)
    return { kind: "fail", code: "NOT_FOUND", reason: "VolumeNotFound", message: `volume ${volume}, the origin of snapshot ${snapshotName}, does not exist` };
  if (!s.merging) {
    if (f.mergeStarted) return { kind: "merge" }; // crash between marker and lvconvert: run it (idempotent by state)
    if (f.origin.deviceOpen) {
      return {
        kind: "fail",
        code: "FAILED_PRECONDITION",
        reason: "VolumeInUse",
        message: `volume ${volume} is open on this node; unpublish it before rolling back to snapshot ${snapshotName}`,
      };
    }
    return { kind: "merge" };
  }
  // Merging. Not started by us: someone else's merge (reference §5.7 refuses "already merging").
  if (!f.mergeStarted) {
    return {
      kind: "fail",
      code: "FAILED_PRECONDITION",
      reason: "AlreadyMerging",
      message: `snapshot ${snapshotName} is already being merged into volume ${volume}`,
    };
  }
  if (f.origin.deviceOpen) return { kind: "wait", why: `merge of ${snapshotName} delayed until volume ${volume} is closed (merge on next activation)` };
  // Origin closed but still merging: either the kernel is copying, or the merge waits for an activation that
  // only a refresh gives it (the origin was open when lvconvert ran). Refresh once, then wait for the copy.
  if (!f.refreshed) return { kind: "refresh", why: `merge of ${snapshotName} into ${volume} was delayed; refreshing ${volume} starts it` };
  return { kind: "wait", why: `merging ${snapshotName} into ${volume}` };
}
