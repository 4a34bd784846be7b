// The Kubernetes built-in object shapes (core/v1, apps/v1, storage.k8s.io/v1) that our code reads and writes:
// Node, Pod, PersistentVolumeClaim, PersistentVolume, VolumeAttachment, StatefulSet. Plain structural
// interfaces with the upstream field names (the embedded API server stores these kinds as given, without a
// schema); only the fields some part reads or writes are listed, everything else passes through untouched.
// One definition for every part (scheduler, kubelet role, controllers, CSI): import from here.

import type { ObjectMeta } from "./kinds/common.ts";

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

// ---------------------------------------------------------------- scheduling shapes

export interface Taint {
  key: string;
  value?: string;
  /** NoSchedule | PreferNoSchedule | NoExecute */
  effect: string;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  /** Exists | Equal (default Equal) */
  operator?: string;
  value?: string;
  /** empty = every effect */
  effect?: string;
  tolerationSeconds?: number;
}

export interface NodeSelectorRequirement {
  key: string;
  /** In | NotIn | Exists | DoesNotExist | Gt | Lt */
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface NodeSelector {
  nodeSelectorTerms: NodeSelectorTerm[];
}

export interface NodeAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector;
  preferredDuringSchedulingIgnoredDuringExecution?: Array<{ weight: number; preference: NodeSelectorTerm }>;
}

export interface Affinity {
  nodeAffinity?: NodeAffinity;
  /** Carried (copied into PVC annotations by the HwameiStor filter); not evaluated by the embedded scheduler. */
  podAffinity?: unknown;
  podAntiAffinity?: unknown;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown" | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
  lastHeartbeatTime?: string;
}

// ---------------------------------------------------------------- Node

export interface CoreNode extends Obj {
  spec?: { unschedulable?: boolean; taints?: Taint[]; podCIDR?: string };
  status?: {
    conditions?: Condition[];
    addresses?: Array<{ type: string; address: string }>;
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
  };
}

// ---------------------------------------------------------------- Pod

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string };
    [other: string]: unknown;
  };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface VolumeDevice {
  name: string;
  devicePath: string;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  volumeMounts?: VolumeMount[];
  volumeDevices?: VolumeDevice[];
  securityContext?: SecurityContext;
  readinessProbe?: Probe;
  [other: string]: unknown;
}

/** A container probe (only `exec` is run by the kubelet role here). */
export interface Probe {
  exec?: { command?: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  [other: string]: unknown;
}

export interface PodVolume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  emptyDir?: Record<string, unknown>;
  hostPath?: { path: string; type?: string };
  [other: string]: unknown;
}

export interface PodSpec {
  nodeName?: string;
  schedulerName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  containers: Container[];
  initContainers?: Container[];
  volumes?: PodVolume[];
  /** Always (default) | OnFailure | Never */
  restartPolicy?: string;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostname?: string;
  subdomain?: string;
  securityContext?: { runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  [other: string]: unknown;
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode: number; signal?: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string; containerID?: string };
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: ContainerState;
}

export interface PodStatus {
  /** Pending | Running | Succeeded | Failed | Unknown */
  phase?: string;
  conditions?: Condition[];
  containerStatuses?: ContainerStatus[];
  hostIP?: string;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  startTime?: string;
  reason?: string;
  message?: string;
  nominatedNodeName?: string;
}

export interface Pod extends Obj {
  spec?: PodSpec;
  status?: PodStatus;
}

// ---------------------------------------------------------------- volumes

export interface TypedObjectReference {
  apiGroup?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface PersistentVolumeClaimSpec {
  accessModes?: string[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  storageClassName?: string | null;
  volumeName?: string;
  /** Filesystem (default) | Block */
  volumeMode?: string;
  selector?: unknown;
  dataSource?: TypedObjectReference;
  dataSourceRef?: TypedObjectReference;
}

export interface Pvc extends Obj {
  spec?: PersistentVolumeClaimSpec;
  status?: {
    /** Pending | Bound | Lost */
    phase?: string;
    accessModes?: string[];
    capacity?: Record<string, string>;
    allocatedResources?: Record<string, string>;
    conditions?: Condition[];
  };
}

export interface CsiPersistentVolumeSource {
  driver: string;
  volumeHandle: string;
  readOnly?: boolean;
  fsType?: string;
  volumeAttributes?: Record<string, string>;
  nodeStageSecretRef?: { name: string; namespace: string };
  nodePublishSecretRef?: { name: string; namespace: string };
  nodeExpandSecretRef?: { name: string; namespace: string };
}

export interface Pv extends Obj {
  spec?: {
    capacity?: Record<string, string>;
    accessModes?: string[];
    csi?: CsiPersistentVolumeSource;
    hostPath?: { path: string };
    local?: { path: string };
    claimRef?: { apiVersion?: string; kind?: string; namespace?: string; name?: string; uid?: string; resourceVersion?: string };
    /** Delete | Retain */
    persistentVolumeReclaimPolicy?: string;
    storageClassName?: string;
    mountOptions?: string[];
    volumeMode?: string;
    nodeAffinity?: { required?: NodeSelector };
  };
  status?: { phase?: string; reason?: string; message?: string };
}

export interface VolumeAttachment extends Obj {
  spec?: { attacher: string; nodeName: string; source: { persistentVolumeName?: string; inlineVolumeSpec?: unknown } };
  status?: {
    attached: boolean;
    attachmentMetadata?: Record<string, string>;
    attachError?: { message?: string; time?: string };
    detachError?: { message?: string; time?: string };
  };
}

// ---------------------------------------------------------------- apps/v1

export interface PodTemplate {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

export interface StatefulSet extends Obj {
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    serviceName?: string;
    template?: PodTemplate;
    volumeClaimTemplates?: Array<{ metadata?: ObjectMeta; spec?: PersistentVolumeClaimSpec }>;
    /** OrderedReady (default) | Parallel */
    podManagementPolicy?: string;
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
    persistentVolumeClaimRetentionPolicy?: { whenDeleted?: string; whenScaled?: string };
    minReadySeconds?: number;
    ordinals?: { start?: number };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    currentReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    collisionCount?: number;
  };
}

/** storage.k8s.io/v1 StorageClass fields read by the scheduler and binder. */
export interface StorageClassShape extends Obj {
  provisioner: string;
  parameters?: Record<string, string>;
  reclaimPolicy?: string;
  allowVolumeExpansion?: boolean;
  /** Immediate (default) | WaitForFirstConsumer */
  volumeBindingMode?: string;
  allowedTopologies?: Array<{ matchLabelExpressions?: Array<{ key: string; values: string[] }> }>;
}
