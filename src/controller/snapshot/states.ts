// Pure decisions of the controller's snapshot reconcilers (reference §5.7).
//
// LocalVolumeSnapshot (LVS):
//   spec.delete            → every LVRS marked delete; when none is left → Deleted → the object is deleted
//   ""                     → Creating
//   Creating               → one LVRS per accessibility node (created if missing) → NotReady
//   NotReady|Ready         → Ready when a Ready LVRS exists on every accessibility node (allocated, creationTime
//                            and attr copied from them), else NotReady with the replicas' failure, if any
//
// LocalVolumeSnapshotRestore (LVSR):
//   abort (not yet InProgress) → Aborted
//   ""          → Submitted
//   Submitted   → validated (snapshot Ready; rollback: target = source volume, not published; create: target
//                 volume exists, on the snapshot's node and pool, at least the source's size) → one LVRSR per
//                 snapshot node → InProgress; invalid → Failed with the reason (terminal, nothing changed)
//   InProgress  → all LVRSR Completed → Completed (target annotated); any Failed → Failed with its message
// The table reads top to bottom; the first matching row wins.

import type { ErrorStatus } from "../../api/errors.ts";
import { OperationStates, RestoreTypes, VolumeStates } from "../../api/names.ts";

export interface ReplicaSnapshotFact {
  name: string;
  nodeName: string;
  state: string;
  delete: boolean;
  allocatedCapacityBytes?: number;
  creationTime?: string;
  merging?: boolean;
  invalid?: boolean;
  /** The node's failure message (status.reason), if any. */
  reason?: string;
  /** The node's failure as raised (status.error), if any. */
  error?: ErrorStatus;
}

export interface SnapshotFacts {
  state: string;
  deleteRequested: boolean;
  nodes: string[];
  replicaSnapshots: ReplicaSnapshotFact[];
}

export type SnapshotControllerAction =
  { kind: "createReplicaSnapshots"; nodes: string[] } | { kind: "markReplicaSnapshotsDeleted"; names: string[] } | { kind: "deleteObject" };

export interface SnapshotStatusPatch {
  state: string;
  message?: string;
  /** The first failing replica snapshot's error; undefined clears it. */
  error?: ErrorStatus;
  allocatedCapacityBytes?: number;
  creationTime?: string;
  replicaSnapshots?: string[];
  attr?: { merging: boolean; invalid: boolean };
}

export interface SnapshotDecision {
  status?: SnapshotStatusPatch;
  actions: SnapshotControllerAction[];
}

export function decideSnapshot(f: SnapshotFacts): SnapshotDecision {
  const S = VolumeStates;
  if (f.deleteRequested) {
    const undeleted = f.replicaSnapshots.filter((r) => !r.delete).map((r) => r.name);
    if (undeleted.length) return { status: { state: S.ToBeDeleted }, actions: [{ kind: "markReplicaSnapshotsDeleted", names: undeleted }] };
    if (f.replicaSnapshots.length)
      return { status: { state: S.ToBeDeleted, message: `waiting for ${f.replicaSnapshots.length} replica snapshot(s) to be removed` }, actions: [] };
    if (f.state !== S.Deleted) return { status: { state: S.Deleted }, actions: [] };
    return { actions: [{ kind: "deleteObject" }] };
  }
  if (f.state === S.Empty) return { status: { state: S.Creating }, actions: [] };
  const live = f.replicaSnapshots.filter((r) => !r.delete);
  if (f.state === S.Creating) {
    const missing = f.nodes.filter((n) => !live.some((r) => r.nodeName === n));
    return { status: { state: S.NotReady }, actions: missing.length ? [{ kind: "createReplicaSnapshots", nodes: missing }] : [] };
  }
  const ready = f.nodes.map((n) => live.find((r) => r.nodeName === n && r.state === S.Ready));
  const names = live.map((r) => r.name).sort();
  if (f.nodes.length && ready.every((r) => r)) {
    const rs = ready as ReplicaSnapshotFact[];
    return {
      status: {
        state: S.Ready,
        message: "",
        error: undefined,
        replicaSnapshots: names,
        allocatedCapacityBytes: Math.min(...rs.map((r) => r.allocatedCapacityBytes ?? 0)),
        creationTime: rs.map((r) => r.creationTime ?? "").sort()[0] || undefined,
        attr: { merging: rs.some((r) => !!r.merging), invalid: rs.some((r) => !!r.invalid) },
      },
      actions: [],
    };
  }
  const missing = f.nodes.filter((n) => !live.some((r) => r.nodeName === n));
  const failing = live.filter((r) => r.reason).map((r) => `${r.name} on ${r.nodeName}: ${r.reason}`);
  const firstError = live.find((r) => r.error)?.error;
  return {
    status: { state: S.NotReady, message: failing.join("; "), replicaSnapshots: names, error: firstError },
    actions: missing.length ? [{ kind: "createReplicaSnapshots", nodes: missing }] : [],
  };
}

export interface RestoreFacts {
  state: string;
  abort: boolean;
  restoreType: string;
  snapshot?: { name: string; state: string; sourceVolume: string; nodes: string[]; poolName?: string; sizeBytes: number };
  /** The restore target (rollback: the snapshot's source volume). */
  target?: { name: string; exists: boolean; publishedNode?: string; nodes: string[]; poolName?: string; requiredCapacityBytes: number; state: string };
  targetPoolName?: string;
  replicaRestores: Array<{ name: string; nodeName: string; state: string; message?: string }>;
}

export type RestoreControllerAction =
  | { kind: "createReplicaRestores"; nodes: string[]; targetVolume: string; poolName: string }
  | { kind: "annotateTarget"; volume: string }
  | { kind: "cleanupReplicaRestores" };

export interface RestoreDecision {
  state?: string;
  message?: string;
  actions: RestoreControllerAction[];
}

/** Why a restore cannot run, or undefined when it can (nothing is changed on a refusal). */
export function restoreRefusal(f: RestoreFacts): string | undefined {
  const s = f.snapshot;
  if (!s) return "the snapshot does not exist";
  if (s.state !== VolumeStates.Ready) return `snapshot ${s.name} is not Ready (state ${s.state || "new"})`;
  const t = f.target;
  if (!t || !t.exists) return `target volume ${t?.name ?? "(none)"} does not exist`;
  if (f.restoreType === RestoreTypes.Rollback) {
    if (t.publishedNode) return `volume ${t.name} is published on node ${t.publishedNode}; unpublish it (stop its pod) before rolling back`;
    return undefined;
  }
  if (!t.nodes.length || !t.nodes.every((n) => s.nodes.includes(n)))
    return `target volume ${t.name} is on ${t.nodes.join(", ") || "no node"}, not on the snapshot's node ${s.nodes.join(", ")} (restore is in place only)`;
  if (t.poolName && s.poolName && t.poolName !== s.poolName)
    return `target volume ${t.name} is in ${t.poolName}, the snapshot in ${s.poolName} (restore is in place only)`;
  if (t.requiredCapacityBytes < s.sizeBytes)
    return `target volume ${t.name} (${t.requiredCapacityBytes} bytes) is smaller than snapshot ${s.name} (${s.sizeBytes} bytes)`;
  if (t.publishedNode) return `target volume ${t.name} is published on node ${t.publishedNode}`;
  if (t.state !== VolumeStates.Ready) return `target volume ${t.name} is not Ready (state ${t.state || "new"})`;
  return undefined;
}

export function decideRestore(f: RestoreFacts): RestoreDecision {
  const O = OperationStates;
  if (f.state === O.Completed || f.state === O.Failed || f.state === O.Aborted) {
    return { actions: f.replicaRestores.length ? [{ kind: "cleanupReplicaRestores" }] : [] };
  }
  if (f.abort && f.state !== O.InProgress) return { state: O.Aborted, message: "aborted", actions: [] };
  if (f.state === O.Empty) return { state: O.Submitted, actions: [] };
  if (f.state === O.Submitted) {
    const why = restoreRefusal(f);
    if (why) return { state: O.Failed, message: `${f.restoreType} refused: ${why}`, actions: [] };
    const s = f.snapshot!;
    const missing = s.nodes.filter((n) => !f.replicaRestores.some((r) => r.nodeName === n));
    const pool = f.restoreType === RestoreTypes.Rollback ? (s.poolName ?? "") : f.targetPoolName || f.target!.poolName || s.poolName || "";
    return {
      state: O.InProgress,
      actions: missing.length ? [{ kind: "createReplicaRestores", nodes: missing, targetVolume: f.target!.name, poolName: pool }] : [],
    };
  }
  if (f.state === O.InProgress) {
    const failed = f.replicaRestores.find((r) => r.state === O.Failed);
    if (failed) return { state: O.Failed, message: failed.message || `replica restore ${failed.name} failed`, actions: [] };
    const nodes = f.snapshot?.nodes ?? [];
    // A crash between the state write and the children's creation: create the missing ones now.
    const missing = nodes.filter((n) => !f.replicaRestores.some((r) => r.nodeName === n));
    if (missing.length && f.target) {
      const pool = f.restoreType === RestoreTypes.Rollback ? (f.snapshot?.poolName ?? "") : f.targetPoolName || f.target.poolName || f.snapshot?.poolName || "";
      return { actions: [{ kind: "createReplicaRestores", nodes: missing, targetVolume: f.target.name, poolName: pool }] };
    }
    const done = nodes.length > 0 && nodes.every((n) => f.replicaRestores.some((r) => r.nodeName === n && r.state === O.Completed));
    if (done) return { state: O.Completed, message: "", actions: [{ kind: "annotateTarget", volume: f.target?.name ?? "" }] };
    return { actions: [] };
  }
  return { actions: [] };
}
