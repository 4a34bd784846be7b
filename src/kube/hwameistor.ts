// Typed clients for every hwameistor.io kind (and the core Node, Pod and PVC they relate to), in one place: the object types (`<Kind>Object`, the kind's
// schema type plus the Kubernetes object fields) and `hwameistorClients()`, one ResourceClient per kind.
// Client keys are the original's kubectl short names (`ld`, `ldv`, `lvr`…; `resizePolicy` has none), and so
// are the short type aliases kept for the kinds most code handles (`Ld`, `Ldv`, `Lvr`…).
//
// Also the two list helpers every reconciler and CSI service uses: `listAll` (a missing collection means the
// CRDs are not installed, said so) and `listOptional` (core kinds that may be absent in standalone mode).
// Helpers that are more than that (status mutations, conditions) stay with the part that owns them.

import type { Cluster } from "../api/kinds/cluster.ts";
import { clusterKind } from "../api/kinds/cluster.ts";
import type { Event } from "../api/kinds/event.ts";
import { eventKind } from "../api/kinds/event.ts";
import type { LocalDiskAction } from "../api/kinds/local-disk-action.ts";
import { localDiskActionKind } from "../api/kinds/local-disk-action.ts";
import type { LocalDiskClaim } from "../api/kinds/local-disk-claim.ts";
import { localDiskClaimKind } from "../api/kinds/local-disk-claim.ts";
import type { LocalDiskNode } from "../api/kinds/local-disk-node.ts";
import { localDiskNodeKind } from "../api/kinds/local-disk-node.ts";
import type { LocalDiskVolume } from "../api/kinds/local-disk-volume.ts";
import { localDiskVolumeKind } from "../api/kinds/local-disk-volume.ts";
import type { LocalDisk } from "../api/kinds/local-disk.ts";
import { localDiskKind } from "../api/kinds/local-disk.ts";
import type { LocalStorageNode } from "../api/kinds/local-storage-node.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import type { LocalVolumeConvert } from "../api/kinds/local-volume-convert.ts";
import { localVolumeConvertKind } from "../api/kinds/local-volume-convert.ts";
import type { LocalVolumeExpand } from "../api/kinds/local-volume-expand.ts";
import { localVolumeExpandKind } from "../api/kinds/local-volume-expand.ts";
import type { LocalVolumeGroup } from "../api/kinds/local-volume-group.ts";
import { localVolumeGroupKind } from "../api/kinds/local-volume-group.ts";
import type { LocalVolumeMigrate } from "../api/kinds/local-volume-migrate.ts";
import { localVolumeMigrateKind } from "../api/kinds/local-volume-migrate.ts";
import type { LocalVolumeReplicaSnapshotRestore } from "../api/kinds/local-volume-replica-snapshot-restore.ts";
import { localVolumeReplicaSnapshotRestoreKind } from "../api/kinds/local-volume-replica-snapshot-restore.ts";
import type { LocalVolumeReplicaSnapshot } from "../api/kinds/local-volume-replica-snapshot.ts";
import { localVolumeReplicaSnapshotKind } from "../api/kinds/local-volume-replica-snapshot.ts";
import type { LocalVolumeReplica } from "../api/kinds/local-volume-replica.ts";
import { localVolumeReplicaKind } from "../api/kinds/local-volume-replica.ts";
import type { LocalVolumeSnapshotRestore } from "../api/kinds/local-volume-snapshot-restore.ts";
import { localVolumeSnapshotRestoreKind } from "../api/kinds/local-volume-snapshot-restore.ts";
import type { LocalVolumeSnapshot } from "../api/kinds/local-volume-snapshot.ts";
import { localVolumeSnapshotKind } from "../api/kinds/local-volume-snapshot.ts";
import type { LocalVolume } from "../api/kinds/local-volume.ts";
import { localVolumeKind } from "../api/kinds/local-volume.ts";
import type { ResizePolicy } from "../api/kinds/resize-policy.ts";
import { resizePolicyKind } from "../api/kinds/resize-policy.ts";
import type { ThinPoolClaim } from "../api/kinds/thin-pool-claim.ts";
import { thinPoolClaimKind } from "../api/kinds/thin-pool-claim.ts";
import { HwError } from "../api/errors.ts";
import type { KubeClient, ListOptions, ResourceClient } from "./client.ts";
import { isNotFound } from "./transport.ts";
import { NODE, POD, PVC, SECRET } from "./resources.ts";
import type { CoreNode as CoreNodeShape, Pod as PodShape, Pvc as PvcShape } from "../api/core.ts";
import type { KubeObject } from "./types.ts";

export type LocalDiskObject = LocalDisk & KubeObject;
export type LocalDiskNodeObject = LocalDiskNode & KubeObject;
export type LocalDiskClaimObject = LocalDiskClaim & KubeObject;
export type LocalDiskVolumeObject = LocalDiskVolume & KubeObject;
export type LocalDiskActionObject = LocalDiskAction & KubeObject;
export type LocalStorageNodeObject = LocalStorageNode & KubeObject;
export type LocalVolumeObject = LocalVolume & KubeObject;
export type LocalVolumeReplicaObject = LocalVolumeReplica & KubeObject;
export type LocalVolumeGroupObject = LocalVolumeGroup & KubeObject;
export type LocalVolumeMigrateObject = LocalVolumeMigrate & KubeObject;
export type LocalVolumeConvertObject = LocalVolumeConvert & KubeObject;
export type LocalVolumeExpandObject = LocalVolumeExpand & KubeObject;
export type LocalVolumeSnapshotObject = LocalVolumeSnapshot & KubeObject;
export type LocalVolumeReplicaSnapshotObject = LocalVolumeReplicaSnapshot & KubeObject;
export type LocalVolumeSnapshotRestoreObject = LocalVolumeSnapshotRestore & KubeObject;
export type LocalVolumeReplicaSnapshotRestoreObject = LocalVolumeReplicaSnapshotRestore & KubeObject;
export type ThinPoolClaimObject = ThinPoolClaim & KubeObject;
export type ResizePolicyObject = ResizePolicy & KubeObject;
export type EventObject = Event & KubeObject;
export type ClusterObject = Cluster & KubeObject;
/** Core objects as stored: the shapes of src/api/core.ts plus the Kubernetes object fields. */
export type CoreNode = CoreNodeShape & KubeObject;
export type Pod = PodShape & KubeObject;
export type Pvc = PvcShape & KubeObject;
/** core/v1 Secret, the fields we read (data values are base64). */
export type Secret = KubeObject & { type?: string; data?: Record<string, string> };

// Short aliases (kubectl short names) for the kinds used all over the node agent, CSI and controller.
export type Ld = LocalDiskObject;
export type Ldn = LocalDiskNodeObject;
export type Ldc = LocalDiskClaimObject;
export type Ldv = LocalDiskVolumeObject;
export type Lda = LocalDiskActionObject;
export type Lsn = LocalStorageNodeObject;
export type Lv = LocalVolumeObject;
export type Lvr = LocalVolumeReplicaObject;
export type Lvg = LocalVolumeGroupObject;

export interface HwameistorClients {
  ld: ResourceClient<LocalDiskObject>;
  ldn: ResourceClient<LocalDiskNodeObject>;
  ldc: ResourceClient<LocalDiskClaimObject>;
  ldv: ResourceClient<LocalDiskVolumeObject>;
  lda: ResourceClient<LocalDiskActionObject>;
  lsn: ResourceClient<LocalStorageNodeObject>;
  lv: ResourceClient<LocalVolumeObject>;
  lvr: ResourceClient<LocalVolumeReplicaObject>;
  lvg: ResourceClient<LocalVolumeGroupObject>;
  lvmigrate: ResourceClient<LocalVolumeMigrateObject>;
  lvconvert: ResourceClient<LocalVolumeConvertObject>;
  lvexpand: ResourceClient<LocalVolumeExpandObject>;
  lvs: ResourceClient<LocalVolumeSnapshotObject>;
  lvrs: ResourceClient<LocalVolumeReplicaSnapshotObject>;
  lvsrestore: ResourceClient<LocalVolumeSnapshotRestoreObject>;
  lvrsrestore: ResourceClient<LocalVolumeReplicaSnapshotRestoreObject>;
  tpc: ResourceClient<ThinPoolClaimObject>;
  resizePolicy: ResourceClient<ResizePolicyObject>;
  evt: ResourceClient<EventObject>;
  hmcluster: ResourceClient<ClusterObject>;
  /** Core objects (not hwameistor.io kinds): Node labels/taints, the Pods and PVCs placement and groups read. */
  node: ResourceClient<CoreNode>;
  pod: ResourceClient<Pod>;
  pvc: ResourceClient<Pvc>;
  /** Read only: the encryption Secret (`key`), checked at CreateVolume and read by the node (needs RBAC get on secrets). */
  secret: ResourceClient<Secret>;
}

/** One typed client per kind (eager: a ResourceClient is a descriptor and the shared transport). */
export function hwameistorClients(client: KubeClient): HwameistorClients {
  return {
    ld: client.forKind(localDiskKind),
    ldn: client.forKind(localDiskNodeKind),
    ldc: client.forKind(localDiskClaimKind),
    ldv: client.forKind(localDiskVolumeKind),
    lda: client.forKind(localDiskActionKind),
    lsn: client.forKind(localStorageNodeKind),
    lv: client.forKind(localVolumeKind),
    lvr: client.forKind(localVolumeReplicaKind),
    lvg: client.forKind(localVolumeGroupKind),
    lvmigrate: client.forKind(localVolumeMigrateKind),
    lvconvert: client.forKind(localVolumeConvertKind),
    lvexpand: client.forKind(localVolumeExpandKind),
    lvs: client.forKind(localVolumeSnapshotKind),
    lvrs: client.forKind(localVolumeReplicaSnapshotKind),
    lvsrestore: client.forKind(localVolumeSnapshotRestoreKind),
    lvrsrestore: client.forKind(localVolumeReplicaSnapshotRestoreKind),
    tpc: client.forKind(thinPoolClaimKind),
    resizePolicy: client.forKind(resizePolicyKind),
    evt: client.forKind(eventKind),
    hmcluster: client.forKind(clusterKind),
    node: client.forKind(NODE),
    pod: client.forKind(POD),
    pvc: client.forKind(PVC),
    secret: client.forKind(SECRET),
  };
}

export const nameOf = (o: KubeObject): string => o.metadata?.name ?? "";

/** Every object of a hwameistor.io kind; a 404 on the collection means the CRD is missing, said so. */
export async function listAll<T extends KubeObject>(rc: ResourceClient<T>, opts: ListOptions = {}): Promise<T[]> {
  try {
    return (await rc.list(opts)).items;
  } catch (e) {
    if (isNotFound(e)) {
      throw new HwError("FAILED_PRECONDITION", "CrdMissing", `the ${rc.resource.kind} resource is not served by the API server`, {
        hint: "install the CRDs: kubectl apply -f deploy/crds/",
        cause: e,
      });
    }
    throw e;
  }
}

/** Core objects that may legitimately be absent (standalone mode): a missing resource lists as empty. */
export async function listOptional<T extends KubeObject>(rc: ResourceClient<T>, opts: ListOptions = {}): Promise<T[]> {
  try {
    return (await rc.list(opts)).items;
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}
