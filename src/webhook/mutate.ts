// The admission decision (fact sheet §4.2), pure over a lookup of PVCs, PVs and StorageClasses: a new pod that
// uses a HwameiStor volume gets `spec.schedulerName` = our scheduler (JSON patch `add` when empty, `replace`
// when different, nothing when equal).
//
// - A PVC is HwameiStor's when its provisioner ends with `hwameistor.io`: a Bound PVC's provisioner is its PV's
//   `spec.csi.driver` (a non-CSI PV: none); an unbound PVC's is its StorageClass's; no class name: not ours.
// - Skipped (allowed, unchanged): requests for anything but pods, namespaces in `skipNamespaces` (the original
//   labels kube-system and its own namespace `hwameistor.io/webhook=ignore`; the chart leaves them out by name
//   and this check holds if someone edits the selector), pods without PVCs.
// - Lookup failures: a PVC/PV/StorageClass that does not exist is skipped when failurePolicy is Ignore (as the
//   original) and denies the pod when it is Fail. Other failures (API server unreachable) deny only with
//   Fail; with Ignore the pod is allowed unchanged with a warning — the original denies here too, which
//   blocks pods that may not use our storage at all (docs/compatibility.md).

import type { Pod, Pv, Pvc, StorageClassShape } from "../api/core.ts";

export const HWAMEISTOR_PROVISIONER_SUFFIX = "hwameistor.io";

export interface AdmissionRequest {
  uid: string;
  kind?: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  namespace?: string;
  name?: string;
  operation?: string;
  object?: unknown;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: string;
  kind: string;
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patch?: string;
  patchType?: "JSONPatch";
  status?: { code?: number; message?: string; reason?: string };
  warnings?: string[];
}

/** Lookups return undefined when the object does not exist and throw on other failures. */
export interface VolumeLookup {
  pvc(namespace: string, name: string): Promise<Pvc | undefined>;
  pv(name: string): Promise<Pv | undefined>;
  storageClass(name: string): Promise<StorageClassShape | undefined>;
}

export interface MutateOptions {
  schedulerName: string;
  failurePolicy: "Ignore" | "Fail";
  skipNamespaces: string[];
}

export class MalformedReview extends Error {}

/** Checks the shape of an AdmissionReview v1 request; throws MalformedReview naming what is wrong. */
export function parseReview(body: unknown): AdmissionReview & { request: AdmissionRequest } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new MalformedReview("the body is not a JSON object");
  const r = body as AdmissionReview;
  if (r.kind !== "AdmissionReview" || r.apiVersion !== "admission.k8s.io/v1") {
    throw new MalformedReview(`expected apiVersion admission.k8s.io/v1 kind AdmissionReview, got ${JSON.stringify(r.apiVersion)} ${JSON.stringify(r.kind)}`);
  }
  if (typeof r.request !== "object" || r.request === null) throw new MalformedReview("AdmissionReview has no request");
  if (typeof r.request.uid !== "string" || !r.request.uid) throw new MalformedReview("AdmissionReview request has no uid");
  return r as AdmissionReview & { request: AdmissionRequest };
}

type Verdict = { ours: boolean } | { error: string; notFound: boolean };

async function isHwameiStorPvc(lookup: VolumeLookup, namespace: string, claim: string): Promise<Verdict> {
  const pvc = await lookup.pvc(namespace, claim);
  if (!pvc) return { error: `PersistentVolumeClaim ${namespace}/${claim} not found`, notFound: true };
  let provisioner = "";
  if (pvc.status?.phase === "Bound" && pvc.spec?.volumeName) {
    const pv = await lookup.pv(pvc.spec.volumeName);
    if (!pv) return { error: `PersistentVolume ${pvc.spec.volumeName} of PersistentVolumeClaim ${namespace}/${claim} not found`, notFound: true };
    provisioner = pv.spec?.csi?.driver ?? "";
  } else {
    const scName = pvc.spec?.storageClassName;
    if (!scName) return { ours: false };
    const sc = await lookup.storageClass(scName);
    if (!sc) return { error: `StorageClass ${scName} of PersistentVolumeClaim ${namespace}/${claim} not found`, notFound: true };
    provisioner = String((sc as { provisioner?: unknown }).provisioner ?? "");
  }
  return { ours: provisioner.endsWith(HWAMEISTOR_PROVISIONER_SUFFIX) };
}

/** The response to one admission request. */
export async function mutate(req: AdmissionRequest, lookup: VolumeLookup, o: MutateOptions): Promise<AdmissionResponse> {
  const allow: AdmissionResponse = { uid: req.uid, allowed: true };
  const res = req.resource;
  if (!res || res.group !== "" || res.resource !== "pods" || (req.subResource ?? "") !== "" || (req.operation && req.operation !== "CREATE")) return allow;
  const namespace = req.namespace ?? (req.object as Pod | undefined)?.metadata?.namespace ?? "";
  if (o.skipNamespaces.includes(namespace)) return allow;
  const pod = req.object as Pod | undefined;
  if (typeof pod !== "object" || pod === null || typeof pod.spec !== "object" || pod.spec === null) {
    return {
      uid: req.uid,
      allowed: o.failurePolicy === "Ignore",
      status: { code: 400, reason: "BadRequest", message: "request.object is not a Pod with a spec" },
    };
  }
  const warnings: string[] = [];
  let ours = false;
  for (const v of pod.spec.volumes ?? []) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (!claim) continue;
    let verdict: Verdict;
    try {
      verdict = await isHwameiStorPvc(lookup, namespace, claim);
    } catch (e) {
      verdict = { error: `cannot tell whether PersistentVolumeClaim ${namespace}/${claim} is a HwameiStor volume: ${(e as Error).message}`, notFound: false };
    }
    if ("ours" in verdict) {
      if (verdict.ours) {
        ours = true;
        break;
      }
      continue;
    }
    if (o.failurePolicy === "Fail")
      return {
        uid: req.uid,
        allowed: false,
        status: { code: verdict.notFound ? 404 : 503, reason: verdict.notFound ? "NotFound" : "ServiceUnavailable", message: verdict.error },
      };
    if (!verdict.notFound) warnings.push(`hwameistor admission: ${verdict.error}; the pod keeps its scheduler`);
  }
  if (!ours) return warnings.length ? { ...allow, warnings } : allow;
  const current = pod.spec.schedulerName ?? "";
  if (current === o.schedulerName) return allow;
  const op = current === "" ? "add" : "replace";
  const patch = [{ op, path: "/spec/schedulerName", value: o.schedulerName }];
  return { uid: req.uid, allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(patch)).toString("base64") };
}
