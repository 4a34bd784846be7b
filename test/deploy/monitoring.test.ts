// The Grafana dashboard and the Prometheus alert rules in deploy/ (docs/exporter.md): the rules pass
// `promtool check rules` and their unit tests (`promtool test rules`); the dashboard declares its schemaVersion and
// follows that version's dashboard model (panels with unique ids, a 24-column grid without overlaps, targets with
// refIds and the datasource variable); every query of both parses as PromQL (promtool) and names only metrics our
// processes export. Needs promtool (Debian prometheus). The dashboard is also type-checked against Grafana's own
// dashboard schema (the types @grafana/schema generates from Grafana's CUE schema), with strict excess-property checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Registry } from "prom-client";
import { parse, stringify } from "yaml";
import { CLUSTER_METRICS } from "../../src/exporter/cluster-metrics.ts";
import { EXPORTER_HEALTH_METRICS } from "../../src/exporter/exporter.ts";
import { processMetrics } from "../../src/kube/metrics.ts";
import { silentLogger } from "../../src/kube/types.ts";
import { VolumeIoMetrics } from "../../src/node/metrics/volume-io.ts";

const repo = resolve(import.meta.dirname, "../..");
const skip = existsSync("/usr/bin/promtool") ? false : "needs promtool (Debian prometheus; scripts/install-deps.sh)";
const RULES = join(repo, "deploy/prometheus/hwameistor-alerts.yaml");
const DASHBOARD = join(repo, "deploy/grafana/hwameistor.json");

function promtool(args: string[], cwd = repo): Promise<{ code: number; out: string }> {
  return new Promise((res, rej) =>
    execFile("promtool", args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && typeof (err as any).code !== "number") return rej(err);
      res({ code: err ? ((err as any).code as number) : 0, out: stdout + stderr });
    }),
  );
}

/** Every metric name a HwameiStor process exports (histograms with their series suffixes). */
async function exportedNames(): Promise<Set<string>> {
  const io = new Registry();
  new VolumeIoMetrics({ nodeName: "n", listReplicas: async () => [], registry: io, log: silentLogger });
  const names = new Set<string>([...Object.values(CLUSTER_METRICS).map((d) => d.name), ...Object.values(EXPORTER_HEALTH_METRICS)]);
  for (const r of [processMetrics.registry, io]) {
    for (const m of await r.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
    }
  }
  return names;
}

const METRIC_TOKEN = /\b(hwameistor_[a-z0-9_]+|ata_smart_attribute)\b/g;
function checkNames(where: string, expr: string, exported: Set<string>): void {
  const used = [...expr.matchAll(METRIC_TOKEN)].map((m) => m[1]!);
  assert.ok(used.length > 0, `${where}: the query names no HwameiStor metric: ${expr}`);
  for (const n of used) assert.ok(exported.has(n), `${where}: ${n} is not exported by any HwameiStor process`);
}

test("alert rules: promtool check rules and promtool test rules", { skip }, async () => {
  const check = await promtool(["check", "rules", RULES]);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /SUCCESS: \d+ rules found/);
  const unit = await promtool(["test", "rules", "hwameistor-alerts.test.yaml"], join(repo, "deploy/prometheus"));
  assert.equal(unit.code, 0, unit.out);
  const exported = await exportedNames();
  const doc = parse(readFileSync(RULES, "utf8"));
  const alerts = doc.groups.flatMap((g: any) => g.rules);
  for (const want of ["HwameiStorPoolAlmostFull", "HwameiStorReplicaNotSynced", "HwameiStorNodeOffline", "HwameiStorDiskSmartFailing"]) {
    assert.ok(alerts.some((a: any) => a.alert === want), `rule ${want}`);
  }
  for (const a of alerts) checkNames(`alert ${a.alert}`, a.expr, exported);
});

test("dashboard: declared schemaVersion, the dashboard model, every query parses and names exported metrics", { skip }, async () => {
  const d = JSON.parse(readFileSync(DASHBOARD, "utf8"));
  assert.equal(d.schemaVersion, 39, "schemaVersion declared (Grafana 10.x/11.x dashboards)");
  for (const k of ["title", "uid", "panels", "templating", "time", "annotations"]) assert.ok(k in d, `top-level ${k}`);
  assert.match(d.uid, /^[a-zA-Z0-9_-]{1,40}$/);
  const vars = new Set(d.templating.list.map((v: any) => v.name));
  assert.ok(vars.has("datasource"), "a datasource variable, so the dashboard imports into any Grafana");
  const ids = new Set<number>();
  const cells = new Set<string>();
  const exprs: Array<{ where: string; expr: string }> = [];
  const KNOWN_TYPES = new Set(["row", "stat", "gauge", "bargauge", "timeseries", "table", "piechart", "heatmap", "text"]);
  for (const p of d.panels) {
    const where = `panel ${p.id} "${p.title}"`;
    assert.ok(Number.isInteger(p.id) && !ids.has(p.id), `${where}: unique integer id`);
    ids.add(p.id);
    assert.ok(KNOWN_TYPES.has(p.type), `${where}: panel type ${p.type}`);
    const g = p.gridPos;
    assert.ok(g && [g.h, g.w, g.x, g.y].every(Number.isInteger) && g.w > 0 && g.h > 0 && g.x >= 0 && g.x + g.w <= 24, `${where}: gridPos within 24 columns`);
    for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
      assert.ok(!cells.has(`${x},${y}`), `${where}: overlaps another panel at ${x},${y}`);
      cells.add(`${x},${y}`);
    }
    if (p.type === "row") continue;
    assert.equal(p.datasource?.uid, "${datasource}", `${where}: uses the datasource variable`);
    assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${where}: has queries`);
    const refs = new Set<string>();
    for (const t of p.targets) {
      assert.ok(/^[A-Z]$/.test(t.refId) && !refs.has(t.refId), `${where}: refId ${t.refId}`);
      refs.add(t.refId);
      exprs.push({ where, expr: t.expr });
    }
  }
  assert.ok(exprs.length >= 30, `${exprs.length} queries`);
  const exported = await exportedNames();
  for (const e of exprs) checkNames(e.where, e.expr, exported);
  // Every query parses as PromQL: promtool checks them as recording rules ($node → every node).
  const dir = await mkdtemp(join(tmpdir(), "hw-dashboard-"));
  try {
    const file = join(dir, "queries.yaml");
    writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.expr.replaceAll("$node", ".*") })) }] }));
    const r = await promtool(["check", "rules", file]);
    assert.equal(r.code, 0, r.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// Grafana's schema, as the TypeScript types Grafana generates from it (@grafana/schema): the dashboard JSON, minus the
// export envelope (`__inputs`, `__requires`, `__elements`: grafana.com import metadata, not part of the model), must
// satisfy `Dashboard` as an object literal, so unknown fields, wrong enum strings and missing required fields fail.
// String enums are compared by value (`${Enum}`), as JSON carries them.
test("dashboard: satisfies Grafana's own dashboard schema (@grafana/schema), no unknown fields", async () => {
  const d = JSON.parse(readFileSync(DASHBOARD, "utf8"));
  for (const k of ["__inputs", "__requires", "__elements"]) delete d[k];
  const dir = await mkdtemp(join(repo, "tmp-grafana-schema-"));
  try {
    const file = join(dir, "dashboard-check.ts");
    writeFileSync(
      file,
      [
        'import type { Dashboard } from "@grafana/schema";',
        "type Json<T> = T extends string ? `${T}` : T extends (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;",
        `export const dashboard = (${JSON.stringify(d, null, 1)}) satisfies Json<Dashboard>;`,
      ].join("\n"),
    );
    const tsc = join(repo, "node_modules/typescript/bin/tsc");
    const args = [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", file];
    const out = await new Promise<{ code: number; out: string }>((res) =>
      execFile(process.execPath, args, { cwd: repo, timeout: 120_000 }, (err, stdout, stderr) => res({ code: err ? 1 : 0, out: stdout + stderr })),
    );
    assert.equal(out.code, 0, `the dashboard does not satisfy Grafana's schema:\n${out.out}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
