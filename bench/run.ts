// `npm run bench [-- --quick] [-- --only CASE[,CASE]]`: runs every benchmark case, writes
// bench/results/<case>.json and rebuilds bench/REPORT.md. Not part of `npm test`: numbers are reported, not
// asserted. Each case records the 1-minute load average at its start and end (params.loadAvgStart/End), so a
// reader can judge how noisy the machine was. docs/benchmarks.md explains the cases and how to read them.
import { benchApiServer } from "./apiserver.ts";
import { benchControlPlane } from "./control-plane.ts";
import { benchDataPath } from "./data-path.ts";
import { benchDataplane } from "./dataplane.ts";
import { benchDiscovery } from "./discovery.ts";
import { benchDiskIdle } from "./disk-idle.ts";
import { benchMigration } from "./migration.ts";
import { load1 } from "./lib/proc.ts";
import { benchPods } from "./pods.ts";
import { writeCase, writeReport, type CaseResult } from "./lib/report.ts";
import { benchSnapshots } from "./snapshots.ts";

const quick = process.argv.includes("--quick");
const onlyIdx = process.argv.indexOf("--only");
const only = onlyIdx >= 0 ? new Set(process.argv[onlyIdx + 1]?.split(",")) : undefined;

// Order: the noise-sensitive data path first, the dev cluster (the heaviest setup) last.
const cases: Record<string, () => Promise<CaseResult>> = {
  "data-path": () => benchDataPath({ quick }),
  dataplane: () => benchDataplane({ quick }),
  snapshots: () => benchSnapshots({ quick }),
  migration: () => benchMigration({ quick }),
  discovery: () => benchDiscovery({ quick }),
  "disk-idle": () => benchDiskIdle({ quick }),
  apiserver: () => benchApiServer({ quick }),
  "control-plane": () => benchControlPlane({ quick }),
  pods: () => benchPods({ quick }),
};
if (only) for (const n of only) if (!(n in cases)) throw new Error(`unknown case ${n}; cases: ${Object.keys(cases).join(", ")}`);

const t0 = Date.now();
let failed = 0;
for (const [name, runCase] of Object.entries(cases)) {
  if (only && !only.has(name)) continue;
  console.log(`bench ${name} (${quick ? "quick" : "full"}), load ${load1()} ...`);
  try {
    const loadAvgStart = load1();
    const r = await runCase();
    r.params = { ...r.params, loadAvgStart, loadAvgEnd: load1() };
    writeCase(r);
    const missed = r.metrics.filter((m) => m.met === false).map((m) => m.name);
    console.log(`bench ${name}: done in ${(r.durationMs / 1000).toFixed(1)} s${missed.length ? `; targets missed: ${missed.join(", ")}` : ""}`);
  } catch (e) {
    failed++;
    console.log(`bench ${name}: FAILED: ${(e as Error).stack ?? e}`);
  }
}
console.log(`report: ${writeReport()}`);
console.log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s${failed ? `, ${failed} case(s) failed` : ""}`);
process.exitCode = failed ? 1 : 0;
