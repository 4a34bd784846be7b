// LocalDisk `status.claimState` and owner correction (reference §6 "LocalDisk status machine"), pure.
//
//   claimState  facts                                   → next        event
//   ""          —                                       → Pending
//   Pending     partitioned or claimRef                 → Bound
//   Pending     otherwise                               → Available
//   Available   partitioned or claimRef                 → Bound
//   Bound       no claimRef and not partitioned         → Available   LocalDiskRelease
//   Bound       otherwise                               → Bound
//
// Owner correction, when the owner is empty or `system`: `local-storage` if the disk is in a storage pool,
// `local-disk-manager` if it is in a disk pool, else `system` — but `system` is never written on an
// Available disk (a free disk stays ownerless so any claim may take it).
// `spec.reserved` is not a claim state (the original never writes `Reserved`): reserving and unreserving are
// plain spec edits that work in every state; claims skip reserved disks.
import type { LocalDiskSpec } from "../../../api/kinds/local-disk.ts";
import { EventReasons, LocalDiskClaimStates, Owners, type ValueOf } from "../../../api/names.ts";

export type ClaimState = ValueOf<typeof LocalDiskClaimStates>;

export interface DiskStateFacts {
  /** The disk's device path appears in a LocalStorageNode pool. */
  inStoragePool: boolean;
  /** The disk's device path appears in this node's LocalDiskNode pools. */
  inDiskPool: boolean;
}

export interface DiskStateDecision {
  claimState: ClaimState;
  /** Owner to write, when it changes. */
  owner?: string;
  events: Array<{ type: "Normal" | "Warning"; reason: string; message: string }>;
}

export function nextDiskState(name: string, spec: LocalDiskSpec, claimState: string | undefined, facts: DiskStateFacts): DiskStateDecision {
  const events: DiskStateDecision["events"] = [];
  const holds = spec.partitioned === true || !!spec.claimRef;
  let next: ClaimState;
  switch (claimState ?? "") {
    case "":
      next = LocalDiskClaimStates.Pending;
      break;
    case LocalDiskClaimStates.Pending:
    case LocalDiskClaimStates.Available:
      next = holds ? LocalDiskClaimStates.Bound : LocalDiskClaimStates.Available;
      break;
    case LocalDiskClaimStates.Bound:
      next = holds ? LocalDiskClaimStates.Bound : LocalDiskClaimStates.Available;
      if (!holds) events.push({ type: "Normal", reason: EventReasons.LocalDiskRelease, message: `LocalDisk ${name} released: no claim and no data on it` });
      break;
    default:
      // `Reserved` (never written by the original) or an unknown value: re-derive from the facts.
      next = holds ? LocalDiskClaimStates.Bound : LocalDiskClaimStates.Available;
  }
  const decision: DiskStateDecision = { claimState: next, events };
  const owner = spec.owner ?? "";
  if (owner === "" || owner === Owners.System) {
    const want = facts.inStoragePool
      ? Owners.LocalStorage
      : facts.inDiskPool
        ? Owners.LocalDiskManager
        : next === LocalDiskClaimStates.Available || next === LocalDiskClaimStates.Pending
          ? owner // never write `system` on a free disk
          : Owners.System;
    if (want !== owner) decision.owner = want;
  }
  return decision;
}
