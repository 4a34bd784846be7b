// The REST server (`hwameistor rest`, the original's "apiserver" component; docs/rest-api.md): the routes of
// routes/*.ts under /apis/hwameistor.io/v1alpha1, the OpenAPI document at /swagger/doc.json, and the web
// dashboard (ui/dist) at /. HTTPS with a self-signed certificate (or the given one) and token auth by
// default; binds 127.0.0.1 unless told otherwise.
//
// Plain node:http/node:https, like the embedded API server, the webhook and the scheduler extender
// (docs/install.md: no web framework is shipped). What a framework would give is small here: a router over a
// fixed route table (router.ts), JSON bodies capped at 64 KiB, and ajv — already a dependency — validating each
// body against the route's schema so an error names the field.

import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { extname, join, normalize, resolve, sep } from "node:path";
import type { KubeClient } from "../kube/client.ts";
import { silentLogger, type Logger } from "../kube/types.ts";
import { AUTH_HEADER, TokenStore, type AuthConfig } from "./auth.ts";
import { ResourceCache } from "./cache.ts";
import { toErrorBody } from "./errors.ts";
import { openApiDocument, swaggerIndexHtml } from "./openapi.ts";
import { BASE, type Route, type RouteDeps } from "./route.ts";
import { Router, checkBody, readJsonBody } from "./router.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { volumeRoutes } from "./routes/volumes.ts";
import { snapshotAndGroupRoutes } from "./routes/snapshots.ts";

export interface RestServerOptions {
  client: KubeClient;
  host?: string;
  port?: number;
  /** PEM certificate and key; undefined = plain HTTP (only when asked for). */
  tls?: { certPem: string; keyPem: string };
  auth: AuthConfig;
  /** Where the built dashboard is (index.html + assets/); missing = API only, / explains how to build it. */
  uiDir?: string;
  /** System namespace: the auth tokens Secret and the component leases (default "hwameistor"). */
  systemNamespace?: string;
  log?: Logger;
  /** How long start() waits for the caches before serving (routes of unsynced kinds answer 503). */
  syncTimeoutMs?: number;
  /** Tests: a clock for token expiry. */
  now?: () => number;
}

export interface RunningRestServer {
  url: string;
  /** Kinds whose cache had not synced when the server started serving. */
  unsynced: string[];
  routes: Route[];
  close(): Promise<void>;
}

export function allRoutes(d: RouteDeps): Route[] {
  return [...clusterRoutes(d), ...volumeRoutes(d), ...snapshotAndGroupRoutes(d), ...nodeRoutes(d)];
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  // Mantine writes its CSS variables in <style> tags, hence 'unsafe-inline' for styles only.
  "content-security-policy":
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const isText = Buffer.isBuffer(body) || typeof body === "string";
  const data = isText ? (body as string | Buffer) : JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": isText ? "text/plain; charset=utf-8" : "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(data)),
    ...headers,
  });
  res.end(data);
}

export async function startRestServer(o: RestServerOptions): Promise<RunningRestServer> {
  const log = o.log ?? silentLogger;
  const systemNamespace = o.systemNamespace ?? "hwameistor";
  const auth = new TokenStore(o.auth, { client: o.client, namespace: systemNamespace, log }, o.now);
  const cache = new ResourceCache(o.client, log, systemNamespace);
  const deps: RouteDeps = { cache, client: o.client, auth, systemNamespace, log };
  const routes = allRoutes(deps);
  const router = new Router(routes);
  const doc = openApiDocument(routes);
  const docJson = JSON.stringify(doc);
  const uiDir = o.uiDir ? resolve(o.uiDir) : undefined;
  const uiBuilt = !!uiDir && existsSync(join(uiDir, "index.html"));

  async function handleApi(req: IncomingMessage, res: ServerResponse, pathname: string, query: Record<string, unknown>): Promise<void> {
    const m = router.match(req.method ?? "GET", pathname);
    if (!m) return send(res, 404, { errcode: 404, description: `no route ${req.method} ${pathname} (see /swagger/index.html)` });
    // Before the body is read: an unauthenticated request learns nothing but 401 and changes nothing.
    if (m.route.auth !== false) auth.check(req.headers[AUTH_HEADER]);
    const body = req.method === "POST" ? await readJsonBody(req) : undefined;
    checkBody(m.route, m.validate, body);
    const result = await m.route.handler({ params: m.params, query, body, headers: req.headers, remoteAddress: req.socket.remoteAddress ?? "" });
    send(res, 200, result, { "cache-control": "no-store" });
  }

  function serveUi(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, { errcode: 405, description: `${req.method} is not allowed on ${pathname}` });
    if (!uiBuilt) {
      return send(
        res,
        404,
        `The dashboard is not built: run \`npm run build:ui\` (scripts/install-deps.sh does). The REST API is at ${BASE}, its document at /swagger/index.html.\n`,
      );
    }
    const rel = normalize(pathname).replace(/^(\.\.(\/|\\|$))+/, "");
    let file = join(uiDir!, rel);
    if (!file.startsWith(uiDir! + sep) || !existsSync(file) || !statSync(file).isFile()) file = join(uiDir!, "index.html"); // SPA routes
    const isAsset = file.startsWith(join(uiDir!, "assets") + sep);
    const data = readFileSync(file);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": MIME[extname(file)] ?? "application/octet-stream",
      "content-length": String(data.length),
      "cache-control": isAsset ? "public, max-age=31536000, immutable" : "no-cache",
    });
    res.end(req.method === "HEAD" ? undefined : data);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let pathname = "/";
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      pathname = url.pathname;
      const query: Record<string, unknown> = {};
      for (const k of new Set(url.searchParams.keys())) {
        const all = url.searchParams.getAll(k);
        query[k] = all.length === 1 ? all[0] : all;
      }
      if (pathname === BASE || pathname.startsWith(BASE + "/")) return await handleApi(req, res, pathname, query);
      if (pathname === "/swagger/doc.json") return send(res, 200, docJson, { "content-type": "application/json; charset=utf-8" });
      if (pathname === "/swagger/index.html") return send(res, 200, swaggerIndexHtml(doc), { "content-type": "text/html; charset=utf-8" });
      if (pathname === "/swagger" || pathname === "/swagger/") return send(res, 302, "", { location: "/swagger/index.html" });
      if (pathname === "/healthz") return send(res, 200, { ok: true });
      if (pathname.startsWith("/apis/") || pathname.startsWith("/swagger/"))
        return send(res, 404, { errcode: 404, description: `no route ${req.method} ${pathname} (see /swagger/index.html)` });
      return serveUi(req, res, pathname);
    } catch (e) {
      const { status, body } = toErrorBody(e);
      if (status >= 500) log.error({ method: req.method, path: pathname, err: body.description }, "REST request failed");
      else if (req.method !== "GET") log.info({ method: req.method, path: pathname, status, err: body.description }, "REST request refused");
      if (!res.headersSent) send(res, status, body);
      else res.destroy();
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const server: Server = o.tls ? createHttpsServer({ cert: o.tls.certPem, key: o.tls.keyPem }, listener) : createServer(listener);
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });

  await auth.start();
  cache.start();
  const unsynced = await cache.waitForSync(o.syncTimeoutMs ?? 5_000);
  if (unsynced.length) log.warn({ kinds: unsynced }, "serving before these caches synced; their routes answer 503 until they do");
  const host = o.host ?? "127.0.0.1";
  try {
    await new Promise<void>((res, rej) => {
      server.once("error", rej);
      server.listen(o.port ?? 8443, host, () => {
        server.off("error", rej);
        res();
      });
    });
  } catch (e) {
    await cache.stop();
    await auth.stop();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `${o.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ url, auth: o.auth.enabled, ui: uiBuilt ? uiDir : "not built" }, "REST server listening");
  return {
    url,
    unsynced,
    routes,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy(); // idle keep-alive connections of polling dashboards
      await closed;
      await cache.stop();
      await auth.stop();
    },
  };
}
