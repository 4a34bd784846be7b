// LocalVolumeConvert (`lvconvert`, §1.12, §5.5): turn a convertible 1-replica volume into 2 replicas.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { Bool, Int64, Opt, Str, ageColumn, col, defineKind, kindObject } from "./common.ts";

export const LocalVolumeConvertSpec = Type.Object({
  volumeName: Opt(Str()),
  replicaNumber: Opt(Int64({ minimum: 2, maximum: 3, description: "2 or 3 (the original: 2)" })),
  abort: Opt(Bool()),
});
export type LocalVolumeConvertSpec = Static<typeof LocalVolumeConvertSpec>;

export const LocalVolumeConvertStatus = Type.Object({
  state: Opt(Str()),
  message: Opt(Str()),
});
export type LocalVolumeConvertStatus = Static<typeof LocalVolumeConvertStatus>;

export const LocalVolumeConvertSchema = kindObject(LocalVolumeConvertSpec, LocalVolumeConvertStatus, "LocalVolumeConvert converts a volume to HA");
export type LocalVolumeConvert = Static<typeof LocalVolumeConvertSchema>;

export const localVolumeConvertKind = defineKind(Kinds.LocalVolumeConvert, LocalVolumeConvertSchema, [
  col("volume", "string", ".spec.volumeName"),
  col("replicas", "integer", ".spec.replicaNumber"),
  col("state", "string", ".status.state"),
  col("message", "string", ".status.message"),
  col("abort", "boolean", ".spec.abort"),
  ageColumn(),
]);
