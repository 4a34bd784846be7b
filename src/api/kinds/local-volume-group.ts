// LocalVolumeGroup (`lvg`, §1.10): the volumes of one pod that share placement; name = random UUID.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { AccessibilityTopology, EmptyStatus, Opt, Str, StrList, ageColumn, col, defineKind, kindObject } from "./common.ts";

export const VolumeInfo = Type.Object({
  localvolume: Opt(Str()),
  pvc: Opt(Str()),
});

export const LocalVolumeGroupSpec = Type.Object({
  volumes: Opt(Type.Array(VolumeInfo)),
  accessibility: Opt(AccessibilityTopology),
  pods: Opt(StrList()),
  namespace: Opt(Str()),
});
export type LocalVolumeGroupSpec = Static<typeof LocalVolumeGroupSpec>;

export const LocalVolumeGroupStatus = EmptyStatus;
export type LocalVolumeGroupStatus = Static<typeof LocalVolumeGroupStatus>;

export const LocalVolumeGroupSchema = kindObject(LocalVolumeGroupSpec, LocalVolumeGroupStatus, "LocalVolumeGroup groups the volumes of a pod");
export type LocalVolumeGroup = Static<typeof LocalVolumeGroupSchema>;

export const localVolumeGroupKind = defineKind(Kinds.LocalVolumeGroup, LocalVolumeGroupSchema, [
  col("pod", "string", ".spec.pods"),
  col("namespace", "string", ".spec.namespace"),
  ageColumn(),
]);
