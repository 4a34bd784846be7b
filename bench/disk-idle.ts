// Disk manager idle cost: what a node agent spends while block devices that are not its own come and go — on
// this shared machine other tests' and agents' loop devices; on a real node any block uevent.
//
// Method: `hwameistor apiserver` + CRDs, then `hwameistor node` (disk manager only: --no-local-storage
// --no-disk-driver; default poll and resync) with two loop disks of its own (`--devices file:<dir>/disks/*.img`).
// Once both LocalDisks are Available and 3 s have passed, a "tenant" attaches a loop device of its own file
// (not selected) and detaches it a second later, every 2 s. Window 1 (60 s; quick 20 s): the agent's CPU time
// (utime+stime from /proc/<pid>/stat) and its waited-for children's (cutime+cstime: lsblk, blkid, udevadm).
// Window 2 (30 s; quick 10 s), same churn: `strace -f -e trace=execve` on the agent counts the lsblk and blkid
// processes it starts (ptrace slows the agent, so no CPU is taken in that window).
// HW_BENCH_SCAN_BASELINE=<checkout of an older commit, with node_modules> measures that checkout's agent first,
// in the same run (the ratio is what to read on a loaded machine). Everything is removed in `finally`.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localDiskKind } from "../src/api/kinds/local-disk.ts";
import { LocalDiskClaimStates } from "../src/api/names.ts";
import { applyCrds } from "../src/devcluster/bootstrap.ts";
import { attachLoop, createSparseFile, detachLoop } from "../src/host/loop/loop.ts";
import { spawnStream, type StreamHandle } from "../src/host/runner.ts";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeConfig } from "../src/kube/config.ts";
import { REPO, startServer } from "./lib/proc.ts";
import { machineFacts, metric, type CaseResult, type Metric } from "./lib/report.ts";
import { round, sleep } from "./lib/stats.ts";

const MiB = 2 ** 20;
const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime+stime and cutime+cstime of a process, seconds. */
function cpuOf(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
  const n = (field: number) => Number(f[field - 3]);
  return { self: (n(14) + n(15)) / TICKS_PER_S, children: (n(16) + n(17)) / TICKS_PER_S };
}

/** Attach and detach a loop device of `file` every 2 s until stop() (the device is detached at the end). */
function churn(file: string): { stop(): Promise<number> } {
  let stopped = false;
  let cycles = 0;
  const loop = (async () => {
    while (!stopped) {
      const lo = await attachLoop(file);
      await sleep(1000);
      await detachLoop(lo.name);
      cycles++;
      await sleep(1000);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return cycles;
    },
  };
}

interface Sample {
  label: string;
  cpuSelf: number;
  cpuChildren: number;
  cycles: number;
  lsblk: number;
  blkid: number;
  windowS: number;
  countWindowS: number;
}

async function measureAgent(label: string, repo: string, kubeconfig: string, dir: string, quick: boolean): Promise<Sample> {
  const client = new KubeClient(loadKubeConfig({ kubeconfigPath: kubeconfig }).kubeConfig, { userAgent: "hwameistor-bench", timeoutMs: 5000 });
  const lds = client.forKind(localDiskKind);
  const base = join(dir, label);
  const disksDir = join(base, "disks");
  mkdirSync(disksDir, { recursive: true });
  const loops: string[] = [];
  let agent: StreamHandle | undefined;
  let tracer: StreamHandle | undefined;
  try {
    for (const d of ["a", "b"]) {
      const f = join(disksDir, `${d}.img`);
      await createSparseFile(f, 256 * MiB);
      loops.push((await attachLoop(f)).name);
    }
    const node = `idle-${label}`;
    const stateDir = join(base, "state");
    const started = await startServer(
      [
        "node",
        "--node-name",
        node,
        "--kubeconfig",
        kubeconfig,
        "--devices",
        `file:${disksDir}/*.img`,
        "--state-dir",
        stateDir,
        "--csi-socket-dir",
        stateDir,
        "--no-local-storage",
        "--no-disk-driver",
      ],
      (l) => l.includes('"ready":true'),
      120_000,
      { repo, env: { HWAMEISTOR_TSX: process.env.HWAMEISTOR_TSX ?? "1" } },
    );
    agent = started.h;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const mine = (await lds.list()).items.filter((d) => (d.spec as { nodeName?: string } | undefined)?.nodeName === node);
      if (mine.length === 2 && mine.every((d) => (d as { status?: { claimState?: string } }).status?.claimState === LocalDiskClaimStates.Available)) break;
      if (Date.now() > deadline) throw new Error(`${label}: the agent's 2 LocalDisks are not Available within 60 s`);
      await sleep(200);
    }
    await sleep(3000);
    const tenant = join(base, "tenant.img");
    await createSparseFile(tenant, 64 * MiB);
    const pid = agent.pid!;

    const windowS = quick ? 20 : 60;
    const c0 = cpuOf(pid);
    const t0 = performance.now();
    let ch = churn(tenant);
    await sleep(windowS * 1000);
    const cycles = await ch.stop();
    const c1 = cpuOf(pid);
    const elapsed = (performance.now() - t0) / 1000;

    const countWindowS = quick ? 10 : 30;
    const traceFile = join(base, "execve.trace");
    tracer = spawnStream(["strace", "-f", "-qq", "-e", "trace=execve", "-e", "status=successful", "-o", traceFile, "-p", String(pid)], () => {});
    await sleep(1000); // attached to every thread
    ch = churn(tenant);
    await sleep(countWindowS * 1000);
    await ch.stop();
    await tracer.stop();
    tracer = undefined;
    const trace = readFileSync(traceFile, "utf8");
    const count = (bin: string) => trace.split("\n").filter((l) => new RegExp(`execve\\("[^"]*/${bin}"`).test(l)).length;
    return {
      label,
      cpuSelf: (c1.self - c0.self) / elapsed,
      cpuChildren: (c1.children - c0.children) / elapsed,
      cycles,
      lsblk: count("lsblk"),
      blkid: count("blkid"),
      windowS: round(elapsed, 1),
      countWindowS,
    };
  } finally {
    await tracer?.stop().catch(() => undefined);
    await agent?.stop(10_000).catch(() => undefined);
    for (const l of loops) await detachLoop(l).catch(() => undefined);
  }
}

export async function benchDiskIdle({ quick }: { quick: boolean }): Promise<CaseResult> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "hw-bench-disk-idle-"));
  let api: StreamHandle | undefined;
  try {
    const s = await startServer(["apiserver", "--data-dir", join(dir, "api"), "--host", "127.0.0.1", "--port", "0"], (l) => l.includes('"kubeconfig"'));
    api = s.h;
    const kubeconfig = (JSON.parse(s.line) as { kubeconfig: string }).kubeconfig;
    const client = new KubeClient(loadKubeConfig({ kubeconfigPath: kubeconfig }).kubeConfig, { userAgent: "hwameistor-bench", timeoutMs: 5000 });
    await applyCrds(client);
    const baseline = process.env.HW_BENCH_SCAN_BASELINE;
    const samples: Sample[] = [];
    if (baseline) samples.push(await measureAgent("baseline", baseline, kubeconfig, dir, quick));
    samples.push(await measureAgent("current", REPO, kubeconfig, dir, quick));
    const metrics: Metric[] = [];
    for (const x of samples) {
      const sfx = baseline ? ` (${x.label})` : "";
      metrics.push(
        metric(
          `agent CPU, own${sfx}`,
          round(x.cpuSelf * 100, 2),
          "% of a core",
          undefined,
          `${x.windowS} s, ${x.cycles} attach+detach cycles of another loop device`,
        ),
        metric(`agent CPU, its commands${sfx}`, round(x.cpuChildren * 100, 2), "% of a core", undefined, "cutime+cstime: lsblk, blkid, udevadm it waited for"),
        metric(`lsblk started per minute${sfx}`, round((x.lsblk * 60) / x.countWindowS, 1), "/min", undefined, `${x.lsblk} in ${x.countWindowS} s (strace)`),
        metric(`blkid started per minute${sfx}`, round((x.blkid * 60) / x.countWindowS, 1), "/min", undefined, `${x.blkid} in ${x.countWindowS} s (strace)`),
      );
    }
    if (baseline && samples.length === 2) {
      const [b, c] = samples as [Sample, Sample];
      const total = (x: Sample) => x.cpuSelf + x.cpuChildren;
      metrics.push(metric("agent CPU (own + commands), current ÷ baseline", round(total(c) / total(b), 3), "ratio"));
    }
    return {
      case: "disk-idle",
      title: "Disk manager at rest while other loop devices come and go",
      mode: quick ? "quick" : "full",
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      machine: machineFacts(),
      params: {
        baseline: baseline ?? null,
        agent: "hwameistor node --no-local-storage --no-disk-driver (disk manager; poll 1 s, resync 30 s), 2 loop disks of its own",
        churn: "attach, 1 s, detach, 1 s",
      },
      metrics,
      notes: [
        "CPU is utime+stime (own) and cutime+cstime (children it waited for) from /proc/<pid>/stat over the window, divided by its length.",
        "Other helpers' block devices come and go on a shared machine too: every agent sees their uevents as well as the tenant's.",
      ],
    };
  } finally {
    await api?.stop(10_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
