// Server-side Tables with the cells kube-apiserver computes in Go for built-in kinds (pkg/printers/internalversion):
// Node STATUS/ROLES, Pod READY/STATUS/RESTARTS, PV CLAIM, PV/PVC ACCESS MODES (RWO…) and VOLUMEMODE, Event OBJECT, ConfigMap/Secret DATA, CSINode
// DRIVERS, MutatingWebhookConfiguration WEBHOOKS, StatefulSet READY, PodDisruptionBudget MIN AVAILABLE/MAX UNAVAILABLE. Every other cell comes from the printer column's JSONPath (table.ts).

import type { ResourceType } from "./resource-type.ts";
import { humanDuration, toTable, type TableOptions } from "./table.ts";

type Cell = (obj: any, now: Date) => unknown;

const nodeStatus: Cell = (o) => {
  const ready = (o?.status?.conditions ?? []).find((c: any) => c?.type === "Ready");
  const s = ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Unknown";
  return o?.spec?.unschedulable ? `${s},SchedulingDisabled` : s;
};

const nodeRoles: Cell = (o) => {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries<string>(o?.metadata?.labels ?? {})) {
    if (k.startsWith("node-role.kubernetes.io/") && k.length > "node-role.kubernetes.io/".length) roles.add(k.slice("node-role.kubernetes.io/".length));
    else if (k === "kubernetes.io/role" && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(",") : "<none>";
};

const podReady: Cell = (o) => {
  const total = (o?.spec?.containers ?? []).length;
  const ready = (o?.status?.containerStatuses ?? []).filter((c: any) => c?.ready).length;
  return `${ready}/${total}`;
};

const podStatus: Cell = (o) => {
  if (o?.metadata?.deletionTimestamp) return "Terminating";
  const waiting = (o?.status?.containerStatuses ?? []).map((c: any) => c?.state?.waiting?.reason).find(Boolean);
  return o?.status?.reason ?? waiting ?? o?.status?.phase ?? "Unknown";
};

const podRestarts: Cell = (o) => (o?.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (Number(c?.restartCount) || 0), 0);

/** Event LAST SEEN: lastTimestamp, else eventTime (events written through events.k8s.io), else creation. */
const eventLastSeen = (o: any, now: Date) => {
  const t = o?.lastTimestamp ?? o?.series?.lastObservedTime ?? o?.eventTime ?? o?.firstTimestamp ?? o?.metadata?.creationTimestamp;
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? "<unknown>" : humanDuration(now.getTime() - ms);
};

/** kubectl's access mode abbreviations, in its order (storage helper GetAccessModesAsString). */
const ACCESS_ABBREV: Array<[string, string]> = [
  ["ReadWriteOnce", "RWO"],
  ["ReadOnlyMany", "ROX"],
  ["ReadWriteMany", "RWX"],
  ["ReadWriteOncePod", "RWOP"],
];
const accessModes = (modes: unknown): string => {
  const have = new Set(Array.isArray(modes) ? modes : []);
  return ACCESS_ABBREV.filter(([m]) => have.has(m))
    .map(([, a]) => a)
    .join(",");
};
/** volumeMode as the printer shows it; kube-apiserver defaults it to Filesystem on create (ours stores as given). */
const volumeMode: Cell = (o) => o?.spec?.volumeMode ?? "Filesystem";

const count = (x: unknown) => (x && typeof x === "object" ? Object.keys(x).length : 0);

const computed: Record<string, Record<string, Cell>> = {
  "/Node": { Status: nodeStatus, Roles: nodeRoles },
  "/Pod": { Ready: podReady, Status: podStatus, Restarts: podRestarts },
  "/PersistentVolume": {
    Claim: (o) => (o?.spec?.claimRef?.name ? `${o.spec.claimRef.namespace ?? ""}/${o.spec.claimRef.name}` : ""),
    "Access Modes": (o) => accessModes(o?.spec?.accessModes),
    VolumeMode: volumeMode,
  },
  "/PersistentVolumeClaim": { "Access Modes": (o) => accessModes(o?.status?.accessModes), VolumeMode: volumeMode },
  "/Event": { "Last Seen": eventLastSeen, Object: (o) => `${String(o?.involvedObject?.kind ?? "").toLowerCase()}/${o?.involvedObject?.name ?? ""}` },
  "/ConfigMap": { Data: (o) => count(o?.data) + count(o?.binaryData) },
  "/Secret": { Data: (o) => count(o?.data) },
  "storage.k8s.io/CSINode": { Drivers: (o) => (o?.spec?.drivers ?? []).length },
  "admissionregistration.k8s.io/MutatingWebhookConfiguration": { Webhooks: (o) => (o?.webhooks ?? []).length },
  "apps/StatefulSet": { Ready: (o) => `${o?.status?.readyReplicas ?? 0}/${o?.spec?.replicas ?? 1}` },
  "policy/PodDisruptionBudget": { "Min Available": (o) => o?.spec?.minAvailable ?? "N/A", "Max Unavailable": (o) => o?.spec?.maxUnavailable ?? "N/A" },
};

/** toTable, plus the computed cells of built-in kinds. */
export function renderTable(rt: ResourceType, objs: any[], opts: TableOptions = {}): any {
  const t = toTable(rt, objs, opts);
  const cells = rt.builtin ? computed[`${rt.group}/${rt.kind}`] : undefined;
  if (!cells) return t;
  const idx: Array<[number, Cell]> = [];
  t.columnDefinitions.forEach((c: any, i: number) => {
    const f = cells[c.name];
    if (f) idx.push([i, f]);
  });
  const now = opts.now ?? new Date();
  t.rows.forEach((row: any, r: number) => {
    for (const [i, f] of idx) row.cells[i] = f(objs[r], now);
  });
  return t;
}
