// Migration benchmark: the online migration copy (src/node/migrate/stream.ts + precopy.ts, the bytes moved by the
// native copier hwameistor-copy, dataplane/src/copier*.c) against the target disk's own sequential write, in the
// same run, and the data part of the cut-over pause.
//
// Two "nodes" on this machine: two file-engine pools (the default filesystem), each on its own loop disk. The
// target's disk is a file on the machine's disk; the source's is a file in /dev/shm: two nodes have two disks, and
// this machine has one, which the source's reads would otherwise take from the target's writes (measured: a
// sequential read and a sequential write at once each get about half of what they get alone).
// HW_BENCH_MIG_SAME_DISK=1 puts both on the machine's disk. A replica of SIZE (4 GiB full, 1 GiB quick) is created
// on the source and half filled with random data (fio, 1 MiB sequential). Then, in pairs, each copy right after
// its own disk run:
//   1. the disk: the target replica zeroed as the receiver zeroes it, then fio writes the bytes round 0 writes
//      (SIZE/2, the filled half, from offset 0), 1 MiB, QD32 (the copier's buffers), O_DIRECT, io_uring, and one
//      fsync inside its measured time (the copy's round ends with fdatasync): the same bytes, same device, same
//      durability (docs/benchmarks.md "migration" argues it);
//   2. the online copy, serveDevice (pre-copy from reflink clones) on 127.0.0.1 → receiveDevice into the target
//      replica, while a writer (the "pod") writes 64 KiB at random offsets through the source device every 10 ms.
//      Round 0 copies every chunk with data; each later round the chunks the writer changed. Once a round's
//      delta is small, the writer stops (the pod is stopped) and the final round runs: clone, FIEMAP diff,
//      send, target write + fdatasync, comparison of the whole chunk-CRC tables; then the target agent's on-disk
//      verification: a reflink clone of the target (the freeze, in the pause) re-read whole with O_DIRECT (after
//      the target went live on a cluster: not in the pause), its digest equal to the copy's.
//   3. (another pair) the same copy with HWAMEISTOR_COPY_READ_BACK=1 (every written chunk read back and checked).
// Reported: round-0 throughput (bytes of data / time until written, fsynced and their CRCs checked on the target)
// and its ratio to the disk run right before it (target ≥ 0.8), median and min-max over the pairs; rounds and
// their bytes; the final round (the data part of the cut-over pause, target < 2 s; on a cluster the pause adds
// stopping the pod and starting it on the target — the e2e reports that). After every copy both replicas are
// re-read whole (O_DIRECT) and their chunk tables compared.
// Loopback TCP, not a network. Everything is removed in `finally`, also on failure.
// Repetitions: HW_BENCH_MIG_REPS (default 3 quick, 5 full) of the pairs (the order of the variants alternates).
// Side by side with another copier build: HW_BENCH_COPY_BASELINE=<hwameistor-copy binary> adds a pair per
// repetition with that build, so "before" and "after" are measured under the same load.
// HW_BENCH_MIG_READ_BACK=0 leaves the read-back pairs out.

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, open } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { StoragePools } from "../src/api/names.ts";
import { zeroOutDevice } from "../src/host/blkdev.ts";
import { runFio } from "../src/host/fio/fio.ts";
import { attachLoop, createSparseFile } from "../src/host/loop/loop.ts";
import { FileEngine } from "../src/node/engines/file/file-engine.ts";
import { cleanupUnder, until } from "../src/node/engines/host-test-helpers.ts";
import { backingFileOf } from "../src/node/migrate/precopy.ts";
import { freezeTarget, onDiskChecksum, releaseFrozen } from "../src/node/migrate/verify.ts";
import { CHUNK_BYTES, checksumOf, newToken, receiveDevice, serveDevice, type RoundReport } from "../src/node/migrate/stream.ts";
import { machineFacts, metric, type CaseResult } from "./lib/report.ts";
import { median, minMax, round } from "./lib/stats.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const POOL = StoragePools.HDD;
/** A round whose delta is below this ends the pre-copy (the pod is stopped, the final round runs). */
const SMALL_DELTA = 32 * MiB;
/** Or after this many rounds, as the node agent does (src/node/migrate/sync.ts): a writer faster than a round can
 * copy its changes (the source in /dev/shm syncs at once) would keep the pre-copy going forever. */
const LAST_PRECOPY_ROUND = 8;
const COPIER =
  "hwameistor-copy: two threads per side (source: read + CRC32C | send; target: receive + CRC32C | write), 32 buffers of 1 MiB per side, O_DIRECT via io_uring with registered buffers";

/** A copier's round: time in socket calls, waiting for disk completions, in io_uring submissions; its CPU time. */
const spent = (x: RoundReport | undefined): string => {
  if (!x) return "?";
  const threads = Object.entries(x.threads ?? {}).map(([k, [cpu, runq]]) => `${k} thread CPU ${cpu} ms + runnable-waiting ${runq} ms`);
  const queues = Object.entries(x.queueWaitMs ?? {}).map(([k, v]) => `${k} ${v} ms`);
  return [
    `socket ${x.netWaitMs ?? "?"} ms, disk waits ${x.ioWaitMs ?? "?"} ms, submissions ${x.submitMs ?? "?"} ms, process CPU so far ${x.cpuMs ?? "?"} ms`,
    ...threads,
    ...queues,
  ].join(", ");
};

/** The whole machine's CPU (/proc/stat, every process and kernel thread), sampled every 50 ms during a copy: how
 * much of the shared cores round 0 had — near all of them means the copy is CPU-bound here. */
function cpuSampler() {
  const samples: { t: number; busy: number; total: number }[] = [];
  const take = () => {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    samples.push({ t: performance.now(), busy: total - f[3]! - f[4]!, total }); // idle and iowait are not busy
  };
  take();
  const timer = setInterval(take, 50);
  return {
    stop: () => (clearInterval(timer), take()),
    /** Cores busy on average between two performance.now() times. */
    coresBusy(from: number, to: number): number {
      const a = samples.findLast((x) => x.t <= from) ?? samples[0]!;
      const b = samples.find((x) => x.t >= to) ?? samples[samples.length - 1]!;
      return b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * cpus().length : NaN;
    },
  };
}

interface CopyRun {
  rounds: RoundReport[];
  /** Cores of the machine busy (all processes) during round 0. */
  round0CoresBusy: number;
  received: Awaited<ReturnType<typeof receiveDevice>>;
  writes: number;
  /** Round 0: bytes with data / its time (until the target wrote and flushed them, re-read and checked with read-back). */
  bps: number;
  /** The on-disk verification (src/node/migrate/verify.ts): the freeze (a reflink clone of the target, in the
   * pause) and the re-read of the frozen state (after the target went live: not in the pause), ms. */
  freezeMs: number;
  diskReadMs: number;
}

/** A way to copy: another copier build, read-back on or off. */
interface Variant {
  name: string;
  bin?: string;
  readBack?: boolean;
}

let copies = 0;

/** One online copy of `srcDev` into `dstDev` while a writer writes into the source, then verified whole. */
async function copyOnce(srcDev: string, dstDev: string, size: number, v: Variant): Promise<CopyRun> {
  const was = { bin: process.env.HWAMEISTOR_COPY_BIN, readBack: process.env.HWAMEISTOR_COPY_READ_BACK };
  if (v.bin) process.env.HWAMEISTOR_COPY_BIN = v.bin;
  process.env.HWAMEISTOR_COPY_READ_BACK = v.readBack ? "1" : "0";
  try {
    const file = await backingFileOf(srcDev);
    if (!file) throw new Error(`${srcDev} is not a loop device over a volume file`);
    // The pod: 64 KiB writes at random 4 KiB-aligned offsets of the filled half, every 10 ms, synced.
    let stopWriter = false;
    let writes = 0;
    const writer = (async () => {
      const fh = await open(srcDev, "r+");
      try {
        while (!stopWriter) {
          await fh.write(randomBytes(64 * 1024), 0, 64 * 1024, Math.floor((Math.random() * (size / 2 - 64 * 1024)) / 4096) * 4096);
          await fh.datasync();
          writes++;
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        await fh.close();
      }
    })();
    const token = newToken();
    const rounds: RoundReport[] = [];
    let round0End = 0;
    let final = false;
    let sourceChecksum = "";
    const server = await serveDevice({
      host: "127.0.0.1",
      devPath: srcDev,
      token,
      // Its own tag per copy: a finished stream sweeps its clones by tag after it ended, maybe while the next runs.
      precopy: { file, tag: `bench${copies++}` },
      isFinal: () => final,
      onRound: (r) => {
        rounds.push(r);
        if (r.round === 0) round0End = performance.now();
        if (r.round >= 1 && (r.bytes < SMALL_DELTA || r.round >= LAST_PRECOPY_ROUND) && !stopWriter) {
          stopWriter = true;
          void writer.then(() => (final = true));
        }
      },
      onDone: (r) => (sourceChecksum = r.checksum),
      onError: () => undefined,
    });
    let received;
    const machine = cpuSampler();
    try {
      received = await receiveDevice({ host: "127.0.0.1", port: server.port, token, devPath: dstDev });
      await until(() => sourceChecksum !== "", "the source's confirmation");
    } finally {
      stopWriter = true;
      await writer;
      await server.close();
      machine.stop();
    }
    if (sourceChecksum !== received.checksum) throw new Error(`checksums differ: source ${sourceChecksum}, target ${received.checksum}`);
    // The target agent's on-disk verification, as sync.ts runs it after the final round.
    const frozen = await freezeTarget(dstDev, String(copies));
    if (!frozen.file) throw new Error(`${dstDev}: no reflink clone of the target (the verification would re-read the device in the pause)`);
    const disk = await onDiskChecksum(frozen, size, CHUNK_BYTES).finally(() => releaseFrozen(frozen.file!));
    if (disk.checksum !== received.checksum) throw new Error(`the target's disk read back ${disk.checksum}, the copy ${received.checksum}`);
    const whole = await checksumOf(dstDev, size);
    if (whole !== (await checksumOf(srcDev, size))) throw new Error("a whole re-read of both replicas differs after the copy");
    return {
      rounds,
      round0CoresBusy: machine.coresBusy(round0End - rounds[0]!.ms, round0End),
      received,
      writes,
      bps: rounds[0]!.bytes / (rounds[0]!.ms / 1000),
      freezeMs: frozen.ms,
      diskReadMs: disk.ms,
    };
  } finally {
    for (const [k, x] of [
      ["HWAMEISTOR_COPY_BIN", was.bin],
      ["HWAMEISTOR_COPY_READ_BACK", was.readBack],
    ] as const)
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
  }
}

/** Both copier processes' CPU time up to the end of round 0 (their own counters), per MiB it wrote: what the
 * copy costs the two shared cores, far less sensitive to the machine's load than its throughput. */
const cpuPerMiB = (r: CopyRun): number => ((r.rounds[0]?.cpuMs ?? NaN) + (r.received.rounds[0]?.cpuMs ?? NaN)) / (r.rounds[0]!.bytes / MiB);
/** The same for round 0 alone: the copiers' threads' CPU during it (their schedstat, per round), without each
 * process's start-up (faulting in and registering its 32 MiB of buffers: up to 0.1 ms/MiB more, varying run to run
 * on this VM) — the steadier number to tell two builds apart by. */
const threadsCpu = (x: RoundReport | undefined): number => Object.values(x?.threads ?? {}).reduce((a, [cpu]) => a + cpu, 0) || NaN;
const round0CpuPerMiB = (r: CopyRun): number => (threadsCpu(r.rounds[0]) + threadsCpu(r.received.rounds[0])) / (r.rounds[0]!.bytes / MiB);

const spread = (xs: number[], digits = 2) => ({
  spread: minMax(xs).map((x) => round(x, digits)) as [number, number],
  samples: xs.map((x) => round(x, digits)),
});

export async function benchMigration({ quick }: { quick: boolean }): Promise<CaseResult> {
  const started = Date.now();
  const size = quick ? 1 * GiB : 4 * GiB;
  const reps = Number(process.env.HW_BENCH_MIG_REPS) || (quick ? 3 : 5);
  const readBackPairs = process.env.HW_BENCH_MIG_READ_BACK !== "0";
  const baseline = process.env.HW_BENCH_COPY_BASELINE;
  if (baseline && !existsSync(baseline)) throw new Error(`HW_BENCH_COPY_BASELINE=${baseline} does not exist`);
  const sameDisk = process.env.HW_BENCH_MIG_SAME_DISK === "1";
  const dir = await mkdtemp(join(tmpdir(), "hw-bench-mig-"));
  const shm = await mkdtemp(join("/dev/shm", "hw-bench-mig-"));
  const linkRoot = `/dev/hwbench-mig-${process.pid}`;
  try {
    const engines: FileEngine[] = [];
    for (const n of ["src", "dst"]) {
      const img = join(n === "src" && !sameDisk ? shm : dir, `${n}.img`);
      await createSparseFile(img, size + 2 * GiB);
      const disk = (await attachLoop(img)).name;
      const e = new FileEngine({ stateDir: join(dir, n), devLinkRoot: join(linkRoot, n) });
      await e.ensurePool(POOL, "HDD", [disk]);
      engines.push(e);
    }
    const src = await engines[0]!.createReplica(POOL, "pvc-mig-src", size);
    const dst = await engines[1]!.createReplica(POOL, "pvc-mig-src", size);
    // The copy writes with io_uring, 1 MiB, O_DIRECT, up to 32 in flight; fio measures the same device the same way.
    const fio = (name: string, rw: "write" | "read", filename: string, sizeBytes: number, endFsync = false) =>
      runFio({ name, filename, rw, blockSizeBytes: MiB, iodepth: 32, ioengine: "io_uring", runtimeSec: 600, sizeBytes, timeBased: false, endFsync });
    await fio("fill", "write", src.devPath, size / 2);
    const srcReadBps = (await fio("seqread", "read", src.devPath, size / 2)).read.bwBytesPerSec;
    // The disk's sequential write, as round 0 writes: the target zeroed first (the receiver's own call), then the
    // filled half's bytes from offset 0, fsynced inside the measured time (the copy's round ends with fdatasync).
    // Also how many of the machine's cores were busy meanwhile: whether a slow disk run was the CPU's doing (the
    // other helpers' load, the loop and filesystem workers) or the virtual disk's (docs/benchmarks.md#migration).
    const diskRuns: { bps: number; busy: number }[] = []; // in the order they ran
    const diskWrite = async () => {
      await zeroOutDevice(dst.devPath);
      const machine = cpuSampler();
      const t0 = performance.now();
      const bps = await fio("seqwrite", "write", dst.devPath, size / 2, true).finally(() => machine.stop());
      diskRuns.push({ bps: bps.write.bwBytesPerSec, busy: machine.coresBusy(t0, performance.now()) });
      return bps.write.bwBytesPerSec;
    };

    const variants: Variant[] = [
      { name: "this build" },
      ...(readBackPairs ? [{ name: "read-back", readBack: true }] : []),
      // An older build has no --read-back switch (it always reads back): started without it.
      ...(baseline ? [{ name: "baseline", bin: baseline }] : []),
    ];
    // Each copy is paired with the disk run right before it: the disk here swings 2x within a minute.
    const runs = new Map<string, CopyRun[]>(variants.map((b) => [b.name, []]));
    const disks = new Map<string, number[]>(variants.map((b) => [b.name, []]));
    for (let rep = 0; rep < reps; rep++) {
      for (const v of rep % 2 ? [...variants].reverse() : variants) {
        disks.get(v.name)!.push(await diskWrite());
        runs.get(v.name)!.push(await copyOnce(src.devPath, dst.devPath, size, v));
      }
    }
    const disk = [...disks.values()].flat();
    const mine = runs.get("this build")!;
    const ratios = (name: string) => runs.get(name)!.map((r, i) => r.bps / disks.get(name)![i]!);
    const last = mine[mine.length - 1]!;
    const r0 = last.rounds[0]!;
    const fin = (r: CopyRun) => r.rounds[r.rounds.length - 1]!;
    const metrics = [
      metric(
        "disk sequential write (target replica zeroed, fio the same bytes 1 MiB QD32 direct io_uring + fsync; all runs)",
        round(median(disk) / MiB, 1),
        "MiB/s",
        undefined,
        spread(
          disk.map((x) => x / MiB),
          4,
        ),
      ),
      metric("source replica sequential read (fio 1 MiB QD16 direct io_uring, the filled half)", round(srcReadBps / MiB, 1), "MiB/s"),
      metric(
        "copy throughput, round 0 (data written from CRC-checked buffers, fsynced)",
        round(median(mine.map((r) => r.bps)) / MiB, 1),
        "MiB/s",
        undefined,
        spread(
          mine.map((r) => r.bps / MiB),
          4,
        ),
      ),
      metric("copy / disk sequential write right before it (per pair)", round(median(ratios("this build")), 2), "ratio", ">= 0.8", {
        ...spread(ratios("this build")),
        note: `${mine.length} pairs; bytes per copy round 0 ${round(median(mine.map((r) => r.rounds[0]!.bytes)) / MiB, 1)} MiB, per disk run ${round(size / 2 / MiB, 1)} MiB`,
      }),
    ];
    metrics.push(
      metric(
        "copier CPU per MiB, round 0, both processes (user + system)",
        round(median(mine.map(cpuPerMiB)), 3),
        "ms/MiB",
        undefined,
        spread(mine.map(cpuPerMiB), 3),
      ),
      metric(
        "copier CPU per MiB, round 0 alone (both processes' threads, schedstat; without their start-up)",
        round(median(mine.map(round0CpuPerMiB)), 3),
        "ms/MiB",
        undefined,
        spread(mine.map(round0CpuPerMiB), 3),
      ),
      metric(
        `machine CPU busy during round 0 (every process and kernel thread, /proc/stat), cores of ${cpus().length}`,
        round(median(mine.map((r) => r.round0CoresBusy)), 2),
        "cores",
        undefined,
        {
          ...spread(mine.map((r) => r.round0CoresBusy)),
          note: `the two copiers' own share: ${round(median(mine.map((r) => ((r.rounds[0]!.cpuMs ?? NaN) + (r.received.rounds[0]?.cpuMs ?? NaN)) / r.rounds[0]!.ms)), 2)} cores; the rest is the loop devices' and io_uring's kernel threads, the writer, the node agents' code — and on a loaded machine everyone else`,
        },
      ),
    );
    metrics.push(
      metric(
        `machine CPU busy during the disk runs (every process and kernel thread, /proc/stat), cores of ${cpus().length}`,
        round(median(diskRuns.map((x) => x.busy)), 2),
        "cores",
        undefined,
        {
          ...spread(diskRuns.map((x) => x.busy)),
          note: `per disk run, in order: ${diskRuns.map((x) => `${Math.round(x.bps / MiB)} MiB/s at ${round(x.busy, 2)} cores`).join("; ")}`,
        },
      ),
      // The same as CPU time per MiB written (cores busy ÷ MiB/s): what each MiB costs the machine's two cores. The
      // copy pays the disk run's cost (the target's writes) plus its own (source reads, TCP, the copiers): when
      // their sum times the disk's rate exceeds the cores, the copy cannot keep up with the disk run.
      metric(
        "machine CPU per MiB: the disk run (target writes alone)",
        round(median(diskRuns.map((x) => (x.busy * 1000) / (x.bps / MiB))), 3),
        "ms/MiB",
        undefined,
        spread(
          diskRuns.map((x) => (x.busy * 1000) / (x.bps / MiB)),
          3,
        ),
      ),
      metric(
        "machine CPU per MiB: the copy's round 0 (source reads, TCP, both copiers, target writes, and the writer)",
        round(median(mine.map((r) => (r.round0CoresBusy * 1000) / (r.bps / MiB))), 3),
        "ms/MiB",
        undefined,
        spread(
          mine.map((r) => (r.round0CoresBusy * 1000) / (r.bps / MiB)),
          3,
        ),
      ),
    );
    if (readBackPairs)
      metrics.push(
        metric(
          "with HWAMEISTOR_COPY_READ_BACK=1 (every chunk read back and checked): copy / disk sequential write (per pair)",
          round(median(ratios("read-back")), 2),
          "ratio",
          undefined,
          spread(ratios("read-back")),
        ),
      );
    if (baseline) {
      const base = runs.get("baseline")!;
      /** This build's CPU measure ÷ the baseline build's, per repetition. */
      const versusBaseline = (name: string, cpu: (r: (typeof base)[number]) => number) => {
        const r = mine.map((m, i) => cpu(m) / cpu(base[i]!));
        return metric(name, round(median(r), 3), "ratio", undefined, { ...spread(r, 3), note: `baseline ${round(median(base.map(cpu)), 3)} ms/MiB` });
      };
      metrics.push(
        metric(
          `baseline build (${baseline}): copy / disk sequential write (per pair), same repetitions`,
          round(median(ratios("baseline")), 2),
          "ratio",
          undefined,
          spread(ratios("baseline")),
        ),
        versusBaseline("copier CPU per MiB, this build ÷ baseline build (per repetition)", cpuPerMiB),
        versusBaseline("copier CPU per MiB, round 0 alone (threads), this build ÷ baseline build (per repetition)", round0CpuPerMiB),
        metric(
          "baseline build: cut-over pause, data part",
          round(median(base.map((r) => fin(r).ms / 1000)), 2),
          "s",
          undefined,
          spread(base.map((r) => fin(r).ms / 1000)),
        ),
        metric("baseline build: round 0, where the time went", round(base[base.length - 1]!.rounds[0]!.ms / 1000, 2), "s", undefined, {
          note: [`source ${spent(base[base.length - 1]!.rounds[0])}`, `target ${spent(base[base.length - 1]!.received.rounds[0])}`].join("; "),
        }),
      );
    }
    metrics.push(
      metric(
        "pre-copy rounds (the writer running), last repetition",
        last.rounds.length - 1,
        "rounds",
        undefined,
        last.rounds.map((x) => `${x.round}: ${round(x.bytes / MiB, 1)} MiB in ${Math.round(x.ms)} ms`).join("; "),
      ),
      metric("writes by the writer during the pre-copy, last repetition", last.writes, "writes"),
      metric("final round bytes (changed since the last pre-copy round), last repetition", round(fin(last).bytes / MiB, 1), "MiB"),
      metric("cut-over pause, data part (final clone + diff + send + verify + checksum)", round(median(mine.map((r) => fin(r).ms / 1000)), 2), "s", "< 2", {
        ...spread(mine.map((r) => fin(r).ms / 1000)),
        note: "a cluster adds stopping the pod and starting it on the target",
      }),
      metric(
        "cut-over pause, data part, with the on-disk verification's freeze (final round + reflink clone of the target)",
        round(median(mine.map((r) => (fin(r).ms + r.freezeMs) / 1000)), 2),
        "s",
        "< 2",
        { ...spread(mine.map((r) => (fin(r).ms + r.freezeMs) / 1000)), note: `freeze alone: ${mine.map((r) => Math.round(r.freezeMs)).join(", ")} ms` },
      ),
      metric(
        "on-disk verification: re-read of the frozen target (O_DIRECT, whole volume), while the target is live: not in the pause",
        round(median(mine.map((r) => r.diskReadMs / 1000)), 2),
        "s",
        undefined,
        spread(mine.map((r) => r.diskReadMs / 1000)),
      ),
      metric("target: waiting at round ends for the last writes and fdatasync, all rounds, last repetition", round(last.received.verifyMs / 1000, 2), "s"),
      metric(
        "round 0, where the time went, last repetition",
        round(r0.ms / 1000, 2),
        "s",
        undefined,
        [`source ${spent(r0)}`, `target ${spent(last.received.rounds[0])}`].join("; "),
      ),
    );
    return {
      case: "migration",
      title: "Migration: online copy (reflink pre-copy) vs the disk's sequential write; cut-over pause",
      mode: quick ? "quick" : "full",
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      machine: machineFacts(),
      params: {
        volumeBytes: size,
        filledBytes: size / 2,
        chunkBytes: CHUNK_BYTES,
        repetitions: reps,
        transport: "TCP 127.0.0.1",
        copier: COPIER,
        sourceDisk: sameDisk
          ? "a loop over a file on the machine's disk, as the target's"
          : "a loop over a file in /dev/shm (the target's: on the machine's disk)",
        disk: "per copy, right before it: the target replica zeroed (blkdiscard, as the receiver), then fio writes the same bytes from offset 0, 1 MiB, QD32, O_DIRECT, io_uring, end_fsync=1",
        targetDirect: last.received.direct,
        writer: "64 KiB random write + fdatasync every 10 ms",
        ...(baseline ? { baseline } : {}),
      },
      metrics,
      notes: [
        `the 1 MiB chunk-CRC32C tables equal entry by entry on both sides, and equal to a whole O_DIRECT re-read of both replicas (every copy): ${last.received.checksum}`,
        sameDisk
          ? "both pools' disks are files on this machine's one disk: the source's reads take from the target's writes"
          : "the source pool's disk is in RAM (/dev/shm), the target's on this machine's disk: two nodes have two disks, this machine one",
        "a real migration adds the network between two nodes",
      ],
    };
  } finally {
    await cleanupUnder(dir, linkRoot);
    await cleanupUnder(shm, linkRoot);
  }
}
