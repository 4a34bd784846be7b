// LocalVolumeReplica (`lvr`, §1.9): one node's copy of a LocalVolume; name `<volume>-<6 random>`.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { Bool, Condition, ErrorStatus, Int64, Opt, Str, StrList, VolumeRequestFields, ageColumn, col, defineKind, kindObject } from "./common.ts";

export const LocalVolumeReplicaSpec = Type.Object({
  volumeName: Opt(Str()),
  poolName: Opt(Str()),
  nodeName: Opt(Str()),
  ...VolumeRequestFields,
  thin: Opt(Bool()),
  thinOriginVolume: Opt(Str()),
  delete: Opt(Bool()),
});
export type LocalVolumeReplicaSpec = Static<typeof LocalVolumeReplicaSpec>;

export const HAState = Type.Object({
  state: Opt(Str({ description: "Consistent | Inconsistent | Up | Down" })),
  reason: Opt(Str()),
});

export const LocalVolumeReplicaStatus = Type.Object({
  storagePath: Opt(Str({ description: "Real LV path" })),
  devPath: Opt(Str({ description: "Path given to CSI" })),
  disks: Opt(StrList()),
  allocatedCapacityBytes: Opt(Int64()),
  state: Opt(Str()),
  synced: Opt(Bool()),
  haState: Opt(HAState),
  inuse: Opt(Bool()),
  conditions: Opt(Type.Array(Condition, { description: "Types Submit, Create, Ready" })),
  error: Opt(ErrorStatus),
  haRole: Opt(Str({ description: "Additive: primary | secondary, as this node's data plane serves the replica (HA volumes)" })),
  haEpoch: Opt(Int64({ description: "Additive: the epoch (LocalVolume spec.config.version) this node's data plane holds for the replica" })),
  resync: Opt(
    Type.Object(
      { doneBytes: Opt(Int64()), totalBytes: Opt(Int64()), dirtyBytes: Opt(Int64()) },
      { description: "Additive: resync progress of this replica as its primary reports it" },
    ),
  ),
});
export type LocalVolumeReplicaStatus = Static<typeof LocalVolumeReplicaStatus>;

export const LocalVolumeReplicaSchema = kindObject(LocalVolumeReplicaSpec, LocalVolumeReplicaStatus, "LocalVolumeReplica is a node's replica of a LocalVolume");
export type LocalVolumeReplica = Static<typeof LocalVolumeReplicaSchema>;

export const localVolumeReplicaKind = {
  ...defineKind(Kinds.LocalVolumeReplica, LocalVolumeReplicaSchema, [
    col("capacity", "integer", ".spec.requiredCapacityBytes"),
    col("node", "string", ".spec.nodeName"),
    col("state", "string", ".status.state"),
    col("synced", "boolean", ".status.synced"),
    col("device", "string", ".status.devPath"),
    ageColumn(),
  ]),
  // A node agent caches only its own replicas (spec.nodeName), and reads a volume's peers (spec.volumeName).
  selectableFields: [".spec.nodeName", ".spec.volumeName"],
};
