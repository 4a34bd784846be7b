// HTTP transport to a Kubernetes API server, and the mapping of its failures to HwError.
//
// Why our own requests instead of client-node's generated API classes (CustomObjectsApi, CoreV1Api, ...):
// - one code path for every resource (core, CRDs, Leases, Events) keyed by a descriptor, with no per-kind
//   method names and no casing/serialisation layer that renames or drops unknown fields;
// - the status code and the `Status` body of a failure are ours to map (the generated classes wrap them in
//   ApiException with a string body, and each API class differs in how patch content types are chosen);
// - watches are plain chunked responses we can abort, time out and resume precisely, which the informer
//   needs (client-node's Watch/Informer do not restart after non-410 errors).
// Auth and TLS come from our kubeconfig model (kubeconfig.ts: tokens and token files, basic auth, client
// certificates, CA, tls-server-name, insecure-skip-tls-verify). We use node:http(s) rather than global fetch
// because undici's fetch cannot take the https.Agent that carries the kubeconfig's TLS settings.

import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { HwError, type ErrorCode, type FieldCause } from "../api/errors.ts";
import type { KubeConfig } from "./kubeconfig.ts";

export interface RequestOptions {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string; // e.g. /api/v1/namespaces/default/configmaps
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Overall deadline for a non-streaming request. */
  timeoutMs?: number;
}

export interface TransportOptions {
  /** Default deadline of non-streaming requests (default 30 s). */
  timeoutMs?: number;
  /** How long the auth/TLS options derived from the kubeconfig are reused (default 60 s; tokens rotate). */
  authCacheMs?: number;
  userAgent?: string;
}

interface Prepared {
  base: URL;
  agent: http.Agent;
  /** The TLS options the agent was made with (JSON), to keep it while they stay the same. */
  tlsKey: string;
  headers: Record<string, string>;
  at: number;
}

/**
 * Idle keep-alive connections are closed by us before the server would: our API server closes them after
 * 65 s (kube-apiserver's Go server after its idle timeout), and a request sent on a connection the server is
 * closing fails with ECONNRESET.
 */
const IDLE_SOCKET_MS = 30_000;

/** Methods that may be sent again when a kept-alive connection turns out closed (as Go's transport: not POST/PATCH). */
const REPEATABLE = new Set<RequestOptions["method"]>(["GET", "PUT", "DELETE"]);

export class Transport {
  readonly server: string;
  private readonly timeoutMs: number;
  private readonly authCacheMs: number;
  private readonly userAgent: string;
  private prepared?: Prepared;

  constructor(
    private readonly kc: KubeConfig,
    opts: TransportOptions = {},
  ) {
    const cluster = kc.getCurrentCluster();
    if (!cluster?.server) throw new HwError("FAILED_PRECONDITION", "NoCluster", "kubeconfig has no current cluster");
    this.server = cluster.server.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.authCacheMs = opts.authCacheMs ?? 60_000;
    this.userAgent = opts.userAgent ?? "hwameistor-ts";
  }

  private preparing?: Promise<Prepared>;

  private prepare(): Promise<Prepared> {
    if (this.prepared && Date.now() - this.prepared.at < this.authCacheMs) return Promise.resolve(this.prepared);
    // One refresh at a time: concurrent requests share it (exec plugins can be slow).
    this.preparing ??= this.refresh().finally(() => (this.preparing = undefined));
    return this.preparing;
  }

  private async refresh(): Promise<Prepared> {
    const now = Date.now();
    // Re-reads token, CA and certificate files (rotation); throws HwError for exec plugins / auth-provider.
    const c = this.kc.connectionOptions();
    const tlsKey = JSON.stringify(c.tls);
    // Plain http (the embedded server locally): nothing to verify, credentials are still sent.
    // HTTPS: one keep-alive agent for as long as the TLS files stay the same. An agent without keep-alive (and
    // a new one each minute, as before) opened a TLS connection per request: a handshake and a new OpenSSL
    // context with the CA parsed again each time — measured 50 GETs in flight at ~55/s, and 25 MiB of malloc
    // heap left behind per 4,000 requests (docs/benchmarks.md "Memory"). A replaced agent is not destroyed:
    // long-running watches may still use it; its idle connections close after IDLE_SOCKET_MS.
    // The agent's connections share one OpenSSL context (CA, client certificate): without `secureContext`
    // tls.connect builds a new one per connection, parsing the PEMs again — 100 CreateVolume waits, each
    // watching its volume, were 100 contexts (docs/benchmarks.md "Memory").
    const agent = !this.server.startsWith("https:")
      ? http.globalAgent
      : this.prepared?.tlsKey === tlsKey
        ? this.prepared.agent
        : new https.Agent({
            ...c.tls,
            secureContext: tls.createSecureContext({ ca: c.tls.ca, cert: c.tls.cert, key: c.tls.key }),
            keepAlive: true,
            timeout: IDLE_SOCKET_MS,
          });
    this.prepared = { base: new URL(this.server), agent, tlsKey, headers: c.headers, at: now };
    return this.prepared;
  }

  private url(base: URL, path: string, query?: RequestOptions["query"]): URL {
    const u = new URL(base.pathname.replace(/\/+$/, "") + path, base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") u.searchParams.set(k, String(v));
    return u;
  }

  private async open(req: RequestOptions, streaming: boolean): Promise<{ res: http.IncomingMessage; what: string }> {
    const p = await this.prepare();
    const u = this.url(p.base, req.path, req.query);
    const what = `${req.method} ${u.pathname}${u.search}`;
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string> = {
      ...p.headers,
      Accept: "application/json",
      "User-Agent": this.userAgent,
    };
    if (body) {
      headers["Content-Type"] = req.contentType ?? "application/json";
      headers["Content-Length"] = String(body.length);
    }
    const mod = u.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      let answered = false;
      const r = mod.request(u, { method: req.method, headers, agent: p.agent, signal: req.signal }, (res) => {
        answered = true;
        resolve({ res, what });
      });
      r.on("error", (e: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed while it sat idle (a restart, its idle timeout) fails at
        // once with nothing answered: send the request again on another connection. Only for a reused
        // connection (a new one failing is a real failure), a method that is safe to repeat, and not for a
        // watch: the informer resumes a failed watch itself, after its backoff.
        const stale =
          !streaming && r.reusedSocket && !answered && (e.code === "ECONNRESET" || e.code === "EPIPE") && REPEATABLE.has(req.method) && !req.signal?.aborted;
        if (stale) this.open(req, streaming).then(resolve, reject);
        else reject(connectionError(e, what, req.signal));
      });
      if (!streaming) {
        r.setTimeout(req.timeoutMs ?? this.timeoutMs, () =>
          r.destroy(new HwError("DEADLINE_EXCEEDED", "Timeout", `${what}: no answer within ${req.timeoutMs ?? this.timeoutMs} ms`)),
        );
      } else {
        // A watch may stay silent for long once open, but its response headers must come promptly.
        const t = setTimeout(
          () => r.destroy(new HwError("UNAVAILABLE", "NoResponseHeaders", `${what}: no response headers within ${this.timeoutMs} ms`)),
          this.timeoutMs,
        );
        r.on("response", () => clearTimeout(t));
        r.on("close", () => clearTimeout(t));
        r.on("socket", (s) => s.setKeepAlive(true, 10_000));
      }
      r.end(body);
    });
  }

  /** One request; the parsed JSON body on 2xx, an HwError otherwise. */
  async request<R = unknown>(req: RequestOptions): Promise<R> {
    const text = await this.requestText(req);
    return (text ? JSON.parse(text) : undefined) as R;
  }

  /** One request; the body as text on 2xx (e.g. /metrics), an HwError otherwise. */
  async requestText(req: RequestOptions): Promise<string> {
    const { res, what } = await this.open(req, false);
    const text = await readAll(res, what, req.signal);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw errorFromResponse(status, text, what);
    return text;
  }

  /**
   * A streaming request (watch): calls onLine for each newline-delimited JSON value as it arrives; resolves
   * when the server ends the stream, rejects with an HwError on a non-2xx answer or a broken connection.
   */
  async stream(req: RequestOptions, onLine: (value: unknown) => void): Promise<void> {
    const { res, what } = await this.open(req, true);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      throw errorFromResponse(status, await readAll(res, what, req.signal), what);
    }
    res.setEncoding("utf8");
    await new Promise<void>((resolve, reject) => {
      let buf = "";
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        res.destroy();
        reject(e);
      };
      res.on("data", (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch (e) {
            return fail(new HwError("UNAVAILABLE", "BadWatchData", `${what}: unparseable watch line`, { cause: e }));
          }
          try {
            onLine(value);
          } catch (e) {
            return fail(e);
          }
        }
      });
      res.on("end", () => (failed ? undefined : resolve()));
      res.on("aborted", () => fail(connectionError(new Error("stream aborted"), what, req.signal)));
      res.on("error", (e) => fail(connectionError(e, what, req.signal)));
      res.on("close", () => {
        if (!res.complete) fail(connectionError(new Error("stream closed before its end"), what, req.signal));
      });
    });
  }
}

function readAll(res: http.IncomingMessage, what: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", (e) => reject(connectionError(e, what, signal)));
    res.on("aborted", () => reject(connectionError(new Error("response aborted"), what, signal)));
  });
}

/** A request that never got an HTTP answer: the server is down, the socket reset, or we cancelled. */
export function connectionError(e: unknown, what: string, signal?: AbortSignal): HwError {
  if (e instanceof HwError) return e;
  const err = e as NodeJS.ErrnoException;
  if (signal?.aborted || err?.name === "AbortError") {
    return new HwError("CANCELLED", "Cancelled", `${what}: cancelled`, { cause: e });
  }
  return new HwError("UNAVAILABLE", "ServiceUnavailable", `${what}: ${err?.code ?? ""} ${err?.message ?? String(e)}`.trim(), {
    cause: e,
    hint: "is the API server running and reachable?",
  });
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: Array<Partial<FieldCause>> };
}

/** HTTP statuses whose error code and reason do not depend on the body. */
const FIXED_STATUS: Partial<Record<number, [ErrorCode, string]>> = {
  401: ["UNAUTHENTICATED", "Unauthorized"],
  403: ["PERMISSION_DENIED", "Forbidden"],
  404: ["NOT_FOUND", "NotFound"],
  405: ["UNIMPLEMENTED", "MethodNotAllowed"],
  412: ["FAILED_PRECONDITION", "PreconditionFailed"],
  415: ["INVALID_ARGUMENT", "UnsupportedMediaType"],
  429: ["UNAVAILABLE", "TooManyRequests"],
};

/** Maps an HTTP failure (status code plus Kubernetes `Status` body) to an HwError, keeping the server's message. */
export function errorFromResponse(status: number, text: string, what: string): HwError {
  let body: StatusBody = {};
  try {
    const parsed = JSON.parse(text) as StatusBody;
    if (parsed && typeof parsed === "object") body = parsed;
  } catch {
    /* not a Status body: keep the raw text below */
  }
  const message = body.message || text.trim().slice(0, 500) || `HTTP ${status}`;
  const details = body.details ? { name: body.details.name, group: body.details.group, kind: body.details.kind } : undefined;
  const statusReason = body.reason || undefined;
  const make = (code: ErrorCode, reason: string, extra: { causes?: FieldCause[] } = {}) =>
    new HwError(code, reason, message, {
      statusReason: statusReason ?? reason,
      httpStatus: status,
      details,
      hint: undefined,
      cause: { request: what, status, body: text.slice(0, 2000) },
      ...extra,
    });
  const fixed = FIXED_STATUS[status];
  if (fixed) return make(...fixed);
  switch (true) {
    case status === 409 && statusReason === "AlreadyExists":
      return make("ALREADY_EXISTS", "AlreadyExists");
    case status === 409:
      return make("ABORTED", "Conflict");
    case status === 422: {
      const causes = (body.details?.causes ?? []).map((c) => ({
        field: c.field ?? "",
        reason: c.reason ?? "FieldValueInvalid",
        message: c.message ?? "",
      }));
      return make("INVALID_ARGUMENT", "Invalid", { causes });
    }
    case status === 410:
      // An expired resourceVersion or continue token (etcd's "compacted" is OutOfRange too).
      return make("OUT_OF_RANGE", statusReason === "Gone" ? "Gone" : "Expired");
    case status === 400:
      return make("INVALID_ARGUMENT", statusReason ?? "BadRequest");
    case status >= 500:
      return make("UNAVAILABLE", statusReason ?? "ServiceUnavailable");
    default:
      return make("UNKNOWN", statusReason ?? `HTTP${status}`);
  }
}

/** True for a 410: the resourceVersion (or continue token) is too old; relist. */
export function isExpired(e: unknown): boolean {
  return e instanceof HwError && e.code === "OUT_OF_RANGE" && (e.reason === "Expired" || e.reason === "Gone");
}

export function isNotFound(e: unknown): boolean {
  return e instanceof HwError && e.code === "NOT_FOUND";
}

export function isConflict(e: unknown): boolean {
  return e instanceof HwError && e.code === "ABORTED" && e.reason === "Conflict";
}

export function isAlreadyExists(e: unknown): boolean {
  return e instanceof HwError && e.code === "ALREADY_EXISTS";
}
