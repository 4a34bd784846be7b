// The LocalVolumeConvert state machine (fact sheet §5.5), pure: a convertible 1-replica volume becomes an HA
// volume of spec.replicaNumber replicas, online. The data of the new replica is copied by the data plane's
// resync while the volume stays published (docs/replication.md). Reading top to bottom:
//
//   Completed                                            → deleteObject
//   Failed / Aborted                                     → left alone
//   spec.abort, not yet Submitted                        → Aborted
//   "": volume missing                                   → Failed "volume <name> not found"
//   "": replicaNumber equal to the target                → Submitted
//   "": replicaNumber 1, not convertible                 → Failed "Inconvertible volume: <name>"
//   "": target > replicaNumber                           → Submitted
//   "": otherwise                                        → Failed "Not supported: …"
//   Submitted: setReplicaNumber(target)                  → InProgress
//   InProgress: target replicas Ready and in sync, volume Ready → Completed (written first, deleted on the next
//               pass: the auditor's Complete record and the exporter see the state, as for migrations)
//   InProgress: otherwise                                → InProgress (message: what is still syncing)
//
// Deliberate differences (docs/compatibility.md): the target may be 2 or 3 (the original: 2); only the named
// volume is converted (the original converts every volume of its LocalVolumeGroup); abort is honoured only
// before the replica count changed (a replica being resynced is not torn down half-way).

import { OperationStates, VolumeStates } from "../../api/names.ts";

export interface ConvertFacts {
  state: string;
  abort: boolean;
  target: number;
  volume?: {
    name: string;
    replicaNumber: number;
    convertible: boolean;
    state: string;
    /** Live replicas: Ready and synced flags. */
    replicas: { node: string; ready: boolean; synced: boolean; resync?: { doneBytes?: number; totalBytes?: number } }[];
  };
}

export type ConvertAction = { type: "setReplicaNumber"; replicaNumber: number } | { type: "deleteObject" };

export interface ConvertDecision {
  state: string;
  message: string;
  actions: ConvertAction[];
  requeueAfterMs?: number;
}

const S = OperationStates;

export function decideConvert(f: ConvertFacts): ConvertDecision {
  const v = f.volume;
  const keep = (message: string, more: Partial<ConvertDecision> = {}): ConvertDecision => ({ state: f.state, message, actions: [], ...more });
  if (f.state === S.Completed) return keep("converted", { actions: [{ type: "deleteObject" }] });
  if (f.state === S.Failed || f.state === S.Aborted) return keep("");
  if (f.abort && (f.state === S.Empty || f.state === S.Submitted))
    return { state: S.Aborted, message: "aborted before the replica count changed", actions: [] };
  if (!v) return { state: S.Failed, message: "volume not found", actions: [] };
  switch (f.state) {
    case S.Empty:
      if (v.replicaNumber === f.target) return { state: S.Submitted, message: `volume ${v.name} already has ${f.target} replicas`, actions: [] };
      if (v.replicaNumber === 1 && !v.convertible) return { state: S.Failed, message: `Inconvertible volume: ${v.name}`, actions: [] };
      if (f.target > v.replicaNumber) return { state: S.Submitted, message: `volume ${v.name}: ${v.replicaNumber} → ${f.target} replicas`, actions: [] };
      return {
        state: S.Failed,
        message: `Not supported: volume ${v.name} has ${v.replicaNumber} replicas, fewer (${f.target}) is not a conversion`,
        actions: [],
      };
    case S.Submitted:
      return {
        state: S.InProgress,
        message: `volume ${v.name}: replicaNumber set to ${f.target}`,
        actions: v.replicaNumber === f.target ? [] : [{ type: "setReplicaNumber", replicaNumber: f.target }],
      };
    case S.InProgress: {
      const good = v.replicas.filter((r) => r.ready && r.synced);
      if (v.replicaNumber >= f.target && good.length >= f.target && v.state === VolumeStates.Ready) {
        return { state: S.Completed, message: `volume ${v.name}: ${good.length} replicas in sync`, actions: [] };
      }
      const behind = v.replicas
        .filter((r) => !(r.ready && r.synced))
        .map((r) => {
          const p = r.resync?.totalBytes ? ` ${Math.floor(((r.resync.doneBytes ?? 0) * 100) / r.resync.totalBytes)} %` : "";
          return `${r.node} ${r.ready ? "syncing" : "not ready"}${p}`;
        });
      return keep(`volume ${v.name}: ${good.length} of ${f.target} replicas in sync${behind.length ? `; ${behind.join(", ")}` : ""}`, {
        requeueAfterMs: 5_000,
      });
    }
    default:
      return keep(`state ${JSON.stringify(f.state)} is left alone`);
  }
}
