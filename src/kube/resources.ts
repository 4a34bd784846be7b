// Descriptors of the built-in Kubernetes resources the runtime itself uses (our own kinds come from
// src/api/kinds as KindDefinitions, which satisfy ResourceDescriptor structurally).

import type { ResourceDescriptor } from "./types.ts";

export const LEASE: ResourceDescriptor = { group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true };
export const NODE: ResourceDescriptor = { group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false };
export const EVENT: ResourceDescriptor = { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true };
export const CONFIG_MAP: ResourceDescriptor = { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true };
export const STORAGE_CLASS: ResourceDescriptor = { group: "storage.k8s.io", version: "v1", plural: "storageclasses", kind: "StorageClass", namespaced: false };
export const NAMESPACE: ResourceDescriptor = { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false };

/** Namespace of kubelet-style node heartbeat Leases. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** Lease `spec` (coordination.k8s.io/v1). Times are MicroTime strings. */
export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

/** RFC 3339 with microseconds, as metav1.MicroTime serialises ("2026-01-02T03:04:05.123000Z"). */
export function microTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** RFC 3339 in whole seconds, as metav1.Time serialises. */
export function metaTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The storage.k8s.io/v1 StorageClass fields we read and write. */
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

// Built-in kinds of the Kubernetes storage roles (src/kcm, src/sidecars) and the pod roles. Shapes: src/api/core.ts.
export const PVC: ResourceDescriptor = { group: "", version: "v1", plural: "persistentvolumeclaims", kind: "PersistentVolumeClaim", namespaced: true };
export const PV: ResourceDescriptor = { group: "", version: "v1", plural: "persistentvolumes", kind: "PersistentVolume", namespaced: false };
export const POD: ResourceDescriptor = { group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true };
export const VOLUME_ATTACHMENT: ResourceDescriptor = {
  group: "storage.k8s.io",
  version: "v1",
  plural: "volumeattachments",
  kind: "VolumeAttachment",
  namespaced: false,
};
export const CSI_NODE: ResourceDescriptor = { group: "storage.k8s.io", version: "v1", plural: "csinodes", kind: "CSINode", namespaced: false };
export const CSI_DRIVER: ResourceDescriptor = { group: "storage.k8s.io", version: "v1", plural: "csidrivers", kind: "CSIDriver", namespaced: false };
export const STATEFUL_SET: ResourceDescriptor = { group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet", namespaced: true };
export const VOLUME_SNAPSHOT: ResourceDescriptor = {
  group: "snapshot.storage.k8s.io",
  version: "v1",
  plural: "volumesnapshots",
  kind: "VolumeSnapshot",
  namespaced: true,
};
export const VOLUME_SNAPSHOT_CONTENT: ResourceDescriptor = {
  group: "snapshot.storage.k8s.io",
  version: "v1",
  plural: "volumesnapshotcontents",
  kind: "VolumeSnapshotContent",
  namespaced: false,
};
export const VOLUME_SNAPSHOT_CLASS: ResourceDescriptor = {
  group: "snapshot.storage.k8s.io",
  version: "v1",
  plural: "volumesnapshotclasses",
  kind: "VolumeSnapshotClass",
  namespaced: false,
};
export const SECRET: ResourceDescriptor = { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true };
export const MUTATING_WEBHOOK_CONFIGURATION: ResourceDescriptor = {
  group: "admissionregistration.k8s.io",
  version: "v1",
  plural: "mutatingwebhookconfigurations",
  kind: "MutatingWebhookConfiguration",
  namespaced: false,
};
