// Volume placement: the original's GetNodeCandidates (fact sheet §4.1), as pure functions over a snapshot
// of the cluster. Used by CSI CreateVolume (where the first replicas go), by the LocalVolume reconciler's
// config allocation (where missing replicas go), and by the pod scheduler's filter and score
// (src/scheduler/), which is why it lives in src/api (every part may import it) and not in one part.
//
// - Capacity comes only from LocalStorageNodes in state Ready (`status.pools[<pool>]`, written by the
//   node agents). Volumes the controller has placed but a node has not realised yet (not in the pool's
//   `volumes` list) are added to the pool's used bytes and volume count here ("pending"), so that
//   back-to-back and concurrent placements see each other before the node agent reports.
// - predicate (per pool): required ≤ total − used, and usedVolumeCount + 1 ≤ totalVolumeCount.
//   CSI and the reconciler place one volume at a time (volumes of one pod still land together because the
//   group's nodes are binding, below); the pod scheduler passes the sum over the pod's new volumes of a pool
//   ("associated volumes", `volumeCount`), as the original's filter does.
//   Thin volumes are not placed (CSI refuses thin for now), so the thin part of the predicate is absent.
// - score: (1 − required/free) × 100, averaged over the pools asked for (one here); ties by node name.
// - exclusions: nodes already holding a replica of the volume; nodes not in state Ready; with
//   replicaNumber > 1, nodes whose core Node has a NoSchedule/NoExecute taint the volume does not
//   tolerate (the original applies its taint/affinity filter only to HA volumes too), and nodes whose data
//   plane cannot replicate (LocalStorageNode status.replication, docs/replication.md).
// - a group (LocalVolumeGroup) that already has exactly replicaNumber nodes binds the volume to them;
//   required accessibility nodes must pass the predicate or placement fails naming them.

import type { CoreNode, Taint, Toleration } from "../core.ts";
import type { LocalStorageNode } from "../kinds/local-storage-node.ts";
import type { LocalVolume } from "../kinds/local-volume.ts";
import type { LocalPool } from "../kinds/storage-pool.ts";
import { NodeStates, VolumeStates } from "../names.ts";
import { formatBytes } from "../quantity.ts";
import { replicationRefusal } from "../replication.ts";

type Lsn = LocalStorageNode;
type Lv = LocalVolume;

/** Default pool volume limit (§5.3: totalVolumeCount = 1000). */
export const DEFAULT_TOTAL_VOLUME_COUNT = 1000;

export interface PoolCapacity {
  totalBytes: number;
  usedBytes: number;
  freeBytes: number;
  totalVolumeCount: number;
  usedVolumeCount: number;
  /** Bytes / count of placed-but-not-yet-realised volumes included in used* above. */
  pendingBytes: number;
  pendingCount: number;
  /**
   * The largest volume the pool can hold (LocalPool volumeCapacityBytesLimit): the pool size for LVM and btrfs;
   * one disk's filesystem for the file engine's one-XFS-per-disk pools. Absent = no limit beyond free space.
   */
  volumeLimitBytes?: number;
}

export interface StorageNodeView {
  name: string;
  ready: boolean;
  /** Why not Ready (for messages). */
  state: string;
  hostname: string;
  storageIP: string;
  pools: Record<string, PoolCapacity>;
  taints: Taint[];
  /** Why this node cannot hold a replica of a replicated volume (docs/replication.md); undefined = it can. */
  noReplication?: string;
}

/** What one volume needs from placement. */
export interface VolumeDemand {
  name: string;
  poolName: string;
  /** Bytes asked of the pool: this volume's, or with `volumeCount` > 1 the sum over its associated volumes. */
  requiredBytes: number;
  /** Volumes counted together in the pool (the pod's new volumes in this pool, §4.1); default 1. */
  volumeCount?: number;
  replicaNumber: number;
  /** `spec.accessibility.nodes`: must pass the predicate, and come first. */
  requiredNodes?: string[];
  /** Nodes already holding a replica (`spec.config.replicas`): excluded. */
  excludeNodes?: string[];
  /** Nodes of the volume's group (LocalVolumeGroup `accessibility.nodes`). */
  groupNodes?: string[];
  tolerations?: Toleration[];
}

export interface Candidate {
  node: string;
  score: number;
}

export interface PlacementResult {
  /** Best first. */
  candidates: Candidate[];
  /** Nodes that were considered and why they do not fit. */
  rejected: Array<{ node: string; reason: string }>;
  /** Set when a required node does not fit: placement as a whole fails. */
  error?: string;
}

const num = (v: unknown, d = 0): number =>
  typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v !== "" && Number.isFinite(Number(v)) ? Number(v) : d;

function poolCapacity(p: LocalPool): PoolCapacity {
  const total = num(p.totalCapacityBytes);
  const used = num(p.usedCapacityBytes, Math.max(0, total - num(p.freeCapacityBytes, total)));
  return {
    totalBytes: total,
    usedBytes: used,
    freeBytes: num(p.freeCapacityBytes, total - used),
    totalVolumeCount: num(p.totalVolumeCount, DEFAULT_TOTAL_VOLUME_COUNT) || DEFAULT_TOTAL_VOLUME_COUNT,
    usedVolumeCount: num(p.usedVolumeCount, p.volumes?.length ?? 0),
    pendingBytes: 0,
    pendingCount: 0,
    ...(num(p.volumeCapacityBytesLimit) > 0 ? { volumeLimitBytes: num(p.volumeCapacityBytesLimit) } : {}),
  };
}

/** The nodes a volume has been placed on: its config replicas and its accessibility nodes. */
export function placedNodes(lv: Lv): string[] {
  const s = new Set<string>();
  for (const r of lv.spec?.config?.replicas ?? []) if (r.hostname) s.add(r.hostname);
  for (const n of lv.spec?.accessibility?.nodes ?? []) s.add(n);
  return [...s];
}

/**
 * Builds the placement view: LocalStorageNodes (capacity as the node reports it), plus what the controller
 * placed there that the node has not realised yet, plus core Node taints when core Nodes exist.
 */
export function storageNodeViews(lsns: Lsn[], lvs: Lv[], coreNodes: CoreNode[] = []): StorageNodeView[] {
  const taints = new Map(coreNodes.map((n) => [n.metadata?.name ?? "", n.spec?.taints ?? []]));
  const views = lsns.map((lsn): StorageNodeView => {
    const name = lsn.metadata?.name ?? "";
    const pools: Record<string, PoolCapacity> = {};
    for (const [poolName, p] of Object.entries(lsn.status?.pools ?? {})) pools[poolName] = poolCapacity(p);
    return {
      name,
      ready: lsn.status?.state === NodeStates.Ready,
      state: lsn.status?.state || "not reported",
      // The node name (= LSN name), which is what the original's agents write into spec.hostname; using
      // the name keeps config replicas, LVR spec.nodeName and topology in agreement even if they differ.
      hostname: name,
      storageIP: lsn.spec?.storageIP ?? "",
      pools,
      taints: taints.get(name) ?? [],
      ...(replicationRefusal(lsn) ? { noReplication: replicationRefusal(lsn) } : {}),
    };
  });
  addPending(views, lsns, lvs);
  return views;
}

/** A volume on its way out: if the node never realised it, it will never take space. */
const leaving = (lv: Lv): boolean => !!lv.spec?.delete || lv.status?.state === VolumeStates.Deleted || lv.status?.state === VolumeStates.ToBeDeleted;

/** Adds to each pool the volumes the controller placed there that its node does not report yet (pending). */
function addPending(views: StorageNodeView[], lsns: Lsn[], lvs: Lv[]): void {
  const byName = new Map(views.map((v) => [v.name, v]));
  const realised = new Map<string, Set<string>>(); // node/pool → volume names the node reports
  for (const lsn of lsns) {
    for (const [poolName, p] of Object.entries(lsn.status?.pools ?? {})) realised.set(`${lsn.metadata?.name}/${poolName}`, new Set(p.volumes ?? []));
  }
  for (const lv of lvs) {
    const name = lv.metadata?.name ?? "";
    const poolName = lv.spec?.poolName ?? "";
    if (leaving(lv)) continue;
    const bytes = Math.max(num(lv.spec?.requiredCapacityBytes), num(lv.spec?.config?.requiredCapacityBytes));
    for (const node of placedNodes(lv)) {
      const pool = byName.get(node)?.pools[poolName];
      if (!pool || realised.get(`${node}/${poolName}`)?.has(name)) continue;
      pool.pendingBytes += bytes;
      pool.pendingCount += 1;
      pool.usedBytes += bytes;
      pool.freeBytes -= bytes;
      pool.usedVolumeCount += 1;
    }
  }
}

/** Whether `pool` can take `count` more volumes of `requiredBytes` in all; undefined if yes, else why not. */
export function poolRejects(pool: PoolCapacity | undefined, poolName: string, requiredBytes: number, count = 1): string | undefined {
  if (!pool) return `no ${poolName} pool`;
  // Free space first: it is the usual reason, and a pool's volume limit is its size unless one volume must fit
  // one of its disks (the file engine's one XFS per disk).
  const room = pool.totalBytes - pool.usedBytes;
  if (requiredBytes > room)
    return `${poolName} has ${formatBytes(Math.max(0, room))} free${pool.pendingCount ? ` (after ${pool.pendingCount} pending volume(s))` : ""}, needs ${formatBytes(requiredBytes)}`;
  if (pool.volumeLimitBytes !== undefined && requiredBytes > pool.volumeLimitBytes)
    return `${poolName} holds volumes of at most ${formatBytes(pool.volumeLimitBytes)} (volumeCapacityBytesLimit: a volume must fit one disk of this pool), needs ${formatBytes(requiredBytes)}`;
  if (pool.usedVolumeCount + count > pool.totalVolumeCount) return `${poolName} holds ${pool.usedVolumeCount} of ${pool.totalVolumeCount} volumes`;
  return undefined;
}

/** (1 − required/free) × 100; 0 when free is 0. */
export function poolScore(pool: PoolCapacity, requiredBytes: number): number {
  const free = Math.min(pool.freeBytes, pool.totalBytes - pool.usedBytes);
  if (free <= 0) return 0;
  return (1 - requiredBytes / free) * 100;
}

/** Toleration match as the original: same key and effect (empty = any), Exists or Equal value. */
export function tolerates(tolerations: Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === "Exists";
    if (t.key !== taint.key) return false;
    return t.operator === "Exists" || (t.value ?? "") === (taint.value ?? "");
  });
}

/** A NoSchedule/NoExecute taint the tolerations do not cover, or undefined. */
export function blockingTaint(taints: Taint[], tolerations: Toleration[]): Taint | undefined {
  return taints.find((t) => (t.effect === "NoSchedule" || t.effect === "NoExecute") && !tolerates(tolerations, t));
}

/** GetNodeCandidates for one volume (§4.1). */
export function getNodeCandidates(nodes: StorageNodeView[], d: VolumeDemand): PlacementResult {
  const exclude = new Set(d.excludeNodes ?? []);
  const rejected: PlacementResult["rejected"] = [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const check = (name: string): Candidate | undefined => {
    const n = byName.get(name);
    let reason: string | undefined;
    if (!n) reason = "no LocalStorageNode";
    else if (!n.ready) reason = `LocalStorageNode is ${n.state}`;
    else {
      reason = poolRejects(n.pools[d.poolName], d.poolName, d.requiredBytes, d.volumeCount ?? 1);
      if (!reason && d.replicaNumber > 1) {
        const t = blockingTaint(n.taints, d.tolerations ?? []);
        if (t) reason = `taint ${t.key}${t.value ? `=${t.value}` : ""}:${t.effect} not tolerated`;
        else if (n.noReplication) reason = `cannot replicate: ${n.noReplication}`;
      }
    }
    if (reason) {
      rejected.push({ node: name, reason });
      return undefined;
    }
    return { node: name, score: poolScore(n!.pools[d.poolName]!, d.requiredBytes) };
  };
  const byScore = (a: Candidate, b: Candidate) => b.score - a.score || a.node.localeCompare(b.node);

  const group = (d.groupNodes ?? []).filter((n) => n);
  if (group.length === d.replicaNumber && group.length > exclude.size) {
    const candidates = group
      .filter((n) => !exclude.has(n))
      .map(check)
      .filter((c): c is Candidate => !!c);
    return { candidates, rejected };
  }
  const required = (d.requiredNodes ?? []).filter((n) => !exclude.has(n));
  const first: Candidate[] = [];
  for (const name of required) {
    const c = check(name);
    if (!c) {
      return { candidates: [], rejected, error: `required node ${name} cannot hold volume ${d.name}: ${rejected.at(-1)!.reason}` };
    }
    first.push(c);
  }
  const others = nodes
    .map((n) => n.name)
    .filter((n) => !exclude.has(n) && !required.includes(n))
    .sort()
    .map(check)
    .filter((c): c is Candidate => !!c)
    .sort(byScore);
  return { candidates: [...first, ...others], rejected };
}

/** CSI topology, reduced to our node key. */
export interface NodeTopology {
  /** Nodes the volume must be accessible from (any one of them); undefined = anywhere. */
  requisite?: string[];
  /** In order of preference. */
  preferred: string[];
}

/**
 * The nodes for a new volume's replicas: the first preferred node if it is a candidate (and requisite),
 * else the best-scoring requisite candidate (any candidate without requisite); then the best remaining
 * candidates up to replicaNumber. Undefined when there are not enough.
 */
export function chooseNodes(result: PlacementResult, topo: NodeTopology, replicaNumber: number): string[] | undefined {
  const cands = result.candidates.map((c) => c.node);
  const allowed = (n: string) => !topo.requisite || topo.requisite.includes(n);
  const first = topo.preferred.find((n) => allowed(n) && cands.includes(n)) ?? cands.find(allowed);
  if (first === undefined) return undefined;
  const chosen = [first, ...cands.filter((n) => n !== first)].slice(0, replicaNumber);
  return chosen.length === replicaNumber ? chosen : undefined;
}

/** Why nothing fits, for RESOURCE_EXHAUSTED messages: one clause per node. */
export function describeRejections(result: PlacementResult, nodes: StorageNodeView[]): string {
  if (!nodes.length) return "there are no LocalStorageNodes (is a node agent running?)";
  const parts = result.rejected.map((r) => `${r.node}: ${r.reason}`);
  return parts.length ? parts.join("; ") : "no node is left after the topology constraints";
}
