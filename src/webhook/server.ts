// The admission webhook's HTTPS server: POST <path> (AdmissionReview v1 in and out), GET /healthz.
// A request that is not an AdmissionReview gets HTTP 400 with a message naming what is wrong (the API
// server then applies the failurePolicy; the chart's Ignore admits the pod unchanged). The serving
// certificate can be swapped while running (renewal) with setCertificate.

import { readBodyLimited, startTlsJsonServer } from "../host/tls/json-server.ts";
import type { Logger } from "../kube/types.ts";
import { MalformedReview, mutate, parseReview, type MutateOptions, type VolumeLookup } from "./mutate.ts";

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface WebhookServerOptions extends MutateOptions {
  host: string;
  port: number;
  path: string;
  cert: { certPem: string; keyPem: string };
  lookup: VolumeLookup;
  log: Logger;
}

export interface RunningWebhookServer {
  port: number;
  setCertificate(cert: { certPem: string; keyPem: string }): void;
  close(): Promise<void>;
}

const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
const failure = (status: number, message: string) => json(status, { kind: "Status", apiVersion: "v1", status: "Failure", code: status, message });

export async function startWebhookServer(o: WebhookServerOptions): Promise<RunningWebhookServer> {
  const handle = async (req: import("node:http").IncomingMessage): Promise<{ status: number; body: string }> => {
    const path = new URL(req.url ?? "/", "https://x").pathname;
    if (path === "/healthz" && req.method === "GET") return { status: 200, body: "ok" };
    if (path !== o.path) return failure(404, `no such path ${path}: the webhook serves POST ${o.path} and GET /healthz`);
    if (req.method !== "POST") return failure(405, `${req.method} ${path}: only POST is allowed`);
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
    if (type !== "application/json") return failure(400, `content type ${JSON.stringify(type)}: only application/json is supported`);
    const raw = await readBodyLimited(req, MAX_BODY_BYTES);
    if (!raw) return failure(413, `request body over ${MAX_BODY_BYTES} bytes`);
    let review;
    try {
      review = parseReview(JSON.parse(raw.toString("utf8")));
    } catch (e) {
      const msg = e instanceof MalformedReview ? e.message : `the body is not JSON: ${(e as Error).message}`;
      return failure(400, `malformed AdmissionReview: ${msg}`);
    }
    const response = await mutate(review.request, o.lookup, o);
    o.log.info(
      {
        uid: review.request.uid,
        namespace: review.request.namespace,
        name: review.request.name ?? (review.request.object as any)?.metadata?.generateName,
        allowed: response.allowed,
        patched: !!response.patch,
      },
      "admission review",
    );
    return json(200, { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response });
  };
  const { server, port, close } = await startTlsJsonServer({
    port: o.port,
    host: o.host,
    cert: o.cert,
    handle,
    onError: (e) => {
      o.log.error({ err: String(e) }, "admission request failed");
      return failure(500, `webhook error: ${(e as Error).message}`);
    },
  });
  return {
    port,
    setCertificate: (c) => server.setSecureContext({ key: c.keyPem, cert: c.certPem }),
    close,
  };
}
