// The HTTPS server of the small JSON endpoints Kubernetes calls (scheduler extender, admission webhook): one
// handler answering {status, body}, a bounded request body, listen errors (EADDRINUSE) as a rejected start,
// and a close that also ends kept-alive connections, so a stop never waits for a client.

import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";

export interface JsonReply {
  status: number;
  /** JSON text, or "ok" (served as text/plain, for health checks). */
  body: string;
}

export interface TlsJsonServerOptions {
  port: number;
  host?: string;
  cert: { keyPem: string; certPem: string };
  handle(req: IncomingMessage): Promise<JsonReply>;
  /** The answer when the handler throws (answered as JSON). */
  onError(e: unknown): JsonReply;
}

export interface TlsJsonServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** The request body, or undefined when it grows past `maxBytes` (the caller answers 413). */
export async function readBodyLimited(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > maxBytes) return undefined;
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export async function startTlsJsonServer(o: TlsJsonServerOptions): Promise<TlsJsonServer> {
  const server: Server = createServer({ key: o.cert.keyPem, cert: o.cert.certPem }, (req, res) => {
    o.handle(req).then(
      (r) => {
        res.writeHead(r.status, { "Content-Type": r.body === "ok" ? "text/plain" : "application/json" });
        res.end(r.body);
      },
      (e: unknown) => {
        const r = o.onError(e);
        res.writeHead(r.status, { "Content-Type": "application/json" });
        res.end(r.body);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
