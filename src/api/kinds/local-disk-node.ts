// LocalDiskNode (`ldn`, §1.3): the disk manager's view of one node (name = node name); pools
// `LocalDisk_Pool<class>` hold whole disks for disk.hwameistor.io volumes.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { Int, Int64, MapOf, Opt, Str, ageColumn, col, defineKind, kindObject } from "./common.ts";
import { LocalDiskClaimSpec } from "./local-disk-claim.ts";
import { LocalPool, StorageNodeCondition } from "./storage-pool.ts";

export const LocalDiskNodeSpec = Type.Object({
  nodeName: Str(),
});
export type LocalDiskNodeSpec = Static<typeof LocalDiskNodeSpec>;

export const LocalDiskNodeStatus = Type.Object({
  pools: Opt(MapOf(LocalPool)),
  state: Opt(Str({ description: "Ready | Offline" })),
  conditions: Opt(Type.Array(StorageNodeCondition)),
  poolExtendRecords: Opt(MapOf(Type.Array(LocalDiskClaimSpec))),
  totalDisk: Opt(Int()),
  freeDisk: Opt(Int()),
  totalCapacity: Opt(Int64()),
  freeCapacity: Opt(Int64()),
});
export type LocalDiskNodeStatus = Static<typeof LocalDiskNodeStatus>;

export const LocalDiskNodeSchema = kindObject(LocalDiskNodeSpec, LocalDiskNodeStatus, "LocalDiskNode is the disk manager's view of a node");
export type LocalDiskNode = Static<typeof LocalDiskNodeSchema>;

export const localDiskNodeKind = defineKind(Kinds.LocalDiskNode, LocalDiskNodeSchema, [
  col("FreeCapacity", "integer", ".status.freeCapacity"),
  col("TotalCapacity", "integer", ".status.totalCapacity"),
  col("TotalDisk", "integer", ".status.totalDisk"),
  col("Status", "string", ".status.state"),
  ageColumn("Age"),
]);
