// fio: one job per run with JSON output (`--output-format=json`), for the data-path benchmark. The job is
// described by a typed spec (never a job file or a shell string); the parser reads the numbers we report:
// IOPS, bandwidth and completion-latency percentiles per direction.

import { HwError } from "../../api/errors.ts";
import { inCgroupArgv } from "../cgroup/exec.ts";
import { parseJsonOutput, run, type RunOptions } from "../runner.ts";
import { assertAbsolutePath, assertNonNegativeInt } from "../validate.ts";

export type FioRw = "read" | "write" | "randread" | "randwrite" | "randrw" | "rw";

export interface FioJob {
  name: string;
  /** A block device or a file. */
  filename: string;
  rw: FioRw;
  /** Block size in bytes (4096, 1048576, …). */
  blockSizeBytes: number;
  iodepth: number;
  /** Time-based run of this many seconds (with timeBased false: an upper bound for one pass over sizeBytes). */
  runtimeSec: number;
  /** Default true: repeat the workload for runtimeSec. false: one pass over the region (e.g. to pre-fill). */
  timeBased?: boolean;
  /** Region of the target to use, bytes (default: the whole device/file). */
  sizeBytes?: number;
  /** O_DIRECT; default true. */
  direct?: boolean;
  /** Default libaio. */
  ioengine?: "libaio" | "io_uring" | "psync";
  /** Seconds of warm-up excluded from the numbers. */
  rampSec?: number;
  numjobs?: number;
  /** fsync the target once at the end of the job, inside the measured runtime (fio `end_fsync`): a write measured
   * until it is durable, as a copy that fdatasyncs before it is done. */
  endFsync?: boolean;
}

export interface FioDirection {
  ios: number;
  iops: number;
  bwBytesPerSec: number;
  /** Completion latency, ns. */
  clatMeanNs: number;
  clatP50Ns: number;
  clatP99Ns: number;
}

export interface FioResult {
  jobname: string;
  error: number;
  read: FioDirection;
  write: FioDirection;
  runtimeMs: number;
  usrCpuPct: number;
  sysCpuPct: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Build the fio argv (pure). */
export function fioArgv(j: FioJob): string[] {
  if (!NAME.test(j.name)) throw new HwError("INVALID_ARGUMENT", "Invalid", `fio job name ${JSON.stringify(j.name)} must be 1-64 of A-Z a-z 0-9 _ . -`);
  assertAbsolutePath(j.filename);
  if (j.filename.includes(":")) throw new HwError("INVALID_ARGUMENT", "Invalid", `fio filename ${j.filename} must not contain ":" (fio splits on it)`);
  for (const [v, what] of [
    [j.blockSizeBytes, "block size"],
    [j.iodepth, "iodepth"],
    [j.runtimeSec, "runtime"],
  ] as const) {
    if (assertNonNegativeInt(v, `fio ${what}`) === 0) throw new HwError("INVALID_ARGUMENT", "Invalid", `fio ${what} must be positive`);
  }
  const argv = [
    "fio",
    `--name=${j.name}`,
    `--filename=${j.filename}`,
    `--rw=${j.rw}`,
    `--bs=${j.blockSizeBytes}`,
    `--iodepth=${j.iodepth}`,
    `--ioengine=${j.ioengine ?? "libaio"}`,
    `--direct=${j.direct === false ? 0 : 1}`,
    ...(j.timeBased === false ? [] : ["--time_based"]),
    `--runtime=${j.runtimeSec}`,
    `--numjobs=${j.numjobs ?? 1}`,
    "--group_reporting",
    "--output-format=json",
  ];
  if (j.sizeBytes !== undefined) argv.push(`--size=${assertNonNegativeInt(j.sizeBytes, "fio size")}`);
  if (j.rampSec) argv.push(`--ramp_time=${assertNonNegativeInt(j.rampSec, "fio ramp")}`);
  if (j.endFsync) argv.push("--end_fsync=1");
  return argv;
}

type RawDir = {
  total_ios?: number;
  iops?: number;
  bw_bytes?: number;
  clat_ns?: { mean?: number; percentile?: Record<string, number> };
};

function dir(r: RawDir | undefined): FioDirection {
  const p = r?.clat_ns?.percentile ?? {};
  return {
    ios: r?.total_ios ?? 0,
    iops: r?.iops ?? 0,
    bwBytesPerSec: r?.bw_bytes ?? 0,
    clatMeanNs: r?.clat_ns?.mean ?? 0,
    clatP50Ns: p["50.000000"] ?? 0,
    clatP99Ns: p["99.000000"] ?? 0,
  };
}

/** Parse fio's JSON output (the first job; with --group_reporting that is the group). */
export function parseFioJson(json: string): FioResult {
  const doc = parseJsonOutput<{ jobs?: Array<Record<string, unknown>> }>(json, ["fio"]);
  const j = doc.jobs?.[0];
  if (!j) throw new HwError("INTERNAL", "UnparseableOutput", "fio printed no job results");
  return {
    jobname: String(j.jobname ?? ""),
    error: Number(j.error ?? 0),
    read: dir(j.read as RawDir),
    write: dir(j.write as RawDir),
    runtimeMs: Number(j.job_runtime ?? 0),
    usrCpuPct: Number(j.usr_cpu ?? 0),
    sysCpuPct: Number(j.sys_cpu ?? 0),
  };
}

/** fio prints warnings before the JSON document on stdout in some versions; start at the first "{". */
export function extractJson(stdout: string): string {
  const i = stdout.indexOf("{");
  return i > 0 ? stdout.slice(i) : stdout;
}

/** Run one fio job. The deadline is the runtime plus a margin. With cgroupDir, fio runs inside that cgroup. */
export async function runFio(job: FioJob, opts: RunOptions & { cgroupDir?: string } = {}): Promise<FioResult> {
  const { cgroupDir, ...runOpts } = opts;
  const argv = cgroupDir ? inCgroupArgv(cgroupDir, fioArgv(job)) : fioArgv(job);
  const { stdout } = await run(argv, { timeoutMs: (job.runtimeSec + (job.rampSec ?? 0) + 60) * 1000, ...runOpts });
  const r = parseFioJson(extractJson(stdout));
  if (r.error) throw new HwError("INTERNAL", "FioJobFailed", `fio job ${job.name} on ${job.filename} reported error ${r.error}`);
  return r;
}
