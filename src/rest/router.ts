// Routing and request bodies for the REST server, without a framework: the route table compiled into
// per-segment matchers, JSON bodies read with a size cap, and each route's body schema compiled once with
// ajv so a bad body is refused naming the field. Pure except for reading the request stream.

import type { IncomingMessage } from "node:http";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { HwError } from "../api/errors.ts";
import { badBody } from "./errors.ts";
import { BASE, type Route } from "./route.ts";

export const BODY_LIMIT_BYTES = 64 * 1024;

interface Compiled {
  route: Route;
  segments: string[];
  validate?: ValidateFunction;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
  validate?: ValidateFunction;
}

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });

export class Router {
  private readonly compiled: Compiled[];

  constructor(readonly routes: Route[]) {
    this.compiled = routes.map((route) => ({
      route,
      segments: (BASE + route.path).split("/").filter(Boolean),
      validate: route.body ? ajv.compile(route.body) : undefined,
    }));
  }

  /**
   * The route for a method and path. A path that matches only with another method is a 405 naming the
   * allowed ones; no match at all is undefined. Literal segments win over parameters
   * (`/cluster/pools/expand` is not the pool named "expand").
   */
  match(method: string, pathname: string): Match | undefined {
    let parts: string[];
    try {
      parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new HwError("INVALID_ARGUMENT", "BadPath", `path ${pathname} is not valid percent-encoding`);
    }
    let best: { c: Compiled; params: Record<string, string>; literals: number } | undefined;
    const allowed = new Set<string>();
    for (const c of this.compiled) {
      if (c.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let literals = 0;
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = c.segments[i]!;
        if (seg.startsWith(":")) params[seg.slice(1)] = parts[i]!;
        else if (seg === parts[i]) literals++;
        else ok = false;
      }
      if (!ok) continue;
      if (c.route.method !== method) {
        allowed.add(c.route.method);
        continue;
      }
      if (!best || literals > best.literals) best = { c, params, literals };
    }
    if (best) return { route: best.c.route, params: best.params, validate: best.c.validate };
    if (allowed.size) {
      throw new HwError("UNIMPLEMENTED", "MethodNotAllowed", `${method} is not allowed on ${pathname} (allowed: ${[...allowed].join(", ")})`, {
        httpStatus: 405,
      });
    }
    return undefined;
  }
}

/** Reads a JSON body (undefined when empty); 413 over the cap, 415 for another content type, 400 for bad JSON. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > BODY_LIMIT_BYTES)
    throw new HwError("INVALID_ARGUMENT", "TooLarge", `request body of ${declared} bytes exceeds ${BODY_LIMIT_BYTES}`, { httpStatus: 413 });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT_BYTES) throw new HwError("INVALID_ARGUMENT", "TooLarge", `request body exceeds ${BODY_LIMIT_BYTES} bytes`, { httpStatus: 413 });
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return undefined;
  const type = String(req.headers["content-type"] ?? "")
    .split(";")[0]!
    .trim()
    .toLowerCase();
  if (type && type !== "application/json") {
    throw new HwError("INVALID_ARGUMENT", "UnsupportedMediaType", `request body: content type ${type} is not supported; send application/json`, {
      httpStatus: 415,
    });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HwError("INVALID_ARGUMENT", "BadJson", `request body: not valid JSON (${(e as Error).message})`);
  }
}

/** Validates a body against the route's schema; the first problem as a 400 naming the field. */
export function checkBody(route: Route, validate: ValidateFunction | undefined, body: unknown): void {
  if (!validate) return;
  const required = ((route.body?.required as string[] | undefined) ?? [])[0];
  if (body === undefined || body === null) {
    if (required) throw badBody(required, "is required (send a JSON body)");
    return;
  }
  if (validate(body)) return;
  throw bodyError(validate.errors?.[0]);
}

function bodyError(e: ErrorObject | undefined): HwError {
  if (!e) return badBody("(body)", "is invalid");
  const p = e.params as { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] };
  if (p.missingProperty) return badBody(p.missingProperty, "is required");
  if (p.additionalProperty) return badBody(p.additionalProperty, "is not a field of this request (check its spelling)");
  const field = e.instancePath.replace(/^\//, "").replace(/\//g, ".");
  if (!field) return new HwError("INVALID_ARGUMENT", "InvalidBody", `request body: ${e.message ?? "is invalid"}`);
  const allowed = p.allowedValues ? ` (one of ${p.allowedValues.map((x) => JSON.stringify(x)).join(", ")})` : "";
  return badBody(field, `${e.message ?? "is invalid"}${allowed}`);
}
