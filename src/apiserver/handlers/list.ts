// LIST: label and field selectors, limit/continue paging, remainingItemCount, Table and
// PartialObjectMetadata output. Pages are read straight from SQLite in (namespace, name) order.
//
// Approximation: kube serves every page of a paged list from one snapshot (the continue token pins the
// first page's resourceVersion). We page by key instead: later pages see writes made after the first
// page, and the continue token never expires. Every page reports the first page's resourceVersion.
// Fast path: without selectors and as plain JSON, the stored JSON texts are concatenated unparsed.

import { parseLabelSelector } from "../../api/label-selector.ts";
import { parseFieldSelector } from "../field-selector.ts";
import { badRequest } from "../object-meta.ts";
import type { Output } from "../http-util.ts";
import { groupVersion, type ResourceType } from "../resource-type.ts";
import { renderTable } from "../builtin-table.ts";
import type { ObjectService } from "./objects.ts";

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  includeObject?: "None" | "Metadata" | "Object";
}

interface ContinueToken {
  v: string;
  rv: number;
  ns: string;
  name: string;
}

export function encodeContinue(t: Omit<ContinueToken, "v">): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", ...t })).toString("base64url");
}

export function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    if (t && t.v === "meta.k8s.io/v1" && typeof t.rv === "number" && typeof t.ns === "string" && typeof t.name === "string") return t;
  } catch {
    // fall through
  }
  throw badRequest(`invalid continue token: ${s.slice(0, 64)}`);
}

/** Builds a matcher from the selectors (throws 400 on bad syntax). */
export function objectFilter(rt: ResourceType, q: Pick<ListQuery, "labelSelector" | "fieldSelector">): ((obj: any) => boolean) | undefined {
  const label = q.labelSelector ? parseLabelSelector(q.labelSelector) : undefined;
  const field = q.fieldSelector ? parseFieldSelector(q.fieldSelector, rt) : undefined;
  if (!label && !field) return undefined;
  return (obj) => (!label || label(obj?.metadata?.labels)) && (!field || field(obj));
}

const BATCH = 500;

/** Returns the response body (JSON text). */
export function listObjects(svc: ObjectService, rt: ResourceType, namespace: string | undefined, q: ListQuery, out: Output): string {
  const filter = objectFilter(rt, q);
  const ns = rt.namespaced ? namespace : undefined;
  const token = q.continue ? decodeContinue(q.continue) : undefined;
  const listRv = token?.rv ?? svc.store.currentRv;
  let after = token ? { namespace: token.ns, name: token.name } : undefined;
  const limit = q.limit && q.limit > 0 ? q.limit : undefined;
  const multi = svc.registry.isMultiVersion(rt.group, rt.plural);
  const raw = !filter && out.as === "json" && !multi;

  const texts: string[] = [];
  const objs: any[] = [];
  let last: { namespace: string; name: string } | undefined;
  const count = () => texts.length + objs.length;
  for (;;) {
    const want = limit ? (filter ? Math.max(BATCH, limit) : limit - count()) : undefined;
    const rows = svc.store.list(rt.group, rt.plural, ns, after, want);
    for (const row of rows) {
      after = { namespace: row.namespace, name: row.name };
      if (raw) {
        texts.push(row.data);
      } else {
        const obj = svc.decode(rt, row.data);
        if (filter && !filter(obj)) continue;
        objs.push(obj);
      }
      last = after;
      if (limit && count() >= limit) break;
    }
    if (limit && count() >= limit) break;
    if (!want || rows.length < want) break;
  }
  const full = limit !== undefined && count() >= limit;
  const exhausted = !full || last === undefined || svc.store.countAfter(rt.group, rt.plural, ns, last) === 0;

  const meta: Record<string, unknown> = { resourceVersion: String(listRv) };
  let cont: string | undefined;
  let remaining: number | undefined;
  if (!exhausted && last) {
    cont = encodeContinue({ rv: listRv, ns: last.namespace, name: last.name });
    meta.continue = cont;
    if (!filter) {
      remaining = svc.store.countAfter(rt.group, rt.plural, ns, last);
      meta.remainingItemCount = remaining;
    }
  }

  if (out.as === "table") {
    const t = renderTable(rt, objs, {
      includeObject: q.includeObject ?? "Metadata",
      resourceVersion: String(listRv),
      continue: cont,
      remainingItemCount: remaining,
    });
    t.apiVersion = out.apiVersion;
    return JSON.stringify(t);
  }
  if (out.as === "metadata") {
    return JSON.stringify({
      kind: "PartialObjectMetadataList",
      apiVersion: out.apiVersion,
      metadata: meta,
      items: objs.map((o) => ({ kind: "PartialObjectMetadata", apiVersion: out.apiVersion, metadata: o.metadata })),
    });
  }
  const head = `{"kind":${JSON.stringify(rt.listKind)},"apiVersion":${JSON.stringify(groupVersion(rt))},"metadata":${JSON.stringify(meta)},"items":[`;
  return head + (raw ? texts.join(",") : objs.map((o) => JSON.stringify(o)).join(",")) + "]}";
}
