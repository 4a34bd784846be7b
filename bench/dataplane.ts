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
// Two disks, emulated (the seqwrite job only): the same targets again ("raw, emulated disks", "1 replica, emulated
// disks", "2 replicas, emulated disks"), but every backing (and the raw target) is a loop device over a file in
// /dev/shm throttled by a cgroup v1 blkio rule (blkio.throttle.write_bps_device) to the speed of this machine's disk,
// measured in the same run (raw 1 MiB write at the job's depth): each replica gets a disk of its own, like the
// nodes of a real cluster, while raw and 1 replica see the same kind of disk. The throttled processes are the ones
// that submit the bios to those loop devices: fio for raw, the data plane processes (every thread, io_uring workers
// included, started inside the cgroup) for the backings; below a loop device over tmpfs there is no block device,
// so its worker threads submit nothing that would escape the rule. The bench checks this with the throttle's own
// counters (blkio.throttle.io_service_bytes of the cgroup against the device's written sectors: every byte
// written to an emulated disk must have passed the rule). It emulates bandwidth only: RAM has no seek or flush
// latency, so this is used for the throughput job and no other. The 0.7 target is evaluated on this line.
//
// Side by side with another build: HW_BENCH_DP_BASELINE=<binary> adds "2 replicas (baseline)", a second pair
// of processes running that binary on their own loop devices, measured in the same rotation (how a change to
// dataplane/ is judged on this loaded machine); that pair has its own netns pair with the default MTU 1500.
// HW_BENCH_DP_MTU=N sets this build's storage network MTU (default 1500, the dev cluster's).
// HW_BENCH_DP_JOBS=randwrite,seqwrite and HW_BENCH_DP_REPS=N narrow a run while iterating; HW_BENCH_DP_EMULATE=0
// leaves out the emulated disks.
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectCgroupVersion, removeCgroup, setIoLimits } from "../src/host/cgroup/cgroup.ts";
import { runFio, type FioRw } from "../src/host/fio/fio.ts";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../src/host/loop/loop.ts";
import { buildDataplane, cleanupFuse, createNetnsPair, Dataplane, deleteNetnsPair, until, type NetnsPair } from "../test/dataplane/harness.ts";
import { fmt, machineFacts, metric, type CaseResult, type Metric } from "./lib/report.ts";
import { median, minMax, round } from "./lib/stats.ts";

const MiB = 1024 * 1024;
const SHARED = "raw, 2 streams at once";
const EMU = ", emulated disks"; // suffix of the targets on throttled RAM disks, one per replica
const EMU_JOB = "seqwrite"; // the only job measured on them: they emulate a disk's bandwidth, not its latency
const BLKIO = "/sys/fs/cgroup/blkio";

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

/** blkio.throttle.io_service_bytes ("7:3 Write 123" lines) → written bytes per MAJ:MIN. */
export function parseServiceBytes(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(\d+:\d+) Write (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Bytes written to a block device since boot (/sys/block/<dev>/stat: sectors written, field 7, 512 bytes each). */
async function writtenBytes(dev: LoopDevice): Promise<number> {
  const f = (await readFile(`/sys/block/${dev.name.replace("/dev/", "")}/stat`, "utf8")).trim().split(/\s+/);
  return Number(f[6]) * 512;
}

/** This process's blkio cgroup (v1), so the bench's group nests where the bench runs. */
async function ownBlkioCgroup(): Promise<string> {
  const line = (await readFile("/proc/self/cgroup", "utf8")).split("\n").find((l) => /^\d+:([^:]*,)?blkio(,[^:]*)?:/.test(l));
  return join(BLKIO, line ? line.slice(line.lastIndexOf(":") + 1) : "/");
}

export async function benchDataplane(o: { quick: boolean }): Promise<CaseResult> {
  const t0 = Date.now();
  const sizeBytes = (o.quick ? 512 : 1024) * MiB;
  const runtimeSec = o.quick ? 3 : 8;
  const reps = Number(process.env.HW_BENCH_DP_REPS) || (o.quick ? 1 : 3);
  const jobFilter = process.env.HW_BENCH_DP_JOBS?.split(",");
  const jobs = JOBS.filter((j) => !jobFilter || jobFilter.includes(j.key));
  const baseline = process.env.HW_BENCH_DP_BASELINE;
  const mtu = Number(process.env.HW_BENCH_DP_MTU) || undefined;
  // Why not: no blkio v1 hierarchy (the counters checked below are v1's), or the job is not run.
  let emuSkipped: string | undefined;
  if (!jobs.some((j) => j.key === EMU_JOB)) emuSkipped = `job ${EMU_JOB} not run`;
  else if (process.env.HW_BENCH_DP_EMULATE === "0") emuSkipped = "HW_BENCH_DP_EMULATE=0";
  else if ((await detectCgroupVersion()) !== "v1") emuSkipped = "no cgroup v1 blkio hierarchy (the emulation throttles with blkio.throttle.write_bps_device)";
  const emulate = !emuSkipped;
  buildDataplane();
  const dir = await mkdtemp(join(tmpdir(), "hw-bench-dp-"));
  const shm = emulate ? await mkdtemp("/dev/shm/hw-bench-dp-") : undefined;
  const cg = emulate ? join(await ownBlkioCgroup(), `hw-bench-dp-${process.pid}`) : undefined;
  let net: NetnsPair | undefined;
  let net0: NetnsPair | undefined;
  const dps: Dataplane[] = [];
  try {
    net = createNetnsPair("b", mtu);
    if (baseline) net0 = createNetnsPair("c"); // its own veth, so HW_BENCH_DP_MTU changes only this build's
    if (cg) await mkdir(cg);
    const loops: Record<string, LoopDevice> = {};
    const emuLoops = baseline ? ["rawe", "se", "ae", "be", "a0e", "b0e"] : ["rawe", "se", "ae", "be"];
    for (const n of ["raw", "raw2", "s", "a", "b", ...(baseline ? ["a0", "b0"] : [])]) {
      await createSparseFile(join(dir, `${n}.img`), sizeBytes);
      loops[n] = await attachLoop(join(dir, `${n}.img`));
    }
    // tmpfs has no O_DIRECT: these loop devices copy into page cache pages (RAM), below them no block device.
    if (shm)
      for (const n of emuLoops) {
        await createSparseFile(join(shm, `${n}.img`), sizeBytes);
        loops[n] = await attachLoop(join(shm, `${n}.img`), { directIo: false });
      }
    const mk = async (node: string, netns: string, listen: string, bin?: string, cgroupDir?: string) => {
      await mkdir(join(dir, node));
      const dp = new Dataplane({ node, dir: join(dir, node), listen, netns, binary: bin, cgroupDir });
      dps.push(dp);
      await dp.start();
      await dp.must("ensure", { volume: "v", sizeBytes, backingPath: loops[node]!.name });
      return dp;
    };
    /** A primary in the first namespace replicating to a secondary in the second; returns the loop device. */
    const pair = async (an: string, bn: string, port: number, bin?: string, nets: NetnsPair = net!, cgroupDir?: string) => {
      const a = await mk(an, nets.names[0], `${nets.ips[0]}:${port}`, bin, cgroupDir);
      const b = await mk(bn, nets.names[1], `${nets.ips[1]}:${port}`, bin, cgroupDir);
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
    if (baseline) targets["2 replicas (baseline)"] = await pair("a0", "b0", 43002, baseline, net0);
    if (cg) {
      const se = await mk("se", net.names[0], `${net.ips[0]}:43011`, undefined, cg);
      await se.must("configure", { volume: "v", epoch: 1, role: "primary", peers: [] });
      await se.must("expose", { volume: "v" });
      targets[`raw${EMU}`] = { dev: loops.rawe!.name, pids: [] };
      targets[`1 replica${EMU}`] = { dev: (await attachLoop(join(se.fuseDir, "v"))).name, pids: [se.proc!.pid!] };
      targets[`2 replicas${EMU}`] = await pair("ae", "be", 43010, undefined, net, cg);
      if (baseline) targets[`2 replicas (baseline)${EMU}`] = await pair("a0e", "b0e", 43012, baseline, net0, cg);
    }
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

    // The emulated disks' speed: this machine's disk, measured now (raw 1 MiB write at the job's depth).
    const emuJob = JOBS.find((j) => j.key === EMU_JOB)!;
    const fioJob = (job: Job, dev: string) => ({ name: job.key, filename: dev, rw: job.rw, blockSizeBytes: job.bs, iodepth: job.depth, runtimeSec, sizeBytes });
    let emuBps = 0;
    const emuDevs = cg ? emuLoops.map((n) => loops[n]!) : [];
    const counters = async () => ({
      svc: parseServiceBytes(await readFile(join(cg!, "blkio.throttle.io_service_bytes"), "utf8")),
      dev: await Promise.all(emuDevs.map(writtenBytes)),
    });
    let before: Awaited<ReturnType<typeof counters>> | undefined;
    if (cg) {
      emuBps = Math.round((await runFio(fioJob(emuJob, loops.raw!.name))).write.bwBytesPerSec);
      for (const d of emuDevs) await setIoLimits(cg, d.majMin, { writeBps: emuBps }, "v1");
      before = await counters();
    }

    const samples: Record<string, Record<string, number[]>> = {};
    const cpu: Record<string, Record<string, number[]>> = {};
    const cs: Record<string, Record<string, number[]>> = {};
    const ratios: Record<string, Record<string, number[]>> = {}; // job → replicated target → per-rep ratio to 1 replica
    const allNames = Object.keys(targets);
    const namesOf = (job: Job) => (job.key === EMU_JOB ? allNames : allNames.filter((n) => !n.endsWith(EMU)));
    const oneReplica = (n: string) => (n.endsWith(EMU) ? `1 replica${EMU}` : "1 replica");
    for (let rep = 0; rep < reps; rep++) {
      for (const job of jobs) {
        const names = namesOf(job);
        const order = names.map((_, i) => names[(i + rep) % names.length]!);
        const got: Record<string, number> = {};
        for (const name of order) {
          const t = targets[name]!;
          const [c0, s0] = [await cpuTicks(t.pids), await ctxSwitches(t.pids)];
          // fio submits the bios of "raw, emulated disks" itself: it runs in the throttled cgroup.
          const r = await runFio(fioJob(job, t.dev), name === `raw${EMU}` ? { cgroupDir: cg } : {});
          const [c1, s1] = [await cpuTicks(t.pids), await ctxSwitches(t.pids)];
          const d = job.rw.includes("read") ? r.read : r.write;
          const v = job.measure === "iops" ? d.iops : job.measure === "bw" ? d.bwBytesPerSec / MiB : d.clatP50Ns / 1000;
          got[name] = v;
          ((samples[job.key] ??= {})[name] ??= []).push(v);
          ((cpu[job.key] ??= {})[name] ??= []).push(d.ios ? ((c1 - c0) * 10_000) / d.ios : 0); // ticks are 10 ms → µs per I/O
          ((cs[job.key] ??= {})[name] ??= []).push(d.ios ? (s1 - s0) / d.ios : 0);
        }
        for (const name of names.filter((n) => n.startsWith("2 replicas"))) ((ratios[job.key] ??= {})[name] ??= []).push(got[name]! / got[oneReplica(name)]!);
        if (job.measure === "bw") {
          const both = await Promise.all([runFio(fioJob(job, loops.raw!.name)), runFio(fioJob(job, loops.raw2!.name))]);
          const each = (both[0].write.bwBytesPerSec + both[1].write.bwBytesPerSec) / 2 / MiB;
          ((samples[job.key] ??= {})[SHARED] ??= []).push(each);
          ((ratios[job.key] ??= {})[SHARED] ??= []).push(got["2 replicas"]! / each);
        }
      }
    }
    // Every byte written to an emulated disk must have passed the cgroup's rule: the device's own count of
    // written bytes against the throttle's count for that device.
    let unthrottled = 0;
    let throttled = 0;
    if (before) {
      const after = await counters();
      emuDevs.forEach((d, i) => {
        const dev = after.dev[i]! - before!.dev[i]!;
        const thr = (after.svc.get(d.majMin) ?? 0) - (before!.svc.get(d.majMin) ?? 0);
        throttled += thr;
        unthrottled += Math.max(0, dev - thr);
      });
    }
    const unit = (j: Job) => (j.measure === "iops" ? "IOPS" : j.measure === "bw" ? "MiB/s" : "µs p50");
    const metrics: Metric[] = [];
    const rows: string[][] = [];
    for (const job of jobs) {
      const names = namesOf(job);
      const replicated = names.filter((n) => n.startsWith("2 replicas"));
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
        // The target applies to this build; the baseline's ratio is for comparison only. With the emulated disks
        // the sequential target is evaluated on their line: on the shared disk 2 replicas write every byte twice.
        const onEmu = job.key === EMU_JOB && emulate;
        const targeted = name === (onEmu ? `2 replicas${EMU}` : "2 replicas");
        const note =
          job.measure === "p50"
            ? "latency: lower is better"
            : onEmu && name === "2 replicas"
              ? `both backings on this machine's one disk (see ÷ ${SHARED}); the target is evaluated on the emulated-disks line`
              : onEmu && name === `2 replicas${EMU}`
                ? "each replica's backing on its own emulated disk (RAM throttled to this disk's measured write speed); see the notes"
                : undefined;
        metrics.push(
          metric(`${job.key}: ${name} ÷ ${oneReplica(name)}`, round(median(r)), "ratio", targeted ? TARGETS[job.key] : undefined, {
            spread: minMax(r).map((x) => round(x)) as [number, number],
            samples: r.map((x) => round(x)),
            note,
          }),
        );
      }
      if (job.key === EMU_JOB && emulate)
        metrics.push(
          metric(`${job.key}: emulated disk speed (write_bps rule)`, round(emuBps / MiB, 1), "MiB/s", undefined, {
            note: "this machine's disk, raw 1 MiB write at the job's depth, measured once before the repetitions",
          }),
          metric(`${job.key}: bytes written to the emulated disks outside the throttle`, unthrottled, "bytes", undefined, {
            note: `must be 0: device write counters vs blkio.throttle.io_service_bytes; ${fmt(round(throttled / MiB, 0))} MiB passed the rule`,
          }),
        );
      for (const name of names) {
        const rawV = median(samples[job.key]![name.endsWith(EMU) ? `raw${EMU}` : "raw"]!);
        const v = median(samples[job.key]![name]!);
        const c = median(cpu[job.key]![name]!);
        const x = median(cs[job.key]![name]!);
        metrics.push(
          metric(`${job.key} ${name}`, round(v, 1), unit(job), undefined, {
            spread: minMax(samples[job.key]![name]!).map((y) => round(y, 1)) as [number, number],
          }),
        );
        if (!name.startsWith("raw")) {
          metrics.push(metric(`${job.key} ${name}: data plane CPU per I/O`, round(c, 1), "µs"));
          metrics.push(metric(`${job.key} ${name}: data plane context switches per I/O`, round(x, 2), "switches"));
        }
        const vsRaw = job.measure === "p50" ? rawV / v : v / rawV;
        rows.push([
          job.key,
          name,
          `${fmt(round(v, 1))} ${unit(job)}`,
          name.startsWith("raw") ? "1" : fmt(round(vsRaw)),
          name.startsWith("raw") ? "—" : `${fmt(round(c, 1))} µs`,
          name.startsWith("raw") ? "—" : fmt(round(x, 2)),
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
        network: `two netns joined by a veth pair, MTU ${mtu ?? 1500}${baseline ? " (the baseline: its own pair, MTU 1500)" : ""}`,
        emulatedDisks: emulate ? { writeBps: emuBps, on: "loop devices over /dev/shm files, cgroup v1 blkio write_bps rule" } : `not measured: ${emuSkipped}`,
        frontend: "FUSE file + loop device (direct I/O)",
      },
      metrics,
      table: { headers: ["job", "target", "value", "÷ raw", "data plane CPU per I/O", "context switches per I/O"], rows },
      notes: [
        "fio with libaio and direct I/O on the loop device of each configuration; the volume's loop device sits on the data plane's FUSE file.",
        `"${SHARED}": two fio streams on two raw loop devices over files on the same disk, the throughput each gets; 2 replicas here write every byte twice to that one disk (a real cluster's replicas have a disk each), so this is the most 2 replicas can reach in this bench.`,
        ...(emulate
          ? [
              `"${EMU.slice(2)}" (${EMU_JOB} only): raw, 1 replica and 2 replicas again, every backing a loop device over a /dev/shm file throttled by a cgroup v1 blkio write_bps rule to this machine's disk speed measured in the same run (${fmt(round(emuBps / MiB, 0))} MiB/s): each replica writes to a disk of its own, as on two machines, and raw and 1 replica see the same kind of disk. The throttled processes are those that submit the bios (fio for raw; the data plane processes, started inside the cgroup, for the backings; below a loop device over tmpfs there is no block device). Checked: bytes written to these devices outside the rule = ${unthrottled}. Emulated: bandwidth only; RAM has no seek/flush latency (not used for the latency job); the loop devices' copy into RAM costs CPU on the same 2 cores a real disk's DMA would not; both replicas still share this machine's CPUs and network stack; the data planes' state dirs (activity log, fdatasync) stay on the real disk. The 0.7 target is evaluated on this line.`,
            ]
          : [`No emulated disks: ${emuSkipped}.`]),
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
    for (const l of await listLoops())
      if (l.backFile.startsWith(`${dir}/`) || (shm && l.backFile.startsWith(`${shm}/`))) await detachLoop(l.name).catch(() => undefined);
    deleteNetnsPair(net);
    deleteNetnsPair(net0);
    // Empty once its processes (the data planes above, fio) have exited: rmdir removes the rules with it.
    if (cg) await removeCgroup(cg).catch((e: unknown) => console.error(`bench dataplane: cgroup ${cg} not removed (${String(e)}); rmdir it once empty`));
    await rm(dir, { recursive: true, force: true });
    if (shm) await rm(shm, { recursive: true, force: true });
  }
}
