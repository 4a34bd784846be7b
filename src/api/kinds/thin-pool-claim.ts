// ThinPoolClaim (`tpc`, §1.15): create or grow the LVM thin pool of a node's storage pool.

import { Type, type Static } from "typebox";
import { Kinds, THIN_POOL_CLAIM_STATES } from "../names.ts";
import { Int, Opt, Str, StrEnum, col, defineKind, kindObject } from "./common.ts";

export const ThinPoolClaimDescription = Type.Object({
  poolName: Str({ description: "LocalStorage_PoolHDD | SSD | NVMe" }),
  capacity: Int({ minimum: 1, maximum: 1048576, description: "Thin pool size in GiB" }),
  overProvisionRatio: Opt(Str({ default: "1.0", description: "Decimal string, at least 1.0" })),
  poolMetadataSize: Opt(Int({ minimum: 1, default: 1, description: "Metadata size in GiB" })),
});
export type ThinPoolClaimDescription = Static<typeof ThinPoolClaimDescription>;

export const ThinPoolClaimSpec = Type.Object({
  nodeName: Opt(Str()),
  description: Opt(ThinPoolClaimDescription),
});
export type ThinPoolClaimSpec = Static<typeof ThinPoolClaimSpec>;

export const ThinPoolClaimStatus = Type.Object({
  status: Opt(StrEnum(THIN_POOL_CLAIM_STATES)),
});
export type ThinPoolClaimStatus = Static<typeof ThinPoolClaimStatus>;

export const ThinPoolClaimSchema = kindObject(ThinPoolClaimSpec, ThinPoolClaimStatus, "ThinPoolClaim creates or extends a node's thin pool");
export type ThinPoolClaim = Static<typeof ThinPoolClaimSchema>;

export const thinPoolClaimKind = defineKind(Kinds.ThinPoolClaim, ThinPoolClaimSchema, [
  col("NodeName", "string", ".spec.nodeName"),
  col("Phase", "string", ".status.status"),
]);
