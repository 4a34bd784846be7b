// Shapes shared by LocalStorageNode and LocalDiskNode status: a pool (LocalPool), its disks, its optional
// thin pool, and the node conditions (StorageNodeCondition). Status sub-objects are written only by our own
// agents, so their fields are optional here (the original marks some required; see docs/resource-model.md).

import { Type, type Static } from "typebox";
import { Condition, DateTime, Int64, Num, Opt, Str, StrEnum, StrList } from "./common.ts";

/** A disk inside a pool (LocalDevice). state: Available | InUse | Offline. */
export const LocalDevice = Type.Object({
  devPath: Opt(Str()),
  type: Opt(Str({ description: "Disk class: HDD | SSD | NVMe" })),
  capacityBytes: Opt(Int64()),
  state: Opt(Str({ description: "Available | InUse | Offline" })),
});
export type LocalDevice = Static<typeof LocalDevice>;

/** An LVM thin pool inside a storage pool. */
export const ThinPoolInfo = Type.Object({
  name: Opt(Str()),
  size: Opt(Int64()),
  metadataSize: Opt(Int64()),
  metadataPercent: Opt(Num()),
  dataPercent: Opt(Num()),
  totalProvisionedSize: Opt(Int64()),
  currentProvisionRatio: Opt(Str()),
  overProvisionRatio: Opt(Str()),
  thinVolumes: Opt(StrList()),
  state: Opt(Condition),
});
export type ThinPoolInfo = Static<typeof ThinPoolInfo>;

/** A storage pool of a node (`LocalStorage_Pool<class>` or `LocalDisk_Pool<class>`). */
export const LocalPool = Type.Object({
  name: Opt(Str()),
  class: Opt(Str({ description: "HDD | SSD | NVMe" })),
  type: Opt(Str({ description: "REGULAR" })),
  path: Opt(Str()),
  totalCapacityBytes: Opt(Int64()),
  usedCapacityBytes: Opt(Int64()),
  volumeCapacityBytesLimit: Opt(Int64()),
  freeCapacityBytes: Opt(Int64()),
  totalVolumeCount: Opt(Int64()),
  usedVolumeCount: Opt(Int64()),
  freeVolumeCount: Opt(Int64()),
  disks: Opt(Type.Array(LocalDevice)),
  volumes: Opt(StrList()),
  thinPool: Opt(ThinPoolInfo),
});
export type LocalPool = Static<typeof LocalPool>;

/** StorageNodeCondition: type Available | UnAvailable | Progressing | ExpandFailure | ExpandSuccess. */
export const StorageNodeCondition = Type.Object({
  type: Str({ description: "Available | UnAvailable | Progressing | ExpandFailure | ExpandSuccess" }),
  status: StrEnum(["True", "False", "Unknown"] as const),
  lastUpdateTime: Opt(DateTime()),
  lastTransitionTime: Opt(DateTime()),
  reason: Opt(Str()),
  message: Opt(Str()),
});
export type StorageNodeCondition = Static<typeof StorageNodeCondition>;
