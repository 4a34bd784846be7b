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
  const h = spawnStream(
    [HWAMEISTOR, ...args],
    (line) => {
      if (readyLine === undefined && ready(line)) readyLine = line;
    },
    { cwd: REPO },
  );
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
export interface ImportMemory {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
}

/**
 * What a process costs after importing `module` (a built file under dist/, run by plain node as the launcher
 * runs daemons: 1 MiB semi-space), or nothing: RSS and the V8 heap (used, committed) after a GC, so a
 * report can split resident memory into live heap, committed heap and native.
 */
export async function importMemory(module?: string): Promise<ImportMemory> {
  const code = [
    "const m = process.argv[1];",
    "if (m) await import(m);",
    "await new Promise((r) => setTimeout(r, 1500));",
    "globalThis.gc?.();",
    "const u = process.memoryUsage();",
    "process.stdout.write(JSON.stringify({ rssBytes: u.rss, heapUsedBytes: u.heapUsed, heapTotalBytes: u.heapTotal, externalBytes: u.external }) + '\\n');",
  ].join("\n");
  const argv = [process.execPath, "--expose-gc", "--max-semi-space-size=1", "--input-type=module", "-e", code, ...(module ? [module] : [])];
  const { stdout } = await run(argv, { timeoutMs: 60_000, cwd: REPO });
  return JSON.parse(stdout.trim().split("\n").pop()!) as ImportMemory;
}
