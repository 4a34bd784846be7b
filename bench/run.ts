// `npm run bench [-- --quick] [-- --only CASE]`: runs every benchmark case, writes bench/results/<case>.json
// and rebuilds bench/REPORT.md. Not part of `npm test`: numbers are reported, not asserted.
import { benchApiServer } from "./apiserver.ts";
import { benchDataPath } from "./data-path.ts";
import { writeCase, writeReport, type CaseResult } from "./lib/report.ts";

const quick = process.argv.includes("--quick");
const onlyIdx = process.argv.indexOf("--only");
const only = onlyIdx >= 0 ? process.argv[onlyIdx + 1] : undefined;

const cases: Record<string, () => Promise<CaseResult>> = {
  apiserver: () => benchApiServer({ quick }),
  "data-path": () => benchDataPath({ quick }),
};

let failed = 0;
for (const [name, run] of Object.entries(cases)) {
  if (only && name !== only) continue;
  process.stdout.write(`bench ${name} (${quick ? "quick" : "full"}) ... `);
  try {
    const r = await run();
    writeCase(r);
    const missed = r.metrics.filter((m) => m.met === false).map((m) => m.name);
    console.log(`done in ${(r.durationMs / 1000).toFixed(1)} s${missed.length ? `; targets missed: ${missed.join(", ")}` : ""}`);
  } catch (e) {
    failed++;
    console.log(`FAILED: ${(e as Error).stack ?? e}`);
  }
}
console.log(`report: ${writeReport()}`);
process.exitCode = failed ? 1 : 0;
