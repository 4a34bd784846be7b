// LocalVolumeExpand (`lvexpand`, §1.13, §5.6): grow a volume; created by CSI ControllerExpand, name = volume.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { Bool, Int64, MIN_VOLUME_BYTES, Opt, Str, StrList, ageColumn, col, defineKind, kindObject, ErrorStatus } from "./common.ts";

export const LocalVolumeExpandSpec = Type.Object({
  volumeName: Opt(Str()),
  requiredCapacityBytes: Opt(Int64({ minimum: MIN_VOLUME_BYTES })),
  abort: Opt(Bool()),
});
export type LocalVolumeExpandSpec = Static<typeof LocalVolumeExpandSpec>;

export const LocalVolumeExpandStatus = Type.Object({
  allocatedCapacityBytes: Opt(Int64()),
  subs: Opt(StrList()),
  state: Opt(Str()),
  message: Opt(Str()),
  error: Opt(ErrorStatus),
});
export type LocalVolumeExpandStatus = Static<typeof LocalVolumeExpandStatus>;

export const LocalVolumeExpandSchema = kindObject(LocalVolumeExpandSpec, LocalVolumeExpandStatus, "LocalVolumeExpand grows a volume");
export type LocalVolumeExpand = Static<typeof LocalVolumeExpandSchema>;

export const localVolumeExpandKind = defineKind(Kinds.LocalVolumeExpand, LocalVolumeExpandSchema, [
  col("newCapacity", "integer", ".spec.requiredCapacityBytes"),
  col("abort", "boolean", ".spec.abort"),
  col("state", "string", ".status.state"),
  col("subs", "string", ".status.subs"),
  col("message", "string", ".status.message"),
  ageColumn(),
]);
