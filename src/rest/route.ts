// One route of the REST API, declared once: the server registers it and the OpenAPI document describes it
// from the same object (path, parameters, body schema, summary), so the two cannot drift apart.

import type { KubeClient } from "../kube/client.ts";
import type { Logger } from "../kube/types.ts";
import type { TokenStore } from "./auth.ts";
import type { ResourceCache } from "./cache.ts";
import type { ListSpec } from "./query.ts";

/** Every route lives under this prefix, as in the original. */
export const BASE = "/apis/hwameistor.io/v1alpha1";

export interface RouteContext {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  /** The client's address (the login limiter counts failures per address). */
  remoteAddress: string;
}

export interface Route {
  method: "GET" | "POST";
  /** Relative to BASE, with `:param` segments. */
  path: string;
  summary: string;
  tag: string;
  /** False only for the three auth routes (outside the auth middleware, as the original). */
  auth?: boolean;
  /** A paginated list: documents page/pageSize/sort/sortDir/fuzzy and the filters. */
  list?: ListSpec<never>;
  /** Other query parameters, documented as strings. */
  query?: Record<string, string>;
  /** JSON schema of the request body (validated before the handler runs). */
  body?: Record<string, unknown>;
  /** What a 200 answer holds (for the OpenAPI document). */
  returns: string;
  handler(ctx: RouteContext): Promise<unknown> | unknown;
}

export interface RouteDeps {
  cache: ResourceCache;
  client: KubeClient;
  auth: TokenStore;
  /** Namespace of the system's own objects (auth tokens Secret, leases). */
  systemNamespace: string;
  log: Logger;
}

/** A JSON-schema object with exactly these properties (unknown fields are refused, naming them). */
export function objectSchema(properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> {
  return { type: "object", properties, required, additionalProperties: false };
}
