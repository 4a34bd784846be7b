// The kubelet's log endpoint, the part `kubectl logs` reaches: GET /containerLogs/<namespace>/<pod>/<container>
// with PodLogOptions (follow, previous, tailLines, limitBytes; timestamps and since* are accepted and
// ignored: the log files hold the raw output). The embedded API server proxies pods/log here (the Node's
// InternalIP and status.daemonEndpoints.kubeletEndpoint.Port). APPROXIMATION: plain HTTP with the caller's
// bearer token compared to this node's own kubeconfig token (one token per embedded cluster), where a
// kubelet serves HTTPS and authorises through the API server.

import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "../kube/types.ts";

export interface LogLocation {
  file: string;
  /** Whether the container still runs (follow ends when it stops). */
  running(): boolean;
}

export interface LogServerOptions {
  host: string;
  port: number;
  token?: string;
  log: Logger;
  locate(namespace: string, pod: string, container: string, previous: boolean): LogLocation | { error: string } | undefined;
}

export interface LogServer {
  port: number;
  stop(): Promise<void>;
}

/** The last `n` lines of `text`. */
export function tailLines(text: string, n: number): string {
  if (n <= 0) return "";
  const lines = text.split("\n");
  const trailing = lines.at(-1) === "" ? 1 : 0;
  return lines.slice(Math.max(0, lines.length - trailing - n)).join("\n");
}

export async function startLogServer(o: LogServerOptions): Promise<LogServer> {
  const server = createServer((req, res) => void handle(o, req, res).catch((e: unknown) => fail(res, 500, String(e))));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function fail(res: ServerResponse, code: number, message: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(code, { "Content-Type": "text/plain" });
  res.end(message);
}

async function handle(o: LogServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://kubelet");
  const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (req.method !== "GET" || !m) return fail(res, 404, "not found");
  if (o.token && req.headers.authorization !== `Bearer ${o.token}`) return fail(res, 401, "Unauthorized");
  const [ns, pod, container] = m.slice(1).map(decodeURIComponent) as [string, string, string];
  const q = url.searchParams;
  const loc = o.locate(ns, pod, container, q.get("previous") === "true");
  if (!loc) return fail(res, 404, `container "${container}" in pod "${pod}" is not running on this node`);
  if ("error" in loc) return fail(res, 400, loc.error);
  const tail = q.get("tailLines");
  const limit = q.get("limitBytes");
  res.writeHead(200, { "Content-Type": "text/plain" });
  let text = existsSync(loc.file) ? readFileSync(loc.file, "utf8") : "";
  if (tail !== null) text = tailLines(text, Number(tail));
  if (limit !== null) text = text.slice(0, Number(limit));
  res.write(text);
  if (q.get("follow") !== "true") return void res.end();
  // follow: stream what is appended until the container stops or the client goes away
  let offset = existsSync(loc.file) ? statSync(loc.file).size : 0;
  let closed = false;
  req.on("close", () => (closed = true));
  while (!closed) {
    await new Promise((r) => setTimeout(r, 250));
    const size = existsSync(loc.file) ? statSync(loc.file).size : 0;
    if (size > offset) {
      await new Promise<void>((resolve) => {
        const s = createReadStream(loc.file, { start: offset, end: size - 1 });
        s.on("data", (chunk) => res.write(chunk));
        s.on("end", () => resolve());
        s.on("error", () => resolve());
      });
      offset = size;
    } else if (!loc.running()) break;
  }
  res.end();
}
