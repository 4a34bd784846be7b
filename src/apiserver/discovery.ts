// API discovery documents: legacy (/api, /apis, /apis/<g>, /api/v1, /apis/<g>/<v>) and aggregated
// (apidiscovery.k8s.io/v2 APIGroupDiscoveryList on /api and /apis). Pure.
//
// How kubectl 1.32 (client-go discovery) uses them: it GETs /api and /apis with
//   Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
//           application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json
// and decides by the RESPONSE Content-Type: if it names APIGroupDiscoveryList (v2) it takes groups and
// resources from that one document; otherwise it parses APIVersions / APIGroupList and then GETs every
// /api/v1 and /apis/<g>/<v> for the APIResourceLists. Both work; aggregated saves one request per
// group-version (kubectl caches either in ~/.kube/cache/discovery).

import { subresourcesOf } from "./builtins.ts";
import type { ResourceType } from "./resource-type.ts";

/** Content-Type of an aggregated discovery response. */
export const AGGREGATED_DISCOVERY_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/** True when the Accept header asks for apidiscovery.k8s.io/v2 APIGroupDiscoveryList. */
export function wantsAggregatedDiscovery(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim().replace(/\s+/g, ""));
    return params.includes("as=APIGroupDiscoveryList") && params.includes("v=v2") && params.includes("g=apidiscovery.k8s.io");
  });
}

export const RESOURCE_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
export const STATUS_VERBS = ["get", "patch", "update"];

/** Kubernetes version priority: GA > beta > alpha > other; higher major/minor first (CompareKubeAwareVersionStrings). */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return { rank: 0, major: 0, minor: 0, v };
    return { rank: m[2] === undefined ? 3 : m[2] === "beta" ? 2 : 1, major: Number(m[1]), minor: Number(m[3] ?? 0), v };
  };
  const x = parse(a);
  const y = parse(b);
  if (x.rank !== y.rank) return y.rank - x.rank;
  if (x.rank === 0) return a < b ? -1 : a > b ? 1 : 0;
  if (x.major !== y.major) return y.major - x.major;
  return y.minor - x.minor;
}

/** Groups (in first-seen order) with their versions sorted by priority, preferred first. */
function groupsOf(types: ResourceType[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const t of types) {
    const vs = groups.get(t.group) ?? [];
    if (!vs.includes(t.version)) vs.push(t.version);
    groups.set(t.group, vs);
  }
  for (const vs of groups.values()) vs.sort(compareVersions);
  return groups;
}

const gvOf = (group: string, version: string) => (group ? `${group}/${version}` : version);

function groupDoc(group: string, versions: string[]): any {
  const vs = versions.map((v) => ({ groupVersion: gvOf(group, v), version: v }));
  return { name: group, versions: vs, preferredVersion: vs[0] };
}

/** GET /api */
export function apiVersions(serverAddress: string): any {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

/** GET /apis: every non-core group. */
export function apiGroupList(types: ResourceType[]): any {
  const groups = [...groupsOf(types)].filter(([g]) => g !== "").map(([g, vs]) => groupDoc(g, vs));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

/** GET /apis/<group>; undefined when the group is not served (404). */
export function apiGroup(types: ResourceType[], group: string): any | undefined {
  if (group === "") return undefined;
  const vs = groupsOf(types).get(group);
  if (!vs) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupDoc(group, vs) };
}

/** GET /api/v1 or /apis/<g>/<v>: resources plus their "<plural>/status" subresources. */
export function apiResourceList(types: ResourceType[], group: string, version: string): any {
  const resources: any[] = [];
  for (const t of types) {
    if (t.group !== group || t.version !== version) continue;
    const r: any = { name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: [...RESOURCE_VERBS] };
    if (t.shortNames.length) r.shortNames = [...t.shortNames];
    if (t.categories.length) r.categories = [...t.categories];
    resources.push(r);
    if (t.hasStatus) resources.push({ name: `${t.plural}/status`, singularName: "", namespaced: t.namespaced, kind: t.kind, verbs: [...STATUS_VERBS] });
    for (const x of subresourcesOf(t)) {
      resources.push({
        name: `${t.plural}/${x.name}`,
        singularName: "",
        namespaced: t.namespaced,
        ...(x.group ? { group: x.group, version: x.version } : {}),
        kind: x.kind,
        verbs: [...x.verbs],
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: gvOf(group, version), resources };
}

/** GET /api (core: true) or /apis (core: false) with Accept APIGroupDiscoveryList v2. */
export function aggregatedDiscovery(types: ResourceType[], core: boolean): any {
  const items = [...groupsOf(types)]
    .filter(([g]) => (core ? g === "" : g !== ""))
    .map(([g, vs]) => ({
      metadata: g === "" ? {} : { name: g },
      versions: vs.map((v) => ({
        version: v,
        resources: types
          .filter((t) => t.group === g && t.version === v)
          .map((t) => {
            const responseKind = { group: g, version: v, kind: t.kind };
            const r: any = {
              resource: t.plural,
              responseKind,
              scope: t.namespaced ? "Namespaced" : "Cluster",
              singularResource: t.singular,
              verbs: [...RESOURCE_VERBS],
            };
            if (t.shortNames.length) r.shortNames = [...t.shortNames];
            if (t.categories.length) r.categories = [...t.categories];
            const subs: any[] = t.hasStatus ? [{ subresource: "status", responseKind, verbs: [...STATUS_VERBS] }] : [];
            for (const x of subresourcesOf(t))
              subs.push({ subresource: x.name, responseKind: { group: x.group, version: x.version, kind: x.kind }, verbs: [...x.verbs] });
            if (subs.length) r.subresources = subs;
            return r;
          }),
        freshness: "Current",
      })),
    }));
  return { kind: "APIGroupDiscoveryList", apiVersion: "apidiscovery.k8s.io/v2", metadata: {}, items };
}
