// ResizePolicy (fact sheet §1.16, §11; the original's pvc-autoresizer), pure:
//
// 1. Attachment — which policy governs a claim. Policies are kept in four chains, each newest
//    creationTimestamp first (ties by name): PVC chain (pvcSelector set), namespace chain (else
//    namespaceSelector set), StorageClass chain (else storageClassSelector set), cluster chain (no selector).
//    Walking the chains in that order, the first policy whose EVERY set selector matches (PVC labels,
//    namespace labels, StorageClass labels) wins. A policy without selectors is the cluster default.
//
// 2. Resize decision, reading top to bottom:
//
// | # | given                                                     | result                        |
// |---|-----------------------------------------------------------|-------------------------------|
// | 1 | no policy, or no usage reported yet, or capacity unknown  | none                          |
// | 2 | usage% = 100×used/capacity < resizeThreshold              | none (below threshold)        |
// | 3 | a replica's pool used% ≥ nodePoolUsageLimit               | none (pool too full)          |
// | 4 | new size = roundUp4MiB(used×100/(warningThreshold−1)), +4 MiB until used/new×100 < warningThreshold |  |
// | 5 | new size ≤ capacity                                       | none (nothing to grow)        |
// | 6 | new − capacity > a replica pool's free bytes              | none (no room; message)       |
// | 7 | otherwise                                                 | resize to the new size        |

import { labelSelectorMatcher, type LabelSelector } from "../../api/label-selector.ts";
import type { ResizePolicySpec } from "../../api/kinds/resize-policy.ts";
import { isHwError } from "../../api/errors.ts";

export const EXTENT = 4 * 1024 * 1024;
const roundUp = (n: number) => Math.ceil(n / EXTENT) * EXTENT;

export interface PolicyView {
  name: string;
  creationTimestamp: string;
  spec: ResizePolicySpec;
}

export interface ClaimLabels {
  pvc: Record<string, string>;
  namespace: Record<string, string>;
  storageClass: Record<string, string>;
}

type Chain = "pvc" | "namespace" | "storageClass" | "cluster";
export function chainOf(p: ResizePolicySpec): Chain {
  if (p.pvcSelector) return "pvc";
  if (p.namespaceSelector) return "namespace";
  if (p.storageClassSelector) return "storageClass";
  return "cluster";
}

/** The policy governing a claim with these labels, or undefined. */
export function selectPolicy(policies: PolicyView[], labels: ClaimLabels): PolicyView | undefined {
  const newestFirst = [...policies].sort((a, b) => b.creationTimestamp.localeCompare(a.creationTimestamp) || a.name.localeCompare(b.name));
  for (const chain of ["pvc", "namespace", "storageClass", "cluster"] as const) {
    for (const p of newestFirst.filter((x) => chainOf(x.spec) === chain)) {
      const s = p.spec;
      // An invalid selector (bad operator) matches nothing, as metav1.LabelSelectorAsSelector's error would.
      const m = (sel: unknown, l: Record<string, string>) => {
        try {
          return labelSelectorMatcher(sel as LabelSelector)(l);
        } catch (e) {
          if (!isHwError(e)) throw e;
          return false;
        }
      };
      const ok =
        (!s.pvcSelector || m(s.pvcSelector, labels.pvc)) &&
        (!s.namespaceSelector || m(s.namespaceSelector, labels.namespace)) &&
        (!s.storageClassSelector || m(s.storageClassSelector, labels.storageClass));
      if (ok) return p;
    }
  }
  return undefined;
}

export interface PoolFact {
  node: string;
  totalBytes: number;
  usedBytes: number;
  freeBytes: number;
}

export interface ResizeFacts {
  usedBytes: number;
  /** The claim's current size: the PVC request, or the LocalVolume's required capacity without a PVC. */
  capacityBytes: number;
  pools: PoolFact[];
}

export type ResizeDecision = { resize: false; reason: string } | { resize: true; newBytes: number; reason: string };

export function decideResize(policy: ResizePolicySpec | undefined, f: ResizeFacts): ResizeDecision {
  if (!policy) return { resize: false, reason: "no ResizePolicy applies" };
  if (!(f.usedBytes > 0) || !(f.capacityBytes > 0)) return { resize: false, reason: "no usage reported yet" };
  const usage = (100 * f.usedBytes) / f.capacityBytes;
  if (usage < policy.resizeThreshold) return { resize: false, reason: `usage ${usage.toFixed(1)}% is below resizeThreshold ${policy.resizeThreshold}%` };
  for (const p of f.pools) {
    const pu = p.totalBytes > 0 ? (100 * p.usedBytes) / p.totalBytes : 100;
    if (pu >= policy.nodePoolUsageLimit)
      return { resize: false, reason: `pool on node ${p.node} is ${pu.toFixed(1)}% used, at or above nodePoolUsageLimit ${policy.nodePoolUsageLimit}%` };
  }
  const warn = policy.warningThreshold;
  if (warn <= 1) return { resize: false, reason: `warningThreshold ${warn}% leaves no target size` };
  let size = roundUp((f.usedBytes * 100) / (warn - 1));
  while ((f.usedBytes / size) * 100 >= warn) size += EXTENT;
  if (size <= f.capacityBytes) return { resize: false, reason: `target ${size} bytes is not above the current ${f.capacityBytes}` };
  for (const p of f.pools) {
    if (size - f.capacityBytes > p.freeBytes)
      return { resize: false, reason: `pool on node ${p.node} has ${p.freeBytes} bytes free, growing needs ${size - f.capacityBytes}` };
  }
  return {
    resize: true,
    newBytes: size,
    reason: `usage ${usage.toFixed(1)}% ≥ resizeThreshold ${policy.resizeThreshold}%: grow to ${size} bytes (usage then below warningThreshold ${warn}%)`,
  };
}
