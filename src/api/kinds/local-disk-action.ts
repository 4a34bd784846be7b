// LocalDiskAction (`lda`, §1.6): reserve disks matching a rule. DOC≠CODE in the original: the rule reserves
// disks *smaller than* minCapacity / *larger than* maxCapacity.

import { Type, type Static } from "typebox";
import { DISK_ACTIONS, Kinds } from "../names.ts";
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
});
export type LocalDiskActionSpec = Static<typeof LocalDiskActionSpec>;

export const LocalDiskActionStatus = Type.Object({
  latestMatchedLds: Opt(StrList({ description: "Newest first, at most 10" })),
});
export type LocalDiskActionStatus = Static<typeof LocalDiskActionStatus>;

export const LocalDiskActionSchema = kindObject(LocalDiskActionSpec, LocalDiskActionStatus, "LocalDiskAction reserves disks matching a rule");
export type LocalDiskAction = Static<typeof LocalDiskActionSchema>;

export const localDiskActionKind = defineKind(Kinds.LocalDiskAction, LocalDiskActionSchema, [
  col("Action", "string", ".spec.action"),
  col("MaxCapacity", "integer", ".spec.rule.maxCapacity"),
  col("MinCapacity", "integer", ".spec.rule.minCapacity"),
  col("DevicePath", "string", ".spec.rule.devicePath"),
]);
