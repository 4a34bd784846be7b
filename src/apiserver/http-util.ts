// HTTP plumbing shared by the handlers: body reading with a size limit, JSON/YAML decoding, content
// negotiation (JSON, server-side Table, PartialObjectMetadata; protobuf is answered with JSON) and
// Kubernetes Status error responses.

import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import { HwError, httpStatusOf, isHwError, toKubeStatus } from "../api/errors.ts";
import { badRequest } from "./object-meta.ts";
import { decodeKubeProtobuf } from "./protobuf.ts";

/** kube-apiserver's limit for a request body is 3 MiB (etcd's object size limit is ~1.5 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(
          new HwError("RESOURCE_EXHAUSTED", "RequestEntityTooLarge", `the request body is larger than ${limit} bytes`, {
            httpStatus: 413,
            statusReason: "RequestEntityTooLarge",
          }),
        );
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!failed) {
        failed = true;
        reject(new HwError("CANCELLED", "ClientClosedRequest", `reading the request body failed: ${e.message}`, { httpStatus: 499, cause: e }));
      }
    });
    req.on("close", () => {
      // The client went away mid-body: give up on the request (nothing is written, nobody to answer).
      if (!failed && !req.complete) {
        failed = true;
        reject(new HwError("CANCELLED", "ClientClosedRequest", "the client closed the connection before sending the whole body", { httpStatus: 499 }));
      }
    });
  });
}

/** Decodes a request body: JSON, YAML for `application/yaml`, kube protobuf for a few kinds; else 415; 400 if malformed. */
export function decodeBody(buf: Buffer, contentType: string | undefined): any {
  const base = (contentType ?? "application/json").split(";")[0]!.trim().toLowerCase();
  if (base === "application/vnd.kubernetes.protobuf") return decodeKubeProtobuf(buf);
  if (base.includes("protobuf") || base.includes("cbor")) {
    throw new HwError(
      "INVALID_ARGUMENT",
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
      { httpStatus: 415, statusReason: "UnsupportedMediaType" },
    );
  }
  const text = buf.toString("utf8");
  if (text.trim() === "") throw badRequest("the request body is empty");
  if (base.includes("yaml")) {
    try {
      return parseYaml(text);
    } catch (e) {
      throw badRequest(`the request body is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    // kubectl always sends JSON, but be lenient with YAML sent as JSON by hand-written clients.
    if (base === "application/json" || base === "") {
      try {
        const y = parseYaml(text);
        if (y !== null && typeof y === "object") return y;
      } catch {
        // fall through to the JSON error
      }
    }
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

export type Output = { as: "json" } | { as: "table"; apiVersion: string } | { as: "metadata"; apiVersion: string };

/** Picks the representation from the Accept header, first acceptable entry wins (kube's negotiation). */
export function negotiate(accept: string | undefined): Output {
  if (!accept) return { as: "json" };
  for (const part of accept.split(",")) {
    const [type, ...params] = part.split(";").map((s) => s.trim());
    const p: Record<string, string> = {};
    for (const kv of params) {
      const i = kv.indexOf("=");
      if (i > 0) p[kv.slice(0, i).trim().toLowerCase()] = kv.slice(i + 1).trim();
    }
    if (p.as) {
      if (p.g !== "meta.k8s.io" || (p.v !== "v1" && p.v !== "v1beta1")) continue;
      if (p.as === "Table") return { as: "table", apiVersion: `meta.k8s.io/${p.v}` };
      if (p.as === "PartialObjectMetadata" || p.as === "PartialObjectMetadataList") return { as: "metadata", apiVersion: `meta.k8s.io/${p.v}` };
      continue;
    }
    if (type === "application/json" || type === "*/*" || type === "application/*" || type?.includes("protobuf") || type?.includes("yaml"))
      return { as: "json" };
  }
  return { as: "json" };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Kubernetes Status body for any error; plain Errors become 500 InternalError (and are logged by the caller). */
export function statusOf(e: unknown): { code: number; body: Record<string, unknown> } {
  if (isHwError(e)) return { code: httpStatusOf(e), body: toKubeStatus(e) };
  const internal = new HwError("INTERNAL", "InternalError", `Internal error occurred: ${(e as Error)?.message ?? String(e)}`);
  return { code: 500, body: toKubeStatus(internal) };
}

export function sendError(res: ServerResponse, e: unknown): void {
  const { code, body } = statusOf(e);
  sendJson(res, code, body);
}
