// LocalVolumeReplicaSnapshot (`lvrs`, §1.14): one node's snapshot LV; name `<snapshot>-<6 random>`.
// The status message's JSON key is `reason` in the original (Go field Message), kept for compatibility.

import { Type, type Static } from "typebox";
import { Kinds, STORAGE_POOL_NAMES } from "../names.ts";
import { Bool, Condition, DateTime, Int64, MIN_VOLUME_BYTES, Opt, Str, StrEnum, col, defineKind, kindObject, ErrorStatus } from "./common.ts";
import { SnapshotAttr } from "./local-volume-snapshot.ts";

export const LocalVolumeReplicaSnapshotSpec = Type.Object({
  nodeName: Opt(Str()),
  volumeSnapshotName: Opt(Str()),
  sourceVolume: Opt(Str()),
  sourceVolumeReplica: Opt(Str()),
  poolName: Opt(StrEnum(STORAGE_POOL_NAMES as readonly ["LocalStorage_PoolHDD", "LocalStorage_PoolSSD", "LocalStorage_PoolNVMe"])),
  requiredCapacityBytes: Opt(Int64({ minimum: MIN_VOLUME_BYTES })),
  delete: Opt(Bool()),
});
export type LocalVolumeReplicaSnapshotSpec = Static<typeof LocalVolumeReplicaSnapshotSpec>;

export const LocalVolumeReplicaSnapshotStatus = Type.Object({
  allocatedCapacityBytes: Opt(Int64()),
  creationTime: Opt(DateTime()),
  attr: Opt(SnapshotAttr),
  state: Opt(Str()),
  reason: Opt(Str({ description: "Message (sic: the original's JSON key)" })),
  conditions: Opt(Type.Array(Condition, { description: "Types Submit, Create, Ready" })),
  error: Opt(ErrorStatus),
});
export type LocalVolumeReplicaSnapshotStatus = Static<typeof LocalVolumeReplicaSnapshotStatus>;

export const LocalVolumeReplicaSnapshotSchema = kindObject(
  LocalVolumeReplicaSnapshotSpec,
  LocalVolumeReplicaSnapshotStatus,
  "LocalVolumeReplicaSnapshot is a node's snapshot of a volume replica",
);
export type LocalVolumeReplicaSnapshot = Static<typeof LocalVolumeReplicaSnapshotSchema>;

export const localVolumeReplicaSnapshotKind = defineKind(Kinds.LocalVolumeReplicaSnapshot, LocalVolumeReplicaSnapshotSchema, [
  col("Capacity", "integer", ".status.allocatedCapacityBytes"),
  col("NodeName", "string", ".spec.nodeName"),
  col("SourceVolume", "string", ".spec.sourceVolume"),
  col("State", "string", ".status.state"),
  col("Merging", "boolean", ".status.attr.merging"),
  col("Invalid", "boolean", ".status.attr.invalid"),
  col("Age", "date", ".status.creationTime"),
  col("SourceVolumeReplica", "string", ".spec.sourceVolumeReplica", 1),
]);
