// The evictor (fact sheet §4.3, leader only): volumes leave a node that is being drained.
//   Node cordoned (spec.unschedulable or taint node.kubernetes.io/unschedulable:NoSchedule), label
//   hwameistor.io/eviction ≠ disable → for every volume with a replica on it: LocalVolumeMigrate
//   `evictor-<vol>` (finalizer hwameistor.io/eviction-protect, sourceNode = the node, no suggested target,
//   migrateAllVols) unless a migration of the volume exists. Retried every 10 s while the node stays cordoned.
//   Pod updated to phase Failed/reason Evicted, or labelled hwameistor.io/eviction=start → the same for each of
//   its lvm.hwameistor.io volumes on its node.
//   An evictor migration whose message says it waits (no target, volume not Ready, snapshots…) or that Failed →
//   Warning Event `VolumeEvictionBlocked` on the Node naming the volume and why: a drain never waits silently.
//   Node uncordoned while an evictor migration has not started copying (state "") → abort it.
//   Evictor migration finished (Completed/Aborted/Failed, or being deleted) → finalizer released.
// kubectl drain itself waits only for its pods; the pods' replacements wait (scheduler: migrateStarted) until
// the volume has moved, then run on the target.

import { Drivers, Finalizers, LabelValues, Labels, ObjectNames, OperationStates as S } from "../../api/names.ts";
import type { Pv } from "../../api/core.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import { Controller } from "../../kube/controller.ts";
import { hwameistorClients, listAll, nameOf, type CoreNode, type LocalVolumeMigrateObject, type Pod } from "../../kube/hwameistor.ts";
import { PV } from "../../kube/resources.ts";
import { isAlreadyExists, isNotFound } from "../../kube/transport.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";

export const UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable";
export const evictorMigrateName = (volume: string): string => `${ObjectNames.EvictorMigratePrefix}${volume}`;

/** Whether the evictor acts on a node (pure). */
export function draining(node: CoreNode | undefined): boolean {
  if (!node) return false;
  if (node.metadata?.labels?.[Labels.Eviction] === LabelValues.EvictionDisable) return false;
  return !!node.spec?.unschedulable || (node.spec?.taints ?? []).some((t) => t.key === UNSCHEDULABLE_TAINT && t.effect === "NoSchedule");
}

/** Whether a pod asks for its volumes to be evicted (pure). */
export function podWantsEviction(pod: Pod): boolean {
  return (pod.status?.phase === "Failed" && pod.status?.reason === "Evicted") || pod.metadata?.labels?.[Labels.Eviction] === LabelValues.EvictionStart;
}

const BLOCKED = /waiting|still in use|no node can take|none of the suggested|cannot|snapshot|expanded/;

export function evictorController(o: ReconcilerOptions) {
  const log = o.log ?? silentLogger;
  const c = hwameistorClients(o.client);
  const inf = informerFor(o);
  const pvs = o.client.forKind<Pv & KubeObject>(PV);
  const nodeInf = inf<CoreNode>(c.node, "nodes");
  const podInf = inf<Pod>(c.pod, "pods");
  const mInf = inf<LocalVolumeMigrateObject>(c.lvmigrate, "localvolumemigrates");
  const ctl = new Controller({ name: "evictor", log, events: { client: o.client, component: "hwameistor-evictor" }, reconcile: (k) => reconcile(k) });
  ctl.watch(nodeInf, (n) => `node/${nameOf(n)}`);
  ctl.watch(podInf, (p) => (podWantsEviction(p) ? `pod/${p.metadata?.namespace}/${nameOf(p)}` : undefined));
  ctl.watch(mInf, (m) => (nameOf(m).startsWith(ObjectNames.EvictorMigratePrefix) ? `migrate/${nameOf(m)}` : undefined));
  const reported = new Map<string, string>();

  async function ensureMigrate(volume: string, node: string, why: string): Promise<void> {
    const all = await listAll(c.lvmigrate);
    if (all.some((m) => m.spec?.volumeName === volume || (m.status?.volumes ?? []).includes(volume))) return;
    const lv = await c.lv.get(volume);
    if (!lv || lv.spec?.delete || lv.metadata?.deletionTimestamp) return;
    if (!(lv.spec?.config?.replicas ?? []).some((r) => r.hostname === node)) return;
    try {
      await c.lvmigrate.create({
        metadata: { name: evictorMigrateName(volume), finalizers: [Finalizers.EvictionProtect] },
        spec: { volumeName: volume, sourceNode: node, targetNodesSuggested: [], migrateAllVols: true, abort: false },
      } as LocalVolumeMigrateObject);
      log.info({ volume, node, why }, "evictor: migration created");
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }

  async function reconcileNode(name: string): Promise<{ requeueAfterMs: number } | void> {
    const node = await c.node.get(name);
    const mine = (await listAll(c.lvmigrate)).filter((m) => nameOf(m).startsWith(ObjectNames.EvictorMigratePrefix) && m.spec?.sourceNode === name);
    if (!draining(node)) {
      for (const m of mine) {
        if ((m.status?.state ?? "") === "" && !m.spec?.abort) {
          await c.lvmigrate.patch(nameOf(m), { spec: { abort: true } }, { type: "merge" });
          log.info({ migrate: nameOf(m), node: name }, "evictor: node uncordoned before the copy started; migration aborted");
        }
      }
      return;
    }
    const volumes = new Set((await listAll(c.lvr)).filter((r) => r.spec?.nodeName === name && !r.spec?.delete).map((r) => r.spec?.volumeName ?? ""));
    for (const v of volumes) if (v) await ensureMigrate(v, name, `node ${name} is cordoned`);
    return { requeueAfterMs: 10_000 };
  }

  async function reconcilePod(ns: string, name: string): Promise<void> {
    const pod = await c.pod.get(name, ns);
    if (!pod || !podWantsEviction(pod) || !pod.spec?.nodeName) return;
    for (const v of pod.spec.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (!claim) continue;
      const pvc = await c.pvc.get(claim, ns);
      const pvName = pvc?.spec?.volumeName;
      if (!pvName) continue;
      const pv = await pvs.get(pvName);
      if (pv?.spec?.csi?.driver !== Drivers.Lvm) continue;
      await ensureMigrate(pv.spec.csi.volumeHandle, pod.spec.nodeName, `pod ${ns}/${name} is evicted`);
    }
  }

  async function reconcileMigrate(name: string): Promise<void> {
    const m = await c.lvmigrate.get(name);
    if (!m) return;
    const st = m.status?.state ?? "";
    const finished = [S.Completed, S.Aborted, S.Failed].includes(st as "Completed") || !!m.metadata?.deletionTimestamp;
    const msg = m.status?.message ?? "";
    if ((st === "" || st === S.Failed) && msg && BLOCKED.test(msg) && reported.get(name) !== msg) {
      reported.set(name, msg);
      const node = await c.node.get(m.spec?.sourceNode ?? "");
      if (node)
        await ctl.recordEvent(
          { ...node, apiVersion: "v1", kind: "Node" },
          "Warning",
          "VolumeEvictionBlocked",
          `volume ${m.spec?.volumeName} cannot leave node ${m.spec?.sourceNode} yet (LocalVolumeMigrate ${name}): ${msg}`,
        );
    }
    if (finished && (m.metadata?.finalizers ?? []).includes(Finalizers.EvictionProtect)) {
      reported.delete(name);
      try {
        await c.lvmigrate.removeFinalizer(name, Finalizers.EvictionProtect);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      if (!m.metadata?.deletionTimestamp) await c.lvmigrate.delete(name).catch(() => undefined);
    }
  }

  async function reconcile(key: string): Promise<{ requeueAfterMs: number } | void> {
    const [kind, a, b] = key.split("/");
    if (kind === "node") return reconcileNode(a!);
    if (kind === "pod") return reconcilePod(a!, b!);
    if (kind === "migrate") return reconcileMigrate(a!);
  }

  return ctl;
}
