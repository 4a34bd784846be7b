// LocalDiskVolume (`ldv`, §1.5): a whole-disk volume of disk.hwameistor.io; name = PV name.
// Note `mountPoints[].fsTye` is the original's misspelt JSON key, kept for compatibility.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { AccessibilityTopology, Bool, Int32, Int64, MapOf, Opt, Str, StrList, col, defineKind, kindObject, ErrorStatus } from "./common.ts";

export const MountPoint = Type.Object({
  targetPath: Opt(Str()),
  volumeCap: Opt(
    Type.Object({
      accessMode: Opt(Int32()),
      accessType: Opt(Str({ description: "Block | Mount" })),
    }),
  ),
  fsTye: Opt(Str({ description: "Filesystem type (sic: the original's JSON key)" })),
  mountOptions: Opt(StrList()),
  phase: Opt(Str({ description: '"" | ToBeMounted | ToBeUnMount | Mounted | NotReady' })),
});
export type MountPoint = Static<typeof MountPoint>;

export const LocalDiskVolumeSpec = Type.Object({
  diskType: Opt(Str({ description: "HDD | SSD | NVMe" })),
  requiredCapacityBytes: Opt(Int64()),
  accessibility: Opt(AccessibilityTopology),
  persistentVolumeClaimName: Opt(Str({ description: "<namespace>/<name>" })),
  canWipe: Opt(Bool()),
});
export type LocalDiskVolumeSpec = Static<typeof LocalDiskVolumeSpec>;

export const LocalDiskVolumeStatus = Type.Object({
  localDiskName: Opt(Str()),
  devPath: Opt(Str()),
  volumePath: Opt(Str()),
  devLinks: Opt(MapOf(StrList(), { description: "by-path | by-id | by-uuid → links" })),
  allocatedCapacityBytes: Opt(Int64()),
  usedCapacityBytes: Opt(Int64()),
  mountPoints: Opt(Type.Array(MountPoint)),
  state: Opt(Str()),
  error: Opt(ErrorStatus),
});
export type LocalDiskVolumeStatus = Static<typeof LocalDiskVolumeStatus>;

export const LocalDiskVolumeSchema = kindObject(LocalDiskVolumeSpec, LocalDiskVolumeStatus, "LocalDiskVolume is a volume backed by a whole disk");
export type LocalDiskVolume = Static<typeof LocalDiskVolumeSchema>;

export const localDiskVolumeKind = defineKind(Kinds.LocalDiskVolume, LocalDiskVolumeSchema, [
  col("Node", "string", ".spec.accessibility.nodes[0]"),
  col("Disk", "string", ".status.devPath"),
  col("AllocatedCap", "integer", ".status.allocatedCapacityBytes"),
  col("Type", "string", ".spec.diskType"),
  col("Status", "string", ".status.state"),
]);
