// The node lifecycle controller's decisions (kube-controller-manager's `nodelifecycle`), pure: from a Node, and
// whether its kubelet (here: the node agent's heartbeat) has been heard from within the grace period, what its
// conditions and taints must be.
//
//   heard within nodeMonitorGracePeriod (lease renewed or Ready heartbeat changed, as seen on OUR clock)
//                                            → conditions untouched (the kubelet owns them)
//   not heard, Ready posted before           → every kubelet condition (Ready, MemoryPressure, DiskPressure,
//                                              PIDPressure) Unknown, reason NodeStatusUnknown,
//                                              "Kubelet stopped posting node status."
//   not heard, Ready never posted            → the same with NodeStatusNeverUpdated, "Kubelet never posted node status."
//   Ready Unknown                            → taints node.kubernetes.io/unreachable NoSchedule + NoExecute
//   Ready False                              → taints node.kubernetes.io/not-ready NoSchedule + NoExecute
//   Ready True                               → neither
//   spec.unschedulable (kubectl cordon/drain) → taint node.kubernetes.io/unschedulable NoSchedule
//   Ready leaves True                        → Event NodeNotReady "Node <n> status is now: NodeNotReady"
//   Ready becomes True again                 → Event NodeReady "Node <n> status is now: NodeReady" (the kubelet's
//                                              event upstream; the node agent posts no events, so this role does)
// A Node without a Lease in kube-node-lease (nothing heartbeats it) only gets the cordon taint.
// Taints written by anyone else are kept untouched. The NoExecute taint's timeAdded is set when it is added.
// Not done (upstream does): evicting pods that do not tolerate the NoExecute taint (the taint-eviction
// controller, after the 300 s default toleration) and zone-wide disruption rate limiting — here the failover
// assistant (src/controller/failover/) is what moves pods off a dead node.

import type { Condition, CoreNode, Taint } from "../../api/core.ts";

export const TaintKeys = {
  Unreachable: "node.kubernetes.io/unreachable",
  NotReady: "node.kubernetes.io/not-ready",
  Unschedulable: "node.kubernetes.io/unschedulable",
} as const;

/** The conditions the kubelet posts; all of them go Unknown when it stops posting. */
export const KUBELET_CONDITIONS = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] as const;

export interface NodeLifecycleDecision {
  /** New status.conditions, or undefined when unchanged. */
  conditions?: Condition[];
  /** New spec.taints, or undefined when unchanged. */
  taints?: Taint[];
  event?: { type: "Normal"; reason: "NodeNotReady" | "NodeReady"; message: string };
}

const MANAGED = new Set<string>([TaintKeys.Unreachable, TaintKeys.NotReady, TaintKeys.Unschedulable]);
const same = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect;

/** The taints this controller owns for a Ready status and the cordon flag. */
export function desiredTaints(ready: string | undefined, unschedulable: boolean): Taint[] {
  const out: Taint[] = [];
  if (ready === "Unknown") out.push({ key: TaintKeys.Unreachable, effect: "NoSchedule" }, { key: TaintKeys.Unreachable, effect: "NoExecute" });
  if (ready === "False") out.push({ key: TaintKeys.NotReady, effect: "NoSchedule" }, { key: TaintKeys.NotReady, effect: "NoExecute" });
  if (unschedulable) out.push({ key: TaintKeys.Unschedulable, effect: "NoSchedule" });
  return out;
}

/**
 * @param heard the node's lease or Ready heartbeat changed within the grace period (own clock)
 * @param previousReady the Ready status this controller saw last time (undefined on the first look)
 */
export function decideNode(node: CoreNode, heard: boolean, now: string, previousReady?: string): NodeLifecycleDecision {
  const name = node.metadata?.name ?? "";
  const out: NodeLifecycleDecision = {};
  let conditions = node.status?.conditions ?? [];
  const readyBefore = conditions.find((c) => c.type === "Ready");
  if (!heard) {
    const never = !readyBefore || !readyBefore.lastHeartbeatTime;
    const next: Condition[] = conditions.filter((c) => !(KUBELET_CONDITIONS as readonly string[]).includes(c.type));
    let changed = false;
    for (const type of KUBELET_CONDITIONS) {
      const cur = conditions.find((c) => c.type === type);
      if (!cur && type !== "Ready") continue; // only conditions the kubelet posted (Ready always)
      if (cur?.status === "Unknown") {
        next.push(cur);
        continue;
      }
      changed = true;
      next.push({
        type,
        status: "Unknown",
        reason: never ? "NodeStatusNeverUpdated" : "NodeStatusUnknown",
        message: never ? "Kubelet never posted node status." : "Kubelet stopped posting node status.",
        lastHeartbeatTime: cur?.lastHeartbeatTime,
        lastTransitionTime: now,
      });
    }
    if (changed) {
      conditions = next;
      out.conditions = next;
    }
  }
  const ready = conditions.find((c) => c.type === "Ready")?.status;
  const current = node.spec?.taints ?? [];
  const want = desiredTaints(ready, !!node.spec?.unschedulable);
  const kept = current.filter((t) => !MANAGED.has(t.key) || want.some((w) => same(w, t)));
  const added = want.filter((w) => !current.some((t) => same(w, t))).map((w) => (w.effect === "NoExecute" ? { ...w, timeAdded: now } : w));
  if (added.length > 0 || kept.length !== current.length) out.taints = [...kept, ...added];
  const wasReady = previousReady ?? readyBefore?.status;
  if (wasReady === "True" && ready !== "True") out.event = { type: "Normal", reason: "NodeNotReady", message: `Node ${name} status is now: NodeNotReady` };
  if (previousReady !== undefined && previousReady !== "True" && ready === "True")
    out.event = { type: "Normal", reason: "NodeReady", message: `Node ${name} status is now: NodeReady` };
  return out;
}
