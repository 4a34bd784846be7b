// The embedded pod scheduler (standalone and dev cluster; a real cluster has kube-scheduler, reached through
// the extender instead). Plays kube-scheduler for pods without spec.nodeName whose spec.schedulerName is
// `default-scheduler` (or empty) or `hwameistor-scheduler`, leader-elected on the Lease `hwameistor-scheduler`
// (the original scheduler's leader-election resource).
//
// One pass for a pod (level-triggered; every step re-derived from the objects):
//   1. placePod (place.ts) over the informer caches.
//   2. No node: PodScheduled=False/Unschedulable with upstream's "0/N nodes are available: …" message and a
//      FailedScheduling Event (both only when the message changed); retried on any change of the objects
//      read, and every `retryMs`.
//   3. A node: the HwameiStor filter's PVC annotations; every unbound WaitForFirstConsumer PVC gets
//      `volume.kubernetes.io/selected-node: <node>` (VolumeBinding's BindPodVolumes), then the pod waits until
//      they are Bound (the PV controller and provisioner do that) and is bound with POST pods/<name>/binding
//      and a Scheduled Event. While waiting, the chosen node is the one the PVCs name: a restarted scheduler
//      finds it there. A provisioner that cannot provision on the node removes the annotation (as the
//      external-provisioner does on a final error), which sends the pod back to step 1.
//
// Crash windows: annotations written but binding not yet → the next pass reads the node from the PVCs;
// binding posted twice → the second gets 409 (already assigned), harmless.

import type { CoreNode, Pod, Pv, Pvc, StorageClassShape } from "../api/core.ts";
import { localDiskNodeKind } from "../api/kinds/local-disk-node.ts";
import { localDiskVolumeKind } from "../api/kinds/local-disk-volume.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import { localVolumeGroupKind } from "../api/kinds/local-volume-group.ts";
import { localVolumeSnapshotKind } from "../api/kinds/local-volume-snapshot.ts";
import { localVolumeKind } from "../api/kinds/local-volume.ts";
import { Annotations, Leases } from "../api/names.ts";
import type { KubeClient } from "../kube/client.ts";
import { Controller } from "../kube/controller.ts";
import { Informer } from "../kube/informer.ts";
import { LeaderElector } from "../kube/leader-election.ts";
import { NODE, POD, PV, PVC, STORAGE_CLASS, VOLUME_SNAPSHOT, VOLUME_SNAPSHOT_CONTENT } from "../kube/resources.ts";
import { isConflict, isNotFound } from "../kube/transport.ts";
import { objectKey, stderrLogger, type KubeObject, type Logger } from "../kube/types.ts";
import { EMBEDDED_PROFILES, placePod, schedulerNameOf } from "./place.ts";
import type { StorageState } from "./storage.ts";

export const SCHEDULER_COMPONENT = "default-scheduler";

type K = KubeObject;

export interface EmbeddedSchedulerOptions {
  client: KubeClient;
  log?: Logger;
  /** Run without the Lease (one replica only). Default false. */
  noLeaderElection?: boolean;
  leaderElectionNamespace?: string;
  identity?: string;
  /** Retry period of unschedulable pods and pods waiting for volume binding (default 2 s). */
  retryMs?: number;
}

export interface EmbeddedScheduler {
  isLeader(): boolean;
  stop(): Promise<void>;
}

/** Whether this scheduler owns the pod now: unassigned, not terminating, not finished, one of our profiles. */
export function wantsScheduling(pod: Pod): boolean {
  if (pod.spec?.nodeName || pod.metadata?.deletionTimestamp) return false;
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return false;
  return EMBEDDED_PROFILES.includes(schedulerNameOf(pod));
}

export async function startEmbeddedScheduler(o: EmbeddedSchedulerOptions): Promise<EmbeddedScheduler> {
  const log = o.log ?? stderrLogger;
  let current: { stop(): Promise<void> } | undefined;
  if (o.noLeaderElection) {
    current = await runScheduler(o, log);
    return { isLeader: () => true, stop: () => current!.stop() };
  }
  const elector = new LeaderElector({
    client: o.client,
    namespace: o.leaderElectionNamespace ?? "hwameistor",
    name: Leases.Scheduler,
    identity: o.identity ?? `scheduler_${process.pid}`,
    log,
    onStartedLeading: async (signal) => {
      const s = await runScheduler(o, log);
      current = s;
      signal.addEventListener("abort", () => void s.stop(), { once: true });
    },
  });
  elector.start();
  return {
    isLeader: () => elector.isLeader(),
    stop: async () => {
      await elector.stop();
      await current?.stop();
    },
  };
}

async function runScheduler(o: EmbeddedSchedulerOptions, log: Logger): Promise<{ stop(): Promise<void> }> {
  const c = o.client;
  const retryMs = o.retryMs ?? 2000;
  const pods = c.forKind<Pod & K>(POD);
  const pvcs = c.forKind<Pvc & K>(PVC);
  const inf = {
    pod: new Informer<Pod & K>(pods, { log, name: "scheduler-pods" }),
    node: new Informer<CoreNode & K>(c.forKind(NODE), { log }),
    pvc: new Informer<Pvc & K>(pvcs, { log }),
    pv: new Informer<Pv & K>(c.forKind(PV), { log }),
    sc: new Informer<StorageClassShape & K>(c.forKind(STORAGE_CLASS), { log }),
    lsn: new Informer<K>(c.forKind(localStorageNodeKind), { log }),
    lv: new Informer<K>(c.forKind(localVolumeKind), { log }),
    lvg: new Informer<K>(c.forKind(localVolumeGroupKind), { log }),
    ldn: new Informer<K>(c.forKind(localDiskNodeKind), { log }),
    ldv: new Informer<K>(c.forKind(localDiskVolumeKind), { log }),
    lvs: new Informer<K>(c.forKind(localVolumeSnapshotKind), { log }),
    vs: new Informer<K>(c.forKind(VOLUME_SNAPSHOT), { log }),
    vsc: new Informer<K>(c.forKind(VOLUME_SNAPSHOT_CONTENT), { log }),
  };
  const lastMessage = new Map<string, string>();

  const ctl: Controller = new Controller({
    name: "embedded-scheduler",
    events: { client: c, component: SCHEDULER_COMPONENT },
    log,
    reconcile: async (key) => {
      const pod = inf.pod.get(key);
      if (!pod || !wantsScheduling(pod)) {
        lastMessage.delete(key);
        return;
      }
      return scheduleOne(pod, key);
    },
  });
  const pendingPodKeys = () =>
    inf.pod
      .list()
      .filter(wantsScheduling)
      .map((p) => objectKey(p));
  ctl.watch(inf.pod, (p) => (wantsScheduling(p) ? objectKey(p) : undefined));
  // Any change of what placement reads may make a waiting pod schedulable.
  for (const i of [inf.node, inf.pvc, inf.pv, inf.sc, inf.lsn, inf.lv, inf.lvg, inf.ldn, inf.ldv, inf.lvs, inf.vs, inf.vsc] as Informer<K>[])
    ctl.watch(i, () => pendingPodKeys());

  // kube-scheduler's assume cache: a claim this scheduler just sent to a node counts there at once, before the
  // watch brings the annotation back (pods are placed back to back faster than that).
  const assumedClaims = new Map<string, string>();
  function claimsWithAssumptions(): Pvc[] {
    return inf.pvc.list().map((p) => {
      const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
      const node = assumedClaims.get(key);
      if (!node) return p;
      if (p.spec?.volumeName || p.metadata?.annotations?.[Annotations.SelectedNode] === node) {
        assumedClaims.delete(key); // the informer has caught up (or the claim is bound)
        return p;
      }
      return { ...p, metadata: { ...p.metadata, annotations: { ...(p.metadata?.annotations ?? {}), [Annotations.SelectedNode]: node } } };
    });
  }

  function state(): StorageState & { pvs: Pv[] } {
    return {
      storageClasses: inf.sc.list(),
      pvcs: claimsWithAssumptions(),
      pvs: inf.pv.list(),
      nodes: inf.node.list(),
      lsns: inf.lsn.list() as never,
      lvs: inf.lv.list() as never,
      lvgs: inf.lvg.list() as never,
      ldns: inf.ldn.list() as never,
      ldvs: inf.ldv.list() as never,
      localVolumeSnapshots: inf.lvs.list() as never,
      volumeSnapshots: inf.vs.list() as never,
      volumeSnapshotContents: inf.vsc.list() as never,
    };
  }

  async function scheduleOne(pod: Pod & K, key: string): Promise<{ requeueAfterMs?: number } | void> {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    const s = state();
    const claims = (pod.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((x): x is string => !!x);
    const podPvcs = claims.map((cl) => s.pvcs.find((p) => p.metadata?.name === cl && p.metadata?.namespace === ns));

    // A claim with a volume whose binding the PV controller has not completed yet: wait quietly.
    if (podPvcs.some((p) => p?.spec?.volumeName && p.status?.phase !== "Bound")) return { requeueAfterMs: retryMs };
    // Volume binding in progress? The node is the one the unbound WFFC claims were given.
    const waiting = podPvcs.filter((p): p is Pvc => !!p && !p.spec?.volumeName && !!p.metadata?.annotations?.[Annotations.SelectedNode]);
    const unboundDelayed = podPvcs.filter((p): p is Pvc => !!p && !p.spec?.volumeName && isDelayed(s.storageClasses, p));
    const assumed = new Set(waiting.map((p) => p.metadata!.annotations![Annotations.SelectedNode]!));
    if (unboundDelayed.length && waiting.length === unboundDelayed.length && assumed.size === 1) {
      return { requeueAfterMs: retryMs }; // the binder and provisioner work; a PVC update requeues us sooner
    }

    const nodes = s.nodes ?? [];
    const podsPerNode = new Map<string, number>();
    for (const p of inf.pod.list()) {
      // Pods waiting for their volumes count on the node their claims were sent to (the assume cache).
      const n = p.spec?.nodeName ?? assumedNode(p, s.pvcs);
      if (n && p.metadata?.uid !== pod.metadata?.uid) podsPerNode.set(n, (podsPerNode.get(n) ?? 0) + 1);
    }
    const r = placePod(pod, { nodes, storage: s, podsPerNode });
    if (!r.node) {
      const message = r.message ?? "no node fits";
      if (lastMessage.get(key) !== message) {
        lastMessage.set(key, message);
        await setPodScheduled(pod, "False", "Unschedulable", message);
        await ctl.recordEvent(pod, "Warning", "FailedScheduling", message);
      }
      return { requeueAfterMs: retryMs * 5 };
    }
    for (const patch of r.annotationPatches) {
      await pvcs.patch(patch.pvc, { metadata: { annotations: patch.annotations } }, { namespace: patch.namespace });
    }
    if (r.delayedPvcs.length) {
      for (const claim of r.delayedPvcs) {
        const pvc = s.pvcs.find((p) => p.metadata?.name === claim && p.metadata?.namespace === ns);
        if (pvc?.metadata?.annotations?.[Annotations.SelectedNode] === r.node) continue;
        await pvcs.patch(claim, { metadata: { annotations: { [Annotations.SelectedNode]: r.node } } }, { namespace: ns });
        assumedClaims.set(`${ns}/${claim}`, r.node);
      }
      log.info({ pod: key, node: r.node, claims: r.delayedPvcs }, "waiting for volume binding");
      return { requeueAfterMs: retryMs };
    }
    await bind(pod, r.node);
    lastMessage.delete(key);
    log.info({ pod: key, node: r.node }, "scheduled");
    await ctl.recordEvent(pod, "Normal", "Scheduled", `Successfully assigned ${ns}/${name} to ${r.node}`);
  }

  function assumedNode(p: Pod, all: Pvc[]): string | undefined {
    const ns = p.metadata?.namespace;
    for (const v of p.spec?.volumes ?? []) {
      const pvc = all.find((c) => c.metadata?.namespace === ns && c.metadata?.name === v.persistentVolumeClaim?.claimName);
      const node = pvc?.metadata?.annotations?.[Annotations.SelectedNode];
      if (node && !pvc?.spec?.volumeName) return node;
    }
    return undefined;
  }

  function isDelayed(scs: StorageClassShape[], pvc: Pvc): boolean {
    return scs.find((sc) => sc.metadata?.name === pvc.spec?.storageClassName)?.volumeBindingMode === "WaitForFirstConsumer";
  }

  async function bind(pod: Pod & K, node: string): Promise<void> {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    try {
      await c.transport.request({
        method: "POST",
        path: pods.path(ns, name, "binding"),
        body: {
          apiVersion: "v1",
          kind: "Binding",
          metadata: { name, namespace: ns, uid: pod.metadata?.uid },
          target: { apiVersion: "v1", kind: "Node", name: node },
        },
      });
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return; // already bound (a previous pass) or gone
      throw e;
    }
    await setPodScheduled({ ...pod, spec: { ...pod.spec!, nodeName: node } }, "True", undefined, undefined);
  }

  async function setPodScheduled(pod: Pod & K, status: "True" | "False", reason: string | undefined, message: string | undefined): Promise<void> {
    const conditions = (pod.status?.conditions ?? []).filter((x) => x.type !== "PodScheduled");
    const prev = pod.status?.conditions?.find((x) => x.type === "PodScheduled");
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    conditions.push({
      type: "PodScheduled",
      status,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      lastProbeTime: null,
      lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : now,
    });
    try {
      await pods.patchStatus(
        pod.metadata?.name ?? "",
        { status: { conditions, ...(status === "False" ? { phase: pod.status?.phase ?? "Pending" } : {}) } },
        { namespace: pod.metadata?.namespace },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  await ctl.start();
  log.info({}, "embedded pod scheduler started");
  return { stop: () => ctl.stop() };
}
