// The LocalVolumeMigrate reconciler (leader only): gathers facts about the migration's volumes straight from
// the API (not caches: a pass after a crash must see every write of the pass before it), asks states.ts, runs
// the actions, writes status once. Wakes on its own object, the volumes' replicas and the sync ConfigMaps.
// The data copy itself is the node agents' (src/node/migrate/): this controller only writes resources.
//
// Crash windows: every action is idempotent and re-derived from the volumes (a config that already holds the
// target is not written again; a prune of a config without the source writes nothing; a ConfigMap that exists
// is kept), and the state is written after the actions, so a pass killed between the two is simply repeated.

import type { Pod, Pv } from "../../api/core.ts";
import { isHwError } from "../../api/errors.ts";
import { AnnotationValues, Annotations, HWAMEISTOR_NAMESPACE, OperationStates as S, VolumeStates } from "../../api/names.ts";
import { blockingTaint, describeRejections, getNodeCandidates, storageNodeViews } from "../../api/placement/placement.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import { Controller } from "../../kube/controller.ts";
import { hwameistorClients, listAll, listOptional, nameOf, type LocalVolumeMigrateObject, type Lv, type Lvr } from "../../kube/hwameistor.ts";
import { CONFIG_MAP, PV } from "../../kube/resources.ts";
import { isAlreadyExists, isNotFound } from "../../kube/transport.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";
import { ACTIVE_STATES, decideMigrate, type MigrateAction, type MigrateDecision, type MigrateFacts, type VolumeFact } from "./states.ts";
import type { Condition } from "../../api/kinds/common.ts";
import { SYNC_LABEL, SyncKeys, syncConfigName, syncFact } from "../../api/volume-sync.ts";

export type ConfigMap = KubeObject & { data?: Record<string, string> };

export interface MigrateControllerOptions extends ReconcilerOptions {
  /** --max-migrate-count (default 1, the original's). */
  maxMigrateCount?: number;
  namespace?: string;
}

export function migrateController(o: MigrateControllerOptions): Controller {
  const log = o.log ?? silentLogger;
  const ns = o.namespace ?? HWAMEISTOR_NAMESPACE;
  const c = hwameistorClients(o.client);
  const inf = informerFor(o);
  const cms = o.client.forKind<ConfigMap>(CONFIG_MAP);
  const pvs = o.client.forKind<Pv & KubeObject>(PV);
  const mInf = inf<LocalVolumeMigrateObject>(c.lvmigrate, "localvolumemigrates", { resyncPeriodMs: 30_000 });
  const lvrInf = inf<Lvr>(c.lvr, "localvolumereplicas");
  const cmInf = inf<ConfigMap>(cms, "configmaps", { namespace: ns });
  const ctl = new Controller({
    name: "localvolumemigrate",
    log,
    events: { client: o.client, component: "hwameistor-controller" },
    reconcile: (k) => reconcile(k),
  });
  const byVolume = (vol: string | undefined) =>
    vol
      ? mInf
          .list()
          .filter((m) => m.spec?.volumeName === vol || (m.status?.volumes ?? []).includes(vol))
          .map((m) => nameOf(m))
      : [];
  ctl.watch(mInf, (m) => nameOf(m));
  ctl.watch(lvrInf, (r) => byVolume(r.spec?.volumeName));
  ctl.watch(cmInf, (cm) => byVolume(cm.data?.[SyncKeys.LocalVolume]));

  async function gather(m: LocalVolumeMigrateObject): Promise<MigrateFacts> {
    const spec = m.spec!;
    const st = m.status ?? {};
    const lvs = await listAll(c.lv);
    const lvByName = new Map(lvs.map((v) => [nameOf(v), v]));
    const main = lvByName.get(spec.volumeName);
    let names: string[] = st.volumes?.length ? st.volumes : [spec.volumeName];
    if (!st.volumes?.length && main && spec.migrateAllVols !== false && main.spec?.volumegroup) {
      names = lvs.filter((v) => v.spec?.volumegroup === main.spec?.volumegroup).map(nameOf);
      names = [spec.volumeName, ...names.filter((n) => n !== spec.volumeName).sort()];
    }
    const lvrs = await listAll(c.lvr);
    const expands = await listOptional(c.lvexpand);
    const snaps = await listOptional(c.lvs);
    const volumes: VolumeFact[] = [];
    let podList: Pod[] | undefined;
    const pods = () => (podList ??= []);
    if (lvs.some((v) => names.includes(nameOf(v)) && v.status?.publishedNode === spec.sourceNode)) podList = await listAll(c.pod);
    for (const name of names) {
      const lv = lvByName.get(name);
      const pv = await pvs.get(name);
      const exp = expands.find((e) => nameOf(e) === name && e.status?.state !== S.Completed);
      const sn = snaps.filter((s) => s.spec?.sourceVolume === name);
      volumes.push({
        name,
        exists: !!lv && !lv.metadata?.deletionTimestamp && !lv.spec?.delete,
        replicaNumber: lv?.spec?.replicaNumber ?? 1,
        configNodes: (lv?.spec?.config?.replicas ?? []).map((r) => r.hostname),
        primaryNode: (lv?.spec?.config?.replicas ?? []).find((r) => r.primary)?.hostname,
        state: lv?.status?.state ?? "",
        publishedNode: lv?.status?.publishedNode || undefined,
        migrateState: lv?.metadata?.annotations?.[Annotations.VolumeMigrateState],
        rawblock: !!lv?.status?.rawblock,
        replicas: lvrs
          .filter(
            (r) => r.spec?.volumeName === name && !r.spec?.delete && r.status?.state !== VolumeStates.ToBeDeleted && r.status?.state !== VolumeStates.Deleted,
          )
          .map((r) => ({ node: r.spec?.nodeName ?? "", state: r.status?.state ?? "", synced: !!r.status?.synced, dataPlane: !!r.status?.haState })),
        busy: exp
          ? `being expanded (LocalVolumeExpand ${nameOf(exp)} is ${exp.status?.state || "new"})`
          : sn.length > 0
            ? `has ${sn.length} snapshot(s) (${sn.map(nameOf).join(", ")}), which stay on their node: delete them first`
            : undefined,
        sync: syncFact(await cms.get(syncConfigName(name), ns)),
        pvNodes: pvNodesOf(pv),
        podsOnSource: pv?.spec?.claimRef && lv?.status?.publishedNode === spec.sourceNode ? podsUsing(pv.spec.claimRef, spec.sourceNode, pods()) : [],
      });
    }
    // Targets: candidates of every volume (placement, replica-affinity `need` applies taints), intersected.
    const nodes = storageNodeViews(
      await listAll(c.lsn),
      lvs.filter((v) => !names.includes(nameOf(v))),
      await listOptional(c.node),
    );
    const affinity = m.metadata?.annotations?.[Annotations.ReplicaAffinity] ?? AnnotationValues.ReplicaAffinityNeed;
    let candidates: string[] | undefined;
    let rejections = "";
    for (const name of names) {
      const lv = lvByName.get(name);
      if (!lv) continue;
      // Capacity and state from placement; taints (cordoned, unreachable) checked here unless the migration says
      // `forbid`. A data plane is not required of the target: a volume it does not serve is copied offline.
      const r = getNodeCandidates(nodes, {
        name,
        poolName: lv.spec?.poolName ?? "",
        requiredBytes: lv.spec?.requiredCapacityBytes ?? 0,
        replicaNumber: 1,
        excludeNodes: [...(lv.spec?.config?.replicas ?? []).map((x) => x.hostname), ...(lv.spec?.accessibility?.nodes ?? [])],
      });
      const views = new Map(nodes.map((n) => [n.name, n]));
      const these = r.candidates
        .map((x) => x.node)
        .filter((n) => {
          const t = affinity === AnnotationValues.ReplicaAffinityForbid ? undefined : blockingTaint(views.get(n)?.taints ?? [], []);
          if (t) r.rejected.push({ node: n, reason: `taint ${t.key}:${t.effect}` });
          return !t;
        });
      candidates = candidates ? candidates.filter((n) => these.includes(n)) : these;
      if (!rejections) rejections = describeRejections(r, nodes);
    }
    const all = await listAll(c.lvmigrate);
    const mine = new Set(names);
    const others = all.filter((x) => nameOf(x) !== nameOf(m));
    const overlaps = (x: LocalVolumeMigrateObject) => mine.has(x.spec?.volumeName ?? "") || (x.status?.volumes ?? []).some((v) => mine.has(v));
    const earlier = (x: LocalVolumeMigrateObject) =>
      (x.metadata?.creationTimestamp ?? "") < (m.metadata?.creationTimestamp ?? "") ||
      ((x.metadata?.creationTimestamp ?? "") === (m.metadata?.creationTimestamp ?? "") && nameOf(x) < nameOf(m));
    const dup = others.find((x) => overlaps(x) && (ACTIVE_STATES.includes(x.status?.state ?? "") || ((x.status?.state ?? "") === "" && earlier(x))));
    return {
      name: nameOf(m),
      state: st.state ?? "",
      abort: !!spec.abort,
      sourceNode: spec.sourceNode,
      suggested: spec.targetNodesSuggested ?? [],
      targetNode: st.targetNode,
      originalReplicaNumber: st.originalReplicaNumber,
      volumes,
      candidates: candidates ?? [],
      rejections,
      activeOthers: others.filter((x) => ACTIVE_STATES.includes(x.status?.state ?? "")).length,
      maxMigrateCount: o.maxMigrateCount ?? 1,
      duplicateOf: dup ? nameOf(dup) : undefined,
      now: Date.now(),
      acceptUnverified: m.metadata?.annotations?.[Annotations.MigrateAcceptUnverified] === "true",
    };
  }

  async function act(a: MigrateAction, m: LocalVolumeMigrateObject): Promise<void> {
    if (a.type === "deleteMigrate") {
      await c.lvmigrate.delete(nameOf(m)).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      return;
    }
    if (a.type === "ensureSync") {
      try {
        await cms.create(
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: syncConfigName(a.volume), namespace: ns, labels: { [SYNC_LABEL]: "true" } },
            data: {
              [SyncKeys.LocalVolume]: a.volume,
              [SyncKeys.SourceNode]: a.source,
              [SyncKeys.TargetNode]: a.target,
              [SyncKeys.Migrate]: nameOf(m),
              [SyncKeys.Attempt]: "1",
            },
          },
          ns,
        );
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      return;
    }
    if (a.type === "restartSync") {
      const cm = await cms.get(syncConfigName(a.volume), ns);
      if (!cm) return;
      const d = cm.data ?? {};
      const keep = [SyncKeys.LocalVolume, SyncKeys.SourceNode, SyncKeys.TargetNode, SyncKeys.Migrate] as string[];
      const data = Object.fromEntries(Object.entries(d).filter(([k]) => keep.includes(k)));
      data[SyncKeys.Attempt] = String(Number(d[SyncKeys.Attempt] ?? "1") + 1);
      await cms.update({ ...cm, data });
      return;
    }
    if (a.type === "stopPods") {
      let stopped = false;
      for (const p of a.pods) stopped = (await evict(a.volume, p)) || stopped;
      // The cut-over's first step: the pause starts here (recorded once, for the Completed message and Event).
      const cm = await cms.get(syncConfigName(a.volume), ns);
      if (stopped && cm && !cm.data?.[SyncKeys.CutoverStart])
        await cms.patch(
          syncConfigName(a.volume),
          { data: { [SyncKeys.CutoverStart]: new Date().toISOString(), [SyncKeys.Error]: "" } },
          { namespace: ns, type: "merge" },
        );
      return;
    }
    if (a.type === "finalRound") {
      await cms.patch(syncConfigName(a.volume), { data: { [SyncKeys.Final]: "yes" } }, { namespace: ns, type: "merge" }).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      return;
    }
    if (a.type === "deleteSync") {
      await cms.delete(syncConfigName(a.volume), ns).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      return;
    }
    const lv = await c.lv.get(a.volume);
    if (!lv) return;
    if (a.type === "annotate") {
      const cur = lv.metadata?.annotations?.[Annotations.VolumeMigrateState];
      if ((cur ?? null) === a.value) return;
      await c.lv.patch(a.volume, { metadata: { annotations: { [Annotations.VolumeMigrateState]: a.value } } }, { type: "merge" });
      return;
    }
    if (a.type === "moveAffinity") return moveNodeAffinity(a.volume, a.source, a.target);
    await c.lv.update(editVolume(lv, a, await storageIP(a)));
  }

  /** Stops a pod through the Eviction API, so its PodDisruptionBudget is honoured (429: said in the sync ConfigMap). */
  async function evict(volume: string, p: { namespace: string; name: string }): Promise<boolean> {
    try {
      await c.pod.transport.request({
        method: "POST",
        path: c.pod.path(p.namespace, p.name, "eviction"),
        body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: p.name, namespace: p.namespace } },
      });
      log.info({ volume, pod: `${p.namespace}/${p.name}` }, "migration cut-over: pod evicted on the source");
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      if (!(isHwError(e) && e.reason === "TooManyRequests")) throw e;
      const msg = `cut-over: pod ${p.namespace}/${p.name} cannot be evicted now (its PodDisruptionBudget allows no disruption); retrying`;
      await cms.patch(syncConfigName(volume), { data: { [SyncKeys.Error]: msg } }, { namespace: ns, type: "merge" }).catch(() => undefined);
      return false;
    }
  }

  async function storageIP(a: MigrateAction): Promise<string> {
    if (a.type !== "addTargetReplica") return "";
    return (await c.lsn.get(a.target))?.spec?.storageIP ?? "";
  }

  /** The PV's node affinity names the target instead of the source (where the API server allows the change). */
  async function moveNodeAffinity(volume: string, source: string, target: string): Promise<void> {
    const pv = await pvs.get(volume);
    const terms = pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms;
    if (!pv || !terms) return;
    let changed = false;
    const next = terms.map((t) => ({
      ...t,
      matchExpressions: (t.matchExpressions ?? []).map((e) => {
        if (!(e.values ?? []).includes(source)) return e;
        changed = true;
        return { ...e, values: [...new Set((e.values ?? []).map((v) => (v === source ? target : v)))] };
      }),
    }));
    if (!changed) return;
    await pvs.update({ ...pv, spec: { ...pv.spec!, nodeAffinity: { required: { nodeSelectorTerms: next } } } });
    log.info({ pv: volume, from: source, to: target }, "PV node affinity moved");
  }

  async function reconcile(key: string): Promise<{ requeueAfterMs: number } | void> {
    const m = await c.lvmigrate.get(key);
    if (!m?.spec) return;
    if (m.metadata?.deletionTimestamp) return;
    const f = await gather(m);
    const d = decideMigrate(f);
    for (const a of d.actions) await act(a, m);
    if (d.actions.some((a) => a.type === "deleteMigrate")) return;
    const st = m.status ?? {};
    const next = { ...st, ...d.status, state: d.state, message: d.message, ...(d.condition ? { conditions: withCondition(st.conditions, d.condition) } : {}) };
    if (JSON.stringify(next) !== JSON.stringify(st)) {
      await c.lvmigrate.updateStatus({ ...m, status: next });
      if (next.state !== st.state) log.info({ migrate: key, from: st.state ?? "", to: next.state, message: d.message }, "migrate state");
    }
    if (d.event && (d.event.message !== st.message || next.state !== st.state))
      await ctl.recordEvent({ ...m, apiVersion: "hwameistor.io/v1alpha1", kind: "LocalVolumeMigrate" }, d.event.type, d.event.reason, d.event.message);
    return d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : undefined;
  }

  return ctl;
}

/** The conditions with `c` set (lastTransitionTime kept while its status stays). */
export function withCondition(cur: Condition[] | undefined, c: NonNullable<MigrateDecision["condition"]>): Condition[] {
  const old = (cur ?? []).find((x) => x.type === c.type);
  const lastTransitionTime = old && old.status === c.status ? old.lastTransitionTime : new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return [...(cur ?? []).filter((x) => x.type !== c.type), { ...c, lastTransitionTime }];
}

/** Pods on `node` (not terminating) that mount the claim; `managed` when a controller owns them (it recreates them). */
export function podsUsing(
  claim: { namespace?: string; name?: string },
  node: string,
  pods: Pod[],
): Array<{ namespace: string; name: string; managed: boolean }> {
  return pods
    .filter(
      (p) =>
        p.metadata?.namespace === claim.namespace &&
        p.spec?.nodeName === node &&
        !p.metadata?.deletionTimestamp &&
        (p.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim.name),
    )
    .map((p) => ({
      namespace: p.metadata?.namespace ?? "",
      name: p.metadata?.name ?? "",
      managed: (p.metadata?.ownerReferences ?? []).some((o) => o.controller),
    }));
}

/** Values of the PV's node-affinity expressions (the nodes it pins the volume to). */
export function pvNodesOf(pv: (Pv & KubeObject) | undefined): string[] {
  return (pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? []).flatMap((t) => (t.matchExpressions ?? []).flatMap((e) => e.values ?? []));
}

export function editVolume(lv: Lv, a: MigrateAction, ip: string): Lv {
  const cfg = lv.spec!.config!;
  let replicas = cfg.replicas.map((r) => ({ ...r }));
  let nodes = lv.spec?.accessibility?.nodes ?? replicas.map((r) => r.hostname);
  if (a.type === "addTargetReplica") {
    if (replicas.some((r) => r.hostname === a.target)) return lv;
    const used = new Set(replicas.map((r) => r.id));
    let id = 1;
    while (used.has(id)) id++;
    replicas.push({ id, hostname: a.target, ip, primary: false });
  } else if (a.type === "promoteTarget") {
    // The target primary, the source kept (not primary, not accessible) until the target's disk read back equal.
    if (!replicas.some((r) => r.hostname === a.target) || replicas.find((r) => r.primary)?.hostname === a.target) return lv;
    replicas.forEach((r) => (r.primary = r.hostname === a.target));
    nodes = [a.target, ...nodes.filter((n) => n !== a.source && n !== a.target && replicas.some((r) => r.hostname === n))];
    return { ...lv, spec: { ...lv.spec!, accessibility: { ...lv.spec?.accessibility, nodes }, config: { ...cfg, version: cfg.version + 1, replicas } } };
  } else if (a.type === "pruneSource") {
    if (!replicas.some((r) => r.hostname === a.source)) return lv;
    const wasPrimary = replicas.find((r) => r.hostname === a.source)?.primary;
    replicas = replicas.filter((r) => r.hostname !== a.source);
    if (wasPrimary || !replicas.some((r) => r.primary)) replicas.forEach((r) => (r.primary = r.hostname === a.target));
    nodes = nodes.map((n) => (n === a.source ? a.target : n));
    if (!nodes.includes(a.target)) nodes = [a.target, ...nodes];
    nodes = [...new Set(nodes)].filter((n) => replicas.some((r) => r.hostname === n));
    if (a.type === "pruneSource" && replicas.find((r) => r.primary)?.hostname === a.target) nodes = [a.target, ...nodes.filter((n) => n !== a.target)];
  } else if (a.type === "rollbackTarget") {
    if (!replicas.some((r) => r.hostname === a.target)) return lv;
    replicas = replicas.filter((r) => r.hostname !== a.target);
    // a failover may have made the target primary meanwhile: the source takes it back
    if (!replicas.some((r) => r.primary)) replicas.forEach((r) => (r.primary = r.hostname === a.source));
    nodes = nodes.filter((n) => n !== a.target);
  } else return lv;
  const replicaNumber = a.type === "addTargetReplica" ? a.replicaNumber : a.replicaNumber;
  // The temporary replica is marked in the same update that adds it (and unmarked with its removal), so no reader
  // ever sees a 1-replica volume's migration as a replicated volume (src/api/replication.ts isReplicatedVolume).
  const annotations = { ...(lv.metadata?.annotations ?? {}) };
  if (a.type === "addTargetReplica") annotations[Annotations.MigrateExtraReplica] = "true";
  else delete annotations[Annotations.MigrateExtraReplica];
  return {
    ...lv,
    metadata: { ...lv.metadata, annotations },
    spec: {
      ...lv.spec!,
      replicaNumber,
      accessibility: { ...lv.spec?.accessibility, nodes },
      config: { ...cfg, version: cfg.version + 1, replicas },
    },
  };
}
