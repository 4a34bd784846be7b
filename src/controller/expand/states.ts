// The LocalVolumeExpand state machine (fact sheet §5.6), pure: the expand object, its volume and the volume's
// replicas → next state, actions and status. Original state strings (OperationStates). Reading top to bottom:
//
// | # | given                                                           | next state | actions                      |
// |---|-----------------------------------------------------------------|------------|------------------------------|
// | 1 | Completed or Aborted                                            | —          | deleteObject                 |
// | 2 | spec.abort (not Completed)                                      | Aborted    | — (message says why)         |
// | 3 | ""                                                              | Submitted  | —                            |
// | 4 | Submitted/InProgress: volume missing or being deleted           | Failed     | —                            |
// | 5 | Submitted: round4MiB(required) ≤ round4MiB(allocated)           | Completed  | — (nothing to grow)          |
// | 6 | Submitted: the pool of a replica node has no room for the delta | Failed     | — (precise message, nothing changed) |
// | 7 | Submitted                                                       | InProgress | setVolumeCapacity(rounded)   |
// | 8 | InProgress: a replica reports Ready=False (grow failed)          | InProgress | — (message = the replica's error; the CSI caller aborts) |
// | 9 | InProgress: a live replica's spec.requiredCapacityBytes < rounded | InProgress | setReplicaCapacity(names) |
// |10 | InProgress: volume + every live replica Ready, allocated ≥ rounded | Completed | — (status.allocatedCapacityBytes) |
// |11 | InProgress otherwise                                            | InProgress | — (requeue)                  |
// |12 | Failed                                                          | —          | — (kept so the caller reads the message; CSI deletes it) |
//
// Difference from the original (docs/compatibility.md): the original's node agent copies the volume's
// config size into its replicas; here this reconciler does it (row 9), so the node agent only reacts to its
// replica's spec. Row 6 checks the pools before anything is written (the original checks nothing and lets
// lvextend fail).

import { hwError, toErrorStatus, type HwError } from "../../api/errors.ts";
import type { LocalVolumeExpandStatus } from "../../api/kinds/local-volume-expand.ts";
import { OperationStates, VolumeStates } from "../../api/names.ts";

export const EXTENT_BYTES = 4 * 1024 * 1024;
export const roundUp4MiB = (n: number): number => Math.ceil(n / EXTENT_BYTES) * EXTENT_BYTES;

export interface ExpandReplicaFact {
  name: string;
  nodeName: string;
  state: string;
  delete: boolean;
  requiredCapacityBytes: number;
  allocatedCapacityBytes: number;
  /** The message of a Ready=False condition, if any. */
  notReadyMessage?: string;
}

export interface ExpandVolumeFact {
  state: string;
  deleting: boolean;
  requiredCapacityBytes: number;
  allocatedCapacityBytes: number;
}

export interface ExpandFacts {
  volume?: ExpandVolumeFact;
  replicas: ExpandReplicaFact[];
  /** Why the pools cannot take the growth (from capacity.ts), undefined = they can. Needed in Submitted. */
  poolProblem?: string;
}

export type ExpandAction =
  { type: "deleteObject" } | { type: "setVolumeCapacity"; bytes: number } | { type: "setReplicaCapacity"; names: string[]; bytes: number };

export interface ExpandDecision {
  state: string;
  actions: ExpandAction[];
  status: Partial<LocalVolumeExpandStatus>;
  requeueAfterMs?: number;
}

export const RECHECK_MS = 1_000;
const S = OperationStates;

export interface ExpandInput {
  name: string;
  volumeName: string;
  requiredCapacityBytes: number;
  abort: boolean;
  state: string;
}

export function decideExpand(x: ExpandInput, f: ExpandFacts): ExpandDecision {
  const out = (state: string, message: string, more: Partial<ExpandDecision> = {}): ExpandDecision => ({ state, actions: [], status: { message }, ...more });
  const target = roundUp4MiB(x.requiredCapacityBytes);
  const live = f.replicas.filter((r) => !r.delete && r.state !== VolumeStates.ToBeDeleted && r.state !== VolumeStates.Deleted);

  if (x.state === S.Completed || x.state === S.Aborted) return { state: x.state, actions: [{ type: "deleteObject" }], status: {} };
  if (x.abort) return out(S.Aborted, `expansion of volume ${x.volumeName} aborted`, { requeueAfterMs: 0 });
  if (x.state === S.Failed) return { state: S.Failed, actions: [], status: {} };
  if (x.state === S.Empty) return out(S.Submitted, `expansion of volume ${x.volumeName} to ${target} bytes submitted`, { requeueAfterMs: 0 });

  const v = f.volume;
  // A Failed expansion carries its error (code + reason) for the CSI controller, which answers with it.
  const failed = (e: HwError): ExpandDecision => ({ state: S.Failed, actions: [], status: { message: e.message, error: toErrorStatus(e) } });
  if (!v) return failed(hwError("VolumeNotFound", `volume ${x.volumeName} does not exist`));
  if (v.deleting) return failed(hwError("VolumeBeingDeleted", `volume ${x.volumeName} is being deleted`));

  if (x.state === S.Submitted) {
    const have = roundUp4MiB(Math.max(v.allocatedCapacityBytes, 0));
    if (target <= have && v.requiredCapacityBytes >= target) {
      return out(S.Completed, `volume ${x.volumeName} already has ${have} bytes`, {
        status: { message: `volume ${x.volumeName} already has ${have} bytes`, allocatedCapacityBytes: have },
        requeueAfterMs: 0,
      });
    }
    if (f.poolProblem) return failed(hwError("InsufficientPoolCapacity", f.poolProblem, { hint: "free space in the pool, or add disks to it" }));
    return out(S.InProgress, `growing volume ${x.volumeName} to ${target} bytes`, {
      actions: target > v.requiredCapacityBytes ? [{ type: "setVolumeCapacity", bytes: target }] : [],
      status: { message: `growing volume ${x.volumeName} to ${target} bytes`, subs: live.map((r) => r.name) },
      requeueAfterMs: 0,
    });
  }

  if (x.state === S.InProgress) {
    const failed = live.find((r) => r.notReadyMessage && r.requiredCapacityBytes >= target);
    if (failed) return out(S.InProgress, `replica ${failed.name} on node ${failed.nodeName}: ${failed.notReadyMessage}`, { requeueAfterMs: RECHECK_MS * 5 });
    const behind = live.filter((r) => r.requiredCapacityBytes < target);
    if (behind.length) {
      return out(S.InProgress, `growing replicas ${behind.map((r) => r.name).join(", ")} to ${target} bytes`, {
        actions: [{ type: "setReplicaCapacity", names: behind.map((r) => r.name), bytes: target }],
        requeueAfterMs: RECHECK_MS,
      });
    }
    const done =
      live.length > 0 &&
      live.every((r) => r.state === VolumeStates.Ready && r.allocatedCapacityBytes >= target) &&
      v.state === VolumeStates.Ready &&
      v.allocatedCapacityBytes >= target;
    if (done)
      return out(S.Completed, `volume ${x.volumeName} grown to ${v.allocatedCapacityBytes} bytes`, {
        status: { message: `volume ${x.volumeName} grown to ${v.allocatedCapacityBytes} bytes`, allocatedCapacityBytes: v.allocatedCapacityBytes },
      });
    const waiting = live
      .filter((r) => r.state !== VolumeStates.Ready || r.allocatedCapacityBytes < target)
      .map((r) => `${r.name} ${r.state || "new"} ${r.allocatedCapacityBytes}`);
    return out(
      S.InProgress,
      `waiting for ${waiting.length ? `replicas ${waiting.join(", ")}` : `volume ${x.volumeName} (${v.state}, ${v.allocatedCapacityBytes} bytes)`}`,
      { requeueAfterMs: RECHECK_MS },
    );
  }
  return { state: x.state, actions: [], status: {} };
}
