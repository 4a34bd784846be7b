// LocalDiskAction (`lda`, §1.6): reserve disks matching a rule. DOC≠CODE in the original: the rule reserves
// disks *smaller than* minCapacity / *larger than* maxCapacity.
// Added here (docs/compatibility.md): action `replace` moves a storage pool's data off one disk onto another
// online (`spec.replace`), with its progress in `status.state`/`message`/`progressPercent` (docs/disk-manager.md).

import { Type, type Static } from "typebox";
import { DISK_ACTIONS, DISK_REPLACE_STATES, Kinds } from "../names.ts";
import { Int64, Opt, Str, StrEnum, StrList, col, defineKind, kindObject } from "./common.ts";

export const LocalDiskActionSpec = Type.Object({
  action: StrEnum(DISK_ACTIONS),
  rule: Opt(
    Type.Object({
      maxCapacity: Opt(Int64()),
      minCapacity: Opt(Int64()),
      devicePath: Opt(Str({ description: "Glob on the device path" })),
    }),
  ),
  replace: Opt(
    Type.Object({
      nodeName: Str({ description: "The node of both disks" }),
      oldDisk: Str({ description: "LocalDisk in a storage pool of the node, whose data moves off" }),
      newDisk: Str({ description: "Empty, unclaimed LocalDisk of the node, at least as large, that takes its place" }),
    }),
  ),
});
export type LocalDiskActionSpec = Static<typeof LocalDiskActionSpec>;

export const LocalDiskActionStatus = Type.Object({
  latestMatchedLds: Opt(StrList({ description: "Newest first, at most 10" })),
  state: Opt(StrEnum(DISK_REPLACE_STATES, { description: "replace: Replacing, Succeeded or Failed" })),
  message: Opt(Str()),
  progressPercent: Opt(Type.Number()),
  /** replace: the pool, and the device paths as they were when the copy started (the new disk then holds the old one's data). */
  pool: Opt(Str()),
  oldDevicePath: Opt(Str()),
  newDevicePath: Opt(Str()),
});
export type LocalDiskActionStatus = Static<typeof LocalDiskActionStatus>;

export const LocalDiskActionSchema = kindObject(
  LocalDiskActionSpec,
  LocalDiskActionStatus,
  "LocalDiskAction reserves disks matching a rule, or replaces a storage pool's disk online (action replace)",
);
export type LocalDiskAction = Static<typeof LocalDiskActionSchema>;

export const localDiskActionKind = defineKind(Kinds.LocalDiskAction, LocalDiskActionSchema, [
  col("Action", "string", ".spec.action"),
  col("MaxCapacity", "integer", ".spec.rule.maxCapacity"),
  col("MinCapacity", "integer", ".spec.rule.minCapacity"),
  col("DevicePath", "string", ".spec.rule.devicePath"),
]);
