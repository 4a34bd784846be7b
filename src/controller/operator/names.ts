// Wire names of the operator's install behaviour (§1.18, §2.4) that src/api/names.ts does not have yet.
// They belong there (STYLE.md: one file for wire names); kept here until the owner of src/api moves them.

import type { PoolClass } from "../../api/names.ts";
import type { ResourceDescriptor } from "../../kube/types.ts";

/** The Cluster resource a dev cluster creates (the operator's sample is named the same). */
export const DEFAULT_CLUSTER_NAME = "cluster-sample";

/** StorageClass name prefixes (§2.4): `hwameistor-storage-lvm-<lower(class)>`, `hwameistor-storage-disk-<lower(class)>`. */
export const LVM_SC_PREFIX = "hwameistor-storage-lvm-";
export const DISK_SC_PREFIX = "hwameistor-storage-disk-";
export const lvmStorageClassName = (cls: PoolClass | string): string => `${LVM_SC_PREFIX}${cls.toLowerCase()}`;
export const diskStorageClassName = (cls: PoolClass | string): string => `${DISK_SC_PREFIX}${cls.toLowerCase()}`;

/** LocalDiskClaim the operator creates per node and disk type: `<node>-<lower(type)>-claim`. */
export const operatorClaimName = (node: string, type: string): string => `${node}-${type.toLowerCase()}-claim`;

/** StorageClass defaults of the helm chart and the operator (§2.4). */
export const ScDefaults = {
  VolumeBindingMode: "WaitForFirstConsumer",
  ReclaimPolicy: "Retain",
  AllowVolumeExpansion: true,
  FsType: "xfs",
  ReplicaNumber: "1",
  Convertible: "false",
  Striped: "true",
} as const;

/** componentStatus health values: the original's `Normal`, and ours for the other case (approximation). */
export const ComponentHealth = { Normal: "Normal", Abnormal: "Abnormal" } as const;

export const STORAGE_CLASS: ResourceDescriptor = { group: "storage.k8s.io", version: "v1", plural: "storageclasses", kind: "StorageClass", namespaced: false };

export interface StorageClass {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string>; creationTimestamp?: string };
  provisioner: string;
  parameters?: Record<string, string>;
  reclaimPolicy?: string;
  allowVolumeExpansion?: boolean;
  volumeBindingMode?: string;
}
