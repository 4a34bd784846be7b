// LocalVolume (`lv`, §1.8): an LVM volume; name = PV name (`pvc-<pvc uid>`). The controller writes
// `spec.config` (replica placement); node agents realise it as LocalVolumeReplicas.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import {
  AccessibilityTopology,
  Bool,
  Condition,
  Int,
  Int64,
  Opt,
  Str,
  StrList,
  VolumeRequestFields,
  ageColumn,
  col,
  defineKind,
  kindObject,
} from "./common.ts";

export const VolumeReplica = Type.Object({
  id: Int(),
  hostname: Str(),
  ip: Str(),
  primary: Bool(),
});
export type VolumeReplica = Static<typeof VolumeReplica>;

/** Replica placement, written by the controller and watched by every node. */
export const VolumeConfig = Type.Object({
  version: Int({ description: "Starts at 1, +1 on every change" }),
  volumeName: Str(),
  requiredCapacityBytes: Int64(),
  convertible: Bool(),
  resourceID: Int({ description: "DRBD resource id; -1 = none" }),
  readyToInitialize: Bool(),
  initialized: Bool(),
  replicas: Type.Array(VolumeReplica),
});
export type VolumeConfig = Static<typeof VolumeConfig>;

export const ThinOrigin = Type.Object({
  originType: Opt(Str({ description: "volume | snapshot" })),
  originId: Opt(Str()),
});

export const LocalVolumeSpec = Type.Object({
  ...VolumeRequestFields,
  poolName: Opt(Str({ description: "LocalStorage_PoolHDD | SSD | NVMe" })),
  replicaNumber: Opt(Int64({ minimum: 1, maximum: 4, description: "1 non-HA, 2 HA, +1 while migrating" })),
  convertible: Opt(Bool({ default: false })),
  accessibility: Opt(AccessibilityTopology),
  pvcNamespace: Opt(Str()),
  pvcName: Opt(Str()),
  volumegroup: Opt(Str({ description: "LocalVolumeGroup name" })),
  config: Opt(VolumeConfig),
  thin: Opt(Bool()),
  thinOrigin: Opt(ThinOrigin),
  delete: Opt(Bool({ default: false })),
});
export type LocalVolumeSpec = Static<typeof LocalVolumeSpec>;

export const LocalVolumeStatus = Type.Object({
  allocatedCapacityBytes: Opt(Int64()),
  usedCapacityBytes: Opt(Int64()),
  totalInode: Opt(Int64()),
  usedInode: Opt(Int64()),
  replicas: Opt(StrList({ description: "Names of Ready LocalVolumeReplicas" })),
  state: Opt(Str()),
  publishedNode: Opt(Str()),
  fsType: Opt(Str()),
  rawblock: Bool({ default: false }),
  outdatedReplicas: Opt(
    Type.Object(
      { epoch: Int64(), nodes: StrList() },
      {
        description:
          "Additive (not in the original): the nodes whose replicas the primary outdated at this epoch to go on degraded (they lack acknowledged writes: no failover promotes them); written by the primary's node agent",
      },
    ),
  ),
  conditions: Opt(
    Type.Array(Condition, {
      description:
        "Additive (not in the original): type Replicated — False with reason Degraded while an HA volume has fewer synced replicas than replicaNumber",
    }),
  ),
});
export type LocalVolumeStatus = Static<typeof LocalVolumeStatus>;

export const LocalVolumeSchema = kindObject(LocalVolumeSpec, LocalVolumeStatus, "LocalVolume is an LVM volume");
export type LocalVolume = Static<typeof LocalVolumeSchema>;

export const localVolumeKind = defineKind(Kinds.LocalVolume, LocalVolumeSchema, [
  col("pool", "string", ".spec.poolName"),
  col("replicas", "integer", ".spec.replicaNumber"),
  col("capacity", "integer", ".spec.requiredCapacityBytes"),
  col("used", "integer", ".status.usedCapacityBytes"),
  col("state", "string", ".status.state"),
  col("resource", "integer", ".spec.config.resourceID", 1),
  col("published", "string", ".status.publishedNode"),
  col("fstype", "string", ".status.fsType", 1),
  col("group", "string", ".spec.volumegroup", 1),
  ageColumn(),
]);
