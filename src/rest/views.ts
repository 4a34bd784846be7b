// The response shapes of the original apiserver (StorageNode, StoragePool, LocalDiskInfo, Operation,
// EventAction, ModuleStatus), built from cached objects. Pure: objects in, plain JSON out.
// Additive fields (the original has no such key; docs/compatibility.md): StorageNode.enabled,
// Operation.progress/sourceNode/targetNode, ModuleStatus.summary/storagePoolsUse.

import { Labels, OperationStates, VolumeStates } from "../api/names.ts";
import type { LocalPool } from "../api/kinds/storage-pool.ts";
import type {
  CoreNode,
  EventObject,
  LocalDiskNodeObject,
  LocalDiskObject,
  LocalStorageNodeObject,
  LocalVolumeConvertObject,
  LocalVolumeExpandObject,
  LocalVolumeMigrateObject,
  LocalVolumeObject,
  LocalVolumeReplicaObject,
} from "../kube/hwameistor.ts";

export const nameOf = (o: { metadata?: { name?: string } }): string => o.metadata?.name ?? "";

// ---------------------------------------------------------------- nodes

export interface StorageNodeView {
  localStorageNode: LocalStorageNodeObject | Record<string, never>;
  localDiskNode: LocalDiskNodeObject | Record<string, never>;
  totalDisk: number;
  K8sNode?: CoreNode;
  k8SNodeState: string;
  /** Additive: the node label lvm.hwameistor.io/enable is not "false". */
  enabled: boolean;
}

/** Ready / NotReady from the core Node's Ready condition; Unknown without a Node. */
export function k8sNodeState(node: CoreNode | undefined): string {
  if (!node) return "Unknown";
  const conds = (node.status as { conditions?: Array<{ type?: string; status?: string }> } | undefined)?.conditions ?? [];
  const ready = conds.find((c) => c.type === "Ready");
  return ready?.status === "True" ? "Ready" : "NotReady";
}

export function storageNodeView(
  name: string,
  lsn: LocalStorageNodeObject | undefined,
  ldn: LocalDiskNodeObject | undefined,
  node: CoreNode | undefined,
  disks: LocalDiskObject[],
): StorageNodeView {
  return {
    localStorageNode: lsn ?? {},
    localDiskNode: ldn ?? {},
    totalDisk: disks.filter((d) => d.spec?.nodeName === name).length,
    ...(node ? { K8sNode: node } : {}),
    k8SNodeState: k8sNodeState(node),
    enabled: node?.metadata?.labels?.[Labels.LvmEnable] !== "false",
  };
}

/** Every node known as a LocalStorageNode, LocalDiskNode or core Node, sorted by name. */
export function nodeNames(lsns: LocalStorageNodeObject[], ldns: LocalDiskNodeObject[], nodes: CoreNode[]): string[] {
  return [...new Set([...lsns, ...ldns, ...nodes].map(nameOf).filter(Boolean))].sort();
}

// ---------------------------------------------------------------- disks

export interface LocalDiskInfo extends LocalDiskObject {
  diskPathShort: string;
  totalCapacityBytes: number;
  availableCapacityBytes: number;
  localStoragePooLName: string;
}

/** `/dev/sdb` → `sdb` (the original's diskPathShort). */
export const shortPath = (p: string | undefined): string => (p ?? "").replace(/^\/dev\//, "");

/** The storage pool of the node that holds this disk, by device path ("" if none). */
export function poolOfDisk(ld: LocalDiskObject, lsn: LocalStorageNodeObject | undefined): string {
  for (const [pool, p] of Object.entries(lsn?.status?.pools ?? {})) {
    if ((p.disks ?? []).some((d) => d.devPath && d.devPath === ld.spec?.devicePath)) return pool;
  }
  return "";
}

export function localDiskInfo(ld: LocalDiskObject, lsn: LocalStorageNodeObject | undefined): LocalDiskInfo {
  const capacity = ld.spec?.capacity ?? 0;
  const pool = poolOfDisk(ld, lsn);
  const free = !pool && !ld.spec?.reserved && (ld.status?.claimState ?? "") !== "Bound" && (ld.spec?.state ?? "Active") === "Active";
  return {
    ...ld,
    diskPathShort: shortPath(ld.spec?.devicePath),
    totalCapacityBytes: capacity,
    availableCapacityBytes: free ? capacity : 0,
    localStoragePooLName: pool,
  };
}

/** A path segment naming a disk: its short device path (`sdb`), full path (`/dev/sdb`) or LocalDisk name. */
export function diskMatches(ld: LocalDiskObject, segment: string): boolean {
  const dev = ld.spec?.devicePath ?? "";
  return segment === nameOf(ld) || segment === dev || segment === shortPath(dev) || `/dev/${segment}` === dev;
}

// ---------------------------------------------------------------- pools

export interface StorageNodePool extends LocalPool {
  nodeName: string;
}

export interface StoragePoolView {
  items: StorageNodePool[];
  poolName: string;
  totalCapacityBytes: number;
  allocatedCapacityBytes: number;
  nodeNames: string[];
  createTime?: string;
}

export function nodePools(lsn: LocalStorageNodeObject): StorageNodePool[] {
  return Object.entries(lsn.status?.pools ?? {})
    .map(([name, p]) => ({ ...p, name: p.name || name, nodeName: nameOf(lsn) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function storagePools(lsns: LocalStorageNodeObject[]): StoragePoolView[] {
  const byName = new Map<string, StoragePoolView>();
  for (const lsn of lsns) {
    for (const p of nodePools(lsn)) {
      const v = byName.get(p.name!) ?? {
        items: [],
        poolName: p.name!,
        totalCapacityBytes: 0,
        allocatedCapacityBytes: 0,
        nodeNames: [],
        createTime: lsn.metadata?.creationTimestamp,
      };
      v.items.push(p);
      v.totalCapacityBytes += p.totalCapacityBytes ?? 0;
      v.allocatedCapacityBytes += p.usedCapacityBytes ?? 0;
      v.nodeNames.push(p.nodeName);
      const t = lsn.metadata?.creationTimestamp;
      if (t && (!v.createTime || t < v.createTime)) v.createTime = t;
      byName.set(p.name!, v);
    }
  }
  return [...byName.values()].sort((a, b) => a.poolName.localeCompare(b.poolName));
}

// ---------------------------------------------------------------- operations

export type OperationObject = LocalVolumeMigrateObject | LocalVolumeConvertObject | LocalVolumeExpandObject;

export interface Operation {
  eventName: string;
  eventType: string;
  localVolumeName: string;
  status: string;
  description: string;
  startTime: string;
  /** Set on an operation its controller has deleted (finished): when the deletion was seen. */
  endTime?: string;
  /** Additive: 0–100, from the state machine's step and, for an expansion, the replicas already grown. */
  progress: number;
  /** Additive, migrations only. */
  sourceNode?: string;
  targetNode?: string;
}

const MIGRATE_STEPS: Record<string, number> = { "": 0, Submitted: 20, AddReplica: 40, SyncReplica: 60, PruneReplica: 80, Completed: 100 };
const STEPS: Record<string, number> = { "": 0, Submitted: 25, InProgress: 50, Completed: 100 };

/** The progress of an operation, 0–100. An expansion in progress counts the replicas that reached the size. */
export function operationProgress(op: OperationObject, replicas: LocalVolumeReplicaObject[] = []): number {
  const state = op.status?.state ?? "";
  if (op.kind === "LocalVolumeMigrate") return MIGRATE_STEPS[state] ?? 0;
  let p = STEPS[state] ?? 0;
  if (op.kind === "LocalVolumeExpand" && state === OperationStates.InProgress) {
    const target = (op as LocalVolumeExpandObject).spec?.requiredCapacityBytes ?? 0;
    const mine = replicas.filter((r) => r.spec?.volumeName === op.spec?.volumeName);
    const grown = mine.filter((r) => (r.status?.allocatedCapacityBytes ?? 0) >= target && r.status?.state === VolumeStates.Ready).length;
    if (mine.length) p = 50 + Math.floor((45 * grown) / mine.length);
  }
  return p;
}

export function operationView(op: OperationObject, replicas: LocalVolumeReplicaObject[] = []): Operation {
  const state = op.status?.state ?? "";
  const v: Operation = {
    eventName: nameOf(op),
    eventType: op.kind ?? "",
    localVolumeName: op.spec?.volumeName ?? "",
    status: state,
    description: op.status?.message ?? "",
    startTime: op.metadata?.creationTimestamp ?? "",
    progress: operationProgress(op, replicas),
  };
  if (op.kind === "LocalVolumeMigrate") {
    const m = op as LocalVolumeMigrateObject;
    v.sourceNode = m.spec?.sourceNode ?? "";
    v.targetNode = m.status?.targetNode ?? (m.spec?.targetNodesSuggested ?? [])[0] ?? "";
  }
  return v;
}

// ---------------------------------------------------------------- audit events

export interface EventAction {
  eventRecord: NonNullable<NonNullable<EventObject["spec"]>["records"]>[number];
  resourceName: string;
  resourceType: string;
}

/** Every record of every audit Event, flattened (the original's EventAction). */
export function eventActions(events: EventObject[]): EventAction[] {
  const out: EventAction[] = [];
  for (const e of events) {
    for (const r of e.spec?.records ?? []) out.push({ eventRecord: r, resourceName: e.spec?.resourceName ?? "", resourceType: e.spec?.resourceType ?? "" });
  }
  return out;
}

// ---------------------------------------------------------------- cluster summary

export interface ClusterSummary {
  highAvailableVolumeNum: number;
  nonHighAvailableVolumeNum: number;
  localVolumeNum: number;
  totalCapacityBytes: number;
  allocatedCapacityBytes: number;
  reservedCapacityBytes: number;
  freeCapacityBytes: number;
  totalDiskNum: number;
  boundedDiskNum: number;
  healthyDiskNum: number;
  unHealthyDiskNum: number;
  totalNodeNum: number;
  claimedNodeNum: number;
}

/** The original's BaseMetric, from the caches. */
export function clusterSummary(lsns: LocalStorageNodeObject[], lvs: LocalVolumeObject[], lds: LocalDiskObject[], nodes: string[]): ClusterSummary {
  let total = 0;
  let used = 0;
  let free = 0;
  for (const lsn of lsns) {
    for (const p of Object.values(lsn.status?.pools ?? {})) {
      total += p.totalCapacityBytes ?? 0;
      used += p.usedCapacityBytes ?? 0;
      free += p.freeCapacityBytes ?? 0;
    }
  }
  const ha = lvs.filter((v) => (v.spec?.replicaNumber ?? 1) > 1).length;
  return {
    highAvailableVolumeNum: ha,
    nonHighAvailableVolumeNum: lvs.length - ha,
    localVolumeNum: lvs.length,
    totalCapacityBytes: total,
    allocatedCapacityBytes: used,
    reservedCapacityBytes: lds.filter((d) => d.spec?.reserved).reduce((s, d) => s + (d.spec?.capacity ?? 0), 0),
    freeCapacityBytes: free,
    totalDiskNum: lds.length,
    boundedDiskNum: lds.filter((d) => d.status?.claimState === "Bound").length,
    healthyDiskNum: lds.filter((d) => d.spec?.smartInfo?.overallHealth !== "Failed").length,
    unHealthyDiskNum: lds.filter((d) => d.spec?.smartInfo?.overallHealth === "Failed").length,
    totalNodeNum: nodes.length,
    claimedNodeNum: lsns.filter((l) => Object.keys(l.status?.pools ?? {}).length > 0).length,
  };
}
