// One scheduling decision, pure: a pod, the nodes and a snapshot of the storage objects → the chosen node
// (or why none fits, as kube-scheduler words it), the PVC annotations to write, and the WaitForFirstConsumer
// PVCs that get `volume.kubernetes.io/selected-node`. The embedded scheduler (scheduler.ts) gathers the
// snapshot and applies the result.
//
// Profiles (the pod's spec.schedulerName): `default-scheduler` runs kube-scheduler's plugins that matter for
// storage (predicates.ts); `hwameistor-scheduler` runs those plus HwameiStor's filter and score
// (storage.ts, weight 10 as the original's profile). Scores: HwameiStor 0..100 × 10, NodeAffinity preferred
// terms normalised to 0..100 × 2, TaintToleration (fewest untolerated PreferNoSchedule taints) 0..100 × 3 —
// upstream's default weights. Upstream breaks ties at random; here ties go to the node with fewest pods
// (then by name), so equal nodes spread and a test can predict the outcome.

import type { CoreNode, Pod, Pv } from "../api/core.ts";
import { ObjectNames } from "../api/names.ts";
import {
  intolerablePreferNoSchedule,
  nodeAffinityMismatch,
  nodeUnschedulable,
  podClaims,
  preferredAffinityWeight,
  untoleratedTaint,
  volumeBindingMismatch,
} from "./predicates.ts";
import { filterNode, planPodStorage, scoreNode, type AnnotationPatch, type StorageState } from "./storage.ts";

export const DEFAULT_SCHEDULER_NAME = "default-scheduler";
export const HWAMEISTOR_SCHEDULER_NAME = ObjectNames.SchedulerName;

/** The schedulers the embedded scheduler serves; a pod naming another stays Pending for its own scheduler. */
export const EMBEDDED_PROFILES: readonly string[] = [DEFAULT_SCHEDULER_NAME, HWAMEISTOR_SCHEDULER_NAME];

export const WEIGHTS = { hwameistor: 10, nodeAffinity: 2, taintToleration: 3 } as const;

export interface PlacementInput {
  nodes: CoreNode[];
  storage: StorageState & { pvs: Pv[] };
  /** Pods already on each node (tie-break). */
  podsPerNode?: Map<string, number>;
}

export interface PodPlacement {
  node?: string;
  /** Upstream's FailedScheduling message when no node fits: "0/3 nodes are available: …". */
  message?: string;
  /** node → reason it was filtered out. */
  failed: Record<string, string>;
  /** node → total score, for feasible nodes. */
  scores: Record<string, number>;
  /** HwameiStor filter step 1 (only with the hwameistor profile). */
  annotationPatches: AnnotationPatch[];
  /** Names of unbound WaitForFirstConsumer PVCs (pod namespace) to annotate with the chosen node. */
  delayedPvcs: string[];
}

export const schedulerNameOf = (pod: Pod): string => pod.spec?.schedulerName || DEFAULT_SCHEDULER_NAME;

/** Chooses a node for `pod` (which must have no spec.nodeName). */
export function placePod(pod: Pod, input: PlacementInput): PodPlacement {
  const profile = schedulerNameOf(pod);
  const out: PodPlacement = { failed: {}, scores: {}, annotationPatches: [], delayedPvcs: [] };
  const nodes = [...input.nodes].sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  if (!nodes.length) {
    out.message = "no nodes available to schedule pods";
    return out;
  }
  const claims = podClaims(pod, input.storage);
  if (claims.error) {
    // PreFilter failure: upstream reports it alone.
    out.message = `0/${nodes.length} nodes are available: ${claims.error}. preemption: not eligible.`;
    for (const n of nodes) out.failed[n.metadata?.name ?? ""] = claims.error;
    return out;
  }
  out.delayedPvcs = claims.delayed.map((p) => p.metadata?.name ?? "");
  const plan =
    profile === HWAMEISTOR_SCHEDULER_NAME
      ? planPodStorage(
          pod,
          input.storage,
          nodes.map((n) => n.metadata?.name ?? ""),
        )
      : undefined;
  if (plan) out.annotationPatches = plan.annotationPatches;

  const feasible: CoreNode[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name ?? "";
    const reason =
      nodeUnschedulable(pod, node) ??
      untoleratedTaint(pod, node) ??
      nodeAffinityMismatch(pod, node) ??
      volumeBindingMismatch(claims, node, input.storage) ??
      (plan && (plan.volumes.length || plan.error) ? filterNode(plan, name) : undefined);
    if (reason) out.failed[name] = reason;
    else feasible.push(node);
  }
  if (!feasible.length) {
    const counts = new Map<string, number>();
    for (const r of Object.values(out.failed)) counts.set(r, (counts.get(r) ?? 0) + 1);
    const parts = [...counts].sort((a, b) => a[0].localeCompare(b[0])).map(([r, n]) => `${n} ${r}`);
    out.message = `0/${nodes.length} nodes are available: ${parts.join(", ")}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`;
    return out;
  }

  const affinity = feasible.map((n) => preferredAffinityWeight(pod, n));
  const maxAffinity = Math.max(0, ...affinity);
  const taints = feasible.map((n) => intolerablePreferNoSchedule(pod, n));
  const maxTaints = Math.max(0, ...taints);
  feasible.forEach((node, i) => {
    const name = node.metadata?.name ?? "";
    const hw = plan ? scoreNode(plan, name) : 0;
    const aff = maxAffinity ? (affinity[i]! / maxAffinity) * 100 : 0;
    const tt = maxTaints ? 100 - (taints[i]! / maxTaints) * 100 : 100;
    out.scores[name] = hw * WEIGHTS.hwameistor + aff * WEIGHTS.nodeAffinity + tt * WEIGHTS.taintToleration;
  });
  const pods = input.podsPerNode ?? new Map<string, number>();
  const ranked = Object.keys(out.scores).sort((a, b) => out.scores[b]! - out.scores[a]! || (pods.get(a) ?? 0) - (pods.get(b) ?? 0) || a.localeCompare(b));
  out.node = ranked[0];
  return out;
}
