// Processes for the benchmarks: resident memory from /proc, the machine's load average, and the
// `hwameistor` CLI / servers started through src/host/runner.ts (the only code that spawns).

import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { run, spawnStream, type StreamHandle } from "../../src/host/runner.ts";
import { sleep } from "./stats.ts";

export const REPO = resolve(import.meta.dirname, "../..");
export const HWAMEISTOR = resolve(REPO, "bin/hwameistor");
export const HWAMEICTL = resolve(REPO, "bin/hwameictl");
/** The node flags on the launcher's interpreter line (`#!/usr/bin/env -S node FLAGS`): what every daemon runs with. */
export const LAUNCHER_NODE_FLAGS: string[] = readFileSync(HWAMEISTOR, "utf8")
  .split("\n", 1)[0]!
  .split(/\s+/)
  .filter((w) => w.startsWith("--"));

export interface Rss {
  /** VmRSS, bytes. */
  rss: number;
  /** VmHWM (peak resident since start), bytes. */
  hwm: number;
}

/** VmRSS and VmHWM of a live process, or undefined when it is gone. */
export function rssOf(pid: number): Rss | undefined {
  const s = statusOf(pid);
  return s && { rss: s.rss, hwm: s.hwm };
}

/** Memory lines of /proc/<pid>/status, bytes: VmRSS, VmHWM, RssAnon, RssFile. */
function statusOf(pid: number): { rss: number; hwm: number; anon: number; file: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon"), file: kb("RssFile") };
}

/** 1-minute load average (what readers need to judge the noise of a run), two decimals. */
export const load1 = (): number => Number(loadavg()[0]!.toFixed(2));

/** A process at its highest sampled VmRSS: what of it was anonymous memory and V8 heap then. */
export interface RssPeak {
  /** VmRSS, bytes. */
  rss: number;
  /** RssAnon: the V8 heap plus native memory (malloc, thread stacks). */
  anon: number;
  /** RssFile: the node binary's and the libraries' pages. */
  file: number;
  /** V8's heap (nodejs_heap_size_total_bytes / _used_bytes of the process's /metrics) at most one poll before. */
  heapTotal?: number;
  heapUsed?: number;
  /** Open sockets (fds) at that moment. */
  sockets: number;
}

function socketsOf(pid: number): number {
  let n = 0;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n++;
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* gone */
  }
  return n;
}

/**
 * Samples VmRSS of the given pids every `everyMs` until stopped; returns each pid's highest sample, with its
 * anonymous and file-backed parts and its open sockets. For the pids with a /metrics URL (`metrics`, e.g.
 * the dev cluster's controller and node agents) V8's heap is polled every 500 ms as well, so the peak can be
 * split into heap and native (anonymous − heap) without stopping the process.
 */
export function sampleRss(pids: Record<string, number>, o: { everyMs?: number; metrics?: Record<string, string> } = {}): { stop(): Record<string, RssPeak> } {
  const peak: Record<string, RssPeak> = {};
  const heap: Record<string, { total: number; used: number }> = {};
  const tick = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const r = statusOf(pid);
      if (!r || r.rss <= (peak[name]?.rss ?? 0)) continue;
      peak[name] = { rss: r.rss, anon: r.anon, file: r.file, heapTotal: heap[name]?.total, heapUsed: heap[name]?.used, sockets: socketsOf(pid) };
    }
  };
  let stopped = false;
  const pollHeap = async () => {
    while (!stopped) {
      await Promise.all(
        Object.entries(o.metrics ?? {}).map(async ([name, url]) => {
          const text = await fetch(url, { signal: AbortSignal.timeout(2000) })
            .then((r) => r.text())
            .catch(() => "");
          const v = (m: string) => Number(new RegExp(`^${m} (\\S+)`, "m").exec(text)?.[1] ?? NaN);
          if (text) heap[name] = { total: v("nodejs_heap_size_total_bytes"), used: v("nodejs_heap_size_used_bytes") };
        }),
      );
      await sleep(500);
    }
  };
  const polling = pollHeap();
  tick();
  const t = setInterval(tick, o.everyMs ?? 200);
  return {
    stop() {
      stopped = true;
      void polling;
      clearInterval(t);
      tick();
      return peak;
    },
  };
}

/** "anon 140 (V8 heap 95 committed, 80 in use; native ≈ 45) + files 44 MiB, 37 sockets": a peak, for a note. */
export function describePeak(p: RssPeak | undefined): string {
  if (!p) return "not sampled";
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  const heap =
    p.heapTotal !== undefined && Number.isFinite(p.heapTotal)
      ? ` (V8 heap ${mb(p.heapTotal)} committed, ${mb(p.heapUsed ?? NaN)} in use; native ≈ ${mb(Math.max(0, p.anon - p.heapTotal))})`
      : "";
  return `at the peak: anonymous ${mb(p.anon)}${heap} + file pages ${mb(p.file)} MiB, ${p.sockets} sockets open`;
}

/** Runs `bin/hwameistor ARGS` to completion and returns stdout (throws CommandError on failure). */
export async function hwameistor(args: string[], timeoutMs: number, env?: Record<string, string>): Promise<string> {
  return (await run([HWAMEISTOR, ...args], { timeoutMs, cwd: REPO, env })).stdout;
}

/**
 * Environment that makes every node process started under it write a diagnostic report (Node's
 * `--report-on-signal`: V8 heap figures, no heap snapshot, no GC) into `dir` on SIGUSR2 — so the benchmark can
 * split a daemon's memory into heap and native without code in the daemon. Nothing in hwameistor uses SIGUSR2.
 */
export const reportEnv = (dir: string): Record<string, string> => ({ NODE_OPTIONS: `--report-on-signal --report-signal=SIGUSR2 --report-directory=${dir}` });

/** Where a process's resident memory is, bytes. */
export interface MemoryBreakdown {
  rss: number;
  /** Pages of the `node` executable itself (text, read-only data; file-backed and shared by every node process). */
  nodeBinary: number;
  /** Other file-backed pages (shared libraries, native addons). */
  otherFiles: number;
  /** V8's committed heap (every space, live objects and garbage not collected yet). */
  heapCommitted: number;
  /** V8 heap in use when the report was written (no GC first: includes garbage). */
  heapUsed: number;
  /** Memory V8 was told about outside its heap (Buffers, ArrayBuffers). */
  external: number;
  /** Anonymous memory that is not the V8 heap: malloc arenas (C++ objects, Buffers, SQLite, nghttp2), thread stacks. */
  native: number;
}

/**
 * Memory of a node process started under reportEnv(dir): /proc/<pid>/smaps by mapping, and V8's heap from
 * the diagnostic report it writes on SIGUSR2. Undefined when the process is gone or wrote no report in 10 s.
 */
export async function memoryBreakdown(pid: number, dir: string): Promise<MemoryBreakdown | undefined> {
  let smaps: string;
  let exe: string;
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, "utf8");
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
  let rss = 0;
  let anon = 0;
  let nodeBinary = 0;
  let path = "";
  for (const line of smaps.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) path = head[1]!;
    else if (line.startsWith("Rss:")) {
      const b = Number(line.split(/\s+/)[1]) * 1024;
      rss += b;
      if (path === exe) nodeBinary += b;
    } else if (line.startsWith("Anonymous:")) anon += Number(line.split(/\s+/)[1]) * 1024;
  }
  const mine = (f: string) => f.startsWith("report.") && f.includes(`.${pid}.`);
  const before = new Set(readdirSync(dir).filter(mine));
  try {
    process.kill(pid, "SIGUSR2");
  } catch {
    return undefined;
  }
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
    const f = readdirSync(dir).find((x) => mine(x) && !before.has(x));
    if (!f) continue;
    let heap: { totalCommittedMemory: number; usedMemory: number; externalMemory: number };
    try {
      heap = (JSON.parse(readFileSync(`${dir}/${f}`, "utf8")) as { javascriptHeap: typeof heap }).javascriptHeap;
    } catch {
      continue; // still being written
    }
    return {
      rss,
      nodeBinary,
      otherFiles: rss - anon - nodeBinary,
      heapCommitted: heap.totalCommittedMemory,
      heapUsed: heap.usedMemory,
      external: heap.externalMemory,
      native: Math.max(0, anon - heap.totalCommittedMemory),
    };
  }
  return undefined;
}

/** "node binary 46 + heap 31 (24 used) + native 17 + files 4 MiB": the parts of a breakdown, for a note. */
export function describeMemory(m: MemoryBreakdown): string {
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  return `node binary ${mb(m.nodeBinary)} (shared file pages) + V8 heap ${mb(m.heapCommitted)} committed (${mb(m.heapUsed)} in use, external ${mb(m.external)}) + native ${mb(m.native)} (malloc, stacks) + other files ${mb(m.otherFiles)} MiB`;
}

/** A long-running `bin/hwameistor` server; resolves once `ready(line)` sees its ready line on stdout. */
export async function startServer(
  args: string[],
  ready: (line: string) => boolean,
  timeoutMs = 60_000,
  /** Another checkout's launcher (a baseline build), and environment for the child. */
  o: { repo?: string; env?: Record<string, string> } = {},
): Promise<{ h: StreamHandle; line: string }> {
  let readyLine: string | undefined;
  const repo = o.repo ?? REPO;
  const h = spawnStream(
    [resolve(repo, "bin/hwameistor"), ...args],
    (line) => {
      if (readyLine === undefined && ready(line)) readyLine = line;
    },
    { cwd: repo, env: o.env },
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
 * runs daemons: LAUNCHER_NODE_FLAGS), or nothing: RSS and the V8 heap (used, committed) after a GC, so a
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
  const argv = [process.execPath, "--expose-gc", ...LAUNCHER_NODE_FLAGS, "--input-type=module", "-e", code, ...(module ? [module] : [])];
  const { stdout } = await run(argv, { timeoutMs: 60_000, cwd: REPO });
  return JSON.parse(stdout.trim().split("\n").pop()!) as ImportMemory;
}
