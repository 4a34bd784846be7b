// VolumeConfig allocation (fact sheet §5.1 Allocate / ConfigureVolumeOnAdditionalNodes), pure.
// - replicas: existing config replicas are kept (stable ids); then `spec.accessibility.nodes` in order,
//   then placement candidates, until replicaNumber. Replica ids are the smallest unused of
//   1..replicaNumber; {hostname: the node (LSN) name — what the original's LSN spec.hostname holds —,
//   ip: LSN spec.storageIP}.
// - primary: the replica on accessibility.nodes[0], else the first.
// - resourceID: -1 (none) for a non-HA, non-convertible volume (any old id is released); otherwise the
//   volume keeps its id, or takes the smallest one unused by other volumes in 0..maxHAVolumeCount−1.
// - readyToInitialize / initialized are carried over (false on a new config; HA replication, which sets
//   them, is a later issue).
// - version: the caller writes `version + 1` when the result differs from the current config
//   (`sameConfig` ignores the version).

import type { VolumeConfig, VolumeReplica } from "../../api/kinds/local-volume.ts";
import { type Lv } from "../../kube/hwameistor.ts";
import type { StorageNodeView } from "../../api/placement/placement.ts";

export const MAX_HA_VOLUME_COUNT = 1000;

export type Allocation = { config: VolumeConfig } | { error: string };

export interface AllocationFacts {
  nodes: StorageNodeView[];
  /** Placement candidates for replicas beyond accessibility.nodes, best first. */
  extraCandidates: string[];
  /** resourceIDs held by other volumes. */
  usedResourceIDs: Set<number>;
}

export const isHA = (lv: Lv): boolean => (lv.spec?.replicaNumber ?? 1) > 1 || !!lv.spec?.convertible;

export function allocateConfig(lv: Lv, f: AllocationFacts): Allocation {
  const name = lv.metadata?.name ?? "";
  const want = lv.spec?.replicaNumber ?? 1;
  const cur = lv.spec?.config;
  const byName = new Map(f.nodes.map((n) => [n.name, n]));
  const replica = (node: string, id: number): VolumeReplica => ({
    id,
    hostname: byName.get(node)?.hostname ?? node,
    ip: byName.get(node)?.storageIP ?? "",
    primary: false,
  });

  const replicas: VolumeReplica[] = (cur?.replicas ?? []).map((r) => ({ ...r }));
  const have = () => new Set(replicas.map((r) => r.hostname));
  const wanted = [...(lv.spec?.accessibility?.nodes ?? []), ...f.extraCandidates];
  for (const node of wanted) {
    if (replicas.length >= want) break;
    if (have().has(node) || have().has(byName.get(node)?.hostname ?? node)) continue;
    if (!byName.has(node)) continue; // no LocalStorageNode: cannot host a replica
    const used = new Set(replicas.map((r) => r.id));
    let id = 1;
    while (used.has(id)) id++;
    replicas.push(replica(node, id));
  }
  if (replicas.length < want) {
    return {
      error: `no enough nodes for volume ${name}: ${replicas.length} of ${want} replica(s) placed (${replicas.map((r) => r.hostname).join(", ") || "none"})`,
    };
  }
  const first = lv.spec?.accessibility?.nodes?.[0];
  const primaryIdx = Math.max(
    0,
    replicas.findIndex((r) => r.hostname === first),
  );
  replicas.forEach((r, i) => (r.primary = i === primaryIdx));

  let resourceID = -1;
  if (isHA(lv)) {
    if (cur && cur.resourceID >= 0) resourceID = cur.resourceID;
    else {
      resourceID = 0;
      while (f.usedResourceIDs.has(resourceID)) resourceID++;
      if (resourceID >= MAX_HA_VOLUME_COUNT) return { error: `no free HA resource id for volume ${name} (all ${MAX_HA_VOLUME_COUNT} in use)` };
    }
  }
  return {
    config: {
      version: cur?.version ?? 0,
      volumeName: name,
      requiredCapacityBytes: Math.max(lv.spec?.requiredCapacityBytes ?? 0, cur?.requiredCapacityBytes ?? 0),
      convertible: !!lv.spec?.convertible,
      resourceID,
      readyToInitialize: cur?.readyToInitialize ?? false,
      initialized: isHA(lv) ? (cur?.initialized ?? false) : false,
      replicas,
    },
  };
}

/** Equal apart from the version. */
export function sameConfig(a: VolumeConfig | undefined, b: VolumeConfig | undefined): boolean {
  if (!a || !b) return a === b;
  return stableJson({ ...a, version: 0 }) === stableJson({ ...b, version: 0 });
}

/** JSON with object keys sorted: the API server may return fields in another order than we wrote them. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}
