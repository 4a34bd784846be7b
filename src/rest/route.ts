// One route of the REST API, declared once: the server registers it and the OpenAPI document describes it
// from the same object (path, parameters, body schema, summary), so the two cannot drift apart.

import type { KubeClient } from "../kube/client.ts";
import type { Logger } from "../kube/types.ts";
import type { TokenStore } from "./auth.ts";
import type { ResourceCache } from "./cache.ts";
import { pageOf, parseListQuery, type ListSpec } from "./query.ts";

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

export interface ListRoute<T> {
  path: string;
  tag: string;
  summary: string;
  returns: string;
  /** The filters and sorts the route accepts (parsed from the query, documented in OpenAPI). */
  list: ListSpec<T>;
  /** What the path names, around the page (e.g. `{nodeName}`); it runs first, so it checks the path's objects. */
  envelope?(ctx: RouteContext): Record<string, unknown>;
  /** Every item the path names, before the query's filters. */
  items(ctx: RouteContext): T[];
  /** Whether an item passes the query's filters (`nameMatches`/`exactMatches` per filter). */
  matches(item: T, filters: Record<string, string>, fuzzy: boolean): boolean;
  /** How a paged item is answered, when that differs from the item (fields used only to sort or filter). */
  present?(item: T): unknown;
}

/**
 * A paginated GET list route: the path's objects are looked up (a missing one is NOT_FOUND before the query is
 * read), the query's filters are applied, the rest is sorted and paged: `{...envelope, items, pagination}`.
 */
export function listRoute<T>(r: ListRoute<T>): Route {
  return {
    method: "GET",
    path: r.path,
    tag: r.tag,
    summary: r.summary,
    list: r.list as ListSpec<never>,
    returns: r.returns,
    handler: (ctx) => {
      const envelope = r.envelope?.(ctx) ?? {};
      const all = r.items(ctx);
      const q = parseListQuery(ctx.query, r.list);
      const page = pageOf(
        all.filter((x) => r.matches(x, q.filters, q.fuzzy)),
        q,
        r.list,
      );
      return { ...envelope, items: r.present ? page.items.map((x) => r.present!(x)) : page.items, pagination: page.pagination };
    },
  };
}
