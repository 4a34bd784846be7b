// The embedded Kubernetes-compatible API server (`hwameistor apiserver`): routing, authentication,
// discovery/OpenAPI/version/health endpoints, and the REST verbs over ObjectService. Plain node:http
// (not fastify): watch streams, arbitrary patch/YAML content types and raw JSON passthrough of stored
// objects are simpler and faster on the bare server. See docs/apiserver.md.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { HwError } from "../api/errors.ts";
import { authenticate, loadOrCreateToken } from "./auth.ts";
import { CRD_GROUP, CRD_PLURAL, defaultNamespaces } from "./builtins.ts";
import {
  AGGREGATED_DISCOVERY_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  wantsAggregatedDiscovery,
} from "./discovery.ts";
import { listObjects, objectFilter } from "./handlers/list.ts";
import { ObjectService, type DeleteOptions, type FieldValidation, type WriteOptions } from "./handlers/objects.ts";
import { serveSubresource, servesSubresource } from "./handlers/subresources.ts";
import { defaultWatchTuning, serveWatch, type WatchTuning } from "./handlers/watch.ts";
import { decodeBody, negotiate, readBody, sendError, sendJson, statusOf, type Output } from "./http-util.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { badRequest } from "./object-meta.ts";
import { patchTypeFromContentType } from "./patch.ts";
import { Registry } from "./registry.ts";
import { loadOrCreateServingCert } from "../host/tls/self-signed.ts";
import type { ResourceType } from "./resource-type.ts";
import { SqliteStore } from "./store/sqlite-store.ts";
import { WatchHub } from "./store/watch-hub.ts";
import { renderTable } from "./builtin-table.ts";

export interface ApiServerOptions {
  dataDir: string;
  host?: string /* default 127.0.0.1 */;
  port?: number /* default 6443; 0 = any free port */;
  token?: string /* default: read <dataDir>/token or generate and write it (0600) */;
  /** More bearer tokens: token → user name (kube-apiserver's --token-auth-file). */
  extraTokens?: Record<string, string>;
}

/** One authenticated resource request, as kube-apiserver's authorizer sees it (RBAC verb and resource). */
export interface RequestAttributes {
  user: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface RunningApiServer {
  url: string;
  token: string;
  kubeconfigPath: string /* <dataDir>/kubeconfig */;
  close(): Promise<void>;
}

/** Knobs beyond the public options: tests shrink the event log and bookmark interval; the CLI passes its logger. */
export interface ApiServerTuning {
  eventRetention?: number;
  watch?: Partial<WatchTuning>;
  logger?: Logger;
  /** Called for every authenticated resource request (tests check RBAC rules against what components do). */
  audit?: (a: RequestAttributes) => void;
  /** Called once started with the internals (tests check for leaked watchers). */
  inspect?: (internals: { hub: WatchHub; store: SqliteStore; registry: Registry }) => void;
}

export const SERVER_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-hwameistor",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: `node${process.versions.node}`,
  compiler: "tsc",
  platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
};

export async function startApiServer(opts: ApiServerOptions, tuning: ApiServerTuning = {}): Promise<RunningApiServer> {
  const log = tuning.logger ?? pino({ level: process.env.HWAMEISTOR_LOG_LEVEL ?? "warn" });
  const host = opts.host ?? "127.0.0.1";
  const store = new SqliteStore(opts.dataDir, { eventRetention: tuning.eventRetention });
  const registry = new Registry();
  const svc = new ObjectService(store, registry);
  const hub = new WatchHub(store);
  const watchTuning: WatchTuning = { ...defaultWatchTuning, ...(tuning.watch ?? {}) };
  let front: NetServer | undefined;
  try {
    // Registry from stored CRDs, then the default namespaces (first start only).
    for (const row of store.list(CRD_GROUP, CRD_PLURAL, undefined)) {
      const crd = JSON.parse(row.data);
      try {
        registry.registerCrd(crd);
      } catch (e) {
        log.error({ err: e, crd: crd.metadata?.name }, "stored CustomResourceDefinition cannot be served; skipping it");
      }
    }
    const nsRt = registry.get("", "v1", "namespaces")!;
    for (const name of defaultNamespaces) svc.ensure(nsRt, undefined, { metadata: { name } });

    const token = loadOrCreateToken(opts.dataDir, opts.token);
    const tls = loadOrCreateServingCert(opts.dataDir, host);
    const ctx: Ctx = { svc, hub, registry, token, extraTokens: opts.extraTokens ?? {}, audit: tuning.audit, log, watchTuning, serverAddress: "" };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      handle(ctx, req, res)
        .then(async (r) => {
          if (!r) return;
          await store.sync(); // acknowledge only committed writes (and never show uncommitted ones)
          sendJson(res, r.status, r.body, r.headers);
        })
        .catch(async (e) => {
          await store.sync().catch(() => {});
          const { code } = statusOf(e);
          if (code >= 500) log.error({ err: e, method: req.method, url: req.url }, "request failed");
          else log.debug({ method: req.method, url: req.url, code, msg: (e as Error).message }, "request rejected");
          sendError(res, e);
        });
    };
    const serverOpts = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 };
    const httpServer = createServer(serverOpts, onRequest);
    const httpsServer = createHttpsServer({ ...serverOpts, key: tls.keyPem, cert: tls.certPem }, onRequest);
    for (const s of [httpServer, httpsServer]) {
      s.on("clientError", (_e: Error, socket: Socket) => {
        if (socket.writable && !(socket as any).encrypted) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        else socket.destroy();
      });
    }
    // One port, both protocols: the first byte of a connection tells TLS (0x16, a handshake record) from
    // HTTP. kubectl uses HTTPS (client-go never sends a bearer token over plain HTTP); in-process clients
    // and tests may use plain HTTP on loopback.
    const sockets = new Set<Socket>();
    const fe = createNetServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
      socket.once("data", (buf: Buffer) => {
        socket.pause();
        socket.unshift(buf);
        (buf[0] === 0x16 ? httpsServer : httpServer).emit("connection", socket);
        process.nextTick(() => socket.resume());
      });
    });
    front = fe;
    await new Promise<void>((resolve, reject) => {
      fe.once("error", reject);
      fe.listen(opts.port ?? 6443, host, () => {
        fe.off("error", reject);
        resolve();
      });
    });
    const port = (fe.address() as AddressInfo).port;
    const hostPort = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    const url = `http://${hostPort}`;
    ctx.serverAddress = hostPort;
    const kubeconfigPath = join(opts.dataDir, "kubeconfig");
    writeKubeconfig(kubeconfigPath, `https://${hostPort}`, token, tls.certPem);
    log.info({ url, dataDir: opts.dataDir, resourceVersion: store.currentRv }, "API server listening");
    tuning.inspect?.({ hub, store, registry });
    let closing: Promise<void> | undefined;
    return {
      url,
      token,
      kubeconfigPath,
      close: () =>
        (closing ??= new Promise<void>((resolve) => {
          fe.close(() => resolve());
          hub.close();
          httpServer.closeAllConnections();
          httpsServer.closeAllConnections();
          for (const s of sockets) s.destroy();
        }).then(() => store.close())),
    };
  } catch (e) {
    front?.close();
    hub.close();
    store.close();
    throw e;
  }
}

interface Ctx {
  svc: ObjectService;
  hub: WatchHub;
  registry: Registry;
  token: string;
  extraTokens: Record<string, string>;
  audit?: (a: RequestAttributes) => void;
  log: Logger;
  watchTuning: WatchTuning;
  serverAddress: string;
}

/** The RBAC verb of a resource request. */
function rbacVerb(method: string, name: string | undefined, watch: boolean): string {
  if (watch) return "watch";
  switch (method) {
    case "GET":
    case "HEAD":
      return name === undefined ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return name === undefined ? "deletecollection" : "delete";
    default:
      return method.toLowerCase();
  }
}

const notFoundPath = () => new HwError("NOT_FOUND", "NotFound", "the server could not find the requested resource");

/** kubectl asks for /openapi/v2 only as protobuf (its Accept lists no JSON type). */
function wantsOpenApiV2Protobuf(accept: string | undefined): boolean {
  return !!accept && accept.includes("protobuf") && !/json|\*\/\*/.test(accept);
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string | string[]>;
}
const reply = (status: number, body: unknown, headers?: Record<string, string | string[]>): Reply => ({ status, body, headers });

/** `apiserver_longrunning_requests{verb="WATCH",group,resource}` in Prometheus' text format, from the watch hub. */
export function watchMetrics(hub: WatchHub): string {
  const lines = ["# HELP apiserver_longrunning_requests Gauge of all active long-running apiserver requests.", "# TYPE apiserver_longrunning_requests gauge"];
  for (const [k, n] of [...hub.counts()].sort(([a], [b]) => a.localeCompare(b))) {
    const [group, resource] = k.split("/") as [string, string];
    lines.push(`apiserver_longrunning_requests{verb="WATCH",group="${group}",resource="${resource}"} ${n}`);
  }
  return lines.join("\n") + "\n";
}

/** Handles one request; returns the reply to send after the store's group commit, or undefined when done (health, watch). */
async function handle(ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<Reply | undefined> {
  const u = new URL(req.url ?? "/", "http://x");
  const path = u.pathname.replace(/\/+$/, "") || "/";
  const method = req.method ?? "GET";
  if (
    path === "/healthz" ||
    path === "/readyz" ||
    path === "/livez" ||
    path.startsWith("/healthz/") ||
    path.startsWith("/readyz/") ||
    path.startsWith("/livez/")
  ) {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("ok");
    return undefined;
  }
  const user = authenticate(req.headers.authorization, ctx.token, ctx.extraTokens);
  const types = ctx.registry.all();
  if (method === "GET") {
    if (path === "/version") return reply(200, SERVER_VERSION);
    if (path === "/metrics") {
      // kube-apiserver's gauge of open watches per resource (it authorizes /metrics as a non-resource URL).
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(watchMetrics(ctx.hub));
      return undefined;
    }
    if ((path === "/api" || path === "/apis") && wantsAggregatedDiscovery(req.headers.accept)) {
      // One document with every group, version and resource (client-go decides by the Content-Type).
      return reply(200, aggregatedDiscovery(types, path === "/api"), { "Content-Type": AGGREGATED_DISCOVERY_CONTENT_TYPE, Vary: "Accept" });
    }
    if (path === "/api") return reply(200, apiVersions(ctx.serverAddress), { Vary: "Accept" });
    if (path === "/apis") return reply(200, apiGroupList(types), { Vary: "Accept" });
    if (path === "/api/v1") return reply(200, apiResourceList(types, "", "v1"));
    if (path === "/openapi/v2" || path === "/openapi/v3" || path.startsWith("/openapi/v3/")) {
      // Loaded on first use: most clients (controllers, informers) never ask for OpenAPI.
      const { openApiV2, openApiV3GroupVersion, openApiV3Root } = await import("./openapi.ts");
      if (path === "/openapi/v2" && wantsOpenApiV2Protobuf(req.headers.accept)) {
        const { openApiV2Protobuf, OPENAPI_V2_PROTOBUF } = await import("./protobuf.ts");
        const body = openApiV2Protobuf("Kubernetes", SERVER_VERSION.gitVersion);
        res.writeHead(200, { "Content-Type": OPENAPI_V2_PROTOBUF, "Content-Length": body.length });
        res.end(body);
        return undefined;
      }
      if (path === "/openapi/v2") return reply(200, openApiV2(types));
      if (path === "/openapi/v3") return reply(200, openApiV3Root(types));
      const doc = openApiV3GroupVersion(types, path.slice("/openapi/v3/".length));
      if (!doc) throw notFoundPath();
      return reply(200, doc);
    }
  }
  const seg = path.split("/").filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (seg[0] === "api" && seg[1] === "v1") {
    group = "";
    version = "v1";
    rest = seg.slice(2);
  } else if (seg[0] === "apis" && seg.length >= 2) {
    group = seg[1]!;
    if (seg.length === 2) {
      if (method !== "GET") throw methodNotAllowed(method);
      const g = apiGroup(types, group);
      if (!g) throw notFoundPath();
      return reply(200, g);
    }
    version = seg[2]!;
    rest = seg.slice(3);
    if (rest.length === 0) {
      if (method !== "GET") throw methodNotAllowed(method);
      if (!types.some((t) => t.group === group && t.version === version)) throw notFoundPath();
      return reply(200, apiResourceList(types, group, version));
    }
  } else {
    throw notFoundPath();
  }

  const q = u.searchParams;
  let watch = q.get("watch") === "true" || q.get("watch") === "1";
  if (rest[0] === "watch") {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  let plural: string;
  let name: string | undefined;
  let sub: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3 && !(group === "" && rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize"))) {
    namespace = rest[1];
    [plural, name, sub] = [rest[2]!, rest[3], rest[4]];
    if (rest.length > 5) throw notFoundPath();
  } else {
    [plural, name, sub] = [rest[0]!, rest[1], rest[2]];
    if (rest.length > 3 || plural === undefined) throw notFoundPath();
  }
  const rt = ctx.registry.get(group, version, plural);
  if (!rt) throw notFoundPath();
  ctx.audit?.({ user, verb: rbacVerb(method, name, watch), group, resource: plural, subresource: sub, namespace, name });
  if (!rt.namespaced && namespace !== undefined) throw notFoundPath();
  if (sub !== undefined && sub !== "status" && name !== undefined && servesSubresource(rt, sub)) {
    const done = await serveSubresource({
      svc: ctx.svc,
      rt,
      namespace,
      name,
      sub,
      method,
      query: u.searchParams,
      req,
      res,
      token: ctx.token,
      opts: writeOptions(u.searchParams),
    });
    return done && reply(done[0], done[1]);
  }
  if (sub !== undefined && (sub !== "status" || !rt.hasStatus)) throw notFoundPath();
  const subresource = sub as "status" | undefined;
  const out = negotiate(req.headers.accept);
  const includeObject = parseIncludeObject(q.get("includeObject"));

  if (method === "GET" && (name === undefined || watch)) {
    if (rt.namespaced && namespace === undefined && name !== undefined) throw notFoundPath();
    const labelSelector = q.get("labelSelector") ?? undefined;
    let fieldSelector = q.get("fieldSelector") ?? undefined;
    if (watch) {
      if (name !== undefined) fieldSelector = [fieldSelector, `metadata.name=${name}`].filter(Boolean).join(",");
      await ctx.svc.store.sync(); // the initial state a watcher sees is committed
      serveWatch(
        ctx.svc,
        ctx.hub,
        rt,
        namespace,
        {
          labelSelector,
          fieldSelector,
          resourceVersion: q.get("resourceVersion") ?? undefined,
          allowWatchBookmarks: q.get("allowWatchBookmarks") === "true",
          sendInitialEvents: q.get("sendInitialEvents") === "true",
          timeoutSeconds: q.has("timeoutSeconds") ? Number(q.get("timeoutSeconds")) : undefined,
          includeObject,
        },
        out,
        req,
        res,
        ctx.watchTuning,
      );
      return undefined;
    }
    const limit = q.has("limit") ? Number(q.get("limit")) : undefined;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw badRequest(`invalid limit "${q.get("limit")}"`);
    const body = listObjects(ctx.svc, rt, namespace, { labelSelector, fieldSelector, limit, continue: q.get("continue") || undefined, includeObject }, out);
    return reply(200, body);
  }
  if (rt.namespaced && namespace === undefined) throw methodNotAllowed(method);

  if (method === "POST") {
    if (name !== undefined) throw methodNotAllowed(method);
    const opts = writeOptions(q);
    const body = decodeBody(await readBody(req), req.headers["content-type"]);
    const obj = ctx.svc.create(rt, namespace, body, opts);
    return objectReply(201, rt, obj, out, includeObject, opts);
  }
  if (method === "DELETE" && name === undefined) {
    const opts = await deleteOptions(req, q);
    const filter = objectFilter(rt, { labelSelector: q.get("labelSelector") ?? undefined, fieldSelector: q.get("fieldSelector") ?? undefined }) ?? (() => true);
    const items = ctx.svc.deleteCollection(rt, namespace, filter, opts);
    return reply(200, {
      kind: rt.listKind,
      apiVersion: items[0]?.apiVersion ?? (rt.group ? `${rt.group}/${rt.version}` : rt.version),
      metadata: { resourceVersion: String(ctx.svc.store.currentRv) },
      items,
    });
  }
  if (name === undefined) throw methodNotAllowed(method);
  switch (method) {
    case "GET": {
      const obj = ctx.svc.get(rt, namespace, name);
      return objectReply(200, rt, obj, out, includeObject);
    }
    case "PUT": {
      const opts = writeOptions(q);
      const body = decodeBody(await readBody(req), req.headers["content-type"]);
      const obj = ctx.svc.update(rt, namespace, name, body, opts, subresource);
      return objectReply(200, rt, obj, out, includeObject, opts);
    }
    case "PATCH": {
      const opts = writeOptions(q);
      const type = patchTypeFromContentType(req.headers["content-type"]);
      const buf = await readBody(req);
      const patch = decodeBody(buf, type === "apply" ? "application/yaml" : "application/json");
      if (type === "apply") {
        if (!q.get("fieldManager")) throw badRequest("PATCH with apply-patch requires the fieldManager query parameter");
        const { obj, created } = ctx.svc.apply(rt, namespace, name, patch, opts, subresource);
        return objectReply(created ? 201 : 200, rt, obj, out, includeObject, opts);
      }
      const obj = ctx.svc.patch(rt, namespace, name, type, patch, opts, subresource);
      return objectReply(200, rt, obj, out, includeObject, opts);
    }
    case "DELETE": {
      if (subresource) throw methodNotAllowed(method);
      const opts = await deleteOptions(req, q);
      const obj = ctx.svc.delete(rt, namespace, name, opts);
      const stillThere = !opts.dryRun && obj.metadata.deletionTimestamp && ctx.svc.tryGet(rt, namespace, name) !== undefined;
      return objectReply(stillThere ? 202 : 200, rt, obj, out, includeObject);
    }
    default:
      throw methodNotAllowed(method);
  }
}

function methodNotAllowed(method: string): HwError {
  return new HwError("UNIMPLEMENTED", "MethodNotAllowed", `the server does not allow this method on the requested resource (${method})`, {
    httpStatus: 405,
    statusReason: "MethodNotAllowed",
  });
}

function parseIncludeObject(v: string | null): "None" | "Metadata" | "Object" | undefined {
  if (v === null || v === "") return undefined;
  if (v === "None" || v === "Metadata" || v === "Object") return v;
  throw badRequest(`invalid includeObject "${v}": must be None, Metadata or Object`);
}

function writeOptions(q: URLSearchParams): WriteOptions {
  const dry = q.getAll("dryRun");
  for (const d of dry) if (d !== "All") throw badRequest(`invalid dryRun value "${d}": only "All" is supported`);
  const fv = q.get("fieldValidation") ?? "Warn";
  if (fv !== "Strict" && fv !== "Warn" && fv !== "Ignore") throw badRequest(`invalid fieldValidation "${fv}": must be Strict, Warn or Ignore`);
  return { dryRun: dry.length > 0, fieldValidation: fv as FieldValidation, warnings: [] };
}

async function deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
  const opts: DeleteOptions = writeOptions(q);
  const buf = await readBody(req);
  if (buf.length && buf.toString("utf8").trim()) {
    const body = decodeBody(buf, req.headers["content-type"]);
    if (body && typeof body === "object") {
      if (Array.isArray(body.dryRun) && body.dryRun.length) {
        for (const d of body.dryRun) if (d !== "All") throw badRequest(`invalid dryRun value "${d}": only "All" is supported`);
        opts.dryRun = true;
      }
      if (body.preconditions) opts.preconditions = body.preconditions;
      if (body.propagationPolicy) opts.propagationPolicy = body.propagationPolicy;
      if (Number.isInteger(body.gracePeriodSeconds)) opts.gracePeriodSeconds = body.gracePeriodSeconds;
    }
  }
  const gp = q.get("gracePeriodSeconds");
  if (gp !== null) {
    const n = Number(gp);
    if (!Number.isInteger(n)) throw badRequest(`invalid gracePeriodSeconds "${gp}": must be an integer`);
    opts.gracePeriodSeconds = n;
  }
  const pp = q.get("propagationPolicy");
  if (pp) opts.propagationPolicy = pp;
  if (opts.propagationPolicy && !["Orphan", "Background", "Foreground"].includes(opts.propagationPolicy)) {
    throw badRequest(`invalid propagationPolicy "${opts.propagationPolicy}"`);
  }
  return opts;
}

function objectReply(
  status: number,
  rt: ResourceType,
  obj: any,
  out: Output,
  includeObject: "None" | "Metadata" | "Object" | undefined,
  opts?: WriteOptions,
): Reply {
  const headers: Record<string, string | string[]> = {};
  if (opts?.warnings?.length) headers.Warning = opts.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  if (out.as === "table") {
    const t = renderTable(rt, [obj], { includeObject: includeObject ?? "Metadata", resourceVersion: obj.metadata?.resourceVersion });
    t.apiVersion = out.apiVersion;
    return reply(status, t, headers);
  }
  if (out.as === "metadata") return reply(status, { kind: "PartialObjectMetadata", apiVersion: out.apiVersion, metadata: obj.metadata }, headers);
  return reply(status, obj, headers);
}
