// /cluster/auth/*, /cluster/status, /cluster/operations, /cluster/events, /cluster/drbd.

import { notFound } from "../../api/errors.ts";
import { Leases, NodeStates } from "../../api/names.ts";
import type { LeaseSpec } from "../../kube/resources.ts";
import type { KubeObject } from "../../kube/types.ts";
import { badBody } from "../errors.ts";
import { AUTH_HEADER, tokenFromHeader } from "../auth.ts";
import { exactMatches, nameMatches, pageOf, parseListQuery, queryString, type ListSpec } from "../query.ts";
import { listRoute, objectSchema, type Route, type RouteDeps } from "../route.ts";
import {
  clusterSummary,
  eventActions,
  nameOf,
  nodeNames,
  operationView,
  storagePools,
  type EventAction,
  type Operation,
  type OperationObject,
} from "../views.ts";

export const operationsList: ListSpec<Operation> = {
  filters: ["name", "state", "volumeName", "type"],
  sorts: { name: (o) => o.eventName, time: (o) => o.startTime, type: (o) => o.eventType, state: (o) => o.status, volume: (o) => o.localVolumeName },
  defaultSort: { key: "time", dir: "desc" },
};

export const eventsList: ListSpec<EventAction> = {
  filters: ["resourceName", "resourceType", "action"],
  sorts: { time: (e) => e.eventRecord.time ?? "", name: (e) => e.resourceName, type: (e) => e.resourceType, action: (e) => e.eventRecord.action ?? "" },
  defaultSort: { key: "time", dir: "desc" },
};

/**
 * Every migrate/convert/expand as an Operation (the original's OperationList), plus those deleted in the last
 * minutes with their last state and `endTime` (controllers delete an operation when it completes; without
 * this a finished operation would just vanish from the list).
 */
export function allOperations(d: RouteDeps): Operation[] {
  const lvrs = d.cache.list("lvr");
  const live = [...d.cache.list("lvmigrate"), ...d.cache.list("lvconvert"), ...d.cache.list("lvexpand")];
  const seen = new Set(live.map((o) => `${o.kind}/${nameOf(o)}`));
  const ops = live.map((op) => operationView(op, lvrs));
  for (const f of d.cache.finishedOperations()) {
    const o = f.object as OperationObject;
    if (seen.has(`${o.kind}/${nameOf(o)}`)) continue;
    seen.add(`${o.kind}/${nameOf(o)}`);
    ops.push({ ...operationView(o, lvrs), endTime: new Date(f.deletedAt).toISOString() });
  }
  return ops;
}

export function listEvents(d: RouteDeps, query: Record<string, unknown>, fixed: { resourceName?: string; resourceType?: string } = {}) {
  const q = parseListQuery(query, eventsList);
  const f = q.filters;
  const items = eventActions(d.cache.list("evt")).filter(
    (e) =>
      (fixed.resourceName === undefined ? nameMatches(e.resourceName, f.resourceName, q.fuzzy) : e.resourceName === fixed.resourceName) &&
      (fixed.resourceType === undefined || e.resourceType === fixed.resourceType) &&
      exactMatches(e.resourceType, f.resourceType) &&
      exactMatches(e.eventRecord.action, f.action),
  );
  return pageOf(items, q, eventsList);
}

function leaseFresh(lease: KubeObject | undefined, now = Date.now()): boolean {
  const spec = lease?.spec as LeaseSpec | undefined;
  if (!spec?.holderIdentity || !spec.renewTime) return false;
  return Date.parse(spec.renewTime) + (spec.leaseDurationSeconds ?? 15) * 1000 > now;
}

export function clusterRoutes(d: RouteDeps): Route[] {
  const c = d.cache;
  return [
    {
      method: "POST",
      path: "/cluster/auth/auth",
      tag: "Auth",
      auth: false,
      summary: "Log in with accessId and secretKey; returns a token (send it in the Authorization header) and its expiry (unix seconds)",
      body: objectSchema({ accessId: { type: "string" }, secretKey: { type: "string" } }),
      returns: "{token, expireAt}",
      handler: ({ body, remoteAddress }) => {
        const b = (body ?? {}) as { accessId?: string; secretKey?: string };
        return d.auth.login(b.accessId ?? "", b.secretKey ?? "", remoteAddress);
      },
    },
    {
      method: "POST",
      path: "/cluster/auth/logout",
      tag: "Auth",
      auth: false,
      summary: "Forget the token of the Authorization header",
      returns: "{success}",
      handler: ({ headers }) => {
        d.auth.logout(tokenFromHeader(headers[AUTH_HEADER]));
        return { success: true };
      },
    },
    {
      method: "GET",
      path: "/cluster/auth/info",
      tag: "Auth",
      auth: false,
      summary: "Whether authentication is enabled",
      returns: "{enabled}",
      handler: () => ({ enabled: d.auth.enabled }),
    },
    {
      method: "GET",
      path: "/cluster/status",
      tag: "Cluster",
      summary: "Module status (Cluster resource status plus the components seen through their resources and leases) and a capacity summary",
      returns: "ModuleStatus",
      handler: () => {
        const lsns = c.list("lsn");
        const ldns = c.list("ldn");
        const cluster = c.list("hmcluster")[0];
        const leases = new Map(c.list("lease").map((l) => [nameOf(l), l]));
        const allReady = (xs: Array<{ status?: { state?: string } }>) => xs.length > 0 && xs.every((x) => x.status?.state === NodeStates.Ready);
        const state = (ok: boolean) => (ok ? "Running" : "NotReady");
        const nodes = nodeNames(lsns, ldns, c.list("node"));
        return {
          ...((cluster?.status as object | undefined) ?? {}),
          modulesStatus: [
            { name: "local-storage", state: state(allReady(lsns)) },
            { name: "local-disk-manager", state: state(allReady(ldns)) },
            { name: "controller", state: state(leaseFresh(leases.get(Leases.LocalStorageMaster))) },
            { name: "apiserver", state: "Running" },
          ],
          summary: clusterSummary(lsns, c.list("lv"), c.list("ld"), nodes),
          storagePoolsUse: storagePools(lsns).map((p) => ({
            name: p.poolName,
            totalCapacityBytes: p.totalCapacityBytes,
            allocatedCapacityBytes: p.allocatedCapacityBytes,
          })),
        };
      },
    },
    listRoute({
      path: "/cluster/operations",
      tag: "Operations",
      summary: "Migrations, conversions and expansions (LocalVolumeMigrate/Convert/Expand) with their state and progress",
      list: operationsList,
      returns: "{items: Operation[], pagination}",
      items: () => allOperations(d),
      matches: (o, f, fuzzy) =>
        nameMatches(o.eventName, f.name, fuzzy) &&
        exactMatches(o.status, f.state) &&
        nameMatches(o.localVolumeName, f.volumeName, fuzzy) &&
        exactMatches(o.eventType, f.type),
    }),
    {
      method: "GET",
      path: "/cluster/operations/:operationName",
      tag: "Operations",
      summary: "One operation by its resource name",
      query: { eventType: "LocalVolumeMigrate | LocalVolumeConvert | LocalVolumeExpand (when names collide)" },
      returns: "Operation",
      handler: ({ params, query }) => {
        const type = queryString(query, "eventType");
        const op = allOperations(d).find((o) => o.eventName === params.operationName && (!type || o.eventType === type));
        if (!op) throw notFound(`operation ${params.operationName}`, "list operations with GET /cluster/operations");
        return op;
      },
    },
    {
      method: "GET",
      path: "/cluster/events",
      tag: "Events",
      summary: "The operation log: every record of the audit Events (hwameistor.io Event), newest first",
      list: eventsList as ListSpec<never>,
      returns: "{items: EventAction[], pagination}",
      handler: ({ query }) => listEvents(d, query),
    },
    {
      method: "GET",
      path: "/cluster/events/:eventName",
      tag: "Events",
      summary: "One audit Event resource (all records of one resource)",
      returns: "Event",
      handler: ({ params }) => {
        const e = c.get("evt", params.eventName!);
        if (!e) throw notFound(`event ${params.eventName}`, "list the operation log with GET /cluster/events");
        return e;
      },
    },
    {
      method: "GET",
      path: "/cluster/drbd",
      tag: "Settings",
      summary: "DRBD (HA) setting, from the Cluster resource",
      returns: "{enable, state}",
      handler: () => {
        const cluster = c.list("hmcluster")[0];
        const enable = !!cluster && (cluster.spec as { drbd?: { disable?: boolean } } | undefined)?.drbd?.disable === false;
        return { enable, state: enable ? "Enabled" : "Disabled", cluster: cluster ? nameOf(cluster) : "" };
      },
    },
    {
      method: "POST",
      path: "/cluster/drbd",
      tag: "Settings",
      summary: "Enable DRBD (HA): sets spec.drbd.disable=false on the Cluster resource, for the operator to act on",
      body: objectSchema({ enable: { type: "boolean" } }),
      returns: "{enable, state}",
      handler: async ({ body }) => {
        const enable = (body as { enable?: boolean } | undefined)?.enable ?? true;
        if (!enable) throw badBody("enable", "DRBD cannot be disabled through the API once enabled (as the original)");
        const cluster = c.list("hmcluster")[0];
        if (!cluster) throw notFound("Cluster resource", "install HwameiStor through its operator (hwameistor cluster up creates cluster-sample)");
        await c.clients.hmcluster.patch(nameOf(cluster), { spec: { drbd: { disable: false } } });
        return { enable: true, state: "Enabled", cluster: nameOf(cluster) };
      },
    },
  ];
}
