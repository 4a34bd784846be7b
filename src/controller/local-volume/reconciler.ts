// The LocalVolume reconciler (leader only): gathers facts (the LV, its LocalVolumeReplicas, the storage
// nodes), asks states.ts what to do, runs the actions, and writes status once, only if it changed.
// - Writes are conditional on the resourceVersion read (from the informer cache); a conflict means the
//   cache was stale or someone wrote first: it propagates and the Controller requeues quietly.
// - Config (spec.config, spec.accessibility) is written with a full-object update, status through /status
//   afterwards using the object the spec write returned.
// - LocalVolumeReplicas are created here (contract with the node agent: it realises them and reports
//   status; for deletion we set spec.delete and it removes the object or sets state Deleted). Before creating
//   one, the cache and this process's own recent creates are checked (client-go's "expectations": a create
//   the informer has not delivered yet is not repeated). After a restart the cache is listed fresh, so it holds
//   every replica created before; a duplicate that still slips through (two leaders for a moment) is removed
//   by the state machine's one-replica-per-node rule.
// - One pass runs the state machine to its fixed point for the chain of a new volume ("" → Creating →
//   writeConfig → NotReady → createReplica) and writes status once at the end, instead of one pass per step
//   with a round trip through the API server and the watch in between. Every step is idempotent and the
//   status write conditional, so a crash anywhere re-runs the chain from what was written.
// - A LocalVolume that vanished without going through ToBeDeleted (deleted with kubectl) has its replicas
//   marked for deletion, so nothing is left on the nodes.

import { randomInt } from "node:crypto";
import type { LocalVolumeStatus } from "../../api/kinds/local-volume.ts";
import { HWAMEISTOR_NAMESPACE, localStorageWorkerLease } from "../../api/names.ts";
import { nodeIsDead } from "../../api/replication.ts";
import { LEASE, NODE_LEASE_NAMESPACE, type LeaseSpec } from "../../kube/resources.ts";
import type { KubeObject } from "../../kube/types.ts";
import { Controller } from "../../kube/controller.ts";
import type { CacheInformer } from "../../kube/informer.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import { silentLogger, type Logger } from "../../kube/types.ts";
import { nameOf, hwameistorClients, type Lsn, type Lv, type Lvr, type HwameistorClients } from "../../kube/hwameistor.ts";
import { getNodeCandidates, storageNodeViews } from "../../api/placement/placement.ts";
import { withoutVolume } from "../../api/placement/groups.ts";
import { allocateConfig, isHA, stableJson, type Allocation } from "./allocate.ts";
import { decide, type Action, type Decision, type ReplicaFact, type ReplicatedCondition } from "./states.ts";

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
/** `<volumeName>-<6 random lowercase alnum>` (§1.9). */
export function replicaName(volumeName: string): string {
  let s = "";
  for (let i = 0; i < 6; i++) s += ALNUM[randomInt(ALNUM.length)];
  return `${volumeName}-${s}`;
}

export function replicaFact(r: Lvr): ReplicaFact {
  return {
    name: nameOf(r),
    nodeName: r.spec?.nodeName ?? "",
    state: r.status?.state ?? "",
    delete: !!r.spec?.delete,
    allocatedCapacityBytes: r.status?.allocatedCapacityBytes,
    creationTimestamp: r.metadata?.creationTimestamp,
    ...(r.status?.synced !== undefined ? { synced: r.status.synced } : {}),
  };
}

export interface LocalVolumeControllerOptions extends ReconcilerOptions {
  workers?: number;
}

export interface LocalVolumeController {
  controller: Controller;
  informers: { lv: CacheInformer<Lv>; lvr: CacheInformer<Lvr> };
  /** Stops the failover ticker (the controller's own stop() stops its informers and workers). */
  stop(): void;
}

export function localVolumeController(o: LocalVolumeControllerOptions): LocalVolumeController {
  const log = o.log ?? silentLogger;
  const c = hwameistorClients(o.client);
  const inf = informerFor(o);
  const lvInf = inf<Lv>(c.lv, "localvolumes");
  const lvrInf = inf<Lvr>(c.lvr, "localvolumereplicas");
  const lsnInf = inf(c.lsn, "localstoragenodes");
  // Failover (docs/replication.md): a node is gone when its LocalStorageNode is Offline or its worker Lease
  // (kube-node-lease's heartbeat where no worker Lease exists) has expired. Expiry is a matter of time, not of
  // an event: a ticker re-checks the primaries of replicated volumes.
  const workerLeaseInf = inf<LeaseObject>(o.client.forKind<LeaseObject>(LEASE), "leases(worker)", { namespace: HWAMEISTOR_NAMESPACE });
  const nodeLeaseInf = inf<LeaseObject>(o.client.forKind<LeaseObject>(LEASE), "leases(node)", { namespace: NODE_LEASE_NAMESPACE });

  /** Replicas this process created and the cache has not shown yet: `volume/node` → when. */
  const expected = new Map<string, number>();
  const expectKey = (volume: string, node: string) => `${volume}/${node}`;
  lvrInf.addHandlers({
    add: (r) => {
      expected.delete(expectKey(r.spec?.volumeName ?? "", r.spec?.nodeName ?? ""));
    },
  });
  const ctx: ActionContext = { c, log, lvrInf, expected, expectKey };

  const controller = new Controller({
    name: "localvolume",
    workers: o.workers ?? 4,
    log,
    events: { client: o.client, component: "hwameistor-controller" },
    reconcile: (key) => reconcileVolume(key),
  });
  controller.watch(lvInf);
  controller.watch(lvrInf, (r) => r.spec?.volumeName || undefined);
  // A node that becomes Ready (or reports new capacity) may unblock volumes waiting for placement.
  controller.watch(lsnInf, () =>
    lvInf
      .list()
      .filter((lv) => (lv.status?.state ?? "") === "Creating")
      .map(nameOf),
  );

  controller.watch(workerLeaseInf, () => undefined);
  controller.watch(nodeLeaseInf, () => undefined);

  function isDead(node: string, now = Date.now()): boolean {
    const lease = workerLeaseInf.getByName(localStorageWorkerLease(node), HWAMEISTOR_NAMESPACE) ?? nodeLeaseInf.getByName(node, NODE_LEASE_NAMESPACE);
    return nodeIsDead(lsnInf.getByName(node) as Lsn | undefined, lease, now);
  }
  const primaryOf = (lv: Lv) => lv.spec?.config?.replicas.find((r) => r.primary)?.hostname;
  const failoverTicker = setInterval(() => {
    for (const lv of lvInf.list()) {
      const p = primaryOf(lv);
      if (p && isHA(lv) && isDead(p)) controller.enqueue(nameOf(lv));
    }
  }, FAILOVER_CHECK_MS);
  failoverTicker.unref();

  function allocation(lv: Lv): Allocation {
    const lvs = lvInf.list();
    const nodes = storageNodeViews(
      lsnInf.list(),
      lvs.filter((x) => nameOf(x) !== nameOf(lv)),
    );
    const want = lv.spec?.replicaNumber ?? 1;
    const placed = new Set([...(lv.spec?.config?.replicas ?? []).map((r) => r.hostname), ...(lv.spec?.accessibility?.nodes ?? [])]);
    let extra: string[] = [];
    if (placed.size < want) {
      const r = getNodeCandidates(nodes, {
        name: nameOf(lv),
        poolName: lv.spec?.poolName ?? "",
        requiredBytes: lv.spec?.requiredCapacityBytes ?? 0,
        replicaNumber: want,
        excludeNodes: [...placed],
      });
      extra = r.candidates.map((x) => x.node);
    }
    const usedResourceIDs = new Set(
      lvs
        .filter((x) => nameOf(x) !== nameOf(lv))
        .map((x) => x.spec?.config?.resourceID ?? -1)
        .filter((id) => id >= 0),
    );
    return allocateConfig(lv, { nodes, extraCandidates: extra, usedResourceIDs });
  }

  async function reconcileVolume(name: string) {
    const replicas = lvrInf.list().filter((r) => r.spec?.volumeName === name);
    const lv = lvInf.getByName(name);
    if (!lv) {
      // Gone without ToBeDeleted (or just removed by us): make sure no replica stays behind.
      for (const r of replicas)
        await runAction(
          ctx,
          name,
          undefined,
          r.status?.state === "Deleted" ? { type: "deleteReplicaObject", name: nameOf(r) } : { type: "markReplicaDelete", name: nameOf(r) },
        );
      return;
    }
    const state = lv.status?.state ?? "";
    const replicaFacts = replicas.map(replicaFact);
    let cur: Lv = lv;
    // The status this pass will write: the server's, with each step's decision merged in.
    let status: LocalVolumeStatus = { ...(lv.status ?? {}), rawblock: lv.status?.rawblock ?? false };
    let d!: Decision;
    for (let step = 0; step < MAX_STEPS; step++) {
      const view: Lv = { ...cur, status };
      const hosts = cur.spec?.config?.replicas.map((r) => r.hostname) ?? [];
      d = decide(view, {
        replicas: replicaFacts,
        allocation: status.state === "Creating" ? allocation(view) : undefined,
        deadNodes: new Set(hosts.filter((h) => isDead(h))),
      });
      for (const a of d.actions) cur = (await runAction(ctx, name, cur, a)) ?? cur;
      if (d.actions.some((a) => a.type === "deleteVolume")) return;
      const { replicated, ...fields } = d.status;
      const before = status.state ?? "";
      status = { ...status, ...fields, state: d.state };
      if (replicated) status.conditions = withReplicatedCondition(status.conditions, replicated, cur.metadata?.generation);
      if (d.actions.some((a) => a.type === "failover" && a.unpublish)) status.publishedNode = "";
      // Go on only along the new volume's chain: a state change without actions, or a config just written.
      // Anything else (replica actions, failover, a requeue) is left to the events it causes.
      const onlyConfig = d.actions.length > 0 && d.actions.every((a) => a.type === "writeConfig");
      if (!(onlyConfig || (d.actions.length === 0 && d.state !== before))) break;
    }
    if (d.reason === "FailedOver" || d.reason === "PrimaryLost") void controller.recordEvent(cur, "Warning", d.reason, d.message);
    if (stableJson(status) !== stableJson({ rawblock: false, ...(cur.status ?? {}) })) {
      await c.lv.updateStatus({ ...cur, status });
      if (d.state !== state) {
        log.info({ volume: name, from: state, to: d.state, reason: d.reason }, d.message);
        if (d.reason === "AllocationFailed") void controller.recordEvent(cur, "Warning", d.reason, d.message);
      }
    } else if (d.reason === "AllocationFailed") {
      log.warn({ volume: name }, d.message);
    }
    return d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : undefined;
  }

  return { controller, informers: { lv: lvInf, lvr: lvrInf }, stop: () => clearInterval(failoverTicker) };
}

type LeaseObject = KubeObject & { spec?: LeaseSpec };
/** How often the primaries of replicated volumes are checked against their nodes' Leases. */
export const FAILOVER_CHECK_MS = 1_000;

type Cond = NonNullable<LocalVolumeStatus["conditions"]>[number];
/** The `Replicated` condition, its lastTransitionTime moving only when its status does. */
export function withReplicatedCondition(existing: Cond[] | undefined, r: ReplicatedCondition, generation?: number, now = new Date().toISOString()): Cond[] {
  const prev = (existing ?? []).find((x) => x.type === "Replicated");
  const next: Cond = {
    type: "Replicated",
    status: r.status,
    reason: r.reason,
    message: r.message,
    lastTransitionTime: prev && prev.status === r.status ? prev.lastTransitionTime : now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  return [...(existing ?? []).filter((x) => x.type !== "Replicated"), next];
}

interface ActionContext {
  c: HwameistorClients;
  log: Logger;
  lvrInf: CacheInformer<Lvr>;
  expected: Map<string, number>;
  expectKey(volume: string, node: string): string;
}

/** How long a replica this process created may stay unseen by the informer before it is created again. */
const EXPECTATION_TTL_MS = 60_000;
/** Steps one pass may take: "" → Creating → writeConfig → NotReady (+ createReplica). */
const MAX_STEPS = 4;

/** Runs one action; returns the LV as written when the action wrote it. */
async function runAction(ctx: ActionContext, volume: string, lv: Lv | undefined, a: Action): Promise<Lv | undefined> {
  const { c, log } = ctx;
  switch (a.type) {
    case "writeConfig":
      return c.lv.update({ ...lv!, spec: { ...lv!.spec, config: a.config } });
    case "failover": {
      // One write: the new primary, epoch + 1, and accessibility with the new primary first (allocation
      // derives the primary from nodes[0]). Conditional on the resourceVersion read: a concurrent change wins.
      const next = await c.lv.update({ ...lv!, spec: { ...lv!.spec, config: a.config, accessibility: { ...lv!.spec?.accessibility, nodes: a.nodes } } });
      log.warn({ volume, epoch: a.config.version, primary: a.nodes[0] }, "failover: primary moved");
      return next;
    }
    case "setAccessibilityNodes":
      return c.lv.update({ ...lv!, spec: { ...lv!.spec, accessibility: { ...lv!.spec?.accessibility, nodes: a.nodes } } });
    case "createReplica": {
      // Check before create: the cache, and our own creates it has not delivered yet (see the header).
      const key = ctx.expectKey(volume, a.nodeName);
      const at = ctx.expected.get(key);
      if (at !== undefined && Date.now() - at < EXPECTATION_TTL_MS) return undefined;
      if (ctx.lvrInf.list().some((r) => r.spec?.volumeName === volume && r.spec?.nodeName === a.nodeName && !r.spec?.delete)) return undefined;
      const spec = lv!.spec!;
      ctx.expected.set(key, Date.now());
      const created = await c.lvr
        .create({
          metadata: { name: replicaName(volume) },
          spec: {
            volumeName: volume,
            poolName: spec.poolName,
            nodeName: a.nodeName,
            requiredCapacityBytes: spec.config?.requiredCapacityBytes ?? spec.requiredCapacityBytes,
            volumeQoS: spec.volumeQoS ?? {},
            // §5.2: the replica copies encryption and thin provisioning (thinOrigin → thinOriginVolume).
            ...(spec.volumeEncrypt?.enable ? { volumeEncrypt: spec.volumeEncrypt } : {}),
            ...(spec.thin ? { thin: true } : {}),
            ...(spec.thinOrigin?.originId ? { thinOriginVolume: spec.thinOrigin.originId } : {}),
            delete: false,
          },
        } as Lvr)
        .catch((e: unknown) => {
          ctx.expected.delete(key); // not created (as far as we know): the next pass tries again
          throw e;
        });
      log.info({ volume, replica: nameOf(created), node: a.nodeName }, "LocalVolumeReplica created");
      return undefined;
    }
    case "markReplicaDelete":
      await c.lvr.patch(a.name, { spec: { delete: true } }).catch(ignoreNotFound);
      log.info({ volume, replica: a.name }, "LocalVolumeReplica marked for deletion");
      return undefined;
    case "deleteReplicaObject":
      await c.lvr.delete(a.name);
      return undefined;
    case "removeFromGroup": {
      const group = lv?.spec?.volumegroup;
      if (!group) return undefined;
      const g = await c.lvg.get(group);
      const spec = g?.spec && withoutVolume(g.spec, volume);
      if (g && spec) await c.lvg.update({ ...g, spec });
      return undefined;
    }
    case "deleteVolume":
      await c.lv.delete(volume, undefined, lv?.metadata?.uid ? { preconditions: { uid: lv.metadata.uid } } : {});
      log.info({ volume }, "LocalVolume removed");
      return undefined;
  }
}

function ignoreNotFound(e: unknown): void {
  if ((e as { code?: string })?.code === "NOT_FOUND") return;
  throw e;
}
