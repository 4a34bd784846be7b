// The controller's snapshot reconcilers (leader only; reference §5.7):
// - LocalVolumeSnapshot: creates one LocalVolumeReplicaSnapshot per node of the source volume, aggregates
//   their status, and on spec.delete removes them before the object itself.
// - LocalVolumeSnapshotRestore: validates (states.ts `restoreRefusal`), creates one
//   LocalVolumeReplicaSnapshotRestore per snapshot node, aggregates, annotates the target volume
//   `hwameistor.io/snapshot-restore-completed` when done. A Completed/Failed restore is kept as the record of
//   what happened (the original deletes it); its per-node children are removed.
// - Deferred volume deletion: a LocalVolume annotated DELETE_DEFERRED_ANNOTATION (CSI DeleteVolume of a volume
//   with snapshots) gets spec.delete=true once no LocalVolumeSnapshot of it is left (queue key `volume/<name>`).
//
// Crash windows: children are created before the parent's status says so, and each create is preceded by a
// list by (parent, node) — a crash after the create and before the status write re-runs and finds the child.
// Status writes are conditional on resourceVersion; a conflict is a quiet requeue.

import { randomInt } from "node:crypto";
import type { LocalVolumeSnapshotStatus } from "../../api/kinds/local-volume-snapshot.ts";
import { Annotations, Kinds, RestoreTypes } from "../../api/names.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import { Controller, type ReconcileResult } from "../../kube/controller.ts";
import {
  hwameistorClients,
  type LocalVolumeReplicaSnapshotObject as Lvrs,
  type LocalVolumeReplicaSnapshotRestoreObject as Lvrsr,
  type LocalVolumeSnapshotObject as Lvs,
  type LocalVolumeSnapshotRestoreObject as Lvsr,
  type Lv,
  type Lvr,
} from "../../kube/hwameistor.ts";
import { silentLogger } from "../../kube/types.ts";
import { decideRestore, decideSnapshot, type ReplicaSnapshotFact, type RestoreFacts } from "./states.ts";

/**
 * Set by CSI DeleteVolume on a volume that still has snapshots: the volume is deleted when they are gone.
 * Simplification: kept here, not in api/names.ts (that file belongs to another change in flight); additive.
 */
export const DELETE_DEFERRED_ANNOTATION = Annotations.DeleteDeferred;
const VOLUME_KEY = "volume/";

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
/** `<parent>-<6 random lowercase alnum>` (§1.14). */
export function childName(parent: string): string {
  let s = "";
  for (let i = 0; i < 6; i++) s += ALNUM[randomInt(ALNUM.length)];
  return `${parent.slice(0, 63 - 7)}-${s}`;
}

/** Nodes a volume lives on: its config replicas, else its accessibility nodes. */
export function nodesOfVolume(lv: Lv): string[] {
  const cfg = (lv.spec?.config?.replicas ?? []).map((r) => r.hostname);
  return cfg.length ? cfg : (lv.spec?.accessibility?.nodes ?? []);
}

export type SnapshotControllersOptions = ReconcilerOptions;

export function snapshotControllers(o: SnapshotControllersOptions): { start(): Promise<void>; stop(): Promise<void> } {
  const log = o.log ?? silentLogger;
  const c = hwameistorClients(o.client);
  const inf = informerFor(o);
  const lvsInf = inf<Lvs>(c.lvs, "localvolumesnapshots");
  const lvrsInf = inf<Lvrs>(c.lvrs, "localvolumereplicasnapshots");
  const lvInf = inf<Lv>(c.lv, "localvolumes(snapshots)");
  const lvrInf = inf<Lvr>(c.lvr, "localvolumereplicas(snapshots)");
  const lvsrInf = inf<Lvsr>(c.lvsrestore, "localvolumesnapshotrestores");
  const lvrsrInf = inf<Lvrsr>(c.lvrsrestore, "localvolumereplicasnapshotrestores");

  const snapCtl = new Controller({
    name: "localvolumesnapshot",
    log,
    workers: 2,
    reconcile: (k) => (k.startsWith(VOLUME_KEY) ? reconcileDeferred(k.slice(VOLUME_KEY.length)) : reconcileSnapshot(k)),
  });
  snapCtl.watch(lvsInf, (s) => [s.metadata!.name!, VOLUME_KEY + (s.spec?.sourceVolume ?? "")]);
  snapCtl.watch(lvrsInf, (r) => r.spec?.volumeSnapshotName || undefined);
  snapCtl.watch(lvInf, (lv) => (lv.metadata?.annotations?.[DELETE_DEFERRED_ANNOTATION] ? VOLUME_KEY + lv.metadata.name : undefined));
  const restoreCtl = new Controller({ name: "localvolumesnapshotrestore", log, workers: 2, reconcile: (k) => reconcileRestore(k) });
  restoreCtl.watch(lvsrInf);
  restoreCtl.watch(lvrsrInf, (r) => r.spec?.volumeSnapshotRestore || undefined);
  restoreCtl.watch(lvrInf, () => undefined); // cache only

  async function reconcileSnapshot(name: string): Promise<ReconcileResult | void> {
    const lvs = await c.lvs.get(name);
    if (!lvs?.spec) return;
    const children = (await c.lvrs.list()).items.filter((r) => r.spec?.volumeSnapshotName === name);
    const facts: ReplicaSnapshotFact[] = children.map((r) => ({
      name: r.metadata!.name!,
      nodeName: r.spec?.nodeName ?? "",
      state: r.status?.state ?? "",
      delete: !!r.spec?.delete,
      allocatedCapacityBytes: r.status?.allocatedCapacityBytes,
      creationTime: r.status?.creationTime,
      merging: r.status?.attr?.merging,
      invalid: r.status?.attr?.invalid,
      reason: r.status?.reason || undefined,
      error: r.status?.error,
    }));
    const st: LocalVolumeSnapshotStatus = lvs.status ?? {};
    const d = decideSnapshot({
      state: st.state ?? "",
      deleteRequested: !!lvs.spec.delete,
      nodes: lvs.spec.accessibility?.nodes ?? [],
      replicaSnapshots: facts,
    });
    for (const a of d.actions) {
      if (a.kind === "deleteObject") {
        await c.lvs.delete(name);
        log.info({ lvs: name }, "snapshot deleted");
        return;
      }
      if (a.kind === "markReplicaSnapshotsDeleted") {
        for (const n of a.names) await c.lvrs.patch(n, { spec: { delete: true } });
      }
      if (a.kind === "createReplicaSnapshots") {
        const spec = lvs.spec;
        for (const node of a.nodes) {
          // Checked by the list above (children): a crash after this create re-runs and finds it.
          const lvr = lvrInf.list().find((r) => r.spec?.volumeName === spec.sourceVolume && r.spec?.nodeName === node && !r.spec?.delete);
          if (!lvr) throw new Error(`snapshot ${name}: volume ${lvs.spec.sourceVolume} has no replica on node ${node} yet`);
          await c.lvrs.create({
            metadata: {
              name: childName(name),
              ownerReferences: [{ apiVersion: "hwameistor.io/v1alpha1", kind: Kinds.LocalVolumeSnapshot, name, uid: lvs.metadata!.uid! }],
            },
            spec: {
              nodeName: node,
              volumeSnapshotName: name,
              sourceVolume: lvs.spec.sourceVolume,
              sourceVolumeReplica: lvr.metadata!.name!,
              poolName: lvr.spec?.poolName as never,
              requiredCapacityBytes: lvs.spec.requiredCapacityBytes,
              delete: false,
            },
          } as Lvrs);
        }
      }
    }
    if (!d.status) return;
    const next: LocalVolumeSnapshotStatus = { ...st, ...d.status };
    for (const k of Object.keys(next) as Array<keyof LocalVolumeSnapshotStatus>) if (next[k] === undefined) delete next[k];
    if (JSON.stringify(next) === JSON.stringify(st)) return;
    await c.lvs.updateStatus({ ...lvs, status: next });
    if (next.state !== st.state) {
      log.info({ lvs: name, from: st.state ?? "", to: next.state, message: next.message }, "snapshot state");
      return { requeueAfterMs: 0 };
    }
  }

  async function reconcileDeferred(volume: string): Promise<void> {
    if (!volume) return;
    const lv = await c.lv.get(volume);
    if (!lv?.metadata?.annotations?.[DELETE_DEFERRED_ANNOTATION] || lv.spec?.delete) return;
    if ((await c.lvs.list()).items.some((s) => s.spec?.sourceVolume === volume)) return;
    await c.lv.patch(volume, { spec: { delete: true } });
    log.info({ volume }, "last snapshot gone: deferred volume deletion proceeds");
  }

  async function reconcileRestore(name: string): Promise<ReconcileResult | void> {
    const r = await c.lvsrestore.get(name);
    if (!r?.spec) return;
    const snapName = r.spec.sourceVolumeSnapshot;
    const lvs = await c.lvs.get(snapName);
    const rollback = r.spec.restoreType === RestoreTypes.Rollback;
    const targetName = rollback ? lvs?.spec?.sourceVolume : r.spec.targetVolume;
    const target = targetName ? await c.lv.get(targetName) : undefined;
    const children = (await c.lvrsrestore.list()).items.filter((x) => x.spec?.volumeSnapshotRestore === name);
    const snapPool = lvs ? (await c.lvrs.list()).items.find((x) => x.spec?.volumeSnapshotName === snapName)?.spec?.poolName : undefined;
    const facts: RestoreFacts = {
      state: r.status?.state ?? "",
      abort: !!r.spec.abort,
      restoreType: r.spec.restoreType,
      snapshot: lvs?.spec && {
        name: snapName,
        state: lvs.status?.state ?? "",
        sourceVolume: lvs.spec.sourceVolume,
        nodes: lvs.spec.accessibility?.nodes ?? [],
        poolName: snapPool,
        sizeBytes: lvs.status?.allocatedCapacityBytes ?? lvs.spec.requiredCapacityBytes,
      },
      target: targetName
        ? {
            name: targetName,
            exists: !!target && !target.spec?.delete,
            publishedNode: target?.status?.publishedNode || undefined,
            nodes: target ? nodesOfVolume(target) : [],
            poolName: target?.spec?.poolName,
            requiredCapacityBytes: Math.max(target?.status?.allocatedCapacityBytes ?? 0, target?.spec?.requiredCapacityBytes ?? 0),
            state: target?.status?.state ?? "",
          }
        : undefined,
      targetPoolName: r.spec.targetPoolName,
      replicaRestores: children.map((x) => ({
        name: x.metadata!.name!,
        nodeName: x.spec?.nodeName ?? "",
        state: x.status?.state ?? "",
        message: x.status?.message,
      })),
    };
    const d = decideRestore(facts);
    for (const a of d.actions) {
      if (a.kind === "createReplicaRestores") {
        for (const node of a.nodes) {
          await c.lvrsrestore.create({
            metadata: {
              name: childName(name),
              ownerReferences: [{ apiVersion: "hwameistor.io/v1alpha1", kind: Kinds.LocalVolumeSnapshotRestore, name, uid: r.metadata!.uid! }],
            },
            spec: {
              nodeName: node,
              targetVolume: a.targetVolume,
              targetPoolName: a.poolName,
              sourceVolumeSnapshot: snapName,
              restoreType: r.spec.restoreType,
              volumeSnapshotRestore: name,
              abort: false,
            },
          } as Lvrsr);
        }
      } else if (a.kind === "annotateTarget") {
        if (a.volume) await c.lv.patch(a.volume, { metadata: { annotations: { [Annotations.SnapshotRestoreCompleted]: "true" } } });
      } else if (a.kind === "cleanupReplicaRestores") {
        for (const x of children) await c.lvrsrestore.delete(x.metadata!.name!).catch(() => undefined);
      }
    }
    if (d.state === undefined || (d.state === (r.status?.state ?? "") && (d.message ?? r.status?.message) === r.status?.message)) return;
    const status = {
      ...r.status,
      state: d.state,
      message: d.message ?? r.status?.message ?? "",
      volumeReplicaSnapshotRestore: children.map((x) => x.metadata!.name!).sort(),
    };
    await c.lvsrestore.updateStatus({ ...r, status });
    log.info({ restore: name, state: d.state, message: status.message }, "snapshot restore state");
    return { requeueAfterMs: 0 };
  }

  return {
    async start() {
      await Promise.all([snapCtl.start(), restoreCtl.start()]);
    },
    async stop() {
      await Promise.all([snapCtl.stop(), restoreCtl.stop()]);
    },
  };
}
