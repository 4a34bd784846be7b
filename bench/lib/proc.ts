// Processes for the benchmarks: resident memory from /proc, the machine's load average, and the
// `hwameistor` CLI / servers started through src/host/runner.ts (the only code that spawns).

import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { run, spawnStream, type StreamHandle } from "../../src/host/runner.ts";
import { sleep } from "./stats.ts";

export const REPO = resolve(import.meta.dirname, "../..");
export const HWAMEISTOR = resolve(REPO, "bin/hwameistor");
export const HWAMEICTL = resolve(REPO, "bin/hwameictl");

export interface Rss {
  /** VmRSS, bytes. */
  rss: number;
  /** VmHWM (peak resident since start), bytes. */
  hwm: number;
}

/** VmRSS and VmHWM of a live process, or undefined when it is gone. */
export function rssOf(pid: number): Rss | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** 1-minute load average (what readers need to judge the noise of a run), two decimals. */
export const load1 = (): number => Number(loadavg()[0]!.toFixed(2));

/** Samples VmRSS of the given pids every `everyMs` until stopped; returns the maximum seen per pid. */
export function sampleRss(pids: Record<string, number>, everyMs = 200): { stop(): Record<string, number> } {
  const max: Record<string, number> = {};
  const tick = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const r = rssOf(pid);
      if (r && !(r.rss <= (max[name] ?? 0))) max[name] = r.rss;
    }
  };
  tick();
  const t = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(t);
      tick();
      return max;
    },
  };
}

/** Runs `bin/hwameistor ARGS` to completion and returns stdout (throws CommandError on failure). */
export async function hwameistor(args: string[], timeoutMs: number): Promise<string> {
  return (await run([HWAMEISTOR, ...args], { timeoutMs, cwd: REPO })).stdout;
}

/** A long-running `bin/hwameistor` server; resolves once `ready(line)` sees its ready line on stdout. */
export async function startServer(args: string[], ready: (line: string) => boolean, timeoutMs = 60_000): Promise<{ h: StreamHandle; line: string }> {
  let readyLine: string | undefined;
  const h = spawnStream([HWAMEISTOR, ...args], (line) => {
    if (readyLine === undefined && ready(line)) readyLine = line;
  }, { cwd: REPO });
  let exited: string | undefined;
  h.done.then((r) => (exited = `exited ${r.exitCode ?? r.signal}: ${r.stderr}`)).catch((e) => (exited = String(e)));
  const deadline = Date.now() + timeoutMs;
  while (readyLine === undefined) {
    if (exited) throw new Error(`hwameistor ${args[0]} ${exited}`);
    if (Date.now() > deadline) {
      await h.stop();
      throw new Error(`hwameistor ${args[0]} printed no ready line within ${timeoutMs / 1000} s`);
    }
    await sleep(50);
  }
  return { h, line: readyLine };
}

/** Resident memory of a fresh `node --import tsx` process after importing `module` (none: the runtime alone). */
export async function importRss(module?: string): Promise<number> {
  const probe = resolve(REPO, "bench/lib/rss-probe.ts");
  const { stdout } = await run([process.execPath, "--import", "tsx", probe, ...(module ? [module] : [])], { timeoutMs: 60_000, cwd: REPO });
  return (JSON.parse(stdout.trim().split("\n").pop()!) as { rssBytes: number }).rssBytes;
}
