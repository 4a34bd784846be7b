// Typed clients for the kinds the storage part of the node agent reads and writes.
import type { LocalDiskClaim } from "../../api/kinds/local-disk-claim.ts";
import { localDiskClaimKind } from "../../api/kinds/local-disk-claim.ts";
import type { LocalDisk } from "../../api/kinds/local-disk.ts";
import { localDiskKind } from "../../api/kinds/local-disk.ts";
import type { LocalStorageNode } from "../../api/kinds/local-storage-node.ts";
import { localStorageNodeKind } from "../../api/kinds/local-storage-node.ts";
import type { LocalVolumeReplica } from "../../api/kinds/local-volume-replica.ts";
import { localVolumeReplicaKind } from "../../api/kinds/local-volume-replica.ts";
import type { LocalVolume } from "../../api/kinds/local-volume.ts";
import { localVolumeKind } from "../../api/kinds/local-volume.ts";
import type { KubeClient, ResourceClient } from "../../kube/client.ts";
import { NODE } from "../../kube/resources.ts";
import type { KubeObject } from "../../kube/types.ts";

export type Lsn = LocalStorageNode & KubeObject;
export type Lvr = LocalVolumeReplica & KubeObject;
export type Lv = LocalVolume & KubeObject;
export type Ldc = LocalDiskClaim & KubeObject;
export type Ld = LocalDisk & KubeObject;
export type CoreNode = KubeObject;

export interface StorageClients {
  lsn: ResourceClient<Lsn>;
  lvr: ResourceClient<Lvr>;
  lv: ResourceClient<Lv>;
  ldc: ResourceClient<Ldc>;
  ld: ResourceClient<Ld>;
  node: ResourceClient<CoreNode>;
}

export function storageClients(client: KubeClient): StorageClients {
  return {
    lsn: client.forKind<Lsn>(localStorageNodeKind),
    lvr: client.forKind<Lvr>(localVolumeReplicaKind),
    lv: client.forKind<Lv>(localVolumeKind),
    ldc: client.forKind<Ldc>(localDiskClaimKind),
    ld: client.forKind<Ld>(localDiskKind),
    node: client.forKind<CoreNode>(NODE),
  };
}
