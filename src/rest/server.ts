// The REST server (`hwameistor rest`, the original's "apiserver" component; docs/rest-api.md): the routes of
// routes/*.ts under /apis/hwameistor.io/v1alpha1, the OpenAPI document at /swagger/doc.json, and the web
// dashboard (ui/dist) at /. HTTPS with a self-signed certificate (or the given one) and token auth by
// default; binds 127.0.0.1 unless told otherwise.
//
// Why fastify (a declared dependency) rather than bare node:http, which the embedded Kubernetes API server
// uses: this server has ~45 fixed routes with path parameters and small JSON bodies — exactly what
// fastify's router and its ajv body validation (errors naming the field) give for free — and no watch
// streams or exotic content types that would fight the framework. HTTPS is node:https underneath.

import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize, resolve, sep } from "node:path";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { KubeClient } from "../kube/client.ts";
import { silentLogger, type Logger } from "../kube/types.ts";
import { AUTH_HEADER, TokenStore, type AuthConfig } from "./auth.ts";
import { ResourceCache } from "./cache.ts";
import { badBody, toErrorBody } from "./errors.ts";
import { openApiDocument, swaggerIndexHtml } from "./openapi.ts";
import { BASE, type Route, type RouteDeps } from "./route.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { volumeRoutes } from "./routes/volumes.ts";

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
  return [...clusterRoutes(d), ...volumeRoutes(d), ...nodeRoutes(d)];
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
  "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/** The first ajv error of a body as "body field X: …". */
function validationMessage(e: FastifyError): string {
  const v = e.validation?.[0];
  if (!v) return e.message;
  const p = v.params as { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] };
  if (p.missingProperty) return badBody(p.missingProperty, "is required").message;
  if (p.additionalProperty) return badBody(p.additionalProperty, "is not a field of this request (check its spelling)").message;
  const field = v.instancePath.replace(/^\//, "").replace(/\//g, ".") || "(body)";
  const allowed = p.allowedValues ? ` (one of ${p.allowedValues.map((x) => JSON.stringify(x)).join(", ")})` : "";
  return badBody(field, `${v.message ?? "is invalid"}${allowed}`).message;
}

export async function startRestServer(o: RestServerOptions): Promise<RunningRestServer> {
  const log = o.log ?? silentLogger;
  const systemNamespace = o.systemNamespace ?? "hwameistor";
  const auth = new TokenStore(o.auth, { client: o.client, namespace: systemNamespace, log }, o.now);
  const cache = new ResourceCache(o.client, log, systemNamespace);
  const deps: RouteDeps = { cache, client: o.client, auth, systemNamespace, log };
  const routes = allRoutes(deps);
  const doc = openApiDocument(routes);

  const app: FastifyInstance = Fastify({
    ...(o.tls ? { https: { cert: o.tls.certPem, key: o.tls.keyPem } } : {}),
    logger: false,
    bodyLimit: 64 * 1024,
    forceCloseConnections: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
  }) as unknown as FastifyInstance;

  app.setErrorHandler((e: FastifyError, req, reply) => {
    let status: number;
    let body;
    if (e.validation) {
      status = 400;
      const required = ((req.routeOptions.schema?.body as { required?: string[] } | undefined)?.required ?? [])[0];
      const missing = req.body === undefined || req.body === null;
      body = { errcode: 400, description: missing && required ? badBody(required, "is required (send a JSON body)").message : missing ? "request body: must be a JSON object" : validationMessage(e) };
    } else if (typeof e.statusCode === "number" && e.statusCode < 500 && !("reason" in e)) {
      // fastify's own: malformed JSON, wrong content type, body too large.
      status = e.statusCode;
      body = { errcode: status, description: `request body: ${e.message}` };
    } else {
      ({ status, body } = toErrorBody(e));
    }
    if (status >= 500) log.error({ method: req.method, url: req.url, err: body.description }, "REST request failed");
    else if (req.method !== "GET") log.info({ method: req.method, url: req.url, status, err: body.description }, "REST request refused");
    void reply.code(status).headers(SECURITY_HEADERS).send(body);
  });

  for (const r of routes) {
    app.route({
      method: r.method,
      url: BASE + r.path,
      ...(r.body ? { schema: { body: r.body } } : {}),
      // onRequest: before the body is even parsed, so an unauthenticated request learns nothing but 401.
      onRequest: async (req: FastifyRequest) => {
        if (r.auth !== false) auth.check(req.headers[AUTH_HEADER]);
      },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const result = await r.handler({
          params: req.params as Record<string, string>,
          query: req.query as Record<string, unknown>,
          body: req.body,
          headers: req.headers,
        });
        void reply.headers(SECURITY_HEADERS).header("cache-control", "no-store").send(result);
      },
    });
  }

  app.get("/swagger/doc.json", async (_req, reply) => reply.headers(SECURITY_HEADERS).send(doc));
  app.get("/swagger/index.html", async (_req, reply) => reply.headers(SECURITY_HEADERS).type("text/html; charset=utf-8").send(swaggerIndexHtml(doc)));
  app.get("/swagger", async (_req, reply) => reply.redirect("/swagger/index.html"));
  app.get("/healthz", async () => ({ ok: true }));

  const uiDir = o.uiDir ? resolve(o.uiDir) : undefined;
  const uiBuilt = !!uiDir && existsSync(join(uiDir, "index.html"));
  const serveUi = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = decodeURIComponent((req.url.split("?")[0] ?? "/").replace(/\+/g, " "));
    if (url.startsWith(BASE) || url.startsWith("/swagger/") || url.startsWith("/apis/")) {
      return reply.code(404).headers(SECURITY_HEADERS).send({ errcode: 404, description: `no route ${req.method} ${url} (see /swagger/index.html)` });
    }
    if (!uiBuilt) {
      return reply.code(404).headers(SECURITY_HEADERS).type("text/plain; charset=utf-8").send("The dashboard is not built: run `npm run build:ui` (or scripts/install-deps.sh). The REST API is at " + BASE + ", its document at /swagger/index.html.\n");
    }
    const rel = normalize(url).replace(/^(\.\.(\/|\\|$))+/, "");
    let file = join(uiDir!, rel);
    if (!file.startsWith(uiDir! + sep) || !existsSync(file) || !statSync(file).isFile()) file = join(uiDir!, "index.html"); // SPA routes
    const isAsset = file.includes(`${sep}assets${sep}`);
    return reply
      .headers(SECURITY_HEADERS)
      .header("cache-control", isAsset ? "public, max-age=31536000, immutable" : "no-cache")
      .type(MIME[extname(file)] ?? "application/octet-stream")
      .send(readFileSync(file));
  };
  app.get("/*", serveUi);
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).headers(SECURITY_HEADERS).send({ errcode: 404, description: `no route ${req.method} ${req.url.split("?")[0]} (see /swagger/index.html)` });
  });

  await auth.start();
  cache.start();
  const unsynced = await cache.waitForSync(o.syncTimeoutMs ?? 20_000);
  if (unsynced.length) log.warn({ kinds: unsynced }, "serving before these caches synced; their routes answer 503 until they do");
  try {
    await app.listen({ host: o.host ?? "127.0.0.1", port: o.port ?? 8443 });
  } catch (e) {
    await cache.stop();
    await auth.stop();
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  const host = o.host ?? "127.0.0.1";
  const url = `${o.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ url, auth: o.auth.enabled, ui: uiBuilt ? uiDir : "not built" }, "REST server listening");
  return {
    url,
    unsynced,
    routes,
    async close() {
      await app.close();
      await cache.stop();
      await auth.stop();
    },
  };
}
