// LocalVolumeSnapshot (`lvs`, §1.14): a snapshot of a volume; name `snapcontent-<uid>` (CSI snapshot id).

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { AccessibilityTopology, Bool, DateTime, Int64, MIN_VOLUME_BYTES, Opt, Str, StrList, col, defineKind, kindObject, ErrorStatus } from "./common.ts";

export const SnapshotAttr = Type.Object({
  merging: Opt(Bool()),
  invalid: Opt(Bool()),
});
export type SnapshotAttr = Static<typeof SnapshotAttr>;

export const LocalVolumeSnapshotSpec = Type.Object({
  sourceVolume: Str(),
  accessibility: AccessibilityTopology,
  requiredCapacityBytes: Int64({ minimum: MIN_VOLUME_BYTES }),
  thin: Opt(Bool()),
  delete: Opt(Bool()),
});
export type LocalVolumeSnapshotSpec = Static<typeof LocalVolumeSnapshotSpec>;

export const LocalVolumeSnapshotStatus = Type.Object({
  allocatedCapacityBytes: Opt(Int64()),
  replicaSnapshots: Opt(StrList()),
  creationTime: Opt(DateTime()),
  attr: Opt(SnapshotAttr),
  state: Opt(Str()),
  message: Opt(Str()),
  error: Opt(ErrorStatus),
});
export type LocalVolumeSnapshotStatus = Static<typeof LocalVolumeSnapshotStatus>;

export const LocalVolumeSnapshotSchema = kindObject(LocalVolumeSnapshotSpec, LocalVolumeSnapshotStatus, "LocalVolumeSnapshot is a snapshot of a volume");
export type LocalVolumeSnapshot = Static<typeof LocalVolumeSnapshotSchema>;

export const localVolumeSnapshotKind = defineKind(Kinds.LocalVolumeSnapshot, LocalVolumeSnapshotSchema, [
  col("Capacity", "integer", ".status.allocatedCapacityBytes"),
  col("SourceVolume", "string", ".spec.sourceVolume"),
  col("State", "string", ".status.state"),
  col("Merging", "boolean", ".status.attr.merging"),
  col("Invalid", "boolean", ".status.attr.invalid"),
  col("Age", "date", ".status.creationTime"),
]);
