// The scheduler extender (`hwameistor scheduler-extender`): kube-scheduler's extender protocol over HTTPS —
// POST /filter and POST /prioritize with ExtenderArgs, GET /healthz; no bind (kube-scheduler binds), no
// preempt. The decisions come from a PlacementDecider (the same filter and score that place pods in the
// embedded control plane, src/scheduler/), handed in by the composition root (src/cli).
//
// Shapes (k8s.io/kube-scheduler/extender/v1): ExtenderArgs {pod, nodes?: NodeList, nodenames?: string[]}
// — `nodes` when the extender is not nodeCacheCapable (the chart's setting), `nodenames` when it is;
// ExtenderFilterResult {nodes | nodenames, failedNodes, failedAndUnresolvableNodes, error};
// HostPriorityList [{host, score}] with scores 0..10 (MaxExtenderPriority).
// A request the extender cannot read gets HTTP 400; a decider failure is answered in `error` (HTTP 200),
// which kube-scheduler reports as the extender's failure for that pod.

import { readBodyLimited, startTlsJsonServer } from "../host/tls/json-server.ts";
import type { Pod } from "../api/core.ts";
import type { Logger } from "../kube/types.ts";
import { issueCertificate, type CertificatePem } from "../host/tls/x509.ts";

export const MAX_EXTENDER_PRIORITY = 10;
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface FilterDecision {
  /** Nodes the pod may go to, in the order given. */
  feasible: string[];
  /** node → why not (another node or later may help). */
  failed: Record<string, string>;
  /** node → why not, and preemption cannot change that. */
  unresolvable?: Record<string, string>;
}

/** HwameiStor's filter and score for one pod over candidate nodes; scores are 0..100 per node. */
export interface PlacementDecider {
  filter(pod: Pod, nodeNames: string[]): Promise<FilterDecision>;
  score(pod: Pod, nodeNames: string[]): Promise<Record<string, number>>;
}

interface NodeList {
  apiVersion?: string;
  kind?: string;
  metadata?: unknown;
  items: Array<{ metadata?: { name?: string } }>;
}

export interface ExtenderArgs {
  pod: Pod;
  nodes?: NodeList | null;
  nodenames?: string[] | null;
}

export class BadExtenderArgs extends Error {}

/** Checks an ExtenderArgs body; returns the pod and the candidate node names. */
export function parseExtenderArgs(body: unknown): { args: ExtenderArgs; names: string[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadExtenderArgs("the body is not a JSON object");
  const a = body as ExtenderArgs;
  if (typeof a.pod !== "object" || a.pod === null || typeof a.pod.metadata?.name !== "string")
    throw new BadExtenderArgs("ExtenderArgs.pod is missing or has no metadata.name");
  if (a.nodes) {
    if (!Array.isArray(a.nodes.items)) throw new BadExtenderArgs("ExtenderArgs.nodes has no items list");
    const names = a.nodes.items.map((n, i) => {
      const name = n?.metadata?.name;
      if (typeof name !== "string" || !name) throw new BadExtenderArgs(`ExtenderArgs.nodes.items[${i}] has no metadata.name`);
      return name;
    });
    return { args: a, names };
  }
  if (Array.isArray(a.nodenames)) {
    if (!a.nodenames.every((n) => typeof n === "string" && n)) throw new BadExtenderArgs("ExtenderArgs.nodenames holds a non-string or empty name");
    return { args: a, names: a.nodenames };
  }
  throw new BadExtenderArgs("ExtenderArgs has neither nodes nor nodenames");
}

/** ExtenderFilterResult for a decision: the same form (nodes or nodenames) the request used. */
export function filterResult(args: ExtenderArgs, d: FilterDecision): Record<string, unknown> {
  const keep = new Set(d.feasible);
  const out: Record<string, unknown> = { failedNodes: d.failed, failedAndUnresolvableNodes: d.unresolvable ?? {}, error: "" };
  if (args.nodes) out.nodes = { ...args.nodes, items: args.nodes.items.filter((n) => keep.has(n.metadata!.name!)) };
  else out.nodenames = (args.nodenames ?? []).filter((n) => keep.has(n));
  return out;
}

/** HostPriorityList: 0..100 scaled to 0..MAX_EXTENDER_PRIORITY, rounded down, clamped; every candidate listed. */
export function priorities(names: string[], scores: Record<string, number>): Array<{ host: string; score: number }> {
  return names.map((host) => {
    const s = scores[host] ?? 0;
    const scaled = Math.floor((Math.max(0, Math.min(100, Number.isFinite(s) ? s : 0)) * MAX_EXTENDER_PRIORITY) / 100);
    return { host, score: scaled };
  });
}

export interface ExtenderServerOptions {
  host: string;
  port: number;
  decider: PlacementDecider;
  /** Serving certificate; default: a self-signed one for host, localhost and 127.0.0.1. */
  cert?: CertificatePem;
  log: Logger;
}

export interface RunningExtender {
  port: number;
  certPem: string;
  stop(): Promise<void>;
}

export async function startExtenderServer(o: ExtenderServerOptions): Promise<RunningExtender> {
  const cert =
    o.cert ??
    issueCertificate({
      commonName: "hwameistor-scheduler-extender",
      hosts: ["localhost", "127.0.0.1", ...(o.host !== "0.0.0.0" && o.host !== "::" ? [o.host] : [])],
      isCA: true,
      validDays: 3650,
    });
  const reply = (status: number, body: unknown) => ({ status, body: typeof body === "string" ? body : JSON.stringify(body) });
  const handle = async (req: import("node:http").IncomingMessage) => {
    const path = new URL(req.url ?? "/", "https://x").pathname.replace(/\/+$/, "");
    if (path === "/healthz" && req.method === "GET") return reply(200, "ok");
    const verb = path.split("/").pop();
    if (verb !== "filter" && verb !== "prioritize")
      return reply(404, { error: `no such verb ${path}: the extender serves POST …/filter and …/prioritize (bind is kube-scheduler's)` });
    if (req.method !== "POST") return reply(405, { error: `${req.method} ${path}: only POST is allowed` });
    const raw = await readBodyLimited(req, MAX_BODY_BYTES);
    if (!raw) return reply(413, { error: `request body over ${MAX_BODY_BYTES} bytes` });
    let parsed;
    try {
      parsed = parseExtenderArgs(JSON.parse(raw.toString("utf8")));
    } catch (e) {
      const msg = e instanceof BadExtenderArgs ? e.message : `the body is not JSON: ${(e as Error).message}`;
      return reply(400, { error: `malformed ExtenderArgs: ${msg}` });
    }
    const { args, names } = parsed;
    const pod = `${args.pod.metadata?.namespace ?? ""}/${args.pod.metadata?.name}`;
    try {
      if (verb === "filter") {
        const d = await o.decider.filter(args.pod, names);
        o.log.info({ pod, candidates: names.length, feasible: d.feasible.length }, "filter");
        return reply(200, filterResult(args, d));
      }
      const scores = await o.decider.score(args.pod, names);
      return reply(200, priorities(names, scores));
    } catch (e) {
      o.log.warn({ pod, verb, err: String(e) }, "extender decision failed");
      return verb === "filter"
        ? reply(200, { error: `hwameistor ${verb} for pod ${pod}: ${(e as Error).message}` })
        : reply(500, { error: `hwameistor ${verb} for pod ${pod}: ${(e as Error).message}` });
    }
  };
  const server = await startTlsJsonServer({ port: o.port, host: o.host, cert, handle, onError: (e) => reply(500, { error: String(e) }) });
  return { port: server.port, certPem: cert.certPem, stop: server.close };
}
