// LocalStorageNode (`lsn`, §1.7): the LVM node agent's view of one node (name = node name).
// `spec.topogoly` is the original's misspelt JSON key, kept for compatibility.

import { Type, type Static } from "typebox";
import { DEFAULT_TOPOLOGY_VALUE, Kinds, StoragePools } from "../names.ts";
import { MapOf, Opt, Str, StrEnum, ageColumn, col, defineKind, kindObject } from "./common.ts";
import { LocalDiskClaimSpec } from "./local-disk-claim.ts";
import { LocalPool, StorageNodeCondition } from "./storage-pool.ts";
import { ThinPoolClaimDescription } from "./thin-pool-claim.ts";

export const Topology = Type.Object({
  zone: Opt(Str({ default: DEFAULT_TOPOLOGY_VALUE })),
  region: Opt(Str({ default: DEFAULT_TOPOLOGY_VALUE })),
});

export const LocalStorageNodeSpec = Type.Object({
  hostname: Opt(Str()),
  storageIP: Opt(Str({ description: "IPv4 address used for replication" })),
  topogoly: Opt(Topology),
});
export type LocalStorageNodeSpec = Static<typeof LocalStorageNodeSpec>;

export const ThinPoolExtendRecord = Type.Object({
  nodeName: Opt(Str()),
  description: Opt(ThinPoolClaimDescription),
  uid: Opt(Str()),
});

/** Additive (not in the original): which pool engine serves this node and why it was chosen. */
const EngineFeature = Type.Object({
  supported: Type.Boolean(),
  reason: Opt(Str({ description: "why not, when not supported" })),
});
export const StorageEngineStatus = Type.Object({
  kind: StrEnum(["lvm", "file"] as const, { description: "lvm (VG per pool class) or file (btrfs pool, sparse-file replicas)" }),
  reason: Opt(Str({ description: "why this engine was chosen, e.g. device-mapper unavailable" })),
  filesystem: Opt(
    StrEnum(["btrfs", "xfs"] as const, {
      description: "file engine: the filesystem of new pools (--file-fs): btrfs over all the pool's disks, or one xfs per disk; an existing pool keeps its own",
    }),
  ),
  features: Opt(
    Type.Object(
      { snapshots: Opt(EngineFeature), clones: Opt(EngineFeature), thin: Opt(EngineFeature), encryption: Opt(EngineFeature) },
      { description: "what this node's engine and kernel offer; CreateVolume refuses a StorageClass asking for a missing one" },
    ),
  ),
});

/** Additive (not in the original): whether this node's data plane can replicate volumes (docs/replication.md). */
export const ReplicationStatus = Type.Object({
  available: Type.Boolean(),
  reason: Opt(Str({ description: "why not, when not available" })),
  frontends: Opt(Type.Array(Type.String(), { description: "block frontends of the data plane, e.g. fuse" })),
  address: Opt(Str({ description: "IP:port the data plane listens on for its peers" })),
  version: Opt(Str()),
  protocolVersion: Opt(Str()),
});
export type ReplicationStatus = Static<typeof ReplicationStatus>;

export const LocalStorageNodeStatus = Type.Object({
  pools: Opt(MapOf(LocalPool)),
  engine: Opt(StorageEngineStatus),
  replication: Opt(ReplicationStatus),
  state: Opt(Str({ description: "Ready | Maintain | Offline" })),
  conditions: Opt(Type.Array(StorageNodeCondition)),
  poolExtendRecords: Opt(MapOf(Type.Array(LocalDiskClaimSpec))),
  thinPoolExtendRecords: Opt(MapOf(Type.Array(ThinPoolExtendRecord))),
});
export type LocalStorageNodeStatus = Static<typeof LocalStorageNodeStatus>;

export const LocalStorageNodeSchema = kindObject(LocalStorageNodeSpec, LocalStorageNodeStatus, "LocalStorageNode is a node's LVM storage");
export type LocalStorageNode = Static<typeof LocalStorageNodeSchema>;

export const localStorageNodeKind = defineKind(Kinds.LocalStorageNode, LocalStorageNodeSchema, [
  col("ip", "string", ".spec.storageIP"),
  col("status", "string", ".status.state"),
  col("PoolHDD FreeCap", "integer", `.status.pools.${StoragePools.HDD}.freeCapacityBytes`, 1),
  col("PoolSSD FreeCap", "integer", `.status.pools.${StoragePools.SSD}.freeCapacityBytes`, 1),
  col("PoolNVMe FreeCap", "integer", `.status.pools.${StoragePools.NVMe}.freeCapacityBytes`, 1),
  ageColumn(),
]);
