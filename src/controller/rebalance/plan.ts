// The rebalancing planner (issue 13, new relative to the original), pure: the nodes' pools (capacity and use, as
// placement sees them) + the volumes → an ordered list of migrations that brings every (node, pool) above the
// fill threshold under it without pushing a target over it, and every volume it could not move with the reason.
// Used by `hwameictl volume rebalance` (src/cli/hwameictl/volume/rebalance.ts) and by the Cluster's
// `spec.rebalance` policy (./reconciler.ts); both start one LocalVolumeMigrate at a time and re-plan after it.
//
//   fill(node, pool) = used / total × 100, used including volumes placed but not realised yet (placement's view)
//   sources: (node, pool) with fill > threshold (only --node's with `onlyNode`), fullest first, then by name
//   per source, until its fill ≤ threshold: the units (a volume, or its whole LocalVolumeGroup: a pod's volumes
//     move together, as a migration with migrateAllVols moves them) on it, tried in this order —
//       the smallest unit that alone brings the source under the threshold, then the others largest first
//     (least data moved when one volume suffices; otherwise the fewest moves); ties by name;
//     a unit moves to the target placement accepts for every volume of it (pool class, free space, the pool's
//     volume limit and count, LocalStorageNode Ready, no replica of the volume there, no NoSchedule/NoExecute
//     taint) whose fill after the move stays ≤ threshold — the least full after the move, ties by name;
//   skipped, with the reason: a volume busy (operation, not Ready, …: `blocked`), replicated (HA) volumes unless
//     `includeReplicated`, a volume published on a node whose engine migrates offline only (the copy would wait
//     for its pod to stop), and units no node can take.
// Deterministic: the same input gives the same plan (every order has a name tie-break).

import { blockingTaint, getNodeCandidates, type StorageNodeView } from "../../api/placement/placement.ts";
import { formatBytes } from "../../api/quantity.ts";

export interface RebalanceVolume {
  name: string;
  poolName: string;
  bytes: number;
  /** spec.config.replicas hostnames. */
  nodes: string[];
  replicaNumber: number;
  /** LocalVolumeGroup: its volumes move together. */
  group?: string;
  publishedNode?: string;
  /** Why the volume cannot move now (an operation on it, not Ready, …); undefined = it can. */
  blocked?: string;
}

export interface RebalanceInput {
  nodes: StorageNodeView[];
  volumes: RebalanceVolume[];
  /** A (node, pool) above this fill (percent) sheds volumes; a target never goes above it. */
  thresholdPercent: number;
  /** Only shed volumes from this node (targets may be any node). */
  onlyNode?: string;
  /** Move replicated (HA) volumes' replicas too (their other replicas' nodes are never targets). */
  includeReplicated?: boolean;
  /** Nodes whose engine copies offline only (lvm): a volume published there would wait for its pod to stop. */
  offlineOnlyNodes?: string[];
}

export interface RebalanceMove {
  /** The volumes moving together (the first one names the migration). */
  volumes: string[];
  from: string;
  to: string;
  /** Bytes leaving `from` (all pools). */
  bytes: number;
  /** The pool whose fill made `from` a source, and its fill before/after this move on each side. */
  poolName: string;
  fromPercent: [number, number];
  toPercent: [number, number];
}

export interface RebalanceSkip {
  volume: string;
  node: string;
  reason: string;
}

export interface PoolFill {
  node: string;
  poolName: string;
  totalBytes: number;
  usedBytes: number;
  percent: number;
  /** After the whole plan. */
  usedBytesAfter: number;
  percentAfter: number;
}

export interface RebalancePlan {
  thresholdPercent: number;
  moves: RebalanceMove[];
  skipped: RebalanceSkip[];
  /** Every (node, pool) with capacity, by node then pool. */
  fills: PoolFill[];
  /** Sources still above the threshold after the plan, one line each (why). */
  remaining: string[];
}

/** Ties between units go by their first volume's name (a group's own name is often generated). */
const byFirst = (a: { volumes: RebalanceVolume[] }, b: { volumes: RebalanceVolume[] }) => a.volumes[0]!.name.localeCompare(b.volumes[0]!.name);
const pct = (used: number, total: number) => (total > 0 ? (used / total) * 100 : 0);
const round1 = (x: number) => Math.round(x * 10) / 10;

interface Unit {
  key: string;
  volumes: RebalanceVolume[];
  /** Bytes in the source's pool. */
  poolBytes: number;
}

export function planRebalance(input: RebalanceInput): RebalancePlan {
  const threshold = input.thresholdPercent;
  // The simulation works on copies: each accepted move is applied, so later placements see it.
  const views: StorageNodeView[] = input.nodes.map((n) => ({ ...n, pools: Object.fromEntries(Object.entries(n.pools).map(([k, p]) => [k, { ...p }])) }));
  const byName = new Map(views.map((n) => [n.name, n]));
  const before = fillsOf(views);
  const nodesOf = new Map(input.volumes.map((v) => [v.name, [...v.nodes]]));
  const moved = new Set<string>();
  const moves: RebalanceMove[] = [];
  const skipped: RebalanceSkip[] = [];
  const remaining: string[] = [];
  const offlineOnly = new Set(input.offlineOnlyNodes ?? []);

  const sources = before
    .filter((f) => f.percent > threshold && (!input.onlyNode || f.node === input.onlyNode))
    .sort((a, b) => b.percent - a.percent || a.node.localeCompare(b.node) || a.poolName.localeCompare(b.poolName));

  for (const src of sources) {
    const pool = () => byName.get(src.node)!.pools[src.poolName]!;
    const over = () => pool().usedBytes - (threshold / 100) * pool().totalBytes;
    const units = unitsOn(input.volumes, src.node, src.poolName).filter((u) => !u.volumes.some((v) => moved.has(v.name)));
    const eligible: Unit[] = [];
    for (const u of units) {
      const why = ineligible(u, src.node, input, offlineOnly);
      if (why) skipped.push(...u.volumes.map((v) => ({ volume: v.name, node: src.node, reason: why })));
      else eligible.push(u);
    }
    const tried = new Set<string>();
    while (over() > 0) {
      const need = over();
      const left = eligible.filter((u) => !tried.has(u.key));
      if (left.length === 0) break;
      const enough = left.filter((u) => u.poolBytes >= need).sort((a, b) => a.poolBytes - b.poolBytes || byFirst(a, b));
      const rest = left.filter((u) => u.poolBytes < need).sort((a, b) => b.poolBytes - a.poolBytes || byFirst(a, b));
      const unit = [...enough, ...rest][0]!;
      tried.add(unit.key);
      const target = chooseTarget(views, unit, src.node, src.poolName, threshold, nodesOf);
      if (typeof target === "string") {
        skipped.push(...unit.volumes.map((v) => ({ volume: v.name, node: src.node, reason: target })));
        continue;
      }
      const fromBefore = pct(pool().usedBytes, pool().totalBytes);
      const toPool = () => target.view.pools[src.poolName];
      const toBefore = toPool() ? pct(toPool()!.usedBytes, toPool()!.totalBytes) : 0;
      for (const v of unit.volumes) {
        applyMove(byName.get(src.node)!, target.view, v);
        nodesOf.set(v.name, [...nodesOf.get(v.name)!.filter((n) => n !== src.node), target.view.name]);
        moved.add(v.name);
      }
      moves.push({
        volumes: unit.volumes.map((v) => v.name),
        from: src.node,
        to: target.view.name,
        bytes: unit.volumes.reduce((s, v) => s + v.bytes, 0),
        poolName: src.poolName,
        fromPercent: [round1(fromBefore), round1(pct(pool().usedBytes, pool().totalBytes))],
        toPercent: [round1(toBefore), toPool() ? round1(pct(toPool()!.usedBytes, toPool()!.totalBytes)) : 0],
      });
    }
    if (over() > 0)
      remaining.push(
        `${src.node} ${src.poolName} stays at ${round1(pct(pool().usedBytes, pool().totalBytes))}% (threshold ${threshold}%): ${
          eligible.length === 0 ? "none of its volumes can move" : "no more of its volumes can move"
        }`,
      );
  }
  const after = new Map(fillsOf(views).map((f) => [`${f.node}/${f.poolName}`, f]));
  const fills = before.map((f) => {
    const a = after.get(`${f.node}/${f.poolName}`)!;
    return { ...f, percent: round1(f.percent), usedBytesAfter: a.usedBytes, percentAfter: round1(a.percent) };
  });
  return { thresholdPercent: threshold, moves, skipped, fills, remaining };
}

function fillsOf(views: StorageNodeView[]): Array<Omit<PoolFill, "usedBytesAfter" | "percentAfter">> {
  return views
    .flatMap((n) =>
      Object.entries(n.pools)
        .filter(([, p]) => p.totalBytes > 0)
        .map(([poolName, p]) => ({ node: n.name, poolName, totalBytes: p.totalBytes, usedBytes: p.usedBytes, percent: pct(p.usedBytes, p.totalBytes) })),
    )
    .sort((a, b) => a.node.localeCompare(b.node) || a.poolName.localeCompare(b.poolName));
}

/** The units with a replica on `node` that use `poolName`: a volume, or every volume of its group on the node. */
function unitsOn(volumes: RebalanceVolume[], node: string, poolName: string): Unit[] {
  const on = volumes.filter((v) => v.nodes.includes(node));
  const keys = new Set(on.filter((v) => v.poolName === poolName).map((v) => (v.group ? `group:${v.group}` : v.name)));
  return [...keys]
    .map((key) => {
      const vs = on.filter((v) => (v.group ? `group:${v.group}` : v.name) === key).sort((a, b) => a.name.localeCompare(b.name));
      return { key, volumes: vs, poolBytes: vs.filter((v) => v.poolName === poolName).reduce((s, v) => s + v.bytes, 0) };
    })
    .sort(byFirst);
}

function ineligible(u: Unit, node: string, input: RebalanceInput, offlineOnly: Set<string>): string | undefined {
  for (const v of u.volumes) {
    const of = u.volumes.length > 1 ? `volume ${v.name} of its group: ` : "";
    if (v.blocked) return `${of}${v.blocked}`;
    if (v.replicaNumber > 1 && !input.includeReplicated)
      return `${of}replicated (HA, ${v.replicaNumber} replicas): not moved by default (--include-ha moves it; or hwameictl volume migrate)`;
    if (v.publishedNode === node && offlineOnly.has(node))
      return `${of}in use on ${node}, whose engine copies offline only: the copy would wait for the pod to stop (kubectl drain ${node}, or stop the pod)`;
  }
  return undefined;
}

/** The target for a unit, or why there is none. */
function chooseTarget(
  views: StorageNodeView[],
  u: Unit,
  source: string,
  poolName: string,
  threshold: number,
  nodesOf: Map<string, string[]>,
): { view: StorageNodeView } | string {
  const reasons = new Map<string, string>();
  const fits: Array<{ view: StorageNodeView; percent: number }> = [];
  for (const view of views) {
    if (view.name === source) continue;
    // Placement on a copy of the target, volume after volume, so a group's volumes are counted together; an HA
    // volume's replica also needs a node whose data plane can replicate (placement's replicaNumber > 1 rules).
    const trial: StorageNodeView = { ...view, pools: Object.fromEntries(Object.entries(view.pools).map(([k, p]) => [k, { ...p }])) };
    let why: string | undefined;
    for (const v of u.volumes) {
      const r = getNodeCandidates([trial], {
        name: v.name,
        poolName: v.poolName,
        requiredBytes: v.bytes,
        replicaNumber: v.replicaNumber > 1 ? 2 : 1,
        excludeNodes: nodesOf.get(v.name),
      });
      if (!r.candidates.length) {
        why = (nodesOf.get(v.name) ?? []).includes(view.name) ? `holds a replica of ${v.name}` : (r.rejected[0]?.reason ?? "not a candidate");
        break;
      }
      const p = trial.pools[v.poolName]!;
      p.usedBytes += v.bytes;
      p.freeBytes -= v.bytes;
      p.usedVolumeCount += 1;
    }
    // As the migrate controller: a cordoned or unreachable node takes no replica.
    const taint = why ? undefined : blockingTaint(view.taints, []);
    if (taint) why = `taint ${taint.key}:${taint.effect}`;
    if (!why) {
      const over = Object.entries(trial.pools).find(([k, p]) => u.volumes.some((v) => v.poolName === k) && pct(p.usedBytes, p.totalBytes) > threshold);
      if (over) why = `would be ${round1(pct(over[1].usedBytes, over[1].totalBytes))}% full in ${over[0]} (threshold ${threshold}%)`;
    }
    if (why) reasons.set(view.name, why);
    else {
      const main = trial.pools[poolName]!;
      fits.push({ view, percent: pct(main.usedBytes, main.totalBytes) });
    }
  }
  fits.sort((a, b) => a.percent - b.percent || a.view.name.localeCompare(b.view.name));
  if (fits[0]) return { view: fits[0].view };
  const size = formatBytes(u.volumes.reduce((s, v) => s + v.bytes, 0));
  const parts = [...reasons.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([n, r]) => `${n}: ${r}`);
  return `no node can take it (${size}): ${parts.join("; ") || "no other storage node"}`;
}

function applyMove(from: StorageNodeView, to: StorageNodeView, v: RebalanceVolume): void {
  const a = from.pools[v.poolName];
  if (a) {
    a.usedBytes -= v.bytes;
    a.freeBytes += v.bytes;
    a.usedVolumeCount -= 1;
  }
  const b = to.pools[v.poolName]!;
  b.usedBytes += v.bytes;
  b.freeBytes -= v.bytes;
  b.usedVolumeCount += 1;
}
