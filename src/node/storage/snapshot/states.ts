// Pure decisions of the node's snapshot reconcilers (reference §5.7), one function per kind:
// - LocalVolumeReplicaSnapshot (LVRS): `""` → Creating (Submit) → createSnapshot (Create) → NotReady → Ready
//   while the engine holds the snapshot; spec.delete → ToBeDeleted → deleteSnapshot → the object is deleted.
// - LocalVolumeReplicaSnapshotRestore (LVRSR): `""` → Submitted → InProgress → restore/rollback through the
//   engine → Completed, or Failed with the engine's message (terminal: a refused rollback is not retried
//   behind the user's back; a new restore object is the retry). abort before InProgress → Aborted.
// The table reads top to bottom; the first matching row wins.

import { OperationStates, VolumeStates } from "../../../api/names.ts";

export type SnapshotAction = "createSnapshot" | "deleteSnapshot" | "deleteObject";
export type CondChange = { type: "Submit" | "Create" | "Ready"; status: "True" | "False"; message: string };

export interface ReplicaSnapshotFacts {
  state: string;
  deleteRequested: boolean;
  /** The engine holds the snapshot (undefined = not looked up / not there). */
  present: boolean;
  /** lvm: the COW area overflowed (lv_snapshot_invalid); the snapshot's content is lost. */
  invalid?: boolean;
}

export interface ReplicaSnapshotDecision {
  state?: string;
  action?: SnapshotAction;
  conditions: CondChange[];
}

export function decideReplicaSnapshot(f: ReplicaSnapshotFacts): ReplicaSnapshotDecision {
  const S = VolumeStates;
  if (f.deleteRequested) {
    if (f.state !== S.ToBeDeleted && f.state !== S.Deleted) return { state: S.ToBeDeleted, conditions: [] };
    if (f.state === S.ToBeDeleted) return { action: "deleteSnapshot", conditions: [] };
    return { action: "deleteObject", conditions: [] };
  }
  switch (f.state) {
    case S.Empty:
      return { state: S.Creating, conditions: [{ type: "Submit", status: "True", message: "" }] };
    case S.Creating:
      return { action: "createSnapshot", conditions: [] };
    case S.NotReady:
    case S.Ready:
      if (f.present && f.invalid) {
        return {
          state: S.NotReady,
          conditions: [{ type: "Ready", status: "False", message: "snapshot is invalid: its COW area overflowed (snapsize too small for the writes since)" }],
        };
      }
      return f.present
        ? { state: S.Ready, conditions: [{ type: "Ready", status: "True", message: "" }] }
        : { state: S.NotReady, conditions: [{ type: "Ready", status: "False", message: "the snapshot is missing from the pool" }] };
    default:
      // ToBeDeleted/Deleted without spec.delete: an interrupted delete that someone un-requested; re-check.
      return { state: f.present ? S.Ready : S.NotReady, conditions: [] };
  }
}

/** The state after the action ran (ok) or failed (message; reason = the error's reason). */
export function afterSnapshotAction(action: SnapshotAction, ok: boolean, message = "", reason?: string): ReplicaSnapshotDecision {
  if (action === "createSnapshot") {
    return ok
      ? { state: VolumeStates.NotReady, conditions: [{ type: "Create", status: "True", message: "" }] }
      : { conditions: [{ type: "Create", status: "False", message, ...(reason ? { reason } : {}) }] }; // stays Creating, retried with backoff
  }
  if (action === "deleteSnapshot") return ok ? { state: VolumeStates.Deleted, conditions: [] } : { conditions: [] };
  return { conditions: [] };
}

export interface RestoreFacts {
  state: string;
  abort: boolean;
}
export type RestoreAction = "restore";

export function decideReplicaRestore(f: RestoreFacts): { state?: string; action?: RestoreAction } {
  const O = OperationStates;
  if (f.state === O.Completed || f.state === O.Failed || f.state === O.Aborted) return {};
  if (f.abort && f.state !== O.InProgress) return { state: O.Aborted };
  if (f.state === O.Empty) return { state: O.Submitted };
  if (f.state === O.Submitted) return { state: O.InProgress };
  if (f.state === O.InProgress) return { action: "restore" };
  return {};
}

export function afterRestore(ok: boolean): string {
  return ok ? OperationStates.Completed : OperationStates.Failed;
}
