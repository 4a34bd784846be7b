// Built-in resource types of the embedded API server: the kinds of src/kube/resources.ts (group, version, kind,
// plural, scope: one table for clients and server) with what only the server needs. They are stored as given (no schema validation,
// only metadata sanity checks). Short names, scopes, status subresources and selectable fields follow
// kube-apiserver 1.32 and the external-snapshotter CRDs. Columns that kube-apiserver computes in Go (Node
// STATUS/ROLES, Pod READY, PV CLAIM "ns/name", counts) are filled by builtin-table.ts for server-side
// Tables; their JSONPath here is the closest plain field, for clients that render columns themselves.

import {
  CONFIG_MAP,
  CRD,
  CSI_DRIVER,
  CSI_NODE,
  EVENT,
  LEASE,
  MUTATING_WEBHOOK_CONFIGURATION,
  NAMESPACE,
  NODE,
  POD,
  POD_DISRUPTION_BUDGET,
  PV,
  PVC,
  SECRET,
  STATEFUL_SET,
  STORAGE_CLASS,
  VOLUME_ATTACHMENT,
  VOLUME_SNAPSHOT,
  VOLUME_SNAPSHOT_CLASS,
  VOLUME_SNAPSHOT_CONTENT,
} from "../kube/resources.ts";
import type { ResourceDescriptor } from "../kube/types.ts";
import type { PrinterColumn, ResourceType } from "./resource-type.ts";

const age: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };
const col = (name: string, jsonPath: string, type = "string", priority = 0): PrinterColumn => ({ name, type, jsonPath, priority });

/** A subresource other than status (served by handlers/subresources.ts). */
export interface ExtraSubresource {
  name: string;
  group: string;
  version: string;
  kind: string;
  verbs: string[];
}

interface Def extends ResourceDescriptor {
  shortNames?: string[];
  categories?: string[];
  hasStatus?: boolean;
  columns?: PrinterColumn[];
  selectableFields?: string[];
}

const defs: Def[] = [
  {
    ...NAMESPACE,
    shortNames: ["ns"],
    hasStatus: true,
    columns: [col("Status", ".status.phase"), age],
    selectableFields: ["status.phase"],
  },
  {
    ...NODE,
    shortNames: ["no"],
    hasStatus: true,
    columns: [
      col("Status", '.status.conditions[?(@.type=="Ready")].status'), // computed in builtin-table.ts (Ready/NotReady)
      col("Roles", ".metadata.labels['kubernetes.io/role']"), // computed from node-role.kubernetes.io/* labels
      age,
      col("Version", ".status.nodeInfo.kubeletVersion"),
      col("Internal-IP", '.status.addresses[?(@.type=="InternalIP")].address', "string", 1),
      col("OS-Image", ".status.nodeInfo.osImage", "string", 1),
      col("Kernel-Version", ".status.nodeInfo.kernelVersion", "string", 1),
    ],
    selectableFields: ["spec.unschedulable"],
  },
  {
    ...POD,
    shortNames: ["po"],
    categories: ["all"],
    hasStatus: true,
    columns: [
      col("Ready", ".status.containerStatuses[*].ready"), // computed: "1/1"
      col("Status", ".status.phase"), // computed: reason, waiting reason, Terminating or phase
      col("Restarts", ".status.containerStatuses[0].restartCount", "integer"),
      age,
      col("IP", ".status.podIP", "string", 1),
      col("Node", ".spec.nodeName", "string", 1),
    ],
    selectableFields: [
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.nominatedNodeName",
    ],
  },
  {
    ...PVC,
    shortNames: ["pvc"],
    hasStatus: true,
    columns: [
      col("Status", ".status.phase"),
      col("Volume", ".spec.volumeName"),
      col("Capacity", ".status.capacity.storage"),
      col("Access Modes", ".status.accessModes"),
      col("StorageClass", ".spec.storageClassName"),
      age,
      col("VolumeMode", ".spec.volumeMode", "string", 1),
    ],
  },
  {
    ...PV,
    shortNames: ["pv"],
    hasStatus: true,
    columns: [
      col("Capacity", ".spec.capacity.storage"),
      col("Access Modes", ".spec.accessModes"),
      col("Reclaim Policy", ".spec.persistentVolumeReclaimPolicy"),
      col("Status", ".status.phase"),
      col("Claim", ".spec.claimRef.name"), // computed: "namespace/name"
      col("StorageClass", ".spec.storageClassName"),
      col("Reason", ".status.reason"),
      age,
      col("VolumeMode", ".spec.volumeMode", "string", 1),
    ],
  },
  {
    ...EVENT,
    shortNames: ["ev"],
    columns: [
      col("Last Seen", ".lastTimestamp", "date"),
      col("Type", ".type"),
      col("Reason", ".reason"),
      col("Object", ".involvedObject.name"), // computed: "kind/name"
      col("Message", ".message"),
      col("Source", ".source.component", "string", 1),
      col("First Seen", ".firstTimestamp", "date", 1),
      col("Count", ".count", "integer", 1),
    ],
    selectableFields: [
      "involvedObject.kind",
      "involvedObject.namespace",
      "involvedObject.name",
      "involvedObject.uid",
      "involvedObject.apiVersion",
      "involvedObject.resourceVersion",
      "involvedObject.fieldPath",
      "reason",
      "reportingComponent",
      "source",
      "type",
    ],
  },
  { ...CONFIG_MAP, shortNames: ["cm"], columns: [col("Data", ".data", "integer"), age] }, // Data computed: count
  {
    ...SECRET,
    columns: [col("Type", ".type"), col("Data", ".data", "integer"), age],
    selectableFields: ["type"],
  },
  {
    ...STORAGE_CLASS,
    shortNames: ["sc"],
    columns: [
      col("Provisioner", ".provisioner"),
      col("ReclaimPolicy", ".reclaimPolicy"),
      col("VolumeBindingMode", ".volumeBindingMode"),
      col("AllowVolumeExpansion", ".allowVolumeExpansion", "boolean"),
      age,
    ],
  },
  {
    ...VOLUME_ATTACHMENT,
    hasStatus: true,
    columns: [
      col("Attacher", ".spec.attacher"),
      col("PV", ".spec.source.persistentVolumeName"),
      col("Node", ".spec.nodeName"),
      col("Attached", ".status.attached", "boolean"),
      age,
    ],
  },
  {
    ...CSI_DRIVER,
    columns: [
      col("AttachRequired", ".spec.attachRequired", "boolean"),
      col("PodInfoOnMount", ".spec.podInfoOnMount", "boolean"),
      col("StorageCapacity", ".spec.storageCapacity", "boolean"),
      col("TokenRequests", ".spec.tokenRequests[*].audience"),
      col("RequiresRepublish", ".spec.requiresRepublish", "boolean"),
      col("Modes", ".spec.volumeLifecycleModes"),
      age,
    ],
  },
  {
    ...CSI_NODE,
    columns: [col("Drivers", ".spec.drivers", "integer"), age],
  }, // Drivers computed: count
  // stored only (no admission is called): the webhook keeps its caBundle here, as in a cluster
  {
    ...MUTATING_WEBHOOK_CONFIGURATION,
    columns: [col("Webhooks", ".webhooks", "integer"), age],
  }, // Webhooks computed: count
  {
    ...STATEFUL_SET,
    shortNames: ["sts"],
    categories: ["all"],
    hasStatus: true,
    columns: [
      col("Ready", ".status.readyReplicas"), // computed: "ready/replicas"
      age,
      col("Containers", ".spec.template.spec.containers[*].name", "string", 1),
      col("Images", ".spec.template.spec.containers[*].image", "string", 1),
    ],
  },
  {
    ...POD_DISRUPTION_BUDGET,
    shortNames: ["pdb"],
    hasStatus: true,
    columns: [
      col("Min Available", ".spec.minAvailable"),
      col("Max Unavailable", ".spec.maxUnavailable"),
      col("Allowed Disruptions", ".status.disruptionsAllowed", "integer"),
      age,
    ],
  },
  {
    ...LEASE,
    columns: [col("Holder", ".spec.holderIdentity"), age],
  },
  {
    ...VOLUME_SNAPSHOT,
    shortNames: ["vs"],
    hasStatus: true,
    columns: [
      col("ReadyToUse", ".status.readyToUse", "boolean"),
      col("SourcePVC", ".spec.source.persistentVolumeClaimName"),
      col("SourceSnapshotContent", ".spec.source.volumeSnapshotContentName"),
      col("RestoreSize", ".status.restoreSize"),
      col("SnapshotClass", ".spec.volumeSnapshotClassName"),
      col("SnapshotContent", ".status.boundVolumeSnapshotContentName"),
      col("CreationTime", ".status.creationTime", "date"),
      age,
    ],
  },
  {
    ...VOLUME_SNAPSHOT_CLASS,
    shortNames: ["vsclass", "vsclasses"],
    columns: [col("Driver", ".driver"), col("DeletionPolicy", ".deletionPolicy"), age],
  },
  {
    ...VOLUME_SNAPSHOT_CONTENT,
    shortNames: ["vsc", "vscs"],
    hasStatus: true,
    columns: [
      col("ReadyToUse", ".status.readyToUse", "boolean"),
      col("RestoreSize", ".status.restoreSize", "integer"),
      col("DeletionPolicy", ".spec.deletionPolicy"),
      col("Driver", ".spec.driver"),
      col("VolumeSnapshotClass", ".spec.volumeSnapshotClassName"),
      col("VolumeSnapshot", ".spec.volumeSnapshotRef.name"),
      col("VolumeSnapshotNamespace", ".spec.volumeSnapshotRef.namespace"),
      age,
    ],
  },
  {
    ...CRD,
    shortNames: ["crd", "crds"],
    hasStatus: true,
    columns: [{ name: "Created At", type: "string", format: "date-time", jsonPath: ".metadata.creationTimestamp" }], // kube prints the timestamp itself
  },
];

export const builtinResourceTypes: readonly ResourceType[] = defs.map((d) => ({
  group: d.group,
  version: d.version,
  kind: d.kind,
  listKind: `${d.kind}List`,
  plural: d.plural,
  singular: d.kind.toLowerCase(),
  shortNames: d.shortNames ?? [],
  categories: d.categories ?? [],
  namespaced: d.namespaced,
  hasStatus: d.hasStatus ?? false,
  printerColumns: d.columns ?? [age],
  selectableFields: d.selectableFields ?? [],
  builtin: true,
}));

/** Subresources (besides status) of a built-in kind, for discovery. */
export const extraSubresources: Record<string, ExtraSubresource[]> = {
  "/v1/pods": [
    { name: "binding", group: "", version: "v1", kind: "Binding", verbs: ["create"] },
    { name: "log", group: "", version: "v1", kind: "Pod", verbs: ["get"] },
    { name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] },
  ],
  "apps/v1/statefulsets": [{ name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] }],
};

export function subresourcesOf(rt: Pick<ResourceType, "group" | "version" | "plural" | "builtin">): readonly ExtraSubresource[] {
  if (!rt.builtin) return [];
  return extraSubresources[`${rt.group}/${rt.version}/${rt.plural}`] ?? [];
}

/** Kinds whose client-supplied status survives create (kubelet registers a Node with its status). */
export const keepsStatusOnCreate = new Set(["Node"]);

/** Status a built-in kind starts with when its create drops the client's status (kube's PrepareForCreate). */
export function initialStatusOf(kind: string): any | undefined {
  switch (kind) {
    case "Namespace":
      return { phase: "Active" };
    case "PersistentVolumeClaim":
    case "PersistentVolume":
      return { phase: "Pending" };
    case "Pod":
      return { phase: "Pending" };
    default:
      return undefined;
  }
}

/** Defaults kube-apiserver applies to a built-in kind on every write (the few our clients rely on). */
export function applyBuiltinDefaults(kind: string, obj: any): void {
  if (kind === "Secret" && !obj.type) obj.type = "Opaque";
}

/** Namespaces created at first start. */
export const defaultNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease", "hwameistor"];

export const CRD_GROUP = CRD.group;
export const CRD_PLURAL = CRD.plural;
