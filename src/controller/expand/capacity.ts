// Pool capacity for a growth (issue 6 "Bad input: expanding beyond the pool"): checked before anything is
// written, by ControllerExpandVolume, the LocalVolumeExpand reconciler and the ResizePolicy controller.
// Pure: LocalStorageNode pool figures (what the node reports, plus placed-but-unrealised volumes) in,
// a precise message out.

import { storageNodeViews } from "../../api/placement/placement.ts";
import { type Lsn, type Lv } from "../../kube/hwameistor.ts";
import { formatBytes } from "../../api/quantity.ts";

/** Nodes holding the volume's replicas: config replicas, else accessibility nodes. */
export function replicaNodesOf(lv: Lv): string[] {
  const cfg = (lv.spec?.config?.replicas ?? []).map((r) => r.hostname);
  return cfg.length ? cfg : (lv.spec?.accessibility?.nodes ?? []);
}

/**
 * Why the pools of `lv`'s replica nodes cannot grow it to `targetBytes`, or undefined if they can.
 * The growth on each node is target − the larger of the volume's required and allocated size.
 */
export function growthProblem(lv: Lv, targetBytes: number, lsns: Lsn[], lvs: Lv[]): string | undefined {
  const name = lv.metadata?.name ?? "";
  const pool = lv.spec?.poolName ?? "";
  const have = Math.max(lv.spec?.requiredCapacityBytes ?? 0, lv.spec?.config?.requiredCapacityBytes ?? 0, lv.status?.allocatedCapacityBytes ?? 0);
  const delta = targetBytes - have;
  if (delta <= 0) return undefined;
  const views = new Map(storageNodeViews(lsns, lvs).map((v) => [v.name, v]));
  const problems: string[] = [];
  for (const node of replicaNodesOf(lv)) {
    const p = views.get(node)?.pools[pool];
    if (!p) {
      problems.push(`node ${node} reports no ${pool}`);
      continue;
    }
    const free = Math.max(0, Math.min(p.freeBytes, p.totalBytes - p.usedBytes));
    if (free < delta)
      problems.push(`pool ${pool} on node ${node} has ${formatBytes(free)} free (${formatBytes(p.totalBytes)} total), the growth needs ${formatBytes(delta)}`);
  }
  if (!problems.length) return undefined;
  return `cannot grow volume ${name} from ${formatBytes(have)} to ${formatBytes(targetBytes)}: ${problems.join("; ")}`;
}
