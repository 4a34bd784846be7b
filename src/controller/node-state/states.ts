// Node liveness as HwameiStor sees it (fact sheet §5.2), pure. The node agent renews two Leases in the
// system namespace, `hwameistor-local-storage-worker-<node>` and `hwameistor-local-disk-manager-worker-<node>`
// (30 s each); every check period the controller compares them with the clock:
//
//   LocalStorageNode: lease expired → Offline; renewed and Offline → Ready; Maintain stays Maintain while the
//                     lease is fresh (the original never turns Maintain into Ready)
//   LocalDiskNode:    lease expired → Offline; renewed and Offline → Ready
//   lease missing:    state untouched. DIFFERENCE: the original counts a missing lease as Offline; here a node
//                     whose agent never wrote one (an older agent, or a test playing the agent) is left alone —
//                     a dead agent's lease does not disappear, it expires.
//   LocalVolumeReplica on a node whose core Node is Ready=Unknown, or whose storage lease expired:
//                     Ready → NotReady (the node agent, once back, writes Ready again on its next pass)
// A node that never renewed a lease but has no agent objects either is not touched. An empty state ("" = the
// agent has not written its first status) is left to the agent.

import { NodeStates, VolumeStates } from "../../api/names.ts";

export interface LeaseFact {
  renewTime?: string | null;
  leaseDurationSeconds?: number;
}

/** A lease is fresh while renewTime + leaseDurationSeconds lies in the future; undefined when there is none. */
export function leaseFresh(l: LeaseFact | undefined, nowMs: number): boolean | undefined {
  if (!l) return undefined;
  if (!l.renewTime) return false;
  const t = Date.parse(l.renewTime);
  if (Number.isNaN(t)) return false;
  return t + (l.leaseDurationSeconds ?? 30) * 1000 > nowMs;
}

/** The LocalStorageNode / LocalDiskNode state to write, or undefined to leave it. */
export function nextNodeState(current: string | undefined, fresh: boolean | undefined): string | undefined {
  if (fresh === undefined) return undefined;
  if (!fresh) return current === NodeStates.Offline ? undefined : NodeStates.Offline;
  if (current === NodeStates.Offline) return NodeStates.Ready;
  return undefined;
}

/** Whether a replica's Ready must be taken away because its node is unreachable. */
export function replicaNotReady(replicaState: string | undefined, nodeReadyCondition: string | undefined, storageLeaseFresh: boolean | undefined): boolean {
  if (replicaState !== VolumeStates.Ready) return false;
  return nodeReadyCondition === "Unknown" || storageLeaseFresh === false;
}
