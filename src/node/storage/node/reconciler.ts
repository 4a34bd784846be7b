// The LocalStorageNode reconciler of one node (one key: the node name). Each pass:
// 1. the LSN exists with its spec (hostname, storage IP from flag / LSN spec / Node annotation, topology);
// 2. every Bound claim of this node with owner local-storage becomes pool devices (states.ts planConsumption):
//    engine.ensurePool per class (create, or grow online), then the claim is recorded in
//    `status.poolExtendRecords` and set Consumed — in that order: a crash between the two re-runs an
//    idempotent ensurePool and a deduplicated record, never loses the record of a consumed claim;
// 3. status.pools from the engine, conditions (Available names the engine; ExpandSuccess/ExpandFailure with
//    the real error text), state Ready; written once, only if it changed.
// Requeued every `refreshMs` (pool usage moves with replicas). The replica, snapshot, thin-pool and disk-replace
// reconcilers poke it (their onPoolChange enqueues the node's key), which queues a pass at once: readers
// (placement, users, tests) see a replica change one pass later. A burst still collapses: the work queue holds the node's key once, so the changes that
// arrive while a pass is queued or running cost one more pass, not one each (a pass spawns the engine's usage
// commands, e.g. `btrfs filesystem usage` and `show` per pool). A 1 s coalescing window was tried and removed: the
// status then lagged a create by up to 1 s, and readers that take a baseline right after a create (the e2e
// free-space checks) read a stale one. The watch event of this pass's own status write does not trigger another pass.

import { isHwError } from "../../../api/errors.ts";
import type { LocalStorageNodeStatus } from "../../../api/kinds/local-storage-node.ts";
import type { StorageNodeCondition } from "../../../api/kinds/storage-pool.ts";
import { DiskClaimStates, Owners } from "../../../api/names.ts";
import { Controller, type ReconcileResult } from "../../../kube/controller.ts";
import { consumerOrOwn, type InformerFactory } from "../../../kube/informer-factory.ts";
import type { ReplicationStatus } from "../../../api/kinds/local-storage-node.ts";
import type { PoolStats, StorageEngine } from "../../engines/engine.ts";
import type { NodeContext } from "../../context.ts";
import type { HwameistorClients, Ld, Ldc, Lsn } from "../../../kube/hwameistor.ts";
import {
  STORAGE_IPV4_ANNOTATION,
  availableCondition,
  desiredSpec,
  engineFeatures,
  expandConditions,
  nextStatus,
  planConsumption,
  resolveStorageIP,
  setNodeConditions,
  withExtendRecord,
  type ConditionInput,
} from "./states.ts";

export interface StorageNodeOptions {
  ctx: NodeContext;
  c: HwameistorClients;
  engine: StorageEngine;
  engineReason: string;
  /** `--storage-ip`. */
  storageIP?: string;
  /** Errors activateAll() reported at start (shown in the Available condition until a pass clears them). */
  activationErrors?: string[];
  refreshMs?: number;
  /** status.replication: what the data plane part reports (src/node/dataplane); without one, unavailable. */
  replication?: () => ReplicationStatus;
  /** The agent's shared informers (LocalStorageNodes, LocalDisks, LocalDiskClaims); default: its own. */
  informers?: InformerFactory;
}

const errorText = (e: unknown): string => (isHwError(e) ? e.fullMessage : e instanceof Error ? e.message : String(e));

export function storageNodeController(o: StorageNodeOptions): Controller {
  const { ctx, c, engine } = o;
  const me = ctx.nodeName;
  const ldcInf = consumerOrOwn<Ldc>(o.informers, c.ldc, { log: ctx.log, name: "localdiskclaims(storage)" });
  const ldInf = consumerOrOwn<Ld>(o.informers, c.ld, { log: ctx.log, name: "localdisks(storage)" });
  const lsnInf = consumerOrOwn<Lsn>(o.informers, c.lsn, { log: ctx.log, name: "localstoragenodes" });
  const ctl = new Controller({ name: "local-storage-node", log: ctx.log, reconcile: () => reconcile() });
  ctl.watch(ldcInf, (x) => (x.spec?.nodeName === me && x.spec.owner === Owners.LocalStorage ? me : undefined));
  ctl.watch(ldInf, (x) => (x.spec?.nodeName === me ? me : undefined));
  /** The resourceVersion of this agent's last status write: its watch event is our own echo, not news. */
  let ownWriteRv = "";
  ctl.watch(lsnInf, (x) => (x.metadata?.name === me && x.metadata.resourceVersion !== ownWriteRv ? me : undefined));
  let activationErrors = o.activationErrors ?? [];

  async function ensureLsn(): Promise<Lsn> {
    let lsn = await c.lsn.get(me);
    const node = await c.node.get(me).catch(() => undefined);
    const ip = resolveStorageIP(o.storageIP, lsn?.spec?.storageIP, node?.metadata?.annotations?.[STORAGE_IPV4_ANNOTATION]);
    if (!lsn) {
      // Crash window: created by a previous pass whose status write never happened → get() finds it next time.
      lsn = await c.lsn.create({ metadata: { name: me }, spec: desiredSpec(undefined, me, ip.ip) } as Lsn);
      ctx.log.info({ node: me, storageIP: ip.ip, source: ip.source }, "LocalStorageNode created");
      return lsn;
    }
    const spec = desiredSpec(lsn.spec, me, ip.ip);
    if (spec) lsn = await c.lsn.update({ ...lsn, spec });
    return lsn;
  }

  async function consumeClaims(lsn: Lsn, conditions: StorageNodeCondition[]): Promise<{ lsn: Lsn; conditions: StorageNodeCondition[]; retry: boolean }> {
    const disks = new Map(ldInf.list().map((d) => [d.metadata!.name!, d] as const));
    const claims = ldcInf.list().map((x) => ({ name: x.metadata!.name!, spec: x.spec!, status: x.status?.status ?? "" }));
    let retry = false;
    for (const plan of planConsumption(me, claims, disks)) {
      if (plan.waitingFor.length) {
        ctx.log.debug({ claim: plan.claim, waitingFor: plan.waitingFor }, "claim not consumable yet");
        retry = true;
        continue;
      }
      const pools: string[] = [];
      let error: string | undefined;
      for (const p of plan.pools) {
        try {
          await engine.ensurePool(p.poolName, p.poolClass, p.devices);
          pools.push(p.poolName);
        } catch (e) {
          if (!isHwError(e)) throw e;
          error = `${p.poolName} with ${p.devices.join(", ")}: ${errorText(e)}`;
          break;
        }
      }
      const claim = ldcInf.getByName(plan.claim) ?? (await c.ldc.get(plan.claim));
      conditions = setNodeConditions(conditions, expandConditions({ claim: plan.claim, pools, error }), new Date().toISOString());
      if (error) {
        retry = true;
        ctx.log.warn({ claim: plan.claim, error }, "pool expansion failed");
        if (claim) void ctx.recorder.recordEvent(claim, "Warning", "PoolExpandFailed", error);
        continue;
      }
      if (!claim) continue;
      // Record first, then Consumed (see the header for the crash window).
      let records = lsn.status?.poolExtendRecords;
      for (const p of pools) records = withExtendRecord(records, p, claim.spec!);
      lsn = await c.lsn.updateStatus({ ...lsn, status: { ...(lsn.status ?? {}), poolExtendRecords: records ?? {}, conditions } });
      await c.ldc.updateStatus({ ...claim, status: { ...claim.status, status: DiskClaimStates.Consumed } });
      ctx.log.info({ claim: plan.claim, pools, skipped: plan.skipped }, "claim consumed into pools");
      void ctx.recorder.recordEvent(
        claim,
        "Normal",
        "PoolExpanded",
        `disks of claim ${plan.claim} added to ${pools.join(", ")}${plan.skipped.length ? `; skipped ${plan.skipped.map((s) => `${s.disk}: ${s.reason}`).join(", ")}` : ""}`,
      );
    }
    return { lsn, conditions, retry };
  }

  async function reconcile(): Promise<ReconcileResult | void> {
    let lsn = await ensureLsn();
    let conditions = (lsn.status?.conditions ?? []) as StorageNodeCondition[];
    const consumed = await consumeClaims(lsn, conditions);
    lsn = consumed.lsn;
    conditions = consumed.conditions;
    const stats: PoolStats[] = [];
    const poolErrors = [...activationErrors];
    for (const name of await engine.listPools()) {
      try {
        stats.push(await engine.poolStats(name));
      } catch (e) {
        if (!isHwError(e)) throw e;
        poolErrors.push(`${name}: ${errorText(e)}`);
      }
    }
    const avail: ConditionInput = availableCondition({ kind: engine.kind, reason: o.engineReason }, poolErrors);
    conditions = setNodeConditions(conditions, [avail], new Date().toISOString());
    const status: LocalStorageNodeStatus = nextStatus(lsn.status, stats, conditions, {
      kind: engine.kind,
      reason: o.engineReason,
      ...(engine.poolFilesystem ? { filesystem: engine.poolFilesystem } : {}),
      features: engineFeatures(engine.capabilities()),
    });
    status.replication = o.replication?.() ?? { available: false, reason: "this node agent runs without a data plane (--dataplane-socket)" };
    if (JSON.stringify(status) !== JSON.stringify(lsn.status ?? {})) {
      ownWriteRv = (await c.lsn.updateStatus({ ...lsn, status })).metadata?.resourceVersion ?? "";
      ctx.log.debug({ node: me, pools: Object.keys(status.pools ?? {}) }, "LocalStorageNode status written");
    }
    activationErrors = []; // shown once; a broken replica stays visible as its LVR's Ready=False
    return { requeueAfterMs: consumed.retry ? 5_000 : (o.refreshMs ?? 15_000) };
  }

  return ctl;
}
