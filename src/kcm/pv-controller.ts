// The PV controller of kube-controller-manager (binder + the pvc-protection and pv-protection controllers):
// watches PVCs, PVs, StorageClasses, Nodes and Pods; decides with binder.ts; writes PV.spec.claimRef,
// PVC.spec.volumeName, the bind annotations, both phases, Events and the PVC's `Bound` condition.
//
// Crash windows (every write is re-derived from the objects on the next pass):
// - PV claimRef written, claim not yet: the claim's next sync finds the PV pre-bound to it and finishes.
// - Claim annotated for the external provisioner, Event not written: the annotation is the state; the Event
//   is informative only.
// - Finalizers: kube adds pvc-/pv-protection at admission (StorageObjectInUseProtection); this server has
//   no admission plugins, so the controller adds them on the first sync. A claim deleted before its first
//   sync is simply gone, as with admission disabled upstream.
// Concurrency: PV writes carry the cached resourceVersion, so two claims racing for one PV get a conflict
// and the loser re-decides.

import type { CoreNode, Pod, Pv, Pvc } from "../api/core.ts";
import { KubeAnnotations, KubeFinalizers } from "../api/names.ts";

import { Controller } from "../kube/controller.ts";
import { claimInformers, roleInformers, type RoleOptions } from "../kube/informer-factory.ts";
import { NODE, POD, metaTime } from "../kube/resources.ts";
import { type KubeObject } from "../kube/types.ts";
import { ClaimPhases, VolumePhases, claimKey, decideClaim, decideVolume, type EventSpec } from "./binder.ts";

export const COMPONENT = "persistentvolume-controller";
/** The PVC condition this controller writes while a claim is Pending (our addition, see binder.ts). */
export const BOUND_CONDITION = "Bound";

type K = KubeObject;

export type PvControllerOptions = RoleOptions;

export interface PvControllerParts {
  claims: Controller;
  volumes: Controller;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Whether a pod (not finished) uses the claim: pvc-protection keeps the claim while it does. */
export function podUsesClaim(pod: Pod, namespace: string, claim: string): boolean {
  if ((pod.metadata?.namespace ?? "") !== namespace) return false;
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  return (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim);
}

export function pvController(o: PvControllerOptions): PvControllerParts {
  const { log, f } = roleInformers(o, 15_000);
  const claimSide = claimInformers(f);
  const { pvcs, pvs } = claimSide;
  const inf = {
    ...claimSide.inf,
    node: f.for<CoreNode & K>(NODE),
    pod: f.for<Pod & K>(POD),
  };
  const events = { client: o.client, component: COMPONENT };

  const claims: Controller = new Controller({
    name: "pv-controller-claims",
    log,
    events,
    reconcile: async (key) => {
      const c = inf.pvc.get(key);
      if (!c) return;
      await syncClaim(c);
    },
  });
  const volumes: Controller = new Controller({
    name: "pv-controller-volumes",
    log,
    events,
    reconcile: async (key) => {
      const v = inf.pv.get(key);
      if (!v) return;
      await syncVolume(v);
    },
  });
  claims
    .watch(inf.pvc)
    .watch(inf.sc, () =>
      inf.pvc
        .list()
        .filter((c) => !c.spec?.volumeName)
        .map(claimKey),
    )
    .watch(inf.pv, (v) =>
      v.spec?.claimRef?.name
        ? `${v.spec.claimRef.namespace ?? ""}/${v.spec.claimRef.name}`
        : inf.pvc
            .list()
            .filter((c) => !c.spec?.volumeName)
            .map(claimKey),
    )
    .watch(inf.pod, (p) =>
      (p.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [`${p.metadata?.namespace}/${v.persistentVolumeClaim.claimName}`] : [])),
    )
    .watch(inf.node, () => undefined);
  volumes.watch(inf.pv).watch(inf.pvc, (c) => (c.spec?.volumeName ? c.spec.volumeName : undefined));

  const event = (obj: K, e: EventSpec | undefined) => (e ? claims.recordEvent(obj, e.type, e.reason, e.message) : Promise.resolve());

  async function syncClaim(c: Pvc & K): Promise<void> {
    const ns = c.metadata!.namespace!;
    const name = c.metadata!.name!;
    // ---- pvc-protection
    if (c.metadata?.deletionTimestamp) {
      if ((c.metadata.finalizers ?? []).includes(KubeFinalizers.PvcProtection) && !inf.pod.list().some((p) => podUsesClaim(p, ns, name))) {
        await pvcs.removeFinalizer(name, KubeFinalizers.PvcProtection, ns);
        log.info({ claim: `${ns}/${name}` }, "claim no longer used by a pod: pvc-protection finalizer removed");
        return;
      }
    } else if (!(c.metadata?.finalizers ?? []).includes(KubeFinalizers.PvcProtection)) {
      await pvcs.addFinalizer(name, KubeFinalizers.PvcProtection, ns);
      return; // the update event brings the claim back
    }

    const selected = c.metadata?.annotations?.[KubeAnnotations.SelectedNode];
    const classes = new Map(inf.sc.list().map((s) => [s.metadata?.name ?? "", s]));
    const action = decideClaim({
      claim: c,
      volumes: inf.pv.list(),
      classes,
      selectedNodeLabels: selected ? inf.node.getByName(selected)?.metadata?.labels : undefined,
    });
    switch (action.kind) {
      case "setDefaultClass":
        await pvcs.patch(name, { spec: { storageClassName: action.className } }, { namespace: ns });
        log.info({ claim: `${ns}/${name}`, class: action.className }, "default StorageClass assigned");
        return;
      case "provision":
        await pvcs.patch(
          name,
          {
            metadata: {
              annotations: { [KubeAnnotations.StorageProvisioner]: action.provisioner, [KubeAnnotations.BetaStorageProvisioner]: action.provisioner },
            },
          },
          { namespace: ns },
        );
        await setClaimStatus(c, ClaimPhases.Pending, { reason: "ExternalProvisioning", message: action.event.message });
        await event(c, action.event);
        return;
      case "pending": {
        const changed = await setClaimStatus(c, ClaimPhases.Pending, action.condition);
        if (changed) await event(c, action.event);
        return;
      }
      case "lost":
        if (await setClaimStatus(c, ClaimPhases.Lost, { reason: action.event.reason, message: action.event.message })) await event(c, action.event);
        return;
      case "bound": {
        const v = inf.pv.get(action.volume);
        await setClaimStatus(c, ClaimPhases.Bound, undefined, v);
        return;
      }
      case "bind":
        await bind(c, action.volume, action.pvBoundByController, action.claimBoundByController);
        return;
    }
  }

  async function bind(c: Pvc & K, volumeName: string, pvByController: boolean, claimByController: boolean): Promise<void> {
    const ns = c.metadata!.namespace!;
    const name = c.metadata!.name!;
    let v = inf.pv.get(volumeName);
    if (!v) return;
    // 1. The volume side (conditional on the cached resourceVersion: a racing claim gets a conflict).
    if (v.spec?.claimRef?.uid !== c.metadata?.uid) {
      const next = structuredClone(v);
      next.spec = {
        ...next.spec,
        claimRef: { kind: "PersistentVolumeClaim", apiVersion: "v1", namespace: ns, name, uid: c.metadata?.uid, resourceVersion: c.metadata?.resourceVersion },
      };
      if (pvByController) next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [KubeAnnotations.BoundByController]: "yes" } };
      v = await pvs.update(next);
      log.info({ claim: `${ns}/${name}`, volume: volumeName }, "volume bound to claim");
    }
    if (v.status?.phase !== VolumePhases.Bound) v = await pvs.patchStatus(volumeName, { status: { phase: VolumePhases.Bound, message: null, reason: null } });
    // 2. The claim side.
    const annotations: Record<string, string> = { [KubeAnnotations.BindCompleted]: "yes" };
    if (claimByController) annotations[KubeAnnotations.BoundByController] = "yes";
    let cur: Pvc & K = c;
    if (c.spec?.volumeName !== volumeName || Object.entries(annotations).some(([k, val]) => c.metadata?.annotations?.[k] !== val)) {
      cur = await pvcs.patch(name, { metadata: { annotations }, spec: { volumeName } }, { namespace: ns });
    }
    await setClaimStatus(cur, ClaimPhases.Bound, undefined, v, true);
  }

  /** Writes phase (+ capacity/accessModes on binding) and the Bound condition; true if anything changed. */
  async function setClaimStatus(
    c: Pvc & K,
    phase: string,
    pending: { reason: string; message: string } | undefined,
    v?: Pv,
    binding = false,
  ): Promise<boolean> {
    const st = structuredClone(c.status ?? {});
    const before = JSON.stringify(st);
    st.phase = phase;
    const others = (st.conditions ?? []).filter((x) => x.type !== BOUND_CONDITION);
    const old = (st.conditions ?? []).find((x) => x.type === BOUND_CONDITION);
    if (pending && phase !== ClaimPhases.Bound) {
      const same = old && old.reason === pending.reason && old.message === pending.message;
      others.push(
        same
          ? old
          : { type: BOUND_CONDITION, status: "False", reason: pending.reason, message: pending.message, lastTransitionTime: metaTime(), lastProbeTime: null },
      );
    }
    st.conditions = others;
    if (!st.conditions.length) delete st.conditions;
    if (phase === ClaimPhases.Bound && v && (binding || !st.capacity)) {
      st.accessModes = v.spec?.accessModes ?? [];
      if (!st.capacity) st.capacity = { ...(v.spec?.capacity ?? {}) };
    }
    if (JSON.stringify(st) === before) return false;
    await pvcs.updateStatus({ ...c, status: st });
    return true;
  }

  async function syncVolume(v: Pv & K): Promise<void> {
    const name = v.metadata!.name!;
    // ---- pv-protection
    if (v.metadata?.deletionTimestamp) {
      if ((v.metadata.finalizers ?? []).includes(KubeFinalizers.PvProtection) && v.status?.phase !== VolumePhases.Bound) {
        await pvs.removeFinalizer(name, KubeFinalizers.PvProtection);
        return;
      }
    } else if (!(v.metadata?.finalizers ?? []).includes(KubeFinalizers.PvProtection)) {
      await pvs.addFinalizer(name, KubeFinalizers.PvProtection);
      return;
    }
    const ref = v.spec?.claimRef;
    const claim = ref?.name ? inf.pvc.get(`${ref.namespace ?? ""}/${ref.name}`) : undefined;
    const action = decideVolume(v, claim);
    switch (action.kind) {
      case "enqueueClaim":
        claims.enqueue(action.claim);
        return;
      case "unbind": {
        const next = structuredClone(v);
        delete next.spec!.claimRef;
        delete next.metadata!.annotations![KubeAnnotations.BoundByController];
        await pvs.update(next);
        return;
      }
      case "phase": {
        if (v.status?.phase === action.phase && (v.status?.message ?? undefined) === action.message) return;
        await pvs.patchStatus(name, { status: { phase: action.phase, message: action.message ?? null } });
        if (action.phase === VolumePhases.Released) log.info({ volume: name }, "volume released (its claim is gone)");
        if (action.event) await volumes.recordEvent(v, action.event.type, action.event.reason, action.event.message);
        return;
      }
    }
  }

  return {
    claims,
    volumes,
    async start() {
      await Promise.all([claims.start(), volumes.start()]);
    },
    async stop() {
      await Promise.all([claims.stop(), volumes.stop()]);
    },
  };
}
