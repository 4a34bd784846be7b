// Every wire name of the original system (fact sheet §1–§6, §10) as a constant: API group and kinds,
// finalizers, labels, annotations, topology keys, driver names, StorageClass parameters, pool names, lease
// names, owners and state enums. Other code imports these and never writes the strings itself, so a user's
// existing YAML and cluster state keep working unchanged.

// ---------------------------------------------------------------- group, version, kinds

export const GROUP = "hwameistor.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}` as const;

/**
 * A string enum whose keys are its values (`{ Ready: "Ready", … }`), declared once as the list of its values
 * (which CRD schemas take as their `enum`); an enum whose wire value differs from its name spells that entry out.
 */
/** The union of an enum object's values. */
export type ValueOf<T> = T[keyof T];

const enumOf = <const T extends readonly string[]>(values: T) => Object.fromEntries(values.map((v) => [v, v])) as { readonly [K in T[number]]: K };

export const Kinds = enumOf([
  "LocalDisk",
  "LocalDiskNode",
  "LocalDiskClaim",
  "LocalDiskVolume",
  "LocalDiskAction",
  "LocalStorageNode",
  "LocalVolume",
  "LocalVolumeReplica",
  "LocalVolumeGroup",
  "LocalVolumeMigrate",
  "LocalVolumeConvert",
  "LocalVolumeExpand",
  "LocalVolumeSnapshot",
  "LocalVolumeReplicaSnapshot",
  "LocalVolumeSnapshotRestore",
  "LocalVolumeReplicaSnapshotRestore",
  "ThinPoolClaim",
  "ResizePolicy",
  "Event",
  "Cluster",
]);
export type Kind = ValueOf<typeof Kinds>;

export interface KindNames {
  kind: Kind;
  plural: string;
  singular: string;
  listKind: string;
  shortNames: string[];
}

const names = (kind: Kind, plural: string, shortNames: string[]): KindNames => ({
  kind,
  plural,
  singular: kind.toLowerCase(),
  listKind: `${kind}List`,
  shortNames,
});

/** Plural, singular, list kind and short names of every kind (§1.1). */
export const KindNamesTable: Record<Kind, KindNames> = {
  LocalDisk: names("LocalDisk", "localdisks", ["ld"]),
  LocalDiskNode: names("LocalDiskNode", "localdisknodes", ["ldn"]),
  LocalDiskClaim: names("LocalDiskClaim", "localdiskclaims", ["ldc"]),
  LocalDiskVolume: names("LocalDiskVolume", "localdiskvolumes", ["ldv"]),
  LocalDiskAction: names("LocalDiskAction", "localdiskactions", ["lda"]),
  LocalStorageNode: names("LocalStorageNode", "localstoragenodes", ["lsn"]),
  LocalVolume: names("LocalVolume", "localvolumes", ["lv"]),
  LocalVolumeReplica: names("LocalVolumeReplica", "localvolumereplicas", ["lvr"]),
  LocalVolumeGroup: names("LocalVolumeGroup", "localvolumegroups", ["lvg"]),
  LocalVolumeMigrate: names("LocalVolumeMigrate", "localvolumemigrates", ["lvmigrate"]),
  LocalVolumeConvert: names("LocalVolumeConvert", "localvolumeconverts", ["lvconvert"]),
  LocalVolumeExpand: names("LocalVolumeExpand", "localvolumeexpands", ["lvexpand"]),
  LocalVolumeSnapshot: names("LocalVolumeSnapshot", "localvolumesnapshots", ["lvs"]),
  LocalVolumeReplicaSnapshot: names("LocalVolumeReplicaSnapshot", "localvolumereplicasnapshots", ["lvrs"]),
  LocalVolumeSnapshotRestore: names("LocalVolumeSnapshotRestore", "localvolumesnapshotrestores", ["lvsrestore", "lvsnaprestore"]),
  LocalVolumeReplicaSnapshotRestore: names("LocalVolumeReplicaSnapshotRestore", "localvolumereplicasnapshotrestores", ["lvrsrestore", "lvrsnaprestore"]),
  ThinPoolClaim: names("ThinPoolClaim", "thinpoolclaims", ["tpc"]),
  ResizePolicy: names("ResizePolicy", "resizepolicies", []),
  Event: names("Event", "events", ["evt"]),
  Cluster: names("Cluster", "clusters", ["hmcluster"]),
};

/** `<plural>.hwameistor.io`, the CRD's metadata.name. */
export const crdName = (plural: string): string => `${plural}.${GROUP}`;

// ---------------------------------------------------------------- finalizers

export const Finalizers = {
  /** On LocalDiskVolume. */
  LocalDisk: "localdisk.hwameistor.io/finalizer",
  /** On LocalVolumeGroup. */
  LocalVolumeGroupProtection: "hwameistor.io/localvolumegroup-protection",
  /** On LocalVolumeSnapshotRestore created by CSI restore-from-snapshot. */
  RestoringProtection: "provisioner.hwameistor.io/restoring-protection",
  /** On LocalVolumeMigrate created by the evictor. */
  EvictionProtect: "hwameistor.io/eviction-protect",
  /** On the migrate data-copy Job. */
  SyncJobProtect: "hwameistor.io/sync-job-protect",
} as const;

// ---------------------------------------------------------------- labels

export const Labels = {
  /** Node or Pod label: `start` triggers the failover assistant, which sets `completed`. */
  Failover: "hwameistor.io/failover",
  /** Node label `disable` opts out of eviction; Pod label `start` requests eviction. */
  Eviction: "hwameistor.io/eviction",
  /** Namespace label `ignore` excludes the namespace from the admission webhook. */
  Webhook: "hwameistor.io/webhook",
  /** Node label `true|false`: whether the LVM node agent runs there. */
  LvmEnable: "lvm.hwameistor.io/enable",
  /** Label key/value on the migrate data-copy Job. */
  App: "app",
  /** Label on drbd-adapter Jobs. */
  DrbdVersion: "drbd-version",
} as const;

export const LabelValues = {
  FailoverStart: "start",
  FailoverCompleted: "completed",
  EvictionDisable: "disable",
  EvictionStart: "start",
  EvictionCompleted: "completed",
  WebhookIgnore: "ignore",
  DataSyncApp: "hwameistor-datasync",
} as const;

// ---------------------------------------------------------------- Kubernetes' own storage wire names
// Written and read by the Kubernetes roles (src/kcm: PV controller, protection, attach/detach; src/sidecars:
// external-provisioner/attacher/resizer/snapshotter), with the values upstream uses.

export const KubeAnnotations = {
  /** PVC: the PV controller finished binding. */
  BindCompleted: "pv.kubernetes.io/bind-completed",
  /** PVC / PV: the binding was made by the controller (not pre-bound by the user). */
  BoundByController: "pv.kubernetes.io/bound-by-controller",
  /** PV: which provisioner created it (the deleter only deletes its own). */
  ProvisionedBy: "pv.kubernetes.io/provisioned-by",
  /** PVC: the external provisioner expected to provision it (set by the PV controller). */
  StorageProvisioner: "volume.kubernetes.io/storage-provisioner",
  BetaStorageProvisioner: "volume.beta.kubernetes.io/storage-provisioner",
  /** PVC: the node the scheduler chose for a WaitForFirstConsumer claim. */
  SelectedNode: "volume.kubernetes.io/selected-node",
  /** PVC: the resizer expected to expand it. */
  StorageResizer: "volume.kubernetes.io/storage-resizer",
  /** StorageClass: the default class. */
  IsDefaultClass: "storageclass.kubernetes.io/is-default-class",
  /** VolumeSnapshotClass: the default class of its driver. */
  IsDefaultSnapshotClass: "snapshot.storage.kubernetes.io/is-default-class",
  /** VolumeSnapshot / VolumeSnapshotContent: the content was created by the snapshot controller. */
  SnapshotBeingCreated: "snapshot.storage.kubernetes.io/volumesnapshot-being-created",
  /** VolumeSnapshotContent: the snapshot was deleted; the sidecar may delete the content. */
  SnapshotBeingDeleted: "snapshot.storage.kubernetes.io/volumesnapshot-being-deleted",
  /** PV volumeAttributes key the external-provisioner adds. */
  ProvisionerIdentity: "storage.kubernetes.io/csiProvisionerIdentity",
} as const;

export const KubeFinalizers = {
  PvcProtection: "kubernetes.io/pvc-protection",
  PvProtection: "kubernetes.io/pv-protection",
  /** PV: the external provisioner must delete the volume before the PV goes (reclaim Delete). */
  ProvisionerDeletion: "external-provisioner.volume.kubernetes.io/finalizer",
  SnapshotAsSource: "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection",
  SnapshotBound: "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection",
  ContentBound: "snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection",
  PvcAsSnapshotSource: "snapshot.storage.kubernetes.io/pvc-as-source-protection",
} as const;

/** VolumeAttachment finalizer of the external-attacher for a driver: "external-attacher/lvm-hwameistor-io". */
export const attacherFinalizer = (driver: string): string => `external-attacher/${driver.replace(/[/.]/g, "-")}`;

/** Keys the external-provisioner adds to CreateVolume parameters (--extra-create-metadata) or strips from them. */
export const CsiParamKeys = {
  Prefix: "csi.storage.k8s.io/",
  FsType: "csi.storage.k8s.io/fstype",
  PvcName: "csi.storage.k8s.io/pvc/name",
  PvcNamespace: "csi.storage.k8s.io/pvc/namespace",
  PvName: "csi.storage.k8s.io/pv/name",
  SnapshotName: "csi.storage.k8s.io/volumesnapshot/name",
  SnapshotNamespace: "csi.storage.k8s.io/volumesnapshot/namespace",
  SnapshotContentName: "csi.storage.k8s.io/volumesnapshotcontent/name",
} as const;

// ---------------------------------------------------------------- annotations

export const Annotations = {
  /**
   * On LocalVolume, LocalDiskVolume, LocalVolumeSnapshot (additive): the CSI request name the object was
   * created for. A CSI name may be any string; the object's name is derived from it (src/csi/volume-name.ts)
   * and this annotation keeps the original, so a re-creation is recognised (idempotency) or refused
   * (ALREADY_EXISTS) by comparing names, not derived ids.
   */
  CsiName: "hwameistor.io/csi-name",
  /** On LocalVolume (additive): CSI DeleteVolume arrived while snapshots exist; deleted when they are gone. */
  DeleteDeferred: "hwameistor.io/delete-deferred",
  /**
   * On a replicated LocalVolume (additive): `<fsType>/<uuid>` of the filesystem the first primary created, so the
   * node of a later primary (failover, convert) mounts that filesystem instead of refusing it as foreign data.
   */
  ReplicatedFilesystem: "hwameistor.io/replicated-filesystem",
  /** On a core Node: the node's storage (replication) IPv4 address. */
  StorageIPv4: "localstorage.hwameistor.io/storage-ipv4",
  /** On LocalVolume: `migrateStarted` | `migrateCompleted`. */
  VolumeMigrateState: "hwameistor.io/volume-migrate-state",
  /** On LocalVolume (ours): set in the same update that adds a migration's temporary target replica, removed with it. */
  MigrateExtraReplica: "hwameistor.io/migrate-extra-replica",
  /**
   * On LocalVolumeMigrate (ours): `"true"` — the operator accepts a target whose disk read back differently from the
   * copy (condition TargetVerified=False): the source replica, kept until then, is deleted.
   */
  MigrateAcceptUnverified: "hwameistor.io/migrate-accept-unverified",
  /** On LocalVolume: presence marks a finished restore. */
  SnapshotRestoreCompleted: "hwameistor.io/snapshot-restore-completed",
  /** On LocalVolume: `"true"` enables the dataset (acceleration) feature. */
  AccelerationDataset: "hwameistor.io/acceleration-dataset",
  /** On LocalVolume / LocalVolumeMigrate: `need` | `forbid` (default need). */
  ReplicaAffinity: "hwameistor.io/replica-affinity",
  /** On PVCs: JSON of the pod's affinity / tolerations (scheduler filter). */
  AffinityAnnotations: "hwameistor.io/affinity-annotations",
  TolerationsAnnotations: "hwameistor.io/tolerations-annotations",
  /** On PVC: `"true"` skips the taint/affinity filter. */
  SkipAffinityAnnotations: "hwameistor.io/skip-affinity-annotations",
  /** On PVC: name of the attached ResizePolicy. */
  ResizePolicy: "hwameistor.io/resizepolicy",
  /** Volume-context key of a volume restored from a snapshot. */
  SourceSnapshot: "hwameistor.io/source-snapshot",
  /** Kubernetes' own: the node chosen for a WaitForFirstConsumer PVC. */
  SelectedNode: KubeAnnotations.SelectedNode,
  /** On hwameistor.io Event (ours): JSON of what the auditor last recorded about the resource (docs/auditor.md). */
  AuditObserved: "hwameistor.io/audit-observed",
  /** Kubernetes' own: default VolumeSnapshotClass marker. */
  IsDefaultSnapshotClass: KubeAnnotations.IsDefaultSnapshotClass,
} as const;

export const AnnotationValues = {
  MigrateStarted: "migrateStarted",
  MigrateCompleted: "migrateCompleted",
  ReplicaAffinityNeed: "need",
  ReplicaAffinityForbid: "forbid",
} as const;

// ---------------------------------------------------------------- CSI drivers, topology

export const Drivers = {
  Lvm: "lvm.hwameistor.io",
  Disk: "disk.hwameistor.io",
} as const;

export const DriverVendorVersions = {
  Lvm: "1.0",
  Disk: "v1alpha1",
} as const;

export const TopologyKeys = {
  LvmNode: "topology.lvm.hwameistor.io/node",
  DiskNode: "topology.disk.hwameistor.io/node",
} as const;

/** Default value of AccessibilityTopology zones/regions and LocalStorageNode `spec.topogoly`. */
export const DEFAULT_TOPOLOGY_VALUE = "default";

/** ControllerPublish publishContext keys (§3.1). */
export const PublishContextKeys = {
  VolumeReplicaDevicePath: "volumeReplicaDevicePath",
  VolumeReplicaName: "volumeReplicaName",
  VolumeEncryptSecret: "volumeEncryptSecret",
  VolumeEncryptType: "volumeEncryptType",
} as const;

// ---------------------------------------------------------------- StorageClass parameters (§2.1, §2.2)

export const ScParams = {
  PoolClass: "poolClass",
  ReplicaNumber: "replicaNumber",
  Convertible: "convertible",
  PvcName: CsiParamKeys.PvcName,
  PvcNamespace: CsiParamKeys.PvcNamespace,
  ProvisionIopsOnCreation: "provision-iops-on-creation",
  ProvisionThroughputOnCreation: "provision-throughput-on-creation",
  Thin: "thin",
  EncryptSecret: "encryptSecret",
  EncryptType: "encryptType",
  FsType: CsiParamKeys.FsType,
  /** Accepted but ignored by the original. */
  PoolType: "poolType",
  /** Accepted but ignored by the original. */
  VolumeKind: "volumeKind",
  /** Accepted but ignored by the original. */
  Striped: "striped",
  /** disk.hwameistor.io: HDD | SSD | NVMe, must equal LocalDisk diskAttributes.type. */
  DiskType: "diskType",
  /** disk.hwameistor.io: minimum bytes. */
  MinCap: "minCap",
  /** QUIRK of `hwameictl sc add`: it writes `fstype` instead of csi.storage.k8s.io/fstype. */
  HwameictlFsType: "fstype",
} as const;

/** VolumeSnapshotClass parameters. */
export const SnapshotClassParams = {
  /** Snapshot size in bytes (integer string). */
  SnapSize: "snapsize",
} as const;

export const ScParamValues = {
  PoolTypeRegular: "REGULAR",
  VolumeKindLvm: "LVM",
} as const;

// ---------------------------------------------------------------- pools (§2.3, §6)

export const POOL_CLASSES = ["HDD", "SSD", "NVMe"] as const;
export const PoolClasses = enumOf(POOL_CLASSES);
export type PoolClass = ValueOf<typeof PoolClasses>;

export const PoolTypes = { Regular: "REGULAR" } as const;

export const STORAGE_POOL_PREFIX = "LocalStorage_Pool";
export const DISK_POOL_PREFIX = "LocalDisk_Pool";

export const StoragePools = {
  HDD: "LocalStorage_PoolHDD",
  SSD: "LocalStorage_PoolSSD",
  NVMe: "LocalStorage_PoolNVMe",
} as const;
export const DiskPools = {
  HDD: "LocalDisk_PoolHDD",
  SSD: "LocalDisk_PoolSSD",
  NVMe: "LocalDisk_PoolNVMe",
} as const;
export const STORAGE_POOL_NAMES: readonly string[] = [StoragePools.HDD, StoragePools.SSD, StoragePools.NVMe];

/** LVM thin pool LV name inside a storage pool VG. */
export const THIN_POOL_LV_NAME = "LocalStorage_ThinPool";

/** `LocalStorage_Pool<class>`. */
export const storagePoolName = (cls: PoolClass): string => `${STORAGE_POOL_PREFIX}${cls}`;
/** `LocalDisk_Pool<class>`. */
export const diskPoolName = (cls: PoolClass): string => `${DISK_POOL_PREFIX}${cls}`;
/** The class of a `LocalStorage_Pool*` or `LocalDisk_Pool*` name, or undefined. */
export function poolClassOf(poolName: string): PoolClass | undefined {
  for (const prefix of [STORAGE_POOL_PREFIX, DISK_POOL_PREFIX]) {
    if (poolName.startsWith(prefix)) {
      const cls = poolName.slice(prefix.length);
      return (POOL_CLASSES as readonly string[]).includes(cls) ? (cls as PoolClass) : undefined;
    }
  }
  return undefined;
}
/** Parse a StorageClass `poolClass`/`diskType` value exactly as written (HDD, SSD, NVMe). */
export const isPoolClass = (s: string): s is PoolClass => (POOL_CLASSES as readonly string[]).includes(s);

// ---------------------------------------------------------------- leases, owners, well-known object names

export const Leases = {
  LocalStorageMaster: "hwameistor-local-storage-master",
  LocalStorageWorkerPrefix: "hwameistor-local-storage-worker-",
  LocalDiskManagerMaster: "hwameistor-local-disk-manager-master",
  LocalDiskManagerWorkerPrefix: "hwameistor-local-disk-manager-worker-",
  Scheduler: "hwameistor-scheduler",
} as const;
export const localStorageWorkerLease = (node: string): string => `${Leases.LocalStorageWorkerPrefix}${node}`;
export const localDiskManagerWorkerLease = (node: string): string => `${Leases.LocalDiskManagerWorkerPrefix}${node}`;

/** LocalDisk / LocalDiskClaim `owner`. */
export const Owners = { LocalStorage: "local-storage", LocalDiskManager: "local-disk-manager", System: "system" } as const;
export type Owner = ValueOf<typeof Owners>;

export const ObjectNames = {
  /** LocalDisk name prefix (`localdisk-<md5hex>`); disks without it are ignored by claims. */
  LocalDiskPrefix: "localdisk-",
  /** CSI snapshot id = request name with first `snapshot` replaced by this. */
  SnapContentPrefix: "snapcontent",
  SnapRestorePrefix: "snaprestore-",
  ConvertPrefix: "convert-",
  MigratePrefix: "migrate-",
  EvictorMigratePrefix: "evictor-",
  CloneSnapshotPrefix: "snapshot-for-",
  SyncConfigMapPrefix: "sync-config-",
  SyncKeyConfigMap: "sync-key-config",
  SmartResultConfigMap: "hwameistor-smart-result",
  SchedulerName: "hwameistor-scheduler",
  AdmissionCaSecret: "hwameistor-admission-ca",
  MutatingWebhook: "hwameistor.io.mutate-hook",
} as const;

// ---------------------------------------------------------------- states (§1)

/** Volume / replica / snapshot states. */
export const VolumeStates = {
  Empty: "",
  ...enumOf(["Creating", "Created", "Ready", "NotReady", "ToBeDeleted", "Deleted"]),
  /** QUIRK (original const VolumeStateToBeUnmount): the "to be unmounted" state's value is `ToBeMounted`. */
  ToBeUnmount: "ToBeMounted",
  /** Replica only; unused by the original. */
  Invalid: "Invalid",
} as const;
export type VolumeState = ValueOf<typeof VolumeStates>;

/** Migrate / convert / expand / restore states. */
export const OperationStates = {
  Empty: "",
  ...enumOf(["Submitted", "AddReplica", "SyncReplica", "PruneReplica", "InProgress", "Completed", "ToBeAborted", "Aborted", "Failed"]),
  /** Original const name OperationStateAborting, value `Cancelled`. */
  Aborting: "Cancelled",
} as const;
export type OperationState = ValueOf<typeof OperationStates>;

/** LocalStorageNode / LocalDiskNode states. */
export const NodeStates = enumOf(["Ready", "Maintain", "Offline"]);
export type NodeState = ValueOf<typeof NodeStates>;

/** Disk states inside a pool (LocalDevice). */
export const DeviceStates = enumOf(["Available", "InUse", "Offline"]);

/** LocalVolumeReplica `status.haState.state`. */
export const HAStates = enumOf(["Consistent", "Inconsistent", "Up", "Down"]);

/** LocalDisk `spec.state` (connectivity). */
export const LOCAL_DISK_STATES = ["Active", "Inactive", "Unknown"] as const;
export const LocalDiskStates = enumOf(LOCAL_DISK_STATES);

/** LocalDisk `status.claimState`. `Reserved` is never written by the original (reservation is spec.reserved). */
export const LOCAL_DISK_CLAIM_STATES = ["Bound", "Reserved", "Available", "Pending"] as const;
export const LocalDiskClaimStates = enumOf(LOCAL_DISK_CLAIM_STATES);

/** LocalDiskClaim `status.status`. */
export const DISK_CLAIM_STATES = ["Bound", "Pending", "Extending", "Consumed", "ToBeDeleted", "Deleted"] as const;
export const DiskClaimStates = enumOf(DISK_CLAIM_STATES);

/** ThinPoolClaim `status.status`. */
export const ThinPoolClaimStates = { Empty: "", ...enumOf(["Pending", "ToBeConsumed", "Consumed", "ToBeDeleted", "Deleted"]) } as const;
export const THIN_POOL_CLAIM_STATES = Object.values(ThinPoolClaimStates);

/** LocalDiskVolume mount point `phase`. */
export const MountPointPhases = { Empty: "", ...enumOf(["ToBeMounted", "ToBeUnMount", "Mounted", "NotReady"]) } as const;

export const AccessTypes = enumOf(["Block", "Mount"]);

export const SmartResults = enumOf(["Passed", "Failed"]);

/** LocalDisk diskAttributes.devType of a whole disk (the only one claims take). */
export const DEV_TYPE_DISK = "disk";

export const StorageNodeConditionTypes = enumOf(["Available", "UnAvailable", "Progressing", "ExpandFailure", "ExpandSuccess"]);

export const ConditionStatuses = enumOf(["True", "False", "Unknown"]);

/** LocalVolumeReplica / LocalVolumeReplicaSnapshot condition types (reason = type). */
export const ReplicaConditionTypes = enumOf(["Submit", "Create", "Ready"]);

export const ThinPoolConditions = {
  Type: "PoolState",
  ReasonNormal: "PoolStateNormal",
  ReasonWarning: "PoolStateWarning",
} as const;

export const RestoreTypes = { Rollback: "rollback", Create: "create" } as const;
export const RESTORE_TYPES = ["rollback", "create"] as const;

export const VOLUME_ENCRYPT_TYPES = ["LUKS"] as const;
export const VolumeEncryptTypes = enumOf(VOLUME_ENCRYPT_TYPES);

export const ThinOriginTypes = { Volume: "volume", Snapshot: "snapshot" } as const;

export const DiskActions = { Reserve: "reserve", Replace: "replace" } as const;
/** `replace` is this implementation's (the original's disk replacement lived in a separate project). */
export const DISK_ACTIONS = ["reserve", "replace"] as const;
/** LocalDiskAction `replace`: `status.state`. */
export const DiskReplaceStates = enumOf(["Replacing", "Succeeded", "Failed"]);
export const DISK_REPLACE_STATES = ["", ...Object.values(DiskReplaceStates)] as const;

/** Event CR `spec.resourceType`. */
export const EVENT_RESOURCE_TYPES = ["Cluster", "StorageNode", "DiskNode", "Pool", "Volume", "DiskVolume", "Disk"] as const;
export const EventResourceTypes = enumOf(EVENT_RESOURCE_TYPES);

/** Event record `action` (§10). */
export const EventActions = enumOf([
  "Install",
  "Change",
  "Add",
  "Remove",
  "StateChange",
  "CapacityExpand",
  "Create",
  "Delete",
  "Mount",
  "Unmount",
  "Migrate",
  "Convert",
  "Expand",
  "Allocate",
  "Relocate",
  "Reserve",
  "Release",
]);

/** Event record `state` of operation records (§10). */
export const EventRecordStates = enumOf(["Submit", "Start", "Complete", "Abort"]);

/** Cluster `status.phase` (§1.18). */
export const ClusterPhases = { Empty: "", ...enumOf(["ToReserve", "Reserved", "CreatedLDC"]) } as const;
/** Cluster componentStatus health. */
/** componentStatus health values: the original's `Normal`, and ours for the other case (approximation). */
export const ComponentHealth = enumOf(["Normal", "Abnormal"]);
export const COMPONENT_HEALTH_NORMAL = ComponentHealth.Normal;

/** The Cluster resource the dev cluster creates (the operator's sample is named the same). */
export const DEFAULT_CLUSTER_NAME = "cluster-sample";

/** StorageClass names the installers create (§2.4): `hwameistor-storage-lvm-<lower(class)>`, `…-disk-<lower(class)>`. */
export const LVM_SC_PREFIX = "hwameistor-storage-lvm-";
export const DISK_SC_PREFIX = "hwameistor-storage-disk-";
export const lvmStorageClassName = (cls: string): string => `${LVM_SC_PREFIX}${cls.toLowerCase()}`;
export const diskStorageClassName = (cls: string): string => `${DISK_SC_PREFIX}${cls.toLowerCase()}`;

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

/** Kubernetes Event reasons the original emits. */
export const EventReasons = enumOf([
  "LocalDiskRelease",
  "LocalDiskClaimAssignFail",
  "ThinPoolClaimFail",
  "ThinPoolClaimSucceed",
  "DiskReplaceStarted",
  "DiskReplaced",
  "DiskReplaceFailed",
]);

/** The namespace HwameiStor's own namespaced objects live in (Lease, ConfigMap hwameistor-smart-result). */
export const HWAMEISTOR_NAMESPACE = "hwameistor";
