// LocalDisk (`ld`, §1.2): one physical disk of a node, named `localdisk-<md5hex>` by the disk manager.

import { Type, type Static } from "typebox";
import { Kinds, LOCAL_DISK_CLAIM_STATES, LOCAL_DISK_STATES } from "../names.ts";
import { Bool, Int64, ObjectReference, Opt, Str, StrEnum, StrList, ageColumn, col, defineKind, kindObject } from "./common.ts";

export const PartitionInfo = Type.Object({
  path: Str(),
  hasFileSystem: Bool(),
  filesystem: Opt(Type.Object({ fsType: Opt(Str()), mountPoint: Opt(Str()) })),
});

export const DiskAttributes = Type.Object({
  type: Opt(Str({ description: "Drive type: HDD | SSD | NVMe" })),
  devType: Opt(Str({ description: "disk | part | lvm | ..." })),
  vendor: Opt(Str()),
  product: Opt(Str()),
  pciVendorID: Opt(Str()),
  modelName: Opt(Str()),
  serialNumber: Opt(Str()),
  formFactor: Opt(Str()),
  rotationRate: Opt(Int64()),
  protocol: Opt(Str()),
});
export type DiskAttributes = Static<typeof DiskAttributes>;

export const LocalDiskSpec = Type.Object({
  nodeName: Str({ description: "Node the disk is attached to" }),
  preNodeName: Opt(Str()),
  uuid: Opt(Str()),
  devicePath: Opt(Str({ description: "e.g. /dev/sdb" })),
  preDevicePath: Opt(Str()),
  devLinks: Opt(StrList()),
  capacity: Opt(Int64({ description: "Capacity in bytes" })),
  partitioned: Opt(Bool()),
  partitionInfo: Opt(Type.Array(PartitionInfo)),
  isRaid: Opt(Bool()),
  raidInfo: Opt(Type.Object({ raidMaster: Opt(Str()) })),
  supportSmart: Opt(Bool()),
  smartInfo: Opt(Type.Object({ overallHealth: Str({ description: "Passed | Failed" }) })),
  diskAttributes: Opt(DiskAttributes),
  state: Opt(StrEnum(LOCAL_DISK_STATES)),
  claimRef: Opt(ObjectReference),
  reserved: Opt(Bool()),
  owner: Opt(Str({ description: "local-storage | local-disk-manager | system" })),
  major: Opt(Str()),
  minor: Opt(Str()),
});
export type LocalDiskSpec = Static<typeof LocalDiskSpec>;

export const LocalDiskStatus = Type.Object({
  claimState: Opt(StrEnum(LOCAL_DISK_CLAIM_STATES)),
});
export type LocalDiskStatus = Static<typeof LocalDiskStatus>;

export const LocalDiskSchema = kindObject(LocalDiskSpec, LocalDiskStatus, "LocalDisk is a disk of a node discovered by the disk manager");
export type LocalDisk = Static<typeof LocalDiskSchema>;

export const localDiskKind = defineKind(Kinds.LocalDisk, LocalDiskSchema, [
  col("NodeMatch", "string", ".spec.nodeName"),
  col("Capacity", "integer", ".spec.capacity", 1),
  col("PreNodeMatch", "string", ".spec.preNodeName", 1),
  col("DevicePath", "string", ".spec.devicePath"),
  col("PreDevicePath", "string", ".spec.preDevicePath", 1),
  col("Owner", "string", ".spec.owner"),
  col("Phase", "string", ".status.claimState"),
  col("Health", "string", ".spec.smartInfo.overallHealth", 1),
  col("Reserved", "boolean", ".spec.reserved", 1),
  col("State", "string", ".spec.state"),
  ageColumn("Age"),
]);
