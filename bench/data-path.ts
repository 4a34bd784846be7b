// Data-path benchmark: fio 4k random read and write at depth 32 and 1 MiB sequential write (direct I/O,
// libaio) on the raw loop device a pool disk is, against a replica of each engine configuration, side by side
// in one run, interleaved (every rep runs every test on every configuration, rotating the order), medians
// reported with each ratio volume/raw (target >= 0.9). Also measured: pool creation time and the reflink clone
// time of a filled 1 GiB replica, for the two pool filesystems the file engine can use (btrfs, XFS).
//
// Configurations (every disk a loop device over a sparse file in one temp dir, as in a dev cluster):
//   raw          a loop disk, no pool (the baseline: what a pool disk delivers)
//   file-btrfs   file engine, btrfs over 2 disks, NOCOW volume files (the default)
//   file-xfs     file engine, XFS with reflink on 1 disk
//   file-btrfs-cow  file engine, btrfs with copy-on-write volume files (what NOCOW buys)
//   lvm-window   lvm engine without device-mapper: an LV reached through a loop window over its PV
// Everything is removed in `finally`, also on failure.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StoragePools } from "../src/api/names.ts";
import { runFio, type FioJob } from "../src/host/fio/fio.ts";
import { cloneFile } from "../src/host/fs/reflink.ts";
import { attachLoop, createSparseFile, type LoopDevice } from "../src/host/loop/loop.ts";
import * as lvm from "../src/host/lvm/lvm.ts";
import { run } from "../src/host/runner.ts";
import { FileEngine } from "../src/node/engines/file/file-engine.ts";
import { cleanupUnder } from "../src/node/engines/host-test-helpers.ts";
import { LvmEngine } from "../src/node/engines/lvm/lvm-engine.ts";
import type { StorageEngine } from "../src/node/engines/engine.ts";
import { machineFacts, metric, type CaseResult, type Metric } from "./lib/report.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const POOL = StoragePools.HDD;
const VOLUME_BYTES = GiB;

interface Target {
  name: string;
  dev: string;
}

const TESTS = [
  { key: "seqwrite_1m", rw: "write", bs: MiB, unit: "MB/s", pick: (r: Awaited<ReturnType<typeof runFio>>) => r.write.bwBytesPerSec / 1e6 },
  { key: "randwrite_4k_qd32", rw: "randwrite", bs: 4096, unit: "IOPS", pick: (r: Awaited<ReturnType<typeof runFio>>) => r.write.iops },
  { key: "randread_4k_qd32", rw: "randread", bs: 4096, unit: "IOPS", pick: (r: Awaited<ReturnType<typeof runFio>>) => r.read.iops },
] as const;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

export async function benchDataPath({ quick }: { quick: boolean }): Promise<CaseResult> {
  const started = Date.now();
  const reps = quick ? 2 : 3;
  const runtimeSec = quick ? 5 : 15;
  const dir = await mkdtemp(join(tmpdir(), "hw-bench-datapath-"));
  const linkRoot = `/dev/hwbench-${process.pid}`;
  const vgSuffix = `_b${process.pid}`;
  const metrics: Metric[] = [];
  const disk = async (name: string, bytes: number): Promise<LoopDevice> => {
    await createSparseFile(join(dir, `${name}.img`), bytes);
    return attachLoop(join(dir, `${name}.img`));
  };

  try {
    // ---- setup: one engine instance (own state dir and link root) per configuration
    const raw = await disk("raw", VOLUME_BYTES + 256 * MiB);
    const engines: Array<{ name: string; engine: StorageEngine; disks: LoopDevice[]; fs?: string }> = [
      { name: "file-btrfs", engine: new FileEngine({ stateDir: join(dir, "s-btrfs"), devLinkRoot: join(linkRoot, "btrfs") }), disks: [await disk("b1", GiB), await disk("b2", GiB)], fs: "btrfs" },
      { name: "file-xfs", engine: new FileEngine({ stateDir: join(dir, "s-xfs"), devLinkRoot: join(linkRoot, "xfs"), fsType: "xfs" }), disks: [await disk("x1", VOLUME_BYTES + 256 * MiB)], fs: "xfs" },
      {
        name: "file-btrfs-cow",
        engine: new FileEngine({ stateDir: join(dir, "s-cow"), devLinkRoot: join(linkRoot, "cow"), noCow: false }),
        disks: [await disk("c1", GiB), await disk("c2", GiB)],
      },
      { name: "lvm-window", engine: new LvmEngine({ devLinkRoot: join(linkRoot, "lvm"), vgSuffix }), disks: [await disk("l1", VOLUME_BYTES + 256 * MiB)] },
    ];
    const targets: Target[] = [{ name: "raw", dev: raw.name }];
    for (const e of engines) {
      const [, createMs] = await timed(() => e.engine.ensurePool(POOL, "HDD", e.disks.map((d) => d.name)));
      if (e.fs) metrics.push(metric(`pool_create_${e.name}_${e.disks.length}disk`, Math.round(createMs), "ms", undefined, "ensurePool: mkfs + mount + stats"));
      const r = await e.engine.createReplica(POOL, "pvc-bench", VOLUME_BYTES);
      if (!r.active) throw new Error(`${e.name}: replica not active: ${r.inactiveReason}`);
      targets.push({ name: e.name, dev: r.devPath });
    }

    // ---- pre-fill every target once, so reads hit written blocks everywhere (a hole reads as free zeros)
    for (const t of targets) {
      await runFio({ name: "prefill", filename: t.dev, rw: "write", blockSizeBytes: MiB, iodepth: 16, runtimeSec: 120, sizeBytes: VOLUME_BYTES, timeBased: false });
    }

    // ---- interleaved reps
    const samples = new Map<string, number[]>();
    for (let rep = 0; rep < reps; rep++) {
      for (const test of TESTS) {
        const order = targets.map((_, i) => targets[(i + rep) % targets.length]!);
        for (const t of order) {
          const job: FioJob = { name: test.key, filename: t.dev, rw: test.rw, blockSizeBytes: test.bs, iodepth: 32, runtimeSec, sizeBytes: VOLUME_BYTES };
          const v = test.pick(await runFio(job));
          process.stderr.write(`data-path rep ${rep + 1}/${reps} ${test.key} ${t.name}: ${Math.round(v)} ${test.unit}\n`);
          const k = `${test.key}:${t.name}`;
          samples.set(k, [...(samples.get(k) ?? []), v]);
        }
      }
    }
    for (const test of TESTS) {
      const rawMed = median(samples.get(`${test.key}:raw`)!);
      metrics.push(metric(`${test.key}_raw`, Math.round(rawMed), test.unit, undefined, `samples ${samples.get(`${test.key}:raw`)!.map(Math.round).join(", ")}`));
      const rawS = samples.get(`${test.key}:raw`)!;
      for (const t of targets.slice(1)) {
        const s = samples.get(`${test.key}:${t.name}`)!;
        const med = median(s);
        metrics.push(metric(`${test.key}_${t.name}`, Math.round(med), test.unit, undefined, `samples ${s.map(Math.round).join(", ")}`));
        // The ratio is the median of per-rep ratios (each volume sample over the raw sample of the same rep,
        // taken minutes apart at most), which cancels slow drift of a shared machine better than med/med.
        const paired = s.map((v, i) => v / rawS[i]!);
        metrics.push(
          metric(`${test.key}_${t.name}_ratio`, Number(median(paired).toFixed(3)), "x raw", ">= 0.9", `per rep ${paired.map((r) => r.toFixed(2)).join(", ")}; medians ratio ${(med / rawMed).toFixed(2)}`),
        );
      }
    }

    // ---- reflink clone of the filled (and fio-fragmented) 1 GiB replica
    // (FICLONE of the image file itself: the engine's cloneReplica would also need 1 GiB of unpromised space.)
    for (const e of engines.filter((x) => x.fs)) {
      const vols = join((await e.engine.poolStats(POOL)).path, "volumes");
      const [, ms] = await timed(() => cloneFile(join(vols, "pvc-bench.img"), join(vols, "bench-clone.img")));
      metrics.push(metric(`clone_1GiB_${e.name}`, Number(ms.toFixed(1)), "ms", undefined, "FICLONE of the filled, fio-fragmented 1 GiB replica file"));
      await rm(join(vols, "bench-clone.img"));
    }
    for (const e of engines) await e.engine.deleteReplica(POOL, "pvc-bench").catch(() => undefined);
  } finally {
    await run(["vgremove", "--config", lvm.NO_ACTIVATION_CONFIG, "-ff", "-y", POOL + vgSuffix], { env: { LVM_SUPPRESS_FD_WARNINGS: "1" } }).catch(() => undefined);
    await cleanupUnder(dir, linkRoot);
  }

  return {
    case: "data-path",
    title: "Data path: fio on a replica vs. the raw loop disk under the pool",
    mode: quick ? "quick" : "full",
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    machine: machineFacts(),
    params: { reps, runtimeSec, volumeBytes: VOLUME_BYTES, iodepth: 32, ioengine: "libaio", direct: true },
    metrics,
  };
}
