// The auditor's rules (reference §10), pure: from what the auditor last recorded about a resource (its
// `Observed` snapshot, kept on the Event itself) and one observation of an object, the records to append and the
// next snapshot. Replaying the same observation against the snapshot it produced yields nothing — that is what
// makes the auditor idempotent across restarts (reconciler.ts writes records and snapshot in one update).
//
// One Event per resource, named lower("<resourceType>-<resourceName>"), as the original:
//   Cluster      Install (first seen; content spec), Change (admissionController or drbd
//                `disable` flips; content that sub-spec)
//   StorageNode  Add (content spec), Remove, StateChange (stateContent: the old status' state), CapacityExpand (a new
//                pool or new disks in a pool; content the new disks)
//   Volume       Create / Delete (content spec), Mount (content the new status) / Unmount (the old status); and for
//                each LocalVolumeMigrate/Convert/Expand naming the volume (spec.volumeName): Migrate/Convert/Expand
//                with id = the operation's name, state Submit (content spec), then Start / Complete / Abort when its
//                status becomes Submitted / Completed / ToBeAborted (stateContent the status)
//   Disk         Add (content spec), Allocate (owner change), Relocate (nodeName change), Reserve / Release
//                (reserved → true / false), Change (spec.state change; content status)
// Difference (docs/compatibility.md): Install/Add/Create are written when the auditor first sees an object it has
// no record of, even when its status is no longer empty (it was down, or started after it, or the operator was
// quicker): the original writes them only for objects added with an empty status (installedCRDS unset).

import { EventActions as A, EventRecordStates as RS, EventResourceTypes as RT, OperationStates } from "../../api/names.ts";
import type { EventRecord } from "../../api/kinds/event.ts";
import type { KubeObject } from "../../kube/types.ts";

export type ResourceType = "Cluster" | "StorageNode" | "Volume" | "Disk";
export type OpKind = "LocalVolumeMigrate" | "LocalVolumeConvert" | "LocalVolumeExpand";
type Obj = KubeObject & { spec?: any; status?: any };

/** What the auditor last recorded about one resource (JSON in the Event's audit annotation). */
export interface Observed {
  exists?: boolean;
  // Cluster
  installedCRDS?: boolean;
  admissionDisable?: boolean;
  drbdDisable?: boolean;
  // StorageNode
  state?: string;
  poolDisks?: Record<string, string[]>;
  // Volume
  publishedNode?: string;
  /** operation name → its uid and last recorded status.state (a new operation of the same name has another uid) */
  ops?: Record<string, { uid: string; state: string }>;
  // Disk
  owner?: string;
  nodeName?: string;
  reserved?: boolean;
  diskState?: string;
}

/** One thing the auditor saw: an object of the resource (or its deletion), or an operation on a volume. */
export type Observation =
  | { kind: "object"; obj: Obj; at: string }
  | { kind: "deleted"; obj: Obj; at: string }
  | { kind: "op"; opKind: OpKind; obj: Obj; at: string }
  | { kind: "opGone"; name: string; at: string };

export const eventName = (type: ResourceType, name: string): string => `${type}-${name}`.toLowerCase();

const json = (v: unknown): string => JSON.stringify(v ?? {});
/** A record's id: the object's uid and the resourceVersion that showed the change (+ what changed): the same
 *  observation replayed after a crash gives the same id. Operation records use the operation's name (original). */
const idOf = (o: Obj, suffix?: string): string =>
  `${o.metadata?.uid ?? o.metadata?.name ?? ""}:${o.metadata?.resourceVersion ?? ""}${suffix ? `:${suffix}` : ""}`;
const OP_ACTION: Record<OpKind, string> = { LocalVolumeMigrate: A.Migrate, LocalVolumeConvert: A.Convert, LocalVolumeExpand: A.Expand };
// Aborted also gives Abort (ours: our expand controller goes straight to Aborted); one Abort per operation at most.
const OP_STATE_RECORD: Record<string, string> = {
  [OperationStates.Submitted]: RS.Start,
  [OperationStates.Completed]: RS.Complete,
  [OperationStates.ToBeAborted]: RS.Abort,
  [OperationStates.Aborted]: RS.Abort,
};

export interface Step {
  records: EventRecord[];
  next: Observed;
}

/** Applies one observation to the snapshot. */
export function observe(type: ResourceType, prev: Observed, ob: Observation): Step {
  switch (type) {
    case RT.Cluster:
      return cluster(prev, ob);
    case RT.StorageNode:
      return storageNode(prev, ob);
    case RT.Volume:
      return volume(prev, ob);
    case RT.Disk:
      return disk(prev, ob);
  }
}

/** Applies observations in order; the records of all of them, and the final snapshot. */
export function observeAll(type: ResourceType, prev: Observed, obs: Observation[]): Step {
  let next = prev;
  const records: EventRecord[] = [];
  for (const ob of obs) {
    const s = observe(type, next, ob);
    records.push(...s.records);
    next = s.next;
  }
  return { records, next };
}

function cluster(prev: Observed, ob: Observation): Step {
  if (ob.kind !== "object") return { records: [], next: ob.kind === "deleted" ? { exists: false } : prev };
  const o = ob.obj;
  const records: EventRecord[] = [];
  const admission = !!o.spec?.admissionController?.disable;
  const drbd = !!o.spec?.drbd?.disable;
  if (!prev.exists) {
    // The original: only when added with !status.installedCRDS. The operator sets it within a second of the add, so
    // whether a restarting auditor (or a new leader) sees it unset is a race; ours records the first sight.
    records.push({ time: ob.at, id: idOf(o, "install"), action: A.Install, actionContent: json(o.spec) });
  } else {
    if (!!prev.admissionDisable !== admission)
      records.push({ time: ob.at, id: idOf(o, "admissionController"), action: A.Change, actionContent: json(o.spec?.admissionController) });
    if (!!prev.drbdDisable !== drbd) records.push({ time: ob.at, id: idOf(o, "drbd"), action: A.Change, actionContent: json(o.spec?.drbd) });
  }
  return { records, next: { exists: true, installedCRDS: !!o.status?.installedCRDS, admissionDisable: admission, drbdDisable: drbd } };
}

const poolDisksOf = (o: Obj): Record<string, string[]> =>
  Object.fromEntries(
    Object.entries<any>(o.status?.pools ?? {}).map(([p, pool]) => [
      p,
      (pool.disks ?? [])
        .map((d: any) => String(d.devPath ?? ""))
        .filter(Boolean)
        .sort(),
    ]),
  );

function storageNode(prev: Observed, ob: Observation): Step {
  if (ob.kind === "deleted") {
    if (!prev.exists) return { records: [], next: prev };
    return { records: [{ time: ob.at, id: idOf(ob.obj, "remove"), action: A.Remove }], next: { exists: false } };
  }
  if (ob.kind !== "object") return { records: [], next: prev };
  const o = ob.obj;
  const records: EventRecord[] = [];
  const state = String(o.status?.state ?? "");
  const pools = poolDisksOf(o);
  if (!prev.exists) {
    records.push({ time: ob.at, id: idOf(o, "add"), action: A.Add, actionContent: json(o.spec) });
  } else if ((prev.state ?? "") !== state) {
    records.push({ time: ob.at, id: idOf(o), action: A.StateChange, actionContent: json({ state }), stateContent: json({ state: prev.state ?? "" }) });
  }
  // New pools or new disks (also the first pools of a new node, as the original's update handler sees them).
  const before = prev.exists ? (prev.poolDisks ?? {}) : {};
  const added: Record<string, string[]> = {};
  for (const [p, disks] of Object.entries(pools)) {
    const fresh = disks.filter((d) => !(before[p] ?? []).includes(d));
    if (fresh.length) added[p] = fresh;
  }
  if (Object.keys(added).length) records.push({ time: ob.at, id: idOf(o, "expand"), action: A.CapacityExpand, actionContent: json(added) });
  return { records, next: { exists: true, state, poolDisks: pools } };
}

function volume(prev: Observed, ob: Observation): Step {
  const records: EventRecord[] = [];
  const ops = { ...(prev.ops ?? {}) };
  if (ob.kind === "op") {
    const name = ob.obj.metadata?.name ?? "";
    const uid = ob.obj.metadata?.uid ?? "";
    const action = OP_ACTION[ob.opKind];
    const state = String(ob.obj.status?.state ?? "");
    const same = ops[name] && ops[name]!.uid === uid;
    if (!same) records.push({ time: ob.at, id: name, action, actionContent: json(ob.obj.spec), state: RS.Submit });
    const was = same ? ops[name]!.state : undefined;
    const already = was !== undefined && OP_STATE_RECORD[was] === OP_STATE_RECORD[state];
    if (was !== state && OP_STATE_RECORD[state] && !already)
      records.push({ time: ob.at, id: name, action, state: OP_STATE_RECORD[state], stateContent: json(ob.obj.status) });
    ops[name] = { uid, state };
    return { records, next: { ...prev, ops } };
  }
  if (ob.kind === "opGone") {
    delete ops[ob.name];
    return { records, next: { ...prev, ops } };
  }
  const o = ob.obj;
  if (ob.kind === "deleted") {
    if (!prev.exists) return { records, next: prev };
    if (prev.publishedNode)
      records.push({ time: ob.at, id: idOf(o, "unmount"), action: A.Unmount, actionContent: json({ ...o.status, publishedNode: prev.publishedNode }) });
    records.push({ time: ob.at, id: idOf(o, "delete"), action: A.Delete, actionContent: json(o.spec) });
    return { records, next: { exists: false, ops } };
  }
  const node = String(o.status?.publishedNode ?? "");
  if (!prev.exists) records.push({ time: ob.at, id: idOf(o, "create"), action: A.Create, actionContent: json(o.spec) });
  const was = prev.exists ? (prev.publishedNode ?? "") : "";
  if (was !== node) {
    if (was) records.push({ time: ob.at, id: idOf(o, `unmount:${was}`), action: A.Unmount, actionContent: json({ ...o.status, publishedNode: was }) });
    if (node) records.push({ time: ob.at, id: idOf(o, `mount:${node}`), action: A.Mount, actionContent: json(o.status) });
  }
  return { records, next: { exists: true, publishedNode: node, ops } };
}

function disk(prev: Observed, ob: Observation): Step {
  if (ob.kind === "deleted") return { records: [], next: { exists: false } };
  if (ob.kind !== "object") return { records: [], next: prev };
  const o = ob.obj;
  const sp = o.spec ?? {};
  const cur = { owner: String(sp.owner ?? ""), nodeName: String(sp.nodeName ?? ""), reserved: !!sp.reserved, diskState: String(sp.state ?? "") };
  const records: EventRecord[] = [];
  const rec = (action: string, content: unknown) => records.push({ time: ob.at, id: idOf(o), action, actionContent: json(content) });
  if (!prev.exists) rec(A.Add, sp);
  else {
    if ((prev.owner ?? "") !== cur.owner) rec(A.Allocate, sp);
    if ((prev.nodeName ?? "") !== cur.nodeName) rec(A.Relocate, sp);
    if (!!prev.reserved !== cur.reserved) rec(cur.reserved ? A.Reserve : A.Release, sp);
    if ((prev.diskState ?? "") !== cur.diskState) rec(A.Change, o.status);
  }
  return { records, next: { exists: true, ...cur } };
}

/**
 * Drops records the Event already holds (same id, action, state and contents): a second line of defence after a
 * crash. Contents count because operation records reuse the operation's name as id (original), and a later
 * operation may have the same name.
 */
export function newRecords(existing: EventRecord[], records: EventRecord[]): EventRecord[] {
  const key = (r: EventRecord) => [r.id, r.action, r.state, r.actionContent, r.stateContent].map((x) => x ?? "").join("\u0000");
  const have = new Set(existing.map(key));
  return records.filter((r) => !have.has(key(r)));
}
