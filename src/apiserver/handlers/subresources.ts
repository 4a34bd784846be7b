// Subresources other than /status, as kube-apiserver serves them for the built-in kinds we need:
// - pods/binding (POST): what kube-scheduler writes to place a pod; sets spec.nodeName once (409 if the pod
//   is already bound to a node, as the Binding storage does).
// - pods/log (GET): proxied to the kubelet of the pod's node, as kube-apiserver does: the node's
//   InternalIP (else Hostname) address and `status.daemonEndpoints.kubeletEndpoint.Port`, path
//   `/containerLogs/<namespace>/<pod>/<container>` with the PodLogOptions query (follow, previous, tailLines,
//   timestamps, sinceSeconds, sinceTime, limitBytes). APPROXIMATION: plain HTTP (kube uses HTTPS with the
//   kubelet's serving certificate) with this server's bearer token, which the node agent checks against its
//   own kubeconfig token (one token per embedded cluster). The node agent side is the pods role's part.
// - statefulsets/scale (GET/PUT/PATCH): an autoscaling/v1 Scale view of spec.replicas (kubectl scale).
// - pods/eviction (POST): policy/v1 Eviction honouring PodDisruptionBudgets (eviction.ts), what kubectl drain uses.

import type { IncomingMessage, ServerResponse } from "node:http";
import { request as httpRequest } from "node:http";
import { HwError } from "../../api/errors.ts";
import { decodeBody, readBody } from "../http-util.ts";
import { badRequest } from "../object-meta.ts";
import { applyPatch, patchTypeFromContentType } from "../patch.ts";
import { subresourcesOf } from "../builtins.ts";
import type { ResourceType } from "../resource-type.ts";
import type { ObjectService, WriteOptions } from "./objects.ts";
import { evictPod } from "./eviction.ts";

export interface SubresourceRequest {
  svc: ObjectService;
  rt: ResourceType;
  namespace: string | undefined;
  name: string;
  sub: string;
  method: string;
  query: URLSearchParams;
  req: IncomingMessage;
  res: ServerResponse;
  token: string;
  opts: WriteOptions;
}

export function servesSubresource(rt: ResourceType, sub: string): boolean {
  return subresourcesOf(rt).some((s) => s.name === sub);
}

const methodNotAllowed = (method: string, what: string) =>
  new HwError("UNIMPLEMENTED", "MethodNotAllowed", `the server does not allow method ${method} on ${what}`, {
    httpStatus: 405,
    statusReason: "MethodNotAllowed",
  });

/** Handles a subresource request: returns [status, body] to send as JSON, or undefined when it wrote the response. */
export async function serveSubresource(r: SubresourceRequest): Promise<[number, unknown] | undefined> {
  const what = `${r.rt.plural}/${r.sub}`;
  if (r.rt.plural === "pods" && r.sub === "binding") {
    if (r.method !== "POST") throw methodNotAllowed(r.method, what);
    return [201, bindPod(r, decodeBody(await readBody(r.req), r.req.headers["content-type"]))];
  }
  if (r.rt.plural === "pods" && r.sub === "eviction") {
    if (r.method !== "POST") throw methodNotAllowed(r.method, what);
    return evictPod(r);
  }
  if (r.rt.plural === "pods" && r.sub === "log") {
    if (r.method !== "GET") throw methodNotAllowed(r.method, what);
    await proxyPodLog(r);
    return undefined;
  }
  if (r.rt.plural === "statefulsets" && r.sub === "scale") {
    if (r.method === "GET") return [200, scaleOf(r.svc.get(r.rt, r.namespace, r.name))];
    if (r.method === "PUT" || r.method === "PATCH") {
      const old = r.svc.get(r.rt, r.namespace, r.name);
      const body = decodeBody(await readBody(r.req), r.method === "PATCH" ? "application/json" : r.req.headers["content-type"]);
      const type = r.method === "PATCH" ? patchTypeFromContentType(r.req.headers["content-type"]) : undefined;
      const next = type === undefined ? body : type === "apply" ? body : applyPatch(type, scaleOf(old), body);
      const replicas = next?.spec?.replicas;
      if (!Number.isInteger(replicas) || replicas < 0) throw badRequest(`Scale.spec.replicas of statefulset "${r.name}" must be a non-negative integer`);
      const rv = next?.metadata?.resourceVersion;
      const updated = r.svc.patch(r.rt, r.namespace, r.name, "merge", { metadata: rv ? { resourceVersion: rv } : {}, spec: { replicas } }, r.opts);
      return [200, scaleOf(updated)];
    }
    throw methodNotAllowed(r.method, what);
  }
  throw new HwError("NOT_FOUND", "NotFound", "the server could not find the requested resource");
}

function bindPod(r: SubresourceRequest, binding: any): any {
  const node = binding?.target?.name;
  if (typeof node !== "string" || !node) throw badRequest(`Binding of pod "${r.name}" needs target.name (the node)`);
  const pod = r.svc.get(r.rt, r.namespace, r.name);
  if (pod.spec?.nodeName) {
    throw new HwError(
      "ABORTED",
      "Conflict",
      `Operation cannot be fulfilled on pods/binding "${r.name}": pod ${r.name} is already assigned to node "${pod.spec.nodeName}"`,
      {
        httpStatus: 409,
        statusReason: "Conflict",
      },
    );
  }
  if (pod.metadata.deletionTimestamp) throw badRequest(`pod ${r.name} is being deleted, cannot be assigned to a host`);
  const patch: any = { spec: { nodeName: node } };
  const ann = binding?.metadata?.annotations;
  if (ann && typeof ann === "object") patch.metadata = { annotations: ann };
  r.svc.patch(r.rt, r.namespace, r.name, "merge", patch, r.opts);
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 };
}

function scaleOf(sts: any): any {
  const labels = sts.spec?.selector?.matchLabels ?? {};
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: sts.metadata.name,
      namespace: sts.metadata.namespace,
      uid: sts.metadata.uid,
      resourceVersion: sts.metadata.resourceVersion,
      creationTimestamp: sts.metadata.creationTimestamp,
    },
    spec: { replicas: sts.spec?.replicas ?? 1 },
    status: {
      replicas: sts.status?.replicas ?? 0,
      selector: Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    },
  };
}

const LOG_OPTIONS = ["follow", "previous", "tailLines", "timestamps", "sinceSeconds", "sinceTime", "limitBytes"];

async function proxyPodLog(r: SubresourceRequest): Promise<void> {
  const pod = r.svc.get(r.rt, r.namespace, r.name);
  const containers: string[] = (pod.spec?.containers ?? []).map((c: any) => c.name);
  const inits: string[] = (pod.spec?.initContainers ?? []).map((c: any) => c.name);
  let container = r.query.get("container") ?? "";
  if (!container) {
    if (containers.length !== 1) {
      throw badRequest(
        `a container name must be specified for pod ${r.name}, choose one of: [${containers.join(" ")}]${inits.length ? ` or one of the init containers: [${inits.join(" ")}]` : ""}`,
      );
    }
    container = containers[0]!;
  } else if (!containers.includes(container) && !inits.includes(container)) {
    throw badRequest(`container ${container} is not valid for pod ${r.name}`);
  }
  const nodeName: string | undefined = pod.spec?.nodeName;
  if (!nodeName) throw badRequest(`pod ${r.name} does not have a host assigned`);
  const nodes = r.svc.registry.get("", "v1", "nodes");
  const node = nodes ? r.svc.tryGet(nodes, undefined, nodeName) : undefined;
  const addrs: any[] = node?.status?.addresses ?? [];
  const host = addrs.find((a) => a.type === "InternalIP")?.address ?? addrs.find((a) => a.type === "Hostname")?.address;
  const port = node?.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!host || !port) {
    throw new HwError(
      "UNAVAILABLE",
      "ServiceUnavailable",
      `node "${nodeName}" of pod ${r.name} publishes no kubelet endpoint (status.addresses and status.daemonEndpoints.kubeletEndpoint.Port); is its node agent running with pods enabled?`,
      {
        httpStatus: 503,
        statusReason: "ServiceUnavailable",
      },
    );
  }
  const q = new URLSearchParams();
  for (const k of LOG_OPTIONS) {
    const v = r.query.get(k);
    if (v !== null) q.set(k, v);
  }
  const path = `/containerLogs/${encodeURIComponent(pod.metadata.namespace)}/${encodeURIComponent(r.name)}/${encodeURIComponent(container)}${q.size ? `?${q}` : ""}`;
  await new Promise<void>((resolve, reject) => {
    const up = httpRequest({ host, port, path, method: "GET", headers: { Authorization: `Bearer ${r.token}` } }, (resp) => {
      r.res.writeHead(resp.statusCode ?? 502, { "Content-Type": resp.headers["content-type"] ?? "text/plain", "Transfer-Encoding": "chunked" });
      resp.pipe(r.res);
      resp.on("end", resolve);
      resp.on("error", resolve);
    });
    r.req.on("close", () => up.destroy());
    up.on("error", (e) => {
      if (r.res.headersSent) return resolve();
      reject(
        new HwError(
          "UNAVAILABLE",
          "ServiceUnavailable",
          `cannot reach the kubelet endpoint ${host}:${port} of node "${nodeName}" for pod ${r.name}'s log: ${e.message}`,
          {
            httpStatus: 503,
            statusReason: "ServiceUnavailable",
          },
        ),
      );
    });
    up.end();
  });
}
