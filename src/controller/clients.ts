// Typed clients for what the controller reads and writes: the hwameistor.io volume kinds and the few core
// objects placement and volume groups look at (Node taints, Pods, PVCs). Core objects are optional: in
// standalone mode they may not exist, and a resource the server does not serve reads as "none".

import type { LocalStorageNode } from "../api/kinds/local-storage-node.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import type { LocalVolumeGroup } from "../api/kinds/local-volume-group.ts";
import { localVolumeGroupKind } from "../api/kinds/local-volume-group.ts";
import type { LocalVolumeReplica } from "../api/kinds/local-volume-replica.ts";
import { localVolumeReplicaKind } from "../api/kinds/local-volume-replica.ts";
import type { LocalVolume } from "../api/kinds/local-volume.ts";
import { localVolumeKind } from "../api/kinds/local-volume.ts";
import type { KubeClient, ResourceClient } from "../kube/client.ts";
import { NODE } from "../kube/resources.ts";
import type { KubeObject, ResourceDescriptor } from "../kube/types.ts";

export type Lv = LocalVolume & KubeObject;
export type Lvr = LocalVolumeReplica & KubeObject;
export type Lvg = LocalVolumeGroup & KubeObject;
export type Lsn = LocalStorageNode & KubeObject;

import type { Taint } from "../api/core.ts";
export type { Taint, Toleration } from "../api/core.ts";
export type CoreNode = KubeObject & { spec?: { taints?: Taint[] } };
export type Pod = KubeObject & {
  spec?: { volumes?: Array<{ name?: string; persistentVolumeClaim?: { claimName?: string } }> };
  status?: { phase?: string };
};
export type Pvc = KubeObject & { spec?: { storageClassName?: string } };

export const POD: ResourceDescriptor = { group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true };
export const PVC: ResourceDescriptor = { group: "", version: "v1", plural: "persistentvolumeclaims", kind: "PersistentVolumeClaim", namespaced: true };

export interface VolumeClients {
  lv: ResourceClient<Lv>;
  lvr: ResourceClient<Lvr>;
  lvg: ResourceClient<Lvg>;
  lsn: ResourceClient<Lsn>;
  node: ResourceClient<CoreNode>;
  pod: ResourceClient<Pod>;
  pvc: ResourceClient<Pvc>;
}

export function volumeClients(client: KubeClient): VolumeClients {
  return {
    lv: client.forKind<Lv>(localVolumeKind),
    lvr: client.forKind<Lvr>(localVolumeReplicaKind),
    lvg: client.forKind<Lvg>(localVolumeGroupKind),
    lsn: client.forKind<Lsn>(localStorageNodeKind),
    node: client.forKind<CoreNode>(NODE),
    pod: client.forKind<Pod>(POD),
    pvc: client.forKind<Pvc>(PVC),
  };
}


export const nameOf = (o: KubeObject): string => o.metadata?.name ?? "";
