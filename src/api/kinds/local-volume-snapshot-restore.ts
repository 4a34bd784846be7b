// LocalVolumeSnapshotRestore (`lvsrestore`, §1.14, §5.7): roll a volume back to a snapshot, or restore a
// snapshot into a new volume. restoreType defaults to `create` (the original meant to, but its marker is
// misspelt so its CRD has no default: QUIRK fixed, see docs/resource-model.md).

import { Type, type Static } from "typebox";
import { Kinds, RESTORE_TYPES, RestoreTypes } from "../names.ts";
import { Bool, Opt, Str, StrEnum, StrList, ageColumn, col, defineKind, kindObject } from "./common.ts";

export const LocalVolumeSnapshotRestoreSpec = Type.Object({
  targetVolume: Opt(Str()),
  targetPoolName: Opt(Str()),
  sourceVolumeSnapshot: Str(),
  restoreType: StrEnum(RESTORE_TYPES, { default: RestoreTypes.Create }),
  abort: Opt(Bool()),
});
export type LocalVolumeSnapshotRestoreSpec = Static<typeof LocalVolumeSnapshotRestoreSpec>;

export const LocalVolumeSnapshotRestoreStatus = Type.Object({
  volumeReplicaSnapshotRestore: Opt(StrList()),
  state: Opt(Str()),
  message: Opt(Str()),
});
export type LocalVolumeSnapshotRestoreStatus = Static<typeof LocalVolumeSnapshotRestoreStatus>;

export const LocalVolumeSnapshotRestoreSchema = kindObject(
  LocalVolumeSnapshotRestoreSpec,
  LocalVolumeSnapshotRestoreStatus,
  "LocalVolumeSnapshotRestore rolls back or restores a volume from a snapshot",
);
export type LocalVolumeSnapshotRestore = Static<typeof LocalVolumeSnapshotRestoreSchema>;

export const localVolumeSnapshotRestoreKind = defineKind(Kinds.LocalVolumeSnapshotRestore, LocalVolumeSnapshotRestoreSchema, [
  col("targetvolume", "string", ".spec.targetVolume"),
  col("sourcesnapshot", "string", ".spec.sourceVolumeSnapshot"),
  col("state", "string", ".status.state"),
  ageColumn(),
]);
