// Typed clients for the kinds the disk manager reads and writes.
import type { LocalDiskAction } from "../../api/kinds/local-disk-action.ts";
import { localDiskActionKind } from "../../api/kinds/local-disk-action.ts";
import type { LocalDiskClaim } from "../../api/kinds/local-disk-claim.ts";
import { localDiskClaimKind } from "../../api/kinds/local-disk-claim.ts";
import type { LocalDiskNode } from "../../api/kinds/local-disk-node.ts";
import { localDiskNodeKind } from "../../api/kinds/local-disk-node.ts";
import type { LocalDiskVolume } from "../../api/kinds/local-disk-volume.ts";
import { localDiskVolumeKind } from "../../api/kinds/local-disk-volume.ts";
import type { LocalDisk } from "../../api/kinds/local-disk.ts";
import { localDiskKind } from "../../api/kinds/local-disk.ts";
import type { LocalStorageNode } from "../../api/kinds/local-storage-node.ts";
import { localStorageNodeKind } from "../../api/kinds/local-storage-node.ts";
import type { KubeClient, ResourceClient } from "../../kube/client.ts";
import type { KubeObject } from "../../kube/types.ts";

export type Ld = LocalDisk & KubeObject;
export type Ldc = LocalDiskClaim & KubeObject;
export type Lda = LocalDiskAction & KubeObject;
export type Ldn = LocalDiskNode & KubeObject;
export type Ldv = LocalDiskVolume & KubeObject;
export type Lsn = LocalStorageNode & KubeObject;

export interface DiskManagerClients {
  ld: ResourceClient<Ld>;
  ldc: ResourceClient<Ldc>;
  lda: ResourceClient<Lda>;
  ldn: ResourceClient<Ldn>;
  ldv: ResourceClient<Ldv>;
  lsn: ResourceClient<Lsn>;
}

export function diskManagerClients(client: KubeClient): DiskManagerClients {
  return {
    ld: client.forKind<Ld>(localDiskKind),
    ldc: client.forKind<Ldc>(localDiskClaimKind),
    lda: client.forKind<Lda>(localDiskActionKind),
    ldn: client.forKind<Ldn>(localDiskNodeKind),
    ldv: client.forKind<Ldv>(localDiskVolumeKind),
    lsn: client.forKind<Lsn>(localStorageNodeKind),
  };
}
