// Reads the Prometheus text exposition format (what /metrics serves) and runs Debian's promtool on it.
// eslint-disable-next-line no-restricted-imports -- tests run the real promtool
import { execFile } from "node:child_process";

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a /metrics body (enough of the format for our exporters: no timestamps, escaped label values). */
export function parseExposition(text: string): { samples: PromSample[]; types: Map<string, string> } {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let l; (l = re.exec(m[3] ?? ""));) labels[l[1]!] = l[2]!.replace(/\\"/g, '"').replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return { samples, types };
}

/** `promtool check metrics` on a body: its exit code and findings (one per line). */
export function promtoolCheckMetrics(body: string): Promise<{ code: number; findings: string[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile("promtool", ["check", "metrics"], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && typeof (err as any).code !== "number") return reject(err);
      const findings = `${stdout}\n${stderr}`
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
      resolve({ code: err ? ((err as any).code as number) : 0, findings });
    });
    child.stdin!.end(body);
  });
}

/** promtool's lint of the original's camelCase label names (kept for compatibility, docs/compatibility.md). */
export const CAMEL_CASE_FINDING = /^(\S+) label names should be written in 'snake_case' not 'camelCase'$/;
