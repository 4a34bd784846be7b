// Which StorageClasses the operator creates (§2.4), pure: one `hwameistor-storage-lvm-<class>` per pool
// class that has capacity on some LocalStorageNode, one `hwameistor-storage-disk-<class>` per class whose
// LocalDiskNode disk pool has capacity. None while there is no capacity (the original's FAQ: "no
// StorageClass until disks are claimed"). Replicated classes follow the nodes that can replicate (their data
// plane is available, LocalStorageNode status.replication — the original counts DRBD adapter jobs,
// drbdAdapterCreatedJobNum): `-convertible` (replicaNumber 1, convertible) when at least one node can, `-ha`
// (replicaNumber 2, convertible) when at least two can. Offering them earlier would promise copies that are
// never synchronised.

import type { ReplicationStatus } from "../../api/kinds/local-storage-node.ts";
import type { ClusterSpec } from "../../api/kinds/cluster.ts";
import type { LocalPool } from "../../api/kinds/storage-pool.ts";
import { Drivers, POOL_CLASSES, ScParamValues, ScParams, poolClassOf, type PoolClass } from "../../api/names.ts";
import { ScDefaults, diskStorageClassName, lvmStorageClassName } from "../../api/names.ts";
import { STORAGE_CLASS, type StorageClass } from "../../kube/resources.ts";

export { STORAGE_CLASS, lvmStorageClassName, diskStorageClassName };

interface WithPools {
  metadata?: { name?: string };
  status?: { pools?: Record<string, LocalPool>; replication?: ReplicationStatus; state?: string };
}

/** Nodes whose data plane is available. */
export const replicatingNodes = (nodes: WithPools[]): number => nodes.filter((n) => n.status?.replication?.available).length;

/** Pool classes with capacity: a pool whose total capacity (or, for disk pools, disk count) is above zero. */
export function classesWithCapacity(nodes: WithPools[]): PoolClass[] {
  const found = new Set<PoolClass>();
  for (const n of nodes) {
    for (const [name, p] of Object.entries(n.status?.pools ?? {})) {
      const cls = poolClassOf(name) ?? (p.class as PoolClass | undefined);
      if (!cls) continue;
      if ((p.totalCapacityBytes ?? 0) > 0 || (p.disks?.length ?? 0) > 0) found.add(cls);
    }
  }
  return POOL_CLASSES.filter((c) => found.has(c));
}

export function desiredStorageClasses(spec: ClusterSpec | undefined, storageNodes: WithPools[], diskNodes: WithPools[]): StorageClass[] {
  const sc = spec?.storageClass ?? {};
  if (sc.disable) return [];
  const common = {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    reclaimPolicy: sc.reclaimPolicy || ScDefaults.ReclaimPolicy,
    allowVolumeExpansion: sc.allowVolumeExpansion ?? ScDefaults.AllowVolumeExpansion,
    volumeBindingMode: ScDefaults.VolumeBindingMode,
  };
  const fsType = sc.fsType || ScDefaults.FsType;
  const out: StorageClass[] = [];
  const replicating = replicatingNodes(storageNodes);
  for (const cls of classesWithCapacity(storageNodes)) {
    out.push({
      ...common,
      metadata: { name: lvmStorageClassName(cls) },
      provisioner: Drivers.Lvm,
      parameters: {
        [ScParams.ReplicaNumber]: ScDefaults.ReplicaNumber,
        [ScParams.PoolClass]: cls,
        [ScParams.PoolType]: ScParamValues.PoolTypeRegular,
        [ScParams.VolumeKind]: ScParamValues.VolumeKindLvm,
        [ScParams.Striped]: ScDefaults.Striped,
        [ScParams.Convertible]: ScDefaults.Convertible,
        [ScParams.FsType]: fsType,
      },
    });
    const replicated = (suffix: string, replicaNumber: string): StorageClass => ({
      ...common,
      metadata: { name: `${lvmStorageClassName(cls)}-${suffix}` },
      provisioner: Drivers.Lvm,
      parameters: {
        [ScParams.ReplicaNumber]: replicaNumber,
        [ScParams.PoolClass]: cls,
        [ScParams.PoolType]: ScParamValues.PoolTypeRegular,
        [ScParams.VolumeKind]: ScParamValues.VolumeKindLvm,
        [ScParams.Striped]: ScDefaults.Striped,
        [ScParams.Convertible]: "true",
        [ScParams.FsType]: fsType,
      },
    });
    if (replicating >= 1) out.push(replicated("convertible", "1"));
    if (replicating >= 2) out.push(replicated("ha", "2"));
  }
  for (const cls of classesWithCapacity(diskNodes)) {
    out.push({
      ...common,
      metadata: { name: diskStorageClassName(cls) },
      provisioner: Drivers.Disk,
      parameters: { [ScParams.DiskType]: cls, [ScParams.FsType]: fsType },
    });
  }
  return out;
}
