// ResizePolicy (no short name, §1.16, §11): when and how far the pvc-autoresizer grows PVCs.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { EmptyStatus, Int, LabelSelector, Opt, defineKind, kindObject } from "./common.ts";

// Go int8 percentages: controller-gen emits plain `type: integer`; we add the int8 range.
const Percent = (description: string) => Int({ minimum: -128, maximum: 127, description });

export const ResizePolicySpec = Type.Object({
  warningThreshold: Percent("Usage percent at which the new size is computed"),
  resizeThreshold: Percent("Usage percent that triggers a resize"),
  nodePoolUsageLimit: Percent("Pool usage percent above which no resize happens"),
  storageClassSelector: Opt(LabelSelector),
  namespaceSelector: Opt(LabelSelector),
  pvcSelector: Opt(LabelSelector),
});
export type ResizePolicySpec = Static<typeof ResizePolicySpec>;

export const ResizePolicyStatus = EmptyStatus;
export type ResizePolicyStatus = Static<typeof ResizePolicyStatus>;

export const ResizePolicySchema = kindObject(ResizePolicySpec, ResizePolicyStatus, "ResizePolicy drives automatic PVC expansion");
export type ResizePolicy = Static<typeof ResizePolicySchema>;

export const resizePolicyKind = defineKind(Kinds.ResizePolicy, ResizePolicySchema, []);
