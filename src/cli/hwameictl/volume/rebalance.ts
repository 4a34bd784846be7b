// `hwameictl volume rebalance [--threshold 80] [--dry-run] [--node X] [--include-ha]` (issue 13; new relative to
// the original): moves volumes off (node, pool)s fuller than the threshold onto nodes with room, one
// LocalVolumeMigrate (`rebalance-<vol>`, target suggested by the plan) at a time, re-planning after each from the
// cluster as it then is. --dry-run prints the plan only. The plan is src/controller/rebalance/plan.ts; the copy is
// the migrate controller's (docs/migration.md). The Cluster's `spec.rebalance` runs the same plan in the controller.
//
// One at a time means: it waits for a rebalance-* migration already running (a previous run that timed out), and
// refuses while any other migration runs (a drain's or a user's), naming it.

import type { Command } from "commander";
import { HwError, invalid } from "../../../api/errors.ts";
import { Annotations, AnnotationValues } from "../../../api/names.ts";
import { formatBytes } from "../../../api/quantity.ts";
import type { LocalVolumeMigrateObject } from "../../../kube/hwameistor.ts";
import { REBALANCE_PREFIX, gatherRebalance, rebalanceMigrateName } from "../../../controller/rebalance/gather.ts";
import { planRebalance, type PoolFill, type RebalanceMove, type RebalancePlan, type RebalanceSkip } from "../../../controller/rebalance/plan.ts";
import type { Section, View } from "../../print.ts";
import type { Ctl, Lv } from "../context.ts";

export interface RebalanceFlags {
  threshold: string;
  dryRun?: boolean;
  node?: string;
  includeHa?: boolean;
}

/** --threshold: a fill percentage a node may have; 1–99. */
export function parseThreshold(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !Number.isFinite(n) || n < 1 || n > 99)
    throw invalid(`--threshold ${JSON.stringify(v)} is not a fill percentage`, { hint: "a number from 1 to 99, e.g. --threshold 80" });
  return n;
}

const fill = (p: [number, number]) => `${p[0]}% → ${p[1]}%`;

export function planView(p: RebalancePlan, o: { dryRun: boolean; done?: string[] }): View {
  const sections: Section[] = [
    {
      title: `plan (threshold ${p.thresholdPercent}%)${o.dryRun ? ", dry run: nothing is moved" : ""}`,
      columns: [
        { header: "#", value: (m: RebalanceMove & { i: number }) => m.i },
        { header: "volumes", value: (m: RebalanceMove) => m.volumes.join(",") },
        { header: "size", value: (m: RebalanceMove) => formatBytes(m.bytes) },
        { header: "from", value: (m: RebalanceMove) => m.from },
        { header: "to", value: (m: RebalanceMove) => m.to },
        { header: "pool", value: (m: RebalanceMove) => m.poolName },
        { header: "from fill", value: (m: RebalanceMove) => fill(m.fromPercent) },
        { header: "to fill", value: (m: RebalanceMove) => fill(m.toPercent) },
      ],
      rows: p.moves.map((m, i) => ({ ...m, i: i + 1 })),
      empty: `No volume needs to move: every pool is at or under ${p.thresholdPercent}%, or nothing above it can move (below).`,
    },
  ];
  if (p.skipped.length)
    sections.push({
      title: "not moved",
      columns: [
        { header: "volume", value: (s: RebalanceSkip) => s.volume },
        { header: "node", value: (s: RebalanceSkip) => s.node },
        { header: "reason", value: (s: RebalanceSkip) => s.reason },
      ],
      rows: p.skipped,
    });
  sections.push({
    title: "pools",
    columns: [
      { header: "node", value: (f: PoolFill) => f.node },
      { header: "pool", value: (f: PoolFill) => f.poolName },
      { header: "capacity", value: (f: PoolFill) => formatBytes(f.totalBytes) },
      { header: "used", value: (f: PoolFill) => formatBytes(f.usedBytes) },
      { header: "fill", value: (f: PoolFill) => `${f.percent}%${f.percent > p.thresholdPercent ? " (over)" : ""}` },
      { header: "after plan", value: (f: PoolFill) => `${f.percentAfter}%` },
    ],
    rows: p.fills,
    empty: "No pool reports capacity (no Ready LocalStorageNode with a pool).",
  });
  const lines = [...(o.done ?? []), ...p.remaining];
  return { sections, text: lines.length ? lines.join("\n") : undefined, data: { ...p, ...(o.done ? { done: o.done } : {}) } };
}

/** Waits until the migration is gone (the controller deletes it when it finishes) and says how it ended. */
async function waitMigration(ctl: Ctl, name: string, m: RebalanceMove): Promise<string> {
  const end = Date.now() + ctl.timeoutMs;
  let last: LocalVolumeMigrateObject | undefined;
  let shown = "";
  for (;;) {
    const cur = await ctl.c.lvmigrate.get(name);
    if (!cur) break;
    last = cur;
    const line = `${name}: ${cur.status?.state || "submitted"}: ${cur.status?.message ?? ""}`;
    if (line !== shown) process.stderr.write(`${line}\n`);
    shown = line;
    if (Date.now() > end)
      throw new HwError(
        "DEADLINE_EXCEEDED",
        "Timeout",
        `LocalVolumeMigrate ${name} is still ${cur.status?.state || "submitted"} after ${ctl.timeoutMs / 1000} s`,
        {
          hint: `it goes on in the controller (hwameictl volume migrate list); run hwameictl volume rebalance again to continue after it, or give a longer --timeout`,
        },
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
  return movedOrThrow(await ctl.c.lv.get(m.volumes[0]!), name, m, last);
}

/** How a finished rebalance migration ended: the volume on the target only, or an error with its last status. */
function movedOrThrow(lv: Lv | undefined, name: string, m: RebalanceMove, last: LocalVolumeMigrateObject | undefined): string {
  const nodes = (lv?.spec?.config?.replicas ?? []).map((r) => r.hostname);
  const completed = lv?.metadata?.annotations?.[Annotations.VolumeMigrateState] === AnnotationValues.MigrateCompleted;
  if (nodes.includes(m.to) && !nodes.includes(m.from) && completed) return `moved ${m.volumes.join(", ")} from ${m.from} to ${m.to}`;
  const st = last?.status;
  throw new HwError(
    "ABORTED",
    "RebalanceMigrationFailed",
    `LocalVolumeMigrate ${name} ended without moving ${m.volumes.join(", ")} to ${m.to} (last: ${st?.state || "submitted"}: ${st?.message ?? "no status"})`,
    { hint: `see its Events: kubectl get events --field-selector involvedObject.name=${name}` },
  );
}

export async function rebalance(ctl: Ctl, f: RebalanceFlags): Promise<View> {
  const threshold = parseThreshold(f.threshold);
  if (f.node) await ctl.requireNode(f.node);
  const planNow = async () => {
    const snap = await gatherRebalance(ctl.client, ctl.c);
    return { snap, plan: planRebalance({ ...snap.input, thresholdPercent: threshold, onlyNode: f.node, includeReplicated: !!f.includeHa }) };
  };
  let { snap, plan } = await planNow();
  if (f.dryRun) return planView(plan, { dryRun: true });
  const done: string[] = [];
  // Bounded by the first plan: each step re-plans from the cluster as it is, but never runs longer than planned.
  const steps = plan.moves.length + snap.activeMigrations.filter((m) => (m.metadata?.name ?? "").startsWith(REBALANCE_PREFIX)).length;
  for (let step = 0; step < steps; step++) {
    const ours = snap.activeMigrations.find((m) => (m.metadata?.name ?? "").startsWith(REBALANCE_PREFIX));
    const other = snap.activeMigrations.find((m) => !(m.metadata?.name ?? "").startsWith(REBALANCE_PREFIX));
    if (other)
      throw new HwError(
        "FAILED_PRECONDITION",
        "MigrationInProgress",
        `LocalVolumeMigrate ${other.metadata?.name} (volume ${other.spec?.volumeName}, ${other.status?.state || "submitted"}) is running; rebalancing moves one volume at a time and starts after it`,
        { hint: "wait for it (hwameictl volume migrate list), or abort it: hwameictl volume migrate abort <vol>" },
      );
    if (ours) {
      const vol = ours.spec?.volumeName ?? "";
      const to = ours.spec?.targetNodesSuggested?.[0] ?? ours.status?.targetNode ?? "";
      process.stderr.write(`rebalance: waiting for ${ours.metadata?.name} (already running)\n`);
      done.push(await waitMigration(ctl, ours.metadata!.name!, { volumes: [vol], from: ours.spec?.sourceNode ?? "", to } as RebalanceMove));
    } else {
      const m = plan.moves[0];
      if (!m) break;
      const name = rebalanceMigrateName(m.volumes[0]!);
      const old = await ctl.c.lvmigrate.get(name);
      if (old) await ctl.c.lvmigrate.delete(name); // a finished one the controller has not removed yet
      await ctl.c.lvmigrate.create({
        metadata: { name, labels: { "app.kubernetes.io/managed-by": "hwameictl-rebalance" } },
        spec: { volumeName: m.volumes[0]!, sourceNode: m.from, targetNodesSuggested: [m.to], migrateAllVols: true, abort: false },
      } as LocalVolumeMigrateObject);
      process.stderr.write(`rebalance: ${name}: moving ${m.volumes.join(", ")} (${formatBytes(m.bytes)}) from ${m.from} to ${m.to}\n`);
      done.push(await waitMigration(ctl, name, m));
    }
    ({ snap, plan } = await planNow());
  }
  return planView(plan, { dryRun: false, done });
}

export function registerVolumeRebalance(volume: Command, ctl: () => Ctl): void {
  volume
    .command("rebalance")
    .description("move volumes off nodes whose pool is fuller than --threshold onto nodes with room, one migration at a time (--dry-run: print the plan)")
    .option("--threshold <percent>", "a pool above this fill sheds volumes; no target goes above it", "80")
    .option("--dry-run", "print the plan, move nothing")
    .option("--node <node>", "only move volumes off this node")
    .option("--include-ha", "also move replicas of replicated (HA) volumes (never onto a node holding another replica)")
    .action(async (o: RebalanceFlags) => {
      const c = ctl();
      c.print(await rebalance(c, o));
    });
}
