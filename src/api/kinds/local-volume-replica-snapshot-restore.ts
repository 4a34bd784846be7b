// LocalVolumeReplicaSnapshotRestore (`lvrsrestore`, §1.14, §5.7): one node's part of a restore;
// name `<restore>-<6 random>`, owned by the LocalVolumeSnapshotRestore.

import { Type, type Static } from "typebox";
import { Kinds, RESTORE_TYPES, RestoreTypes } from "../names.ts";
import { Bool, Opt, Str, StrEnum, ageColumn, col, defineKind, kindObject } from "./common.ts";

export const LocalVolumeReplicaSnapshotRestoreSpec = Type.Object({
  nodeName: Str(),
  targetVolume: Opt(Str()),
  targetPoolName: Opt(Str()),
  sourceVolumeSnapshot: Str(),
  sourceVolumeReplicaSnapshot: Opt(Str()),
  restoreType: StrEnum(RESTORE_TYPES, { default: RestoreTypes.Create }),
  volumeSnapshotRestore: Str(),
  abort: Opt(Bool()),
});
export type LocalVolumeReplicaSnapshotRestoreSpec = Static<typeof LocalVolumeReplicaSnapshotRestoreSpec>;

export const LocalVolumeReplicaSnapshotRestoreStatus = Type.Object({
  state: Opt(Str()),
  message: Opt(Str()),
});
export type LocalVolumeReplicaSnapshotRestoreStatus = Static<typeof LocalVolumeReplicaSnapshotRestoreStatus>;

export const LocalVolumeReplicaSnapshotRestoreSchema = kindObject(
  LocalVolumeReplicaSnapshotRestoreSpec,
  LocalVolumeReplicaSnapshotRestoreStatus,
  "LocalVolumeReplicaSnapshotRestore restores one replica from its snapshot",
);
export type LocalVolumeReplicaSnapshotRestore = Static<typeof LocalVolumeReplicaSnapshotRestoreSchema>;

export const localVolumeReplicaSnapshotRestoreKind = defineKind(Kinds.LocalVolumeReplicaSnapshotRestore, LocalVolumeReplicaSnapshotRestoreSchema, [
  col("nodeName", "string", ".spec.nodeName"),
  col("targetvolume", "string", ".spec.targetVolume"),
  col("sourcesnapshot", "string", ".spec.sourceVolumeSnapshot"),
  col("state", "string", ".status.state"),
  ageColumn(),
]);
