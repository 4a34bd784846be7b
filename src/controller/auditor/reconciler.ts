// The auditor (reference §10, docs/auditor.md): appends the audit records of Clusters, LocalStorageNodes,
// LocalVolumes (+ their migrate/convert/expand operations) and LocalDisks to hwameistor.io Events, in order, each
// with its time. Runs in the controller process, leader only.
//
// How it stays exact and idempotent:
// - Each informer event is kept as an observation (in order, with its time) under the key of the Event it belongs
//   to ("Volume/pvc-1"), so quick successive changes (a volume mounted and unmounted before the key is
//   reconciled) still give one record each.
// - A reconcile replays the key's observations, then the current state of the caches (level-triggered: a change
//   missed while the auditor was down, or a deletion, is found too), against the snapshot of what was last
//   recorded, which lives on the Event itself (annotation hwameistor.io/audit-observed). The new records and the
//   new snapshot are written in ONE update, conditional on the Event's resourceVersion: a crash before it leaves
//   both unwritten (the next start derives the same records again), a crash after it leaves both written (nothing
//   derived twice). Records also carry deterministic ids (object uid + resourceVersion, or the operation's name),
//   and records already present are never appended again.
// - A conflict (someone else wrote the Event) puts the observations back and retries.
// Simplification: observations not yet written when the process dies are lost; the next start still records
// the net change (e.g. a volume mounted and unmounted while the auditor was down leaves no record).

import { Annotations, EventResourceTypes as RT } from "../../api/names.ts";
import type { EventRecord } from "../../api/kinds/event.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import type { ResourceClient } from "../../kube/client.ts";
import { Controller } from "../../kube/controller.ts";
import { hwameistorClients, type EventObject } from "../../kube/hwameistor.ts";
import type { CacheInformer } from "../../kube/informer.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";
import { eventName, newRecords, observeAll, type Observation, type Observed, type OpKind, type ResourceType } from "./records.ts";

export interface AuditorOptions extends ReconcilerOptions {
  /** Clock (tests). */
  now?: () => Date;
}

type Obj = KubeObject & { spec?: any; status?: any };

const keyOf = (type: ResourceType, name: string): string => `${type}/${name}`;
const splitKey = (key: string): [ResourceType, string] => {
  const i = key.indexOf("/");
  return [key.slice(0, i) as ResourceType, key.slice(i + 1)];
};

export function auditorController(o: AuditorOptions): Controller {
  const log = o.log ?? silentLogger;
  const now = () => (o.now ? o.now() : new Date()).toISOString();
  const c = hwameistorClients(o.client);
  const shared = informerFor(o);
  const inf = <T extends Obj>(rc: unknown, name: string) => shared<T>(rc as ResourceClient<T>, `${name}(auditor)`);
  const clusters = inf<Obj>(c.hmcluster, "clusters");
  const nodes = inf<Obj>(c.lsn, "localstoragenodes");
  const volumes = inf<Obj>(c.lv, "localvolumes");
  const disks = inf<Obj>(c.ld, "localdisks");
  const ops: Record<OpKind, CacheInformer<Obj>> = {
    LocalVolumeMigrate: inf<Obj>(c.lvmigrate, "localvolumemigrates"),
    LocalVolumeConvert: inf<Obj>(c.lvconvert, "localvolumeconverts"),
    LocalVolumeExpand: inf<Obj>(c.lvexpand, "localvolumeexpands"),
  };
  const events = inf<EventObject>(c.evt, "events");
  const pending = new Map<string, Observation[]>();
  const push = (key: string, ob: Observation) => {
    let l = pending.get(key);
    if (!l) pending.set(key, (l = []));
    l.push(ob);
  };

  const ctl = new Controller({ name: "auditor", log, reconcile: (key) => reconcile(key) });
  const track = (i: CacheInformer<Obj>, type: ResourceType) => {
    ctl.watch(i, (x) => keyOf(type, x.metadata?.name ?? ""));
    i.addHandlers({
      add: (x) => push(keyOf(type, x.metadata!.name!), { kind: "object", obj: x, at: now() }),
      update: (_old, x) => push(keyOf(type, x.metadata!.name!), { kind: "object", obj: x, at: now() }),
      delete: (x) => push(keyOf(type, x.metadata!.name!), { kind: "deleted", obj: x, at: now() }),
    });
  };
  track(clusters, RT.Cluster);
  track(nodes, RT.StorageNode);
  track(volumes, RT.Volume);
  track(disks, RT.Disk);
  for (const [opKind, i] of Object.entries(ops) as Array<[OpKind, CacheInformer<Obj>]>) {
    const key = (x: Obj) => (x.spec?.volumeName ? keyOf(RT.Volume, x.spec.volumeName) : undefined);
    ctl.watch(i, key);
    const seen = (x: Obj) => {
      const k = key(x);
      if (k) push(k, { kind: "op", opKind, obj: x, at: now() });
    };
    i.addHandlers({ add: seen, update: (_o, x) => seen(x) });
  }
  // Existing Events are reconciled at start: what vanished while the auditor was down is recorded (Delete, Remove).
  ctl.watch(events, (e) => (e.spec?.resourceType && e.spec.resourceName ? keyOf(e.spec.resourceType as ResourceType, e.spec.resourceName) : undefined));

  const sourceOf: Record<ResourceType, CacheInformer<Obj>> = { Cluster: clusters, StorageNode: nodes, Volume: volumes, Disk: disks };

  /** The current state of the caches, as observations (the level-triggered half). */
  function currentObservations(type: ResourceType, name: string, prev: Observed): Observation[] {
    const at = now();
    const obs: Observation[] = [];
    const cur = sourceOf[type].getByName(name);
    if (cur) obs.push({ kind: "object", obj: cur, at });
    else if (prev.exists) obs.push({ kind: "deleted", obj: { metadata: { name } }, at });
    if (type === RT.Volume) {
      const live = new Set<string>();
      for (const [opKind, i] of Object.entries(ops) as Array<[OpKind, CacheInformer<Obj>]>) {
        for (const op of i.list()) {
          if (op.spec?.volumeName !== name) continue;
          live.add(op.metadata!.name!);
          obs.push({ kind: "op", opKind, obj: op, at });
        }
      }
      for (const opName of Object.keys(prev.ops ?? {})) if (!live.has(opName)) obs.push({ kind: "opGone", name: opName, at });
    }
    return obs;
  }

  async function reconcile(key: string): Promise<void> {
    const [type, name] = splitKey(key);
    if (!sourceOf[type] || !name) return;
    const taken = pending.get(key) ?? [];
    pending.delete(key);
    try {
      const evName = eventName(type, name);
      const ev = events.getByName(evName);
      const prev = parseObserved(ev);
      const step = observeAll(type, prev, [...taken]);
      const fin = observeAll(type, step.next, currentObservations(type, name, step.next));
      const existing: EventRecord[] = ev?.spec?.records ?? [];
      const add = newRecords(existing, [...step.records, ...fin.records]);
      const snapshot = JSON.stringify(fin.next);
      if (!add.length && ev?.metadata?.annotations?.[Annotations.AuditObserved] === snapshot) return;
      if (!ev && !add.length && !fin.next.exists) return; // nothing ever recorded about something already gone
      const body: EventObject = {
        ...(ev ?? { apiVersion: c.evt.apiVersion, kind: "Event" }),
        metadata: { ...(ev?.metadata ?? { name: evName }), annotations: { ...(ev?.metadata?.annotations ?? {}), [Annotations.AuditObserved]: snapshot } },
        spec: { resourceType: type, resourceName: name, records: [...existing, ...add] },
      } as EventObject;
      // update: conditional on the cached resourceVersion (a conflict is retried from the newer Event);
      // create: ALREADY_EXISTS means our cache is behind, retried the same way once the informer has it.
      if (ev) await c.evt.update(body);
      else await c.evt.create(body);
      if (add.length) log.info({ event: evName, records: add.map((r) => `${r.action}${r.state ? "/" + r.state : ""}`) }, "audit records appended");
    } catch (e) {
      pending.set(key, [...taken, ...(pending.get(key) ?? [])]);
      throw e;
    }
  }

  return ctl;
}

function parseObserved(ev: EventObject | undefined): Observed {
  const raw = ev?.metadata?.annotations?.[Annotations.AuditObserved];
  if (!raw) {
    // An Event written by another auditor (the original) without our snapshot: it exists, we know no state.
    return ev ? { exists: true } : {};
  }
  try {
    return JSON.parse(raw) as Observed;
  } catch {
    return { exists: true };
  }
}
