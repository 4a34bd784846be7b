// kube-scheduler's storage-relevant default plugins as pure functions: NodeUnschedulable, TaintToleration,
// NodeAffinity (nodeSelector + required/preferred node affinity), VolumeBinding (PVC existence, bound PVs'
// node affinity, unbound Immediate PVCs, WaitForFirstConsumer), as upstream documents them. The messages
// are upstream's, so `kubectl describe pod` reads as it would in a cluster. The embedded scheduler runs
// these, then HwameiStor's filter (storage.ts). Not modelled (no resources, no images here): NodeResourcesFit,
// NodePorts, ImageLocality, InterPodAffinity, PodTopologySpread.

import type { CoreNode, NodeSelectorRequirement, NodeSelectorTerm, Pod, Pv, Pvc, StorageClassShape, Taint, Toleration } from "../api/core.ts";
import { tolerates } from "../api/placement/placement.ts";

export const UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable";

export interface ClusterView {
  pvcs: Pvc[];
  pvs: Pv[];
  storageClasses: StorageClassShape[];
}

/** NodeUnschedulable: a cordoned node takes only pods tolerating node.kubernetes.io/unschedulable:NoSchedule. */
export function nodeUnschedulable(pod: Pod, node: CoreNode): string | undefined {
  if (!node.spec?.unschedulable) return undefined;
  const taint: Taint = { key: UNSCHEDULABLE_TAINT_KEY, effect: "NoSchedule" };
  return tolerates(pod.spec?.tolerations ?? [], taint) ? undefined : "node(s) were unschedulable";
}

/** TaintToleration (filter): NoSchedule / NoExecute taints the pod does not tolerate. */
export function untoleratedTaint(pod: Pod, node: CoreNode): string | undefined {
  const tols: Toleration[] = pod.spec?.tolerations ?? [];
  const t = (node.spec?.taints ?? []).find((x) => (x.effect === "NoSchedule" || x.effect === "NoExecute") && !tolerates(tols, x));
  return t ? `node(s) had untolerated taint {${t.key}: ${t.value ?? ""}}` : undefined;
}

/** PreferNoSchedule taints the pod does not tolerate (TaintToleration score: fewer is better). */
export function intolerablePreferNoSchedule(pod: Pod, node: CoreNode): number {
  const tols = pod.spec?.tolerations ?? [];
  return (node.spec?.taints ?? []).filter((x) => x.effect === "PreferNoSchedule" && !tolerates(tols, x)).length;
}

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      if (value === undefined || values.length !== 1) return false;
      const a = Number(value);
      const b = Number(values[0]);
      if (!Number.isInteger(a) || !Number.isInteger(b)) return false;
      return r.operator === "Gt" ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** A node selector term: every expression on labels and every field (metadata.name) must match; an empty term matches nothing. */
export function termMatches(term: NodeSelectorTerm, node: CoreNode): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  const labels = node.metadata?.labels ?? {};
  if (!exprs.every((r) => requirementMatches(r, labels[r.key]))) return false;
  return fields.every((r) => r.key === "metadata.name" && requirementMatches(r, node.metadata?.name));
}

/** NodeAffinity (filter): spec.nodeSelector (all labels equal) and required node affinity (any term). */
export function nodeAffinityMismatch(pod: Pod, node: CoreNode): string | undefined {
  const msg = "node(s) didn't match Pod's node affinity/selector";
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (labels[k] !== v) return msg;
  const req = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (req && !(req.nodeSelectorTerms ?? []).some((t) => termMatches(t, node))) return msg;
  return undefined;
}

/** NodeAffinity (score): the sum of the weights of the preferred terms the node matches. */
export function preferredAffinityWeight(pod: Pod, node: CoreNode): number {
  let sum = 0;
  for (const p of pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (p.weight && termMatches(p.preference, node)) sum += p.weight;
  }
  return sum;
}

export interface PodClaims {
  /** Unschedulable everywhere until fixed (missing or deleted PVC, unbound Immediate PVC, missing PV). */
  error?: string;
  /** PVs of the pod's bound PVCs. */
  boundPvs: Pv[];
  /** Unbound PVCs of WaitForFirstConsumer classes: the scheduler picks their node. */
  delayed: Pvc[];
}

/** VolumeBinding's PreFilter: the pod's PVCs, sorted into bound and delayed-binding ones. */
export function podClaims(pod: Pod, view: ClusterView): PodClaims {
  const ns = pod.metadata?.namespace ?? "default";
  const out: PodClaims = { boundPvs: [], delayed: [] };
  for (const vol of pod.spec?.volumes ?? []) {
    const name = vol.persistentVolumeClaim?.claimName;
    if (!name) continue;
    const pvc = view.pvcs.find((p) => p.metadata?.name === name && (p.metadata?.namespace ?? "default") === ns);
    if (!pvc) return { ...out, error: `persistentvolumeclaim "${name}" not found` };
    if (pvc.metadata?.deletionTimestamp) return { ...out, error: `persistentvolumeclaim "${name}" is being deleted` };
    const pvName = pvc.spec?.volumeName;
    if (pvName) {
      const pv = view.pvs.find((p) => p.metadata?.name === pvName);
      if (!pv) return { ...out, error: `persistentvolume "${pvName}" not found` };
      // Upstream treats a PVC with volumeName whose binding is not complete as bound-in-progress and waits.
      if (pvc.status?.phase !== "Bound") return { ...out, error: `persistentvolumeclaim "${name}" is not bound yet (volume ${pvName})` };
      out.boundPvs.push(pv);
      continue;
    }
    const scName = pvc.spec?.storageClassName ?? "";
    const sc = view.storageClasses.find((s) => s.metadata?.name === scName);
    if (sc?.volumeBindingMode === "WaitForFirstConsumer") out.delayed.push(pvc);
    else return { ...out, error: "pod has unbound immediate PersistentVolumeClaims" };
  }
  return out;
}

/** VolumeBinding (filter): bound PVs' node affinity; delayed PVCs' class allowedTopologies. */
export function volumeBindingMismatch(claims: PodClaims, node: CoreNode, view: ClusterView): string | undefined {
  for (const pv of claims.boundPvs) {
    const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
    if (terms && !terms.some((t) => termMatches(t, node))) return "node(s) had volume node affinity conflict";
  }
  const labels = node.metadata?.labels ?? {};
  for (const pvc of claims.delayed) {
    const sc = view.storageClasses.find((s) => s.metadata?.name === pvc.spec?.storageClassName);
    const allowed = sc?.allowedTopologies ?? [];
    if (!allowed.length) continue;
    const ok = allowed.some((t) => (t.matchLabelExpressions ?? []).every((e) => e.values.includes(labels[e.key] ?? "\u0000")));
    if (!ok) return "node(s) didn't find available persistent volumes to bind";
  }
  return undefined;
}
