// The Cluster's rebalancing policy (issue 13; additive, off by default), leader only:
//   spec.rebalance {enabled, thresholdPercent (80), intervalSeconds (300), includeReplicated (false)}
//   enabled, no LocalVolumeMigrate running (any origin: a drain's or a user's goes first), the last plan at least
//   intervalSeconds ago → plan (./plan.ts, the same as `hwameictl volume rebalance`) and start the FIRST move
//   only: LocalVolumeMigrate `rebalance-<vol>` with the planned target suggested; Event RebalanceStarted on the
//   Cluster. Nothing to move but pools stay over the threshold → Warning Event RebalanceBlocked naming each
//   source and the volumes it cannot move (once per distinct message). status.rebalance says what the last pass
//   did. The migration itself, its Events and audit records are the migrate controller's and the auditor's.
// Crash safety: the migration's name is deterministic (AlreadyExists = already started) and status is written
// after it, so a pass killed in between is repeated: it sees the running migration and waits.

import type { RebalancePolicy } from "../../api/kinds/cluster.ts";
import { formatBytes } from "../../api/quantity.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import { Controller } from "../../kube/controller.ts";
import { hwameistorClients, listOptional, nameOf, type ClusterObject, type LocalVolumeMigrateObject } from "../../kube/hwameistor.ts";
import { isAlreadyExists } from "../../kube/transport.ts";
import { silentLogger } from "../../kube/types.ts";
import { gatherRebalance, migrationActive, rebalanceMigrateName } from "./gather.ts";
import { planRebalance } from "./plan.ts";

export const REBALANCE_DEFAULTS = { thresholdPercent: 80, intervalSeconds: 300 } as const;
export const REBALANCE_MANAGED_BY = "hwameistor-rebalance";

export interface RebalancePass {
  /** What status.rebalance.message says. */
  message: string;
  /** The migration to create, if any. */
  create?: { name: string; volume: string; from: string; to: string };
  event?: { type: "Normal" | "Warning"; reason: string; message: string };
}

export function rebalanceController(o: ReconcilerOptions & { now?: () => number }) {
  const log = o.log ?? silentLogger;
  const now = o.now ?? Date.now;
  const c = hwameistorClients(o.client);
  const inf = informerFor(o);
  const clusters = inf<ClusterObject>(c.hmcluster, "clusters(rebalance)", { resyncPeriodMs: 60_000 });
  const migrations = inf<LocalVolumeMigrateObject>(c.lvmigrate, "localvolumemigrates(rebalance)");
  const ctl = new Controller({ name: "rebalance", log, events: { client: o.client, component: "hwameistor-rebalance" }, reconcile: (k) => reconcile(k) });
  ctl.watch(clusters, (x) => nameOf(x));
  // A migration that ends frees the one slot: look again (the interval still applies).
  ctl.watch(migrations, () => clusters.list().map(nameOf));

  async function reconcile(name: string): Promise<{ requeueAfterMs: number } | void> {
    const cl = await c.hmcluster.get(name);
    const policy: RebalancePolicy | undefined = cl?.spec?.rebalance;
    if (!cl || !policy?.enabled || cl.metadata?.deletionTimestamp) return;
    const intervalMs = (policy.intervalSeconds ?? REBALANCE_DEFAULTS.intervalSeconds) * 1000;
    const st = cl.status?.rebalance ?? {};
    const last = st.lastPlanTime ? Date.parse(st.lastPlanTime) : 0;
    if (now() - last < intervalMs) return { requeueAfterMs: last + intervalMs - now() };
    // One at a time, across every origin: a running migration (ours or not) is waited for.
    const running = (await listOptional(c.lvmigrate)).filter(migrationActive);
    if (running.length > 0) {
      const msg = `waiting: LocalVolumeMigrate ${running.map(nameOf).sort().join(", ")} running (rebalancing starts one migration at a time)`;
      if (msg !== st.message) await writeStatus(cl, { ...st, message: msg });
      return { requeueAfterMs: intervalMs };
    }
    const snap = await gatherRebalance(o.client, c);
    const threshold = policy.thresholdPercent ?? REBALANCE_DEFAULTS.thresholdPercent;
    const plan = planRebalance({ ...snap.input, thresholdPercent: threshold, includeReplicated: !!policy.includeReplicated });
    const pass = decidePass(plan, threshold);
    if (pass.create) {
      try {
        await c.lvmigrate.create({
          metadata: { name: pass.create.name, labels: { "app.kubernetes.io/managed-by": REBALANCE_MANAGED_BY } },
          spec: { volumeName: pass.create.volume, sourceNode: pass.create.from, targetNodesSuggested: [pass.create.to], migrateAllVols: true, abort: false },
        } as LocalVolumeMigrateObject);
        log.info({ migrate: pass.create.name, from: pass.create.from, to: pass.create.to }, "rebalance: migration started");
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
    const repeated = pass.message === st.message && !pass.create;
    await writeStatus(cl, { lastPlanTime: new Date(now()).toISOString(), migration: pass.create?.name ?? st.migration, message: pass.message });
    if (pass.event && !repeated)
      await ctl.recordEvent({ ...cl, apiVersion: "hwameistor.io/v1alpha1", kind: "Cluster" }, pass.event.type, pass.event.reason, pass.event.message);
    return { requeueAfterMs: intervalMs };
  }

  async function writeStatus(cl: ClusterObject, rebalance: NonNullable<NonNullable<ClusterObject["status"]>["rebalance"]>): Promise<void> {
    await c.hmcluster.updateStatus({ ...cl, status: { ...cl.status, rebalance } });
  }

  return ctl;
}

/** What one pass does with a plan (pure): start its first move, or say why nothing moves. */
export function decidePass(plan: ReturnType<typeof planRebalance>, threshold: number): RebalancePass {
  const m = plan.moves[0];
  if (m) {
    const name = rebalanceMigrateName(m.volumes[0]!);
    const msg = `moving ${m.volumes.join(", ")} (${formatBytes(m.bytes)}) from ${m.from} (${m.poolName} ${m.fromPercent[0]}% → ${m.fromPercent[1]}%) to ${m.to} (${m.toPercent[0]}% → ${m.toPercent[1]}%): LocalVolumeMigrate ${name}; ${plan.moves.length - 1} more planned`;
    return {
      message: msg,
      create: { name, volume: m.volumes[0]!, from: m.from, to: m.to },
      event: { type: "Normal", reason: "RebalanceStarted", message: msg },
    };
  }
  if (plan.remaining.length === 0) return { message: `every pool is at or under ${threshold}%` };
  const skips = plan.skipped.map((s) => `${s.volume} on ${s.node}: ${s.reason}`);
  const msg = `${plan.remaining.join("; ")}${skips.length ? ` — ${skips.join("; ")}` : ""}`;
  return { message: msg, event: { type: "Warning", reason: "RebalanceBlocked", message: msg } };
}
