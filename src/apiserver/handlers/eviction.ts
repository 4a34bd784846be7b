// pods/eviction (POST a policy/v1 Eviction), as kube-apiserver's eviction REST serves it — what `kubectl drain`
// uses. The pod's PodDisruptionBudget (one whose selector matches the pod in its namespace) decides:
//   pod terminal (Succeeded/Failed), Pending, or already being deleted → deleted without a budget check
//   more than one budget matches              → 500 "This pod has more than one PodDisruptionBudget, …"
//   budget's status.observedGeneration behind → 429 "… is still being processed by the server."
//   budget's status.disruptionsAllowed ≤ 0    → 429 "Cannot evict pod as it would violate the pod's disruption budget."
//   else: disruptionsAllowed − 1 and the pod in status.disruptedPods (one write, resourceVersion-checked; the
//         disruption controller, src/kcm/disruption.ts, recomputes it), then the pod is deleted with the
//         Eviction's deleteOptions (graceful, as kubectl delete) → 201 Status Success.
// APPROXIMATION: no unhealthyPodEvictionPolicy (IfHealthyBudget behaviour: a pod that is not Ready may always be
// evicted when the budget has allowances; with none, only if it is not Ready — as upstream's default).

import { HwError } from "../../api/errors.ts";
import { labelSelectorMatcher } from "../../api/label-selector.ts";
import { decodeBody, readBody } from "../http-util.ts";
import { badRequest } from "../object-meta.ts";
import type { SubresourceRequest } from "./subresources.ts";

const tooMany = (message: string, cause: string) =>
  new HwError("RESOURCE_EXHAUSTED", "TooManyRequests", message, {
    httpStatus: 429,
    statusReason: "TooManyRequests",
    causes: [{ field: "", reason: "DisruptionBudget", message: cause }],
  });

const isReady = (pod: any) => (pod.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");

export async function evictPod(r: SubresourceRequest): Promise<[number, unknown]> {
  const body = decodeBody(await readBody(r.req), r.req.headers["content-type"]) ?? {};
  if (body.metadata?.name && body.metadata.name !== r.name) throw badRequest(`name in URL does not match name in Eviction object`);
  const pod = r.svc.get(r.rt, r.namespace, r.name);
  const del = body.deleteOptions ?? {};
  const ok: [number, unknown] = [201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 }];
  const deletePod = () => {
    const grace = del.gracePeriodSeconds;
    r.svc.delete(r.rt, r.namespace, r.name, {
      gracePeriodSeconds: typeof grace === "number" ? grace : undefined,
      preconditions: del.preconditions,
      dryRun: r.opts.dryRun,
    });
    return ok;
  };
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed" || phase === "Pending" || pod.metadata.deletionTimestamp) return deletePod();
  const pdbType = r.svc.registry.get("policy", "v1", "poddisruptionbudgets");
  if (!pdbType) return deletePod();
  const labels = pod.metadata.labels ?? {};
  const pdbs = r.svc.list(pdbType, r.namespace).filter((p: any) => p.spec?.selector && labelSelectorMatcher(p.spec.selector)(labels));
  if (pdbs.length === 0) return deletePod();
  if (pdbs.length > 1)
    throw new HwError("INTERNAL", "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.", {
      httpStatus: 500,
    });
  const pdb = pdbs[0];
  const name = pdb.metadata.name;
  if ((pdb.status?.observedGeneration ?? 0) < (pdb.metadata.generation ?? 1))
    throw tooMany("Cannot evict pod as it would violate the pod's disruption budget.", `The disruption budget ${name} is still being processed by the server.`);
  const allowed = pdb.status?.disruptionsAllowed ?? 0;
  if (allowed <= 0) {
    if (!isReady(pod)) return deletePod(); // an unhealthy pod does not count against the budget
    throw tooMany(
      "Cannot evict pod as it would violate the pod's disruption budget.",
      `The disruption budget ${name} needs ${pdb.status?.desiredHealthy ?? 0} healthy pods and has ${pdb.status?.currentHealthy ?? 0} currently`,
    );
  }
  if (!r.opts.dryRun) {
    const status = {
      ...pdb.status,
      disruptionsAllowed: allowed - 1,
      disruptedPods: { ...(pdb.status?.disruptedPods ?? {}), [r.name]: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") },
    };
    // resourceVersion-checked: two evictions racing for the last allowance cannot both pass (409 → kubectl retries)
    r.svc.update(pdbType, r.namespace, name, { ...pdb, status }, {}, "status");
  }
  return deletePod();
}
