// The sync ConfigMap `sync-config-<volume>` (system namespace) through which the migrate controller and the two
// node agents run an offline block copy (the original's keys where it had them; docs/migration.md). Pure.

import { ObjectNames } from "./names.ts";

/** The part of a ConfigMap read here. */
export type WithData = { data?: Record<string, string> };

/** What the controller reads back from the ConfigMap. */
export interface SyncFact {
  attempt: number;
  sourceChecksum?: string;
  sourceAttempt?: number;
  targetChecksum?: string;
  targetAttempt?: number;
  progressBytes?: number;
  totalBytes?: number;
  bytesPerSecond?: number;
  error?: string;
  /** Set by the source: "online" (pre-copy from reflink clones while the pod runs) or "offline". */
  mode?: "online" | "offline";
  /** Online: the last pre-copy round and its bytes; ready once a round's delta is small. */
  precopyRound?: number;
  precopyDeltaBytes?: number;
  precopyReady?: boolean;
  /** Written by the controller once the volume is unpublished: the next round is the last. */
  final?: boolean;
  /** When the controller began stopping the pod (ISO time), for the cut-over pause. */
  cutoverStart?: string;
  /** The target's re-read of its disk after the final round (src/node/migrate/verify.ts), and its attempt. */
  targetDiskChecksum?: string;
  targetDiskAttempt?: number;
}

export const syncConfigName = (volume: string): string => `${ObjectNames.SyncConfigMapPrefix}${volume}`;

/** Keys of the sync ConfigMap (the original's names where it had them). */
export const SyncKeys = {
  LocalVolume: "localVolume",
  SourceNode: "sourceNode",
  TargetNode: "targetNode",
  Migrate: "migrate",
  Attempt: "attempt",
  SourceReady: "sourceReady",
  SourceEndpoint: "sourceEndpoint",
  SourceToken: "sourceToken",
  SourceAttempt: "sourceAttempt",
  SourceChecksum: "sourceChecksum",
  SourceCompleted: "sourceCompleted",
  TargetAttempt: "targetAttempt",
  TargetChecksum: "targetChecksum",
  TargetCompleted: "targetCompleted",
  ProgressBytes: "progressBytes",
  TotalBytes: "totalBytes",
  BytesPerSecond: "bytesPerSecond",
  Error: "error",
  Mode: "mode",
  PrecopyRound: "precopyRound",
  PrecopyDeltaBytes: "precopyDeltaBytes",
  PrecopyReady: "precopyReady",
  Final: "final",
  CutoverStart: "cutoverStart",
  FinalRoundMs: "finalRoundMs",
  /** The target's on-disk re-read (verify.ts): a table digest equal to the copy's, or what went wrong. */
  TargetDiskChecksum: "targetDiskChecksum",
  TargetDiskAttempt: "targetDiskAttempt",
  /** The volume's size (bytes) the target copied: what a verification resumed after a restart re-reads. */
  VolumeBytes: "volumeBytes",
} as const;

export function syncFact(cm: WithData | undefined): SyncFact | undefined {
  if (!cm) return undefined;
  const d = cm.data ?? {};
  const n = (k: string) => (d[k] !== undefined && d[k] !== "" ? Number(d[k]) : undefined);
  return {
    attempt: n(SyncKeys.Attempt) ?? 1,
    sourceChecksum: d[SyncKeys.SourceChecksum] || undefined,
    sourceAttempt: n(SyncKeys.SourceAttempt),
    targetChecksum: d[SyncKeys.TargetChecksum] || undefined,
    targetAttempt: n(SyncKeys.TargetAttempt),
    progressBytes: n(SyncKeys.ProgressBytes),
    totalBytes: n(SyncKeys.TotalBytes),
    bytesPerSecond: n(SyncKeys.BytesPerSecond),
    error: d[SyncKeys.Error] || undefined,
    mode: d[SyncKeys.Mode] === "online" ? "online" : d[SyncKeys.Mode] === "offline" ? "offline" : undefined,
    precopyRound: n(SyncKeys.PrecopyRound),
    precopyDeltaBytes: n(SyncKeys.PrecopyDeltaBytes),
    precopyReady: d[SyncKeys.PrecopyReady] === "yes",
    final: d[SyncKeys.Final] === "yes",
    cutoverStart: d[SyncKeys.CutoverStart] || undefined,
    targetDiskChecksum: d[SyncKeys.TargetDiskChecksum] || undefined,
    targetDiskAttempt: n(SyncKeys.TargetDiskAttempt),
  };
}

/** Label on sync ConfigMaps (node agents watch only these). */
export const SYNC_LABEL = "hwameistor.io/volume-sync";
