// Which StorageClasses the operator creates (§2.4), pure: one `hwameistor-storage-lvm-<class>` per pool
// class that has capacity on some LocalStorageNode, one `hwameistor-storage-disk-<class>` per class whose
// LocalDiskNode disk pool has capacity. None while there is no capacity (the original's FAQ: "no
// StorageClass until disks are claimed"). The `-ha` class (replicaNumber 2, convertible) is made only when
// replication exists (REPLICATION_AVAILABLE, src/api/features.ts — one switch for the replication work to
// flip): offering it earlier would promise copies that are never synchronised. Not made: `-convertible`,
// which needs DRBD adapter jobs (drbdAdapterCreatedJobNum).

import { REPLICATION_AVAILABLE } from "../../api/features.ts";
import type { ClusterSpec } from "../../api/kinds/cluster.ts";
import type { LocalPool } from "../../api/kinds/storage-pool.ts";
import { Drivers, POOL_CLASSES, ScParamValues, ScParams, poolClassOf, type PoolClass } from "../../api/names.ts";
import { ScDefaults, diskStorageClassName, lvmStorageClassName } from "../../api/names.ts";
import { STORAGE_CLASS, type StorageClass } from "../../kube/resources.ts";

export { STORAGE_CLASS, lvmStorageClassName, diskStorageClassName };

interface WithPools {
  metadata?: { name?: string };
  status?: { pools?: Record<string, LocalPool> };
}

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
    if (REPLICATION_AVAILABLE) {
      out.push({
        ...common,
        metadata: { name: `${lvmStorageClassName(cls)}-ha` },
        provisioner: Drivers.Lvm,
        parameters: {
          [ScParams.ReplicaNumber]: "2",
          [ScParams.PoolClass]: cls,
          [ScParams.PoolType]: ScParamValues.PoolTypeRegular,
          [ScParams.VolumeKind]: ScParamValues.VolumeKindLvm,
          [ScParams.Striped]: ScDefaults.Striped,
          [ScParams.Convertible]: "true",
          [ScParams.FsType]: fsType,
        },
      });
    }
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
