// LocalVolumeMigrate (`lvmigrate`, §1.11, §5.4): move a volume (and by default its whole group) off a node.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { Bool, Condition, Int64, Opt, Str, StrList, ageColumn, col, defineKind, kindObject } from "./common.ts";

export const LocalVolumeMigrateSpec = Type.Object({
  volumeName: Str(),
  sourceNode: Str(),
  targetNodesSuggested: StrList({ description: "May be empty: any qualifying node" }),
  migrateAllVols: Opt(Bool({ default: true })),
  abort: Opt(Bool({ default: false })),
});
export type LocalVolumeMigrateSpec = Static<typeof LocalVolumeMigrateSpec>;

export const LocalVolumeMigrateStatus = Type.Object({
  originalReplicaNumber: Opt(Int64()),
  targetNode: Opt(Str()),
  volumes: Opt(StrList()),
  state: Opt(Str()),
  message: Opt(Str()),
  conditions: Opt(Type.Array(Condition, { description: "Type TargetVerified: the target's disk read back equal to the copy before the source is deleted" })),
});
export type LocalVolumeMigrateStatus = Static<typeof LocalVolumeMigrateStatus>;

export const LocalVolumeMigrateSchema = kindObject(LocalVolumeMigrateSpec, LocalVolumeMigrateStatus, "LocalVolumeMigrate moves a volume to another node");
export type LocalVolumeMigrate = Static<typeof LocalVolumeMigrateSchema>;

export const localVolumeMigrateKind = defineKind(Kinds.LocalVolumeMigrate, LocalVolumeMigrateSchema, [
  col("volume", "string", ".spec.volumeName"),
  col("from", "string", ".spec.sourceNode"),
  col("to", "string", ".status.targetNode"),
  col("state", "string", ".status.state"),
  ageColumn(),
]);
