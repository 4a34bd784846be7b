// kube-controller-manager's disruption controller, as this project plays it where no Kubernetes runs: keeps each
// PodDisruptionBudget's status current so the eviction subresource (src/apiserver/handlers/eviction.ts) can
// decide. Per budget, over the pods of its namespace its selector matches:
//   expectedPods    = the matching pods (for a percentage or maxUnavailable, the owning StatefulSet's
//                     spec.replicas when all matching pods have one owner; else the pod count)
//   desiredHealthy  = minAvailable (int, or percentage of expected rounded up), or expected − maxUnavailable
//   currentHealthy  = matching pods that are Ready, not being deleted, and not in disruptedPods
//   disruptionsAllowed = max(0, currentHealthy − desiredHealthy); observedGeneration = generation
//   disruptedPods entries are dropped once the pod is gone or being deleted, or after 2 minutes (upstream's
//   DeletionTimeout), so an eviction that never happened gives its allowance back.
// Condition `DisruptionAllowed` (True/SufficientPods, False/InsufficientPods) as upstream.

import type { Pod } from "../api/core.ts";
import { labelSelectorMatcher, type LabelSelector } from "../api/label-selector.ts";
import type { KubeClient } from "../kube/client.ts";
import { Controller } from "../kube/controller.ts";
import { InformerFactory } from "../kube/informer-factory.ts";
import { POD, POD_DISRUPTION_BUDGET, STATEFUL_SET, metaTime } from "../kube/resources.ts";
import { silentLogger, type KubeObject, type Logger } from "../kube/types.ts";

type Pdb = KubeObject & {
  spec?: { selector?: LabelSelector; minAvailable?: number | string; maxUnavailable?: number | string };
  status?: {
    observedGeneration?: number;
    disruptedPods?: Record<string, string>;
    disruptionsAllowed?: number;
    currentHealthy?: number;
    desiredHealthy?: number;
    expectedPods?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string; lastTransitionTime: string; observedGeneration?: number }>;
  };
};
type P = Pod & KubeObject;

const DELETION_TIMEOUT_MS = 2 * 60_000;
const ready = (p: P) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

const scaled = (v: number | string, expected: number, up: boolean): number => {
  if (typeof v === "number") return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) return Number(v) || 0;
  const x = (Number(m[1]) * expected) / 100;
  return up ? Math.ceil(x) : Math.floor(x);
};

/** The evictions still pending in status.disruptedPods: their pod exists, is not deleting yet, and the entry is not timed out. */
function pendingDisruptions(pdb: Pdb, byName: Map<string, P>, nowMs: number): Record<string, string> {
  const disrupted: Record<string, string> = {};
  for (const [name, at] of Object.entries(pdb.status?.disruptedPods ?? {})) {
    const p = byName.get(name);
    if (!p || p.metadata?.deletionTimestamp || nowMs - Date.parse(at) > DELETION_TIMEOUT_MS) continue;
    disrupted[name] = at;
  }
  return disrupted;
}

/** How many of `expected` pods must stay healthy: minAvailable, or expected - maxUnavailable, else 0. */
function desiredHealthy(pdb: Pdb, expected: number): number {
  if (pdb.spec?.minAvailable !== undefined) return scaled(pdb.spec.minAvailable, expected, true);
  if (pdb.spec?.maxUnavailable !== undefined) return Math.max(0, expected - scaled(pdb.spec.maxUnavailable, expected, true));
  return 0;
}

/** The status a budget should have (pure). */
export function pdbStatus(pdb: Pdb, pods: P[], scaleOf: (pods: P[]) => number | undefined, nowMs: number): NonNullable<Pdb["status"]> {
  const match = labelSelectorMatcher(pdb.spec?.selector);
  const mine = pods.filter((p) => match(p.metadata?.labels ?? {}));
  const byName = new Map(mine.map((p) => [p.metadata?.name ?? "", p]));
  const disrupted = pendingDisruptions(pdb, byName, nowMs);
  const intMin = typeof pdb.spec?.minAvailable === "number";
  const expected = intMin ? mine.length : (scaleOf(mine) ?? mine.length);
  const desired = desiredHealthy(pdb, expected);
  const healthy = mine.filter((p) => ready(p) && !p.metadata?.deletionTimestamp && !disrupted[p.metadata?.name ?? ""]).length;
  const allowed = Math.max(0, healthy - desired);
  const prevCond = pdb.status?.conditions?.find((c) => c.type === "DisruptionAllowed");
  const condStatus = allowed > 0 ? "True" : "False";
  return {
    observedGeneration: pdb.metadata?.generation ?? 1,
    disruptedPods: Object.keys(disrupted).length ? disrupted : undefined,
    disruptionsAllowed: allowed,
    currentHealthy: healthy,
    desiredHealthy: desired,
    expectedPods: expected,
    conditions: [
      {
        type: "DisruptionAllowed",
        status: condStatus,
        reason: allowed > 0 ? "SufficientPods" : "InsufficientPods",
        message: "",
        lastTransitionTime: prevCond?.status === condStatus ? prevCond.lastTransitionTime : metaTime(nowMs),
        observedGeneration: pdb.metadata?.generation ?? 1,
      },
    ],
  };
}

export function disruptionController(o: { client: KubeClient; informers?: InformerFactory; log?: Logger }) {
  const log = o.log ?? silentLogger;
  const f = o.informers ?? new InformerFactory(o.client, { log });
  const pdbs = o.client.forKind<Pdb>(POD_DISRUPTION_BUDGET);
  const inf = { pdb: f.for<Pdb>(POD_DISRUPTION_BUDGET), pod: f.for<P>(POD), sts: f.for<KubeObject & { spec?: { replicas?: number } }>(STATEFUL_SET) };
  const ctl = new Controller({ name: "disruption", log, reconcile: (k) => sync(k) });
  const keyOf = (p: KubeObject) => `${p.metadata?.namespace}/${p.metadata?.name}`;
  ctl.watch(inf.pdb, keyOf);
  ctl.watch(inf.pod, (p) =>
    inf.pdb
      .list()
      .filter((b) => b.metadata?.namespace === p.metadata?.namespace)
      .map(keyOf),
  );

  const scaleOf = (pods: P[]): number | undefined => {
    const owners = new Set(pods.map((p) => p.metadata?.ownerReferences?.find((r) => r.controller)?.name));
    if (owners.size !== 1) return undefined;
    const name = [...owners][0];
    const ns = pods[0]?.metadata?.namespace;
    return name ? inf.sts.getByName(name, ns)?.spec?.replicas : undefined;
  };

  async function sync(key: string): Promise<{ requeueAfterMs: number } | void> {
    const [ns, name] = key.split("/");
    const pdb = inf.pdb.getByName(name!, ns);
    if (!pdb || pdb.metadata?.deletionTimestamp) return;
    const pods = inf.pod.list().filter((p) => p.metadata?.namespace === ns);
    const status = pdbStatus(pdb, pods, scaleOf, Date.now());
    if (JSON.stringify(status) !== JSON.stringify(pdb.status ?? {})) await pdbs.updateStatus({ ...pdb, status });
    // disruptedPods entries expire: look again while there are any
    if (status.disruptedPods) return { requeueAfterMs: 15_000 };
  }

  return { controller: ctl, start: () => ctl.start(), stop: () => ctl.stop() };
}
