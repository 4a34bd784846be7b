// RBAC evaluation over rendered chart objects, as kube-apiserver's RBAC authorizer decides: a request
// (user, verb, group, resource[/subresource], namespace, name) is allowed when a ClusterRoleBinding, or a
// RoleBinding in the request's namespace, binds the user (a ServiceAccount subject) to a role with a rule
// matching apiGroup, resource, verb and (when the rule lists them) resourceName.
import type { K8sObject } from "./helm.ts";

export interface Request {
  user: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

const has = (list: string[] | undefined, v: string) => !!list && (list.includes("*") || list.includes(v));

function ruleAllows(r: Rule, q: Request): boolean {
  const res = q.subresource ? `${q.resource}/${q.subresource}` : q.resource;
  if (!has(r.apiGroups, q.group) || !has(r.resources, res) || !has(r.verbs, q.verb)) return false;
  if (r.resourceNames?.length) return q.name !== undefined && r.resourceNames.includes(q.name);
  return true;
}

const saUser = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;

/** Whether the rendered RBAC objects allow the request. Built-in roles (system:*) are not evaluated: false. */
export function allowed(objs: K8sObject[], q: Request): boolean {
  const roles = new Map<string, Rule[]>();
  for (const o of objs) {
    if (o.kind === "ClusterRole") roles.set(`ClusterRole//${o.metadata.name}`, o.rules ?? []);
    if (o.kind === "Role") roles.set(`Role/${o.metadata.namespace}/${o.metadata.name}`, o.rules ?? []);
  }
  for (const b of objs) {
    if (b.kind !== "ClusterRoleBinding" && b.kind !== "RoleBinding") continue;
    if (b.kind === "RoleBinding" && b.metadata.namespace !== q.namespace) continue;
    const bound = (b.subjects ?? []).some((s: any) => s.kind === "ServiceAccount" && saUser(s.namespace ?? b.metadata.namespace, s.name) === q.user);
    if (!bound) continue;
    const key = b.roleRef.kind === "ClusterRole" ? `ClusterRole//${b.roleRef.name}` : `Role/${b.metadata.namespace}/${b.roleRef.name}`;
    if ((roles.get(key) ?? []).some((r) => ruleAllows(r, q))) return true;
  }
  return false;
}

export const describe = (q: Request) =>
  `${q.verb} ${q.group || "core"}/${q.resource}${q.subresource ? "/" + q.subresource : ""}${q.namespace ? ` in ${q.namespace}` : ""}${q.name ? ` (${q.name})` : ""}`;
