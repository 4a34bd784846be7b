// LocalDiskClaim (`ldc`, §1.4): claim a node's disks for a pool owner. `spec.owner` is required in the
// original; we default it to `local-storage` so the original docs' YAML (which omits it) is accepted.

import { Type, type Static } from "typebox";
import { DISK_CLAIM_STATES, Kinds, Owners } from "../names.ts";
import { Int64, ObjectReference, Opt, Str, StrEnum, StrList, col, defineKind, kindObject } from "./common.ts";

export const LocalDiskClaimDescription = Type.Object({
  diskType: Opt(Str({ description: "HDD | SSD | NVMe; empty = any" })),
  capacity: Opt(Int64({ description: "Minimum disk capacity in bytes" })),
  localDiskNames: Opt(StrList()),
  devicePaths: Opt(StrList()),
});

export const LocalDiskClaimSpec = Type.Object({
  nodeName: Str(),
  owner: Str({ default: Owners.LocalStorage, description: "local-storage | local-disk-manager" }),
  description: Opt(LocalDiskClaimDescription),
  diskRefs: Opt(Type.Array(ObjectReference)),
});
export type LocalDiskClaimSpec = Static<typeof LocalDiskClaimSpec>;

export const LocalDiskClaimStatus = Type.Object({
  status: Opt(StrEnum(DISK_CLAIM_STATES)),
});
export type LocalDiskClaimStatus = Static<typeof LocalDiskClaimStatus>;

export const LocalDiskClaimSchema = kindObject(LocalDiskClaimSpec, LocalDiskClaimStatus, "LocalDiskClaim claims disks of a node for a pool owner");
export type LocalDiskClaim = Static<typeof LocalDiskClaimSchema>;

export const localDiskClaimKind = defineKind(Kinds.LocalDiskClaim, LocalDiskClaimSchema, [
  col("NodeMatch", "string", ".spec.nodeName"),
  col("Phase", "string", ".status.status"),
  col("Owner", "string", ".spec.owner"),
]);
