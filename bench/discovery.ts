// Discovery benchmark: the time from attaching a loop disk to its LocalDisk being Available
// (spec.state Active, status.claimState Available), with a node agent process against an API server process,
// as in every runtime mode.
//
// Method: start `hwameistor apiserver` (temp data dir, port 0) and apply the CRDs, then `hwameistor node`
// selecting disks by backing file (`--devices file:<dir>/disks/*.img`, so nobody else's loop devices count;
// local storage and the disk driver off: only the disk manager runs). Then, one disk at a time: make a sparse
// 1 GiB file, `losetup` it (timer starts before the attach), and poll the LocalDisks every 20 ms until one
// with that devicePath is Available. The agent learns of a disk from kernel uevents or its /sys/block poll
// (1 s); docs/disk-manager.md. Also reported: the agent's resident memory at rest, before and after.
// Everything is removed in `finally`, also on failure.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localDiskKind } from "../src/api/kinds/local-disk.ts";
import { LocalDiskClaimStates } from "../src/api/names.ts";
import { applyCrds } from "../src/devcluster/bootstrap.ts";
import { attachLoop, createSparseFile, detachLoop } from "../src/host/loop/loop.ts";
import type { StreamHandle } from "../src/host/runner.ts";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeConfig } from "../src/kube/config.ts";
import { rssOf, startServer } from "./lib/proc.ts";
import { machineFacts, metric, percentile, type CaseResult } from "./lib/report.ts";
import { median, minMax, round, sleep } from "./lib/stats.ts";

const GiB = 2 ** 30;

export async function benchDiscovery({ quick }: { quick: boolean }): Promise<CaseResult> {
  const started = Date.now();
  const disks = quick ? 4 : 10;
  const dir = mkdtempSync(join(tmpdir(), "hw-bench-discovery-"));
  const procs: StreamHandle[] = [];
  const loops: string[] = [];
  try {
    const api = await startServer(["apiserver", "--data-dir", join(dir, "api"), "--host", "127.0.0.1", "--port", "0"], (l) => l.includes('"kubeconfig"'));
    procs.push(api.h);
    const kubeconfig = (JSON.parse(api.line) as { kubeconfig: string }).kubeconfig;
    const client = new KubeClient(loadKubeConfig({ kubeconfigPath: kubeconfig }).kubeConfig, { userAgent: "hwameistor-bench", timeoutMs: 5000 });
    await applyCrds(client);
    const lds = client.forKind(localDiskKind);
    for (let i = 0; i < 100; i++) {
      if (
        await lds.list().then(
          () => true,
          () => false,
        )
      )
        break;
      await sleep(50);
    }

    const disksDir = join(dir, "disks");
    mkdirSync(disksDir);
    const nodeDir = join(dir, "node");
    const agent = await startServer(
      [
        "node",
        "--node-name",
        "bench-node",
        "--kubeconfig",
        kubeconfig,
        "--devices",
        `file:${disksDir}/*.img`,
        "--disk-class",
        "HDD",
        "--state-dir",
        nodeDir,
        "--csi-socket-dir",
        nodeDir,
        "--no-local-storage",
        "--no-disk-driver",
      ],
      (l) => l.includes('"ready":true'),
    );
    procs.push(agent.h);
    await sleep(3000); // let start-up work settle before "at rest"
    const rssStart = rssOf(agent.h.pid!)!;

    const ms: number[] = [];
    for (let i = 0; i < disks; i++) {
      const file = join(disksDir, `disk-${i + 1}.img`);
      await createSparseFile(file, GiB);
      const t0 = performance.now();
      const lo = await attachLoop(file);
      loops.push(lo.name);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const found = (await lds.list()).items.find((d) => (d.spec as { devicePath?: string } | undefined)?.devicePath === lo.name) as
          { spec?: { state?: string }; status?: { claimState?: string } } | undefined;
        if (found?.spec?.state === "Active" && found.status?.claimState === LocalDiskClaimStates.Available) break;
        if (Date.now() > deadline) throw new Error(`no Available LocalDisk for ${lo.name} within 60 s (saw ${JSON.stringify(found ?? null)})`);
        await sleep(20);
      }
      ms.push(performance.now() - t0);
      process.stderr.write(`  discovery: ${lo.name} Available after ${Math.round(ms[i]!)} ms\n`);
    }
    await sleep(2000);
    const rssEnd = rssOf(agent.h.pid!)!;
    const sorted = [...ms].sort((a, b) => a - b);
    return {
      case: "discovery",
      title: "Discovery: loop disk attached → LocalDisk Available",
      mode: quick ? "quick" : "full",
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      machine: machineFacts(),
      params: { disks, diskBytes: GiB, pollListMs: 20, agent: "hwameistor node --no-local-storage --no-disk-driver (disk manager only)" },
      metrics: [
        metric("attach → LocalDisk Available, median", round(median(ms)), "ms", undefined, {
          spread: minMax(ms).map((x) => round(x)) as [number, number],
          samples: ms.map((x) => round(x)),
          note: `${disks} disks attached one at a time`,
        }),
        metric("attach → LocalDisk Available, max", round(percentile(sorted, 100)), "ms"),
        metric("node agent RSS at rest (disk manager only), start", round(rssStart.rss / 2 ** 20), "MiB", undefined, "VmRSS 3 s after its ready line"),
        metric(
          "node agent RSS at rest (disk manager only), end",
          round(rssEnd.rss / 2 ** 20),
          "MiB",
          undefined,
          `VmRSS after ${disks} disks; peak (VmHWM) ${round(rssEnd.hwm / 2 ** 20)} MiB`,
        ),
      ],
      notes: [
        "The timer starts before `losetup` and stops when a poll (every 20 ms) first sees the LocalDisk Available, so each figure is at most ~20 ms high.",
      ],
    };
  } finally {
    for (const p of procs.reverse()) await p.stop(10_000).catch(() => undefined);
    for (const l of loops) await detachLoop(l).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
