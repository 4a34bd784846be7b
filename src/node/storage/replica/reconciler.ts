// The LocalVolumeReplica reconciler of one node: gathers facts (the LVR, the engine's view of the replica),
// asks states.ts for the one action, runs it through the engine, and writes status once if it changed.
// Only replicas whose spec.nodeName is this node are touched.
//
// Crash windows: every engine call is idempotent by name (createReplica returns an existing replica,
// deleteReplica of a missing one is done), so a crash after the engine call and before the status write
// re-runs the call harmlessly. The status write is conditional on resourceVersion (a conflict is a quiet
// requeue).
// Latency (a new replica is on the CreateVolume path): the replica is read from the informer cache, not the
// API server; one pass runs the state machine to its fixed point and writes status once; the engine is asked
// about the replica only in the states that need its view (Ready/NotReady), and the QoS hook gets the replica
// this pass already has. The event of our own status write brings the next pass (no immediate requeue).

import { HwError, isHwError, toErrorStatus } from "../../../api/errors.ts";
import { overProvisionRatioOf } from "../../../api/thin-pool.ts";
import { ensureLuks, readPassphrase } from "../encrypt/luks.ts";
import type { LocalVolumeReplicaStatus } from "../../../api/kinds/local-volume-replica.ts";
import { VolumeStates } from "../../../api/names.ts";
import { Controller, type ReconcileResult } from "../../../kube/controller.ts";
import { Informer } from "../../../kube/informer.ts";
import { assertPoolName, assertVolumeName } from "../../engines/common.ts";
import type { Replica, StorageEngine } from "../../engines/engine.ts";
import type { NodeContext } from "../../context.ts";
import type { NodeReplicas } from "../replicas.ts";
import { lvmVolumeRecords } from "../../csi/lvm/node.ts";
import type { HwameistorClients, Lvr } from "../../../kube/hwameistor.ts";
import { decide, mergeConditions, outcome, type ObservedReplica, type ReplicaAction, type ReplicaCondition, type ConditionChange } from "./states.ts";

/** Hook for the QoS issue (§7): applied to a Ready replica on every pass. No-op until then. */
export type ReplicaQosHook = (lvr: Lvr, replica: Replica) => Promise<void>;

export interface ReplicaControllerOptions {
  ctx: NodeContext;
  c: HwameistorClients;
  engine: StorageEngine;
  /** Called after a replica was created, grown or deleted (the LocalStorageNode pools change). */
  onPoolChange?: () => void;
  qos?: ReplicaQosHook;
  /** This node's replica cache (storage/replicas.ts); default: an informer of every replica. */
  replicas?: NodeReplicas;
  /**
   * Replication (src/node/dataplane): for a volume it manages, devPath (the HA device) and synced (the
   * primary's word) are its fields, not the engine's; and the data plane lets go of a replica before the
   * engine deletes the device under it.
   */
  ha?: { manages(volume: string): boolean; release(volume: string): Promise<void> };
}

const observe = (r: Replica | undefined): ObservedReplica | undefined =>
  r && {
    allocatedCapacityBytes: r.allocatedCapacityBytes,
    devPath: r.devPath,
    storagePath: r.storagePath,
    active: r.active,
    ...(r.inactiveReason ? { inactiveReason: r.inactiveReason } : {}),
  };

/** Steps of the state machine one reconcile pass may take (the longest chain, delete, has four). */
const MAX_STEPS = 5;

const errorText = (e: unknown): string => (isHwError(e) ? e.fullMessage : e instanceof Error ? e.message : String(e));

export function replicaController(o: ReplicaControllerOptions): Controller {
  const { ctx, c, engine } = o;
  const informer = o.replicas?.informer(60_000) ?? new Informer<Lvr>(c.lvr, { log: ctx.log, name: "localvolumereplicas", resyncPeriodMs: 60_000 });
  const ctl = new Controller({ name: "local-volume-replica", log: ctx.log, workers: 4, reconcile: (key) => reconcile(key) });
  ctl.watch(informer, (lvr) => (lvr.spec?.nodeName === ctx.nodeName ? lvr.metadata?.name : undefined));

  /** The pool's thin overProvisionRatio: the latest ThinPoolClaim record on this node (the original's rule). */
  async function ratioOf(pool: string): Promise<string> {
    return overProvisionRatioOf((await c.lsn.get(ctx.nodeName))?.status?.thinPoolExtendRecords?.[pool]);
  }

  type ActionResult = { ok: true; replica?: Replica } | { ok: false; message: string; reason: string; error: HwError };

  async function runAction(action: ReplicaAction, lvr: Lvr, pool: string, volume: string, required: number): Promise<ActionResult> {
    try {
      switch (action) {
        case "createReplica": {
          // LUKS and thin (§2.1, §5.2): refused before anything is created when this node cannot serve them or
          // the Secret is missing / wrongly named / empty.
          const enc = lvr.spec?.volumeEncrypt?.enable ? lvr.spec.volumeEncrypt : undefined;
          let key: Buffer | undefined;
          if (enc) {
            const cap = engine.capabilities().encryption;
            if (!cap?.supported) {
              throw new HwError(
                "FAILED_PRECONDITION",
                "NoEncryptionSupport",
                `replica ${lvr.metadata?.name} of volume ${volume} asks for LUKS encryption; node ${ctx.nodeName} (engine ${engine.kind}) cannot: ${cap?.reason ?? "no dm-crypt"}`,
              );
            }
            key = await readPassphrase(c, enc.secret, volume);
          }
          const thin = !!lvr.spec?.thin;
          const rep = await engine.createReplica(pool, volume, required, {
            ...(thin ? { thin, overProvisionRatio: await ratioOf(pool) } : {}),
            ...(lvr.spec?.thinOriginVolume ? { sourceVolume: lvr.spec.thinOriginVolume } : {}),
          });
          if (key) {
            if (!rep.active)
              throw new HwError(
                "UNAVAILABLE",
                "DeviceNotActive",
                `replica of volume ${volume}: device ${rep.devPath} is not active (${rep.inactiveReason ?? "unknown"}); LUKS formatting waits for it`,
              );
            const did = await ensureLuks(rep.devPath, key, volume);
            if (did === "formatted") ctx.log.info({ lvr: lvr.metadata?.name, volume, dev: rep.devPath }, "replica device formatted as LUKS");
          }
          return { ok: true, replica: rep };
        }
        case "expandReplica":
          return { ok: true, replica: await engine.expandReplica(pool, volume, required, lvr.spec?.thin ? { overProvisionRatio: await ratioOf(pool) } : {}) };
        case "deleteReplica":
          await o.ha?.release(volume);
          await engine.deleteReplica(pool, volume);
          // The publish record (first-use filesystem, its UUID) belongs to the data just removed: a volume
          // created again under the same name is a new, empty device, not a "vanished" filesystem.
          lvmVolumeRecords.remove(ctx.stateDir, volume);
          return { ok: true };
        case "deleteObject":
          await c.lvr.delete(lvr.metadata!.name!);
          return { ok: true };
      }
    } catch (e) {
      if (!isHwError(e)) throw e; // a programmer error is never swallowed
      return { ok: false, message: errorText(e), reason: e.reason, error: e };
    }
  }

  /**
   * The resourceVersion each of our status writes replaced (name → [before, after]): a pass that finds the
   * cache still at `before` runs on an object we already moved on from, and waits for the event of `after`.
   */
  const written = new Map<string, [string, string]>();

  async function reconcile(name: string): Promise<ReconcileResult | void> {
    const startedAt = performance.now();
    const lvr = informer.getByName(name);
    if (!lvr || lvr.spec?.nodeName !== ctx.nodeName) {
      written.delete(name);
      return;
    }
    const rv = lvr.metadata?.resourceVersion ?? "";
    const w = written.get(name);
    if (w && rv === w[0]) return; // stale cache: the event of our write re-queues this key
    if (w && rv !== w[1]) written.delete(name);
    const spec = lvr.spec;
    const st: LocalVolumeReplicaStatus = lvr.status ?? {};
    const pool = spec.poolName ?? "";
    const volume = spec.volumeName ?? "";
    const required = spec.requiredCapacityBytes ?? 0;

    const changes: ConditionChange[] = [];
    let state = st.state ?? "";
    let fromReplica: ObservedReplica | undefined;
    let failure: string | undefined;
    let error: HwError | undefined;
    try {
      // Names reach paths and command lines: validated before anything else (INVALID_ARGUMENT naming them).
      assertPoolName(pool);
      assertVolumeName(volume);
    } catch (e) {
      if (!isHwError(e)) throw e;
      if (spec.delete) {
        await c.lvr.delete(name); // nothing can have been created for an invalid name
        return;
      }
      changes.push({ type: "Create", status: "False", message: `invalid replica spec: ${errorText(e)}`, reason: e.reason });
      await writeStatus(lvr, st, state, changes, undefined, e);
      return;
    }
    // Only Ready/NotReady decide on the engine's view (states.ts); the others act (create/delete) by name.
    const needsView = !spec.delete && (state === VolumeStates.Ready || state === VolumeStates.NotReady);
    let replica: Replica | undefined;
    try {
      if (needsView) replica = await engine.getReplica(pool, volume);
    } catch (e) {
      // Not knowing is not "absent" (that would mark the replica lost, or create it again): say why in
      // status and retry with backoff.
      if (!isHwError(e)) throw e;
      await writeStatus(
        lvr,
        st,
        state,
        [{ type: "Ready", status: "False", message: `cannot look at the replica: ${errorText(e)}`, reason: e.reason }],
        undefined,
        e,
      );
      throw new Error(`replica ${name}: ${errorText(e)}`);
    }
    let observed = observe(replica);
    // The state machine runs to its fixed point in this one pass (new replica: "" → Creating → create →
    // NotReady → Ready), and the status is written once at the end: every step is idempotent, so a crash
    // anywhere re-runs the pass from the last written state. One write instead of three, and no requeue
    // round trips through the work queue and the API server between the steps.
    let requeueAfterMs: number | undefined;
    for (let step = 0; step < MAX_STEPS; step++) {
      const d = decide({ state, deleteRequested: !!spec.delete, requiredCapacityBytes: required, replica: observed });
      ctx.log.debug({ lvr: name, state, observed, decision: d }, "replica reconcile");
      const before = state;
      if (d.state !== undefined) state = d.state;
      changes.push(...d.conditions);
      if (d.fromReplica) fromReplica = d.fromReplica;
      requeueAfterMs = d.requeueAfterMs;
      if (!d.action) {
        if (state === before) break;
        continue;
      }
      const res = await runAction(d.action, lvr, pool, volume, required);
      if (d.action === "deleteObject") {
        if (!res.ok) throw new Error(`deleting LocalVolumeReplica ${name}: ${res.message}`);
        ctx.log.info({ lvr: name, volume }, "replica object deleted");
        o.onPoolChange?.();
        return;
      }
      const out = outcome(d.action, res);
      if (out.state !== undefined) state = out.state;
      changes.push(...out.conditions);
      fromReplica = out.fromReplica ?? fromReplica;
      if (res.ok) {
        o.onPoolChange?.();
        if (d.action === "deleteReplica") replica = undefined;
        else if (res.replica) replica = res.replica;
        observed = observe(replica);
      } else {
        failure = res.message;
        error = res.error;
        void ctx.recorder.recordEvent(
          lvr,
          "Warning",
          `Replica${d.action[0]!.toUpperCase()}${d.action.slice(1)}Failed`,
          `replica ${name} of volume ${volume}: ${failure}`,
        );
        break;
      }
    }
    if (state === VolumeStates.Ready && o.qos && replica) await o.qos(lvr, replica);
    await writeStatus(lvr, st, state, changes, fromReplica, error, startedAt);
    if (failure) throw new Error(`replica ${name}: ${failure}`); // status written; retry with backoff
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /** `error`: the failure of this pass (kept in status.error for the CSI controller); none clears it. */
  async function writeStatus(
    lvr: Lvr,
    st: LocalVolumeReplicaStatus,
    state: string,
    changes: ConditionChange[],
    r: ObservedReplica | undefined,
    error?: HwError,
    startedAt?: number,
  ): Promise<boolean> {
    const next: LocalVolumeReplicaStatus = {
      ...st,
      state,
      conditions: mergeConditions((st.conditions ?? []) as ReplicaCondition[], changes, new Date().toISOString(), lvr.metadata?.generation),
    };
    if (error) next.error = toErrorStatus(error);
    else delete next.error;
    const replicated = o.ha?.manages(lvr.spec?.volumeName ?? "") ?? false;
    if (r) {
      if (!replicated) next.devPath = r.devPath;
      next.storagePath = r.storagePath;
      next.allocatedCapacityBytes = r.allocatedCapacityBytes;
    }
    // Non-HA replicas are always in sync with themselves (the original's `synced` is the DRBD state); a
    // replicated one is synced when its primary says so (src/node/dataplane).
    if (!replicated) next.synced = state === VolumeStates.Ready || (st.synced ?? false);
    if (JSON.stringify(withoutTimes(next)) === JSON.stringify(withoutTimes(st))) return false;
    const name = lvr.metadata?.name ?? "";
    const res = await c.lvr.updateStatus({ ...lvr, status: next });
    written.set(name, [lvr.metadata?.resourceVersion ?? "", res.metadata?.resourceVersion ?? ""]);
    if (next.state !== st.state) {
      const tookMs = startedAt === undefined ? undefined : Math.round(performance.now() - startedAt);
      ctx.log.info({ lvr: name, from: st.state ?? "", to: next.state, devPath: next.devPath, tookMs }, "replica state");
    }
    return true;
  }

  return ctl;
}

function withoutTimes(s: LocalVolumeReplicaStatus): unknown {
  return { ...s, conditions: (s.conditions ?? []).map((c) => ({ ...c, lastTransitionTime: undefined })) };
}
