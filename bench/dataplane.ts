// The native data plane (docs/dataplane.md), issue 12's HA case: fio on a volume replicated to 2 nodes, on the
// same volume with 1 replica, and on the raw loop device, side by side in one run. Two data plane processes
// in two network namespaces joined by a veth pair (like the dev cluster's --netns nodes), each on its own loop
// device; the single-replica volume is served by a third process in the first namespace.
//
//   job         fio                               target (2 replicas ÷ 1 replica)
//   randwrite   4 KiB random write, depth 32      >= 0.5
//   seqwrite    1 MiB sequential write, depth 32  >= 0.7
//   randread    4 KiB random read, depth 32       >= 0.9
//   write_lat   4 KiB random write, depth 1, p50  <= 2 (latency ratio)
//
// Also the CPU the data plane processes used per I/O (utime + stime of every process of that configuration
// from /proc, divided by the I/Os fio completed) and their context switches per I/O (voluntary + involuntary,
// summed over every thread: each is a hand-off or a sleep on the path). Repetitions rotate the order of the
// targets; reported are medians and the median of per-repetition ratios. Everything is removed in `finally`.
//
// The two replicas' backings share this machine's one disk, which a real cluster's nodes do not: every byte of a
// 2-replica write is written twice to it. For the sequential job the bench also runs two fio streams at once on
// two raw loop devices ("raw, 2 streams at once": the throughput each gets), the most 2 replicas can reach here,
// and reports 2 replicas against it.
//
// Side by side with another build: HW_BENCH_DP_BASELINE=<binary> adds "2 replicas (baseline)", a second pair
// of processes running that binary on their own loop devices, measured in the same rotation (how a change to
// dataplane/ is judged on this loaded machine). HW_BENCH_DP_JOBS=randwrite,seqwrite and HW_BENCH_DP_REPS=N
// narrow a run while iterating.
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runFio, type FioRw } from "../src/host/fio/fio.ts";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../src/host/loop/loop.ts";
import { buildDataplane, cleanupFuse, createNetnsPair, Dataplane, deleteNetnsPair, until, type NetnsPair } from "../test/dataplane/harness.ts";
import { fmt, machineFacts, metric, type CaseResult, type Metric } from "./lib/report.ts";
import { median, minMax, round } from "./lib/stats.ts";

const MiB = 1024 * 1024;
const SHARED = "raw, 2 streams at once";

interface Job {
  key: string;
  rw: FioRw;
  bs: number;
  depth: number;
  measure: "iops" | "bw" | "p50";
}
const JOBS: Job[] = [
  { key: "randwrite", rw: "randwrite", bs: 4096, depth: 32, measure: "iops" },
  { key: "seqwrite", rw: "write", bs: MiB, depth: 32, measure: "bw" },
  { key: "randread", rw: "randread", bs: 4096, depth: 32, measure: "iops" },
  { key: "write_lat", rw: "randwrite", bs: 4096, depth: 1, measure: "p50" },
];
const TARGETS: Record<string, string> = { randwrite: ">= 0.5", seqwrite: ">= 0.7", randread: ">= 0.9", write_lat: "<= 2" };

async function cpuTicks(pids: number[]): Promise<number> {
  let t = 0;
  for (const pid of pids) {
    const f = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
    t += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  }
  return t;
}

/** Context switches of every thread of the processes (/proc/<pid>/status counts only the main thread). */
async function ctxSwitches(pids: number[]): Promise<number> {
  let n = 0;
  for (const pid of pids)
    for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
      const st = await readFile(`/proc/${pid}/task/${tid}/status`, "utf8").catch(() => "");
      for (const m of st.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) n += Number(m[1]);
    }
  return n;
}

export async function benchDataplane(o: { quick: boolean }): Promise<CaseResult> {
  const t0 = Date.now();
  const sizeBytes = (o.quick ? 512 : 1024) * MiB;
  const runtimeSec = o.quick ? 3 : 8;
  const reps = Number(process.env.HW_BENCH_DP_REPS) || (o.quick ? 1 : 3);
  const jobFilter = process.env.HW_BENCH_DP_JOBS?.split(",");
  const jobs = JOBS.filter((j) => !jobFilter || jobFilter.includes(j.key));
  const baseline = process.env.HW_BENCH_DP_BASELINE;
  buildDataplane();
  const dir = await mkdtemp(join(tmpdir(), "hw-bench-dp-"));
  let net: NetnsPair | undefined;
  const dps: Dataplane[] = [];
  try {
    net = createNetnsPair("b");
    const loops: Record<string, LoopDevice> = {};
    for (const n of ["raw", "raw2", "s", "a", "b", ...(baseline ? ["a0", "b0"] : [])]) {
      await createSparseFile(join(dir, `${n}.img`), sizeBytes);
      loops[n] = await attachLoop(join(dir, `${n}.img`));
    }
    const mk = async (node: string, netns: string, listen: string, bin?: string) => {
      await mkdir(join(dir, node));
      const dp = new Dataplane({ node, dir: join(dir, node), listen, netns, binary: bin });
      dps.push(dp);
      await dp.start();
      await dp.must("ensure", { volume: "v", sizeBytes, backingPath: loops[node]!.name });
      return dp;
    };
    /** A primary in the first namespace replicating to a secondary in the second; returns the loop device. */
    const pair = async (an: string, bn: string, port: number, bin?: string) => {
      const a = await mk(an, net!.names[0], `${net!.ips[0]}:${port}`, bin);
      const b = await mk(bn, net!.names[1], `${net!.ips[1]}:${port}`, bin);
      await b.must("configure", { volume: "v", epoch: 1, role: "secondary", peers: [{ node: an, address: a.o.listen }] });
      await a.must("configure", { volume: "v", epoch: 1, role: "primary", peers: [{ node: bn, address: b.o.listen }] });
      await until(async () => (await a.volume("v")).peers[0]?.state === "UpToDate", 10_000, `peer ${bn} UpToDate`);
      await a.must("expose", { volume: "v" });
      return { dev: (await attachLoop(join(a.fuseDir, "v"))).name, pids: [a.proc!.pid!, b.proc!.pid!] };
    };
    const single = await mk("s", net.names[0], `${net.ips[0]}:43001`);
    await single.must("configure", { volume: "v", epoch: 1, role: "primary", peers: [] });
    await single.must("expose", { volume: "v" });
    const targets: Record<string, { dev: string; pids: number[] }> = {
      raw: { dev: loops.raw!.name, pids: [] },
      "1 replica": { dev: (await attachLoop(join(single.fuseDir, "v"))).name, pids: [single.proc!.pid!] },
      "2 replicas": await pair("a", "b", 43000),
    };
    if (baseline) targets["2 replicas (baseline)"] = await pair("a0", "b0", 43002, baseline);
    // Pre-fill: a hole reads as free zeros and a first write allocates; every target starts written.
    for (const [name, t] of [...Object.entries(targets), ["raw2", { dev: loops.raw2!.name }] as const])
      await runFio({
        name: `fill-${name.replace(/[^A-Za-z0-9]/g, "")}`,
        filename: t.dev,
        rw: "write",
        blockSizeBytes: MiB,
        iodepth: 16,
        runtimeSec: 120,
        timeBased: false,
      });

    const samples: Record<string, Record<string, number[]>> = {};
    const cpu: Record<string, Record<string, number[]>> = {};
    const cs: Record<string, Record<string, number[]>> = {};
    const ratios: Record<string, Record<string, number[]>> = {}; // job → replicated target → per-rep ratio to 1 replica
    const names = Object.keys(targets);
    const replicated = names.filter((n) => n.startsWith("2 replicas"));
    for (let rep = 0; rep < reps; rep++) {
      for (const job of jobs) {
        const order = names.map((_, i) => names[(i + rep) % names.length]!);
        const got: Record<string, number> = {};
        for (const name of order) {
          const t = targets[name]!;
          const [c0, s0] = [await cpuTicks(t.pids), await ctxSwitches(t.pids)];
          const r = await runFio({ name: job.key, filename: t.dev, rw: job.rw, blockSizeBytes: job.bs, iodepth: job.depth, runtimeSec, sizeBytes });
          const [c1, s1] = [await cpuTicks(t.pids), await ctxSwitches(t.pids)];
          const d = job.rw.includes("read") ? r.read : r.write;
          const v = job.measure === "iops" ? d.iops : job.measure === "bw" ? d.bwBytesPerSec / MiB : d.clatP50Ns / 1000;
          got[name] = v;
          ((samples[job.key] ??= {})[name] ??= []).push(v);
          ((cpu[job.key] ??= {})[name] ??= []).push(d.ios ? ((c1 - c0) * 10_000) / d.ios : 0); // ticks are 10 ms → µs per I/O
          ((cs[job.key] ??= {})[name] ??= []).push(d.ios ? (s1 - s0) / d.ios : 0);
        }
        for (const name of replicated) ((ratios[job.key] ??= {})[name] ??= []).push(got[name]! / got["1 replica"]!);
        if (job.measure === "bw") {
          const fio = (dev: string) => runFio({ name: job.key, filename: dev, rw: job.rw, blockSizeBytes: job.bs, iodepth: job.depth, runtimeSec, sizeBytes });
          const both = await Promise.all([fio(loops.raw!.name), fio(loops.raw2!.name)]);
          const each = (both[0].write.bwBytesPerSec + both[1].write.bwBytesPerSec) / 2 / MiB;
          ((samples[job.key] ??= {})[SHARED] ??= []).push(each);
          ((ratios[job.key] ??= {})[SHARED] ??= []).push(got["2 replicas"]! / each);
        }
      }
    }
    const unit = (j: Job) => (j.measure === "iops" ? "IOPS" : j.measure === "bw" ? "MiB/s" : "µs p50");
    const metrics: Metric[] = [];
    const rows: string[][] = [];
    for (const job of jobs) {
      const shared = samples[job.key]![SHARED];
      if (shared) {
        const r = ratios[job.key]![SHARED]!;
        metrics.push(
          metric(`${job.key}: 2 replicas ÷ ${SHARED}`, round(median(r)), "ratio", undefined, {
            spread: minMax(r).map((x) => round(x)) as [number, number],
            samples: r.map((x) => round(x)),
            note: "how close 2 replicas come to what the shared disk allows",
          }),
          metric(`${job.key} ${SHARED}`, round(median(shared), 1), unit(job), undefined, {
            spread: minMax(shared).map((y) => round(y, 1)) as [number, number],
            note: "each of two streams on two raw loop devices at once: the disk bound of 2 replicas whose backings share one disk",
          }),
        );
        rows.push([job.key, SHARED, `${fmt(round(median(shared), 1))} ${unit(job)}`, fmt(round(median(shared) / median(samples[job.key]!.raw!))), "—", "—"]);
      }
      for (const name of replicated) {
        const r = ratios[job.key]![name]!;
        // The target applies to this build; the baseline's ratio is for comparison only.
        metrics.push(
          metric(`${job.key}: ${name} ÷ 1 replica`, round(median(r)), "ratio", name === "2 replicas" ? TARGETS[job.key] : undefined, {
            spread: minMax(r).map((x) => round(x)) as [number, number],
            samples: r.map((x) => round(x)),
            note: job.measure === "p50" ? "latency: lower is better" : undefined,
          }),
        );
      }
      const rawV = median(samples[job.key]!.raw!);
      for (const name of names) {
        const v = median(samples[job.key]![name]!);
        const c = median(cpu[job.key]![name]!);
        const x = median(cs[job.key]![name]!);
        metrics.push(
          metric(`${job.key} ${name}`, round(v, 1), unit(job), undefined, {
            spread: minMax(samples[job.key]![name]!).map((y) => round(y, 1)) as [number, number],
          }),
        );
        if (name !== "raw") {
          metrics.push(metric(`${job.key} ${name}: data plane CPU per I/O`, round(c, 1), "µs"));
          metrics.push(metric(`${job.key} ${name}: data plane context switches per I/O`, round(x, 2), "switches"));
        }
        const vsRaw = job.measure === "p50" ? rawV / v : v / rawV;
        rows.push([
          job.key,
          name,
          `${fmt(round(v, 1))} ${unit(job)}`,
          name === "raw" ? "1" : fmt(round(vsRaw)),
          name === "raw" ? "—" : `${fmt(round(c, 1))} µs`,
          name === "raw" ? "—" : fmt(round(x, 2)),
        ]);
      }
    }
    return {
      case: "dataplane",
      title: "Native data plane: 2 replicas vs 1 replica vs raw (issue 12)",
      mode: o.quick ? "quick" : "full",
      startedAt: new Date(t0).toISOString(),
      durationMs: Date.now() - t0,
      machine: machineFacts(),
      params: {
        sizeBytes,
        runtimeSec,
        reps,
        jobs: jobs.map((j) => j.key),
        baseline: baseline ?? null,
        network: "two netns joined by a veth pair",
        frontend: "FUSE file + loop device (direct I/O)",
      },
      metrics,
      table: { headers: ["job", "target", "value", "÷ raw", "data plane CPU per I/O", "context switches per I/O"], rows },
      notes: [
        "fio with libaio and direct I/O on the loop device of each configuration; the volume's loop device sits on the data plane's FUSE file.",
        `"${SHARED}": two fio streams on two raw loop devices over files on the same disk, the throughput each gets; 2 replicas here write every byte twice to that one disk (a real cluster's replicas have a disk each), so this is the most 2 replicas can reach in this bench.`,
        "Ratios are per repetition (2 replicas ÷ 1 replica, taken seconds apart), then the median. For write_lat the ratio is of p50 latencies (<= 2 is the target).",
        "CPU per I/O: utime+stime of the data plane processes (both for 2 replicas) ÷ I/Os; kernel work in loop and FUSE threads is not in it. Context switches per I/O: voluntary + involuntary, every thread of those processes.",
        'Where the 1 MiB stream with 2 replicas goes, and what changed per round: docs/dataplane.md "Performance" (the status stages counters, per-thread schedstat).',
        ...(baseline ? [`"2 replicas (baseline)": the same setup running ${baseline}, in the same rotation.`] : []),
        "The machine is shared (2 cores, other workloads): see the load average; compare lines of one run only.",
      ],
    };
  } finally {
    for (const l of await listLoops()) if (l.backFile.includes(`${dir}/`) && l.backFile.includes("/fuse/")) await detachLoop(l.name).catch(() => undefined);
    for (const dp of dps) {
      await dp.stop("SIGTERM").catch(() => undefined);
      cleanupFuse(dp.fuseDir);
    }
    for (const l of await listLoops()) if (l.backFile.startsWith(`${dir}/`)) await detachLoop(l.name).catch(() => undefined);
    deleteNetnsPair(net);
    await rm(dir, { recursive: true, force: true });
  }
}
