// Descriptors of the built-in Kubernetes resources the runtime itself uses (our own kinds come from
// src/api/kinds as KindDefinitions, which satisfy ResourceDescriptor structurally).

import type { ResourceDescriptor } from "./types.ts";

/** A built-in resource (every one used here is served at v1). */
const builtin = (group: string, kind: string, plural: string, scope: "Namespaced" | "Cluster"): ResourceDescriptor => ({
  group,
  version: "v1",
  plural,
  kind,
  namespaced: scope === "Namespaced",
});

// The one table of built-in kinds: clients use these descriptors, and the embedded API server serves exactly
// these (src/apiserver/builtins.ts adds short names, columns and selectable fields). Shapes: src/api/core.ts.
export const NAMESPACE = builtin("", "Namespace", "namespaces", "Cluster");
export const NODE = builtin("", "Node", "nodes", "Cluster");
export const POD = builtin("", "Pod", "pods", "Namespaced");
export const PVC = builtin("", "PersistentVolumeClaim", "persistentvolumeclaims", "Namespaced");
export const PV = builtin("", "PersistentVolume", "persistentvolumes", "Cluster");
export const EVENT = builtin("", "Event", "events", "Namespaced");
export const CONFIG_MAP = builtin("", "ConfigMap", "configmaps", "Namespaced");
export const SECRET = builtin("", "Secret", "secrets", "Namespaced");
export const STORAGE_CLASS = builtin("storage.k8s.io", "StorageClass", "storageclasses", "Cluster");
export const VOLUME_ATTACHMENT = builtin("storage.k8s.io", "VolumeAttachment", "volumeattachments", "Cluster");
export const CSI_DRIVER = builtin("storage.k8s.io", "CSIDriver", "csidrivers", "Cluster");
export const CSI_NODE = builtin("storage.k8s.io", "CSINode", "csinodes", "Cluster");
export const MUTATING_WEBHOOK_CONFIGURATION = builtin(
  "admissionregistration.k8s.io",
  "MutatingWebhookConfiguration",
  "mutatingwebhookconfigurations",
  "Cluster",
);
export const STATEFUL_SET = builtin("apps", "StatefulSet", "statefulsets", "Namespaced");
export const POD_DISRUPTION_BUDGET = builtin("policy", "PodDisruptionBudget", "poddisruptionbudgets", "Namespaced");
export const LEASE = builtin("coordination.k8s.io", "Lease", "leases", "Namespaced");
export const VOLUME_SNAPSHOT = builtin("snapshot.storage.k8s.io", "VolumeSnapshot", "volumesnapshots", "Namespaced");
export const VOLUME_SNAPSHOT_CLASS = builtin("snapshot.storage.k8s.io", "VolumeSnapshotClass", "volumesnapshotclasses", "Cluster");
export const VOLUME_SNAPSHOT_CONTENT = builtin("snapshot.storage.k8s.io", "VolumeSnapshotContent", "volumesnapshotcontents", "Cluster");
export const CRD = builtin("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", "Cluster");

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
