// The LocalVolumeReplica state machine on its node (fact sheet §5.2), pure: from the replica object and what
// the reconciler observed in the engine to the one engine action to run; then, from the action's outcome, to
// the next status (state + conditions Submit/Create/Ready, reason = type, status False carries the error).
// Original state strings.
//
// decide() — first matching row wins:
//
// | # | given                                                    | next state  | action          |
// |---|----------------------------------------------------------|-------------|-----------------|
// | 1 | spec.delete, state not ToBeDeleted/Deleted               | ToBeDeleted | —               |
// | 2 | ToBeDeleted                                              | —           | deleteReplica   |
// | 3 | Deleted                                                  | —           | deleteObject    |
// | 4 | ""                                                       | Creating    | — (Submit=True) |
// | 5 | Creating                                                 | —           | createReplica   |
// | 6 | Ready/NotReady, replica missing in the engine            | NotReady    | — (Ready=False) |
// | 7 | Ready/NotReady, required (rounded) > allocated           | —           | expandReplica   |
// | 8 | Ready/NotReady, replica present, device active           | Ready       | — (Ready=True)  |
// | 9 | Ready/NotReady, replica present, device not active       | NotReady    | — (Ready=False, the engine's reason; requeue) |
// |10 | anything else (Invalid, unknown)                         | —           | —               |
//
// outcome() of an action:
//   createReplica ok  → NotReady, Create=True (the next pass tests it → Ready, as the original's lvcreate → check)
//   createReplica err → Creating, Create=False with the error's reason and text (retried with backoff); the
//                       reconciler also writes status.error {code, reason, message, hint}: a RESOURCE_EXHAUSTED
//                       code tells the CSI controller to give up and reschedule (no message text is parsed)
//   expandReplica ok  → NotReady (re-tested → Ready with the new allocated size)
//   expandReplica err → NotReady, Ready=False with the error text (the controller aborts the expansion)
//   deleteReplica ok  → Deleted;  err → ToBeDeleted, Ready=False with the error text (retried)
//
// Deliberate differences (docs/compatibility.md): a failed create stays Creating and is retried instead of
// going NotReady forever; the 10 MiB expansion slack of the original is replaced by the engines' exact 4 MiB
// rounding (a request is expanded iff its rounded size exceeds the allocated one).

import { ReplicaConditionTypes, VolumeStates, type ValueOf } from "../../../api/names.ts";
import { roundToExtent } from "../../engines/engine.ts";

export type ReplicaConditionType = ValueOf<typeof ReplicaConditionTypes>;

export type ReplicaAction = "createReplica" | "expandReplica" | "deleteReplica" | "deleteObject";

export interface ObservedReplica {
  allocatedCapacityBytes: number;
  devPath: string;
  storagePath: string;
  active: boolean;
  inactiveReason?: string;
}

export interface ReplicaFacts {
  state: string;
  deleteRequested: boolean;
  requiredCapacityBytes: number;
  /** The engine's view of the replica; undefined = it does not exist on this node. */
  replica?: ObservedReplica;
}

export interface ConditionChange {
  type: ReplicaConditionType;
  status: "True" | "False";
  message: string;
  /** The error's reason (src/api/errors.ts) on a failure; else the condition type (as the original). */
  reason?: string;
}

export interface ReplicaDecision {
  /** New status.state; undefined = unchanged. */
  state?: string;
  action?: ReplicaAction;
  conditions: ConditionChange[];
  /** Status fields from the observed replica (devPath, storagePath, allocated, synced). */
  fromReplica?: ObservedReplica;
  requeueAfterMs?: number;
  reason: string;
}

const LIVE: string[] = [VolumeStates.Ready, VolumeStates.NotReady];

export function requiredRounded(bytes: number): number {
  return bytes > 0 && Number.isSafeInteger(bytes) ? roundToExtent(bytes) : 0;
}

export function decide(f: ReplicaFacts): ReplicaDecision {
  const s = f.state;
  if (f.deleteRequested && s !== VolumeStates.ToBeDeleted && s !== VolumeStates.Deleted) {
    return { state: VolumeStates.ToBeDeleted, conditions: [], reason: "spec.delete is set" };
  }
  if (s === VolumeStates.ToBeDeleted) return { action: "deleteReplica", conditions: [], reason: "deleting the replica" };
  if (s === VolumeStates.Deleted) return { action: "deleteObject", conditions: [], reason: "replica gone; deleting the object" };
  if (s === VolumeStates.Empty) {
    return { state: VolumeStates.Creating, conditions: [{ type: "Submit", status: "True", message: "replica submitted to the node" }], reason: "new replica" };
  }
  if (s === VolumeStates.Creating) return { action: "createReplica", conditions: [], reason: "creating the replica" };
  if (LIVE.includes(s)) {
    const r = f.replica;
    if (!r) {
      return {
        state: VolumeStates.NotReady,
        conditions: [{ type: "Ready", status: "False", message: "the replica does not exist in its pool on this node (lost?); not recreating it silently" }],
        requeueAfterMs: 30_000,
        reason: "replica missing",
      };
    }
    if (requiredRounded(f.requiredCapacityBytes) > r.allocatedCapacityBytes)
      return { action: "expandReplica", conditions: [], reason: "required capacity grew" };
    if (r.active) {
      return {
        state: VolumeStates.Ready,
        conditions: [{ type: "Ready", status: "True", message: `replica is ready at ${r.devPath}` }],
        fromReplica: r,
        reason: "replica active",
      };
    }
    return {
      state: VolumeStates.NotReady,
      conditions: [{ type: "Ready", status: "False", message: `replica device is not active: ${r.inactiveReason ?? "unknown reason"}` }],
      fromReplica: r,
      requeueAfterMs: 30_000,
      reason: "replica inactive",
    };
  }
  return { conditions: [], reason: `state ${JSON.stringify(s)} is left alone` };
}

export interface ActionOutcome {
  state?: string;
  conditions: ConditionChange[];
  fromReplica?: ObservedReplica;
  /** Retry with backoff (the reconciler throws after writing status). */
  failed: boolean;
}

export function outcome(
  action: ReplicaAction,
  result: { ok: true; replica?: ObservedReplica } | { ok: false; message: string; reason?: string },
): ActionOutcome {
  if (action === "deleteObject") return result.ok ? { conditions: [], failed: false } : { conditions: [], failed: true };
  if (result.ok) {
    switch (action) {
      case "createReplica":
        return {
          state: VolumeStates.NotReady,
          conditions: [{ type: "Create", status: "True", message: "replica created" }],
          fromReplica: result.replica,
          failed: false,
        };
      case "expandReplica":
        return { state: VolumeStates.NotReady, conditions: [], fromReplica: result.replica, failed: false };
      case "deleteReplica":
        return { state: VolumeStates.Deleted, conditions: [], failed: false };
    }
  }
  const { message, reason } = result as { message: string; reason?: string };
  const why = reason ? { reason } : {};
  switch (action) {
    case "createReplica":
      return { state: VolumeStates.Creating, conditions: [{ type: "Create", status: "False", message, ...why }], failed: true };
    case "expandReplica":
      return { state: VolumeStates.NotReady, conditions: [{ type: "Ready", status: "False", message: `expansion failed: ${message}`, ...why }], failed: true };
    case "deleteReplica":
      return {
        state: VolumeStates.ToBeDeleted,
        conditions: [{ type: "Ready", status: "False", message: `deletion failed: ${message}`, ...why }],
        failed: true,
      };
  }
}

export interface ReplicaCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/**
 * Apply condition changes (reason = the error's reason on a failure, else the type, as the original);
 * lastTransitionTime moves only when status does.
 */
export function mergeConditions(existing: ReplicaCondition[], changes: ConditionChange[], now: string, generation?: number): ReplicaCondition[] {
  const out = existing.map((c) => ({ ...c }));
  for (const ch of changes) {
    const i = out.findIndex((c) => c.type === ch.type);
    const prev = i >= 0 ? out[i] : undefined;
    const next: ReplicaCondition = {
      type: ch.type,
      status: ch.status,
      reason: ch.reason ?? ch.type,
      message: ch.message,
      lastTransitionTime: prev && prev.status === ch.status ? prev.lastTransitionTime : now,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    if (i >= 0) out[i] = next;
    else out.push(next);
  }
  return out;
}
