// The Cluster phase machine (§1.18), pure. The original: "" → (every enabled component Normal) ToReserve →
// (sleep 2 min, reserve the disks of spec.diskReserveConfigurations) Reserved → (unless notClaimDisk, one
// LocalDiskClaim per node + disk type) CreatedLDC → watchers create StorageClasses.
//
// Approximations (docs/devcluster.md "Operator"): there are no pods, so a component's health is its
// resources — localDiskManager is Normal when every Node has a Ready LocalDiskNode, localStorage when every
// Node has a Ready LocalStorageNode. Only localDiskManager gates ToReserve (claims are what lets the storage
// part build pools; waiting for it would deadlock a node agent without the lvm part). No 2-minute sleep.
// In CreatedLDC we keep reserving and claiming disks that appear later (a node that joins after install);
// the fact sheet describes both only on their transitions.
//
// Transition table (top to bottom, first match):
//   phase         | condition                      | actions                                | next
//   ""            | localDiskManager not Normal    | —                                      | ""
//   ""            | localDiskManager Normal        | —                                      | ToReserve
//   ToReserve     |                                | reserveDisks                           | Reserved
//   Reserved      | notClaimDisk                   | —                                      | CreatedLDC
//   Reserved      |                                | createClaims                           | CreatedLDC
//   CreatedLDC    |                                | reserveDisks, createClaims unless       | CreatedLDC
//                 |                                | notClaimDisk, createStorageClasses     |
//   (unknown)     |                                | —                                      | ""

import { ClusterPhases } from "../../api/names.ts";
import { ComponentHealth } from "../../api/names.ts";

export type Action = "reserveDisks" | "createClaims" | "createStorageClasses";

export interface ComponentFacts {
  desired: number;
  available: number;
}

export interface PhaseInput {
  phase: string | undefined;
  notClaimDisk: boolean;
  localDiskManager: ComponentFacts;
}

export interface PhaseDecision {
  next: string;
  actions: Action[];
}

export const healthOf = (c: ComponentFacts): string => (c.desired > 0 && c.available >= c.desired ? ComponentHealth.Normal : ComponentHealth.Abnormal);

export function decidePhase(i: PhaseInput): PhaseDecision {
  switch (i.phase ?? "") {
    case ClusterPhases.Empty:
      return { next: healthOf(i.localDiskManager) === ComponentHealth.Normal ? ClusterPhases.ToReserve : ClusterPhases.Empty, actions: [] };
    case ClusterPhases.ToReserve:
      return { next: ClusterPhases.Reserved, actions: ["reserveDisks"] };
    case ClusterPhases.Reserved:
      return { next: ClusterPhases.CreatedLDC, actions: i.notClaimDisk ? [] : ["createClaims"] };
    case ClusterPhases.CreatedLDC:
      return {
        next: ClusterPhases.CreatedLDC,
        actions: i.notClaimDisk ? ["reserveDisks", "createStorageClasses"] : ["reserveDisks", "createClaims", "createStorageClasses"],
      };
    default:
      return { next: ClusterPhases.Empty, actions: [] };
  }
}
