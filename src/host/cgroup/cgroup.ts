// Block IO limits per device in a cgroup: v1 `blkio.throttle.{read,write}_{bps,iops}_device`, v2 `io.max`.
// Written with fs (one rule per write(2), as the kernel parses them), never `sh -c "echo … >> file"` as the
// original did. A limit of 0 means unlimited: v1 removes the rule by writing 0, v2 writes `max`.
// This machine runs cgroup v1 with a hybrid /sys/fs/cgroup/unified (no io controller there): detect → v1.

import { mkdir, readFile, rmdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HwError } from "../../api/errors.ts";
import { assertAbsolutePath, assertMajorMinor, assertNonNegativeInt } from "../validate.ts";
import { ifExists } from "../files.ts";

export const CGROUP_ROOT = "/sys/fs/cgroup";

export type CgroupVersion = "v1" | "v2" | "none";

export interface IoLimits {
  readBps: number;
  writeBps: number;
  readIops: number;
  writeIops: number;
}

const isDir = async (p: string) => (await ifExists(stat(p)))?.isDirectory() ?? false;
const exists = async (p: string) => (await ifExists(stat(p))) !== undefined;

/** v1 when the blkio hierarchy is mounted (also on hybrid hosts), v2 when the root is a unified hierarchy. */
export async function detectCgroupVersion(root = CGROUP_ROOT): Promise<CgroupVersion> {
  if (await isDir(join(root, "blkio"))) return "v1";
  if (await exists(join(root, "cgroup.controllers"))) return "v2";
  return "none";
}

/** The directory whose files carry blkio/io limits for cgroup `relPath` ("" = root). */
export async function ioCgroupDir(relPath: string, root = CGROUP_ROOT): Promise<string> {
  if (relPath.split("/").includes("..")) throw new HwError("INVALID_ARGUMENT", "Invalid", `cgroup path ${relPath} must not contain ..`);
  const v = await detectCgroupVersion(root);
  if (v === "none") throw new HwError("FAILED_PRECONDITION", "NoCgroup", `no blkio/io cgroup controller under ${root}`);
  return join(root, v === "v1" ? "blkio" : "", relPath);
}

const V1_FILES: Record<keyof IoLimits, string> = {
  readBps: "blkio.throttle.read_bps_device",
  writeBps: "blkio.throttle.write_bps_device",
  readIops: "blkio.throttle.read_iops_device",
  writeIops: "blkio.throttle.write_iops_device",
};

const V2_KEYS: Record<keyof IoLimits, string> = { readBps: "rbps", writeBps: "wbps", readIops: "riops", writeIops: "wiops" };

function checkLimits(l: Partial<IoLimits>): void {
  for (const [k, v] of Object.entries(l)) if (v !== undefined) assertNonNegativeInt(v, `IO limit ${k}`);
}

/** v1 file content "7:0 1048576\n8:0 100\n" → the value for majMin (0 = no rule). */
export function parseV1ThrottleFile(text: string, majMin: string): number {
  for (const line of text.split("\n")) {
    const [mm, v] = line.trim().split(/\s+/);
    if (mm === majMin && v !== undefined) return Number(v);
  }
  return 0;
}

/** v2 io.max content "7:0 rbps=1048576 wbps=max riops=max wiops=500" → limits for majMin (max = 0). */
export function parseIoMax(text: string, majMin: string): IoLimits {
  const out: IoLimits = { readBps: 0, writeBps: 0, readIops: 0, writeIops: 0 };
  for (const line of text.split("\n")) {
    const [mm, ...kvs] = line.trim().split(/\s+/);
    if (mm !== majMin) continue;
    for (const kv of kvs) {
      const [k, v] = kv.split("=");
      const field = (Object.keys(V2_KEYS) as (keyof IoLimits)[]).find((f) => V2_KEYS[f] === k);
      if (field && v !== undefined) out[field] = v === "max" ? 0 : Number(v);
    }
  }
  return out;
}

/** The io.max line for the limits (0 → max). Only the given fields are written; others keep their value. */
export function ioMaxLine(majMin: string, l: Partial<IoLimits>): string {
  const parts = (Object.keys(V2_KEYS) as (keyof IoLimits)[]).filter((f) => l[f] !== undefined).map((f) => `${V2_KEYS[f]}=${l[f] === 0 ? "max" : l[f]}`);
  return `${majMin} ${parts.join(" ")}`;
}

/**
 * Set IO limits for device `majMin` in the cgroup directory `dir` (an absolute path inside the blkio (v1) or
 * unified (v2) hierarchy). Fields left undefined are not touched.
 */
export async function setIoLimits(dir: string, majMin: string, limits: Partial<IoLimits>, version?: CgroupVersion): Promise<void> {
  assertAbsolutePath(dir);
  assertMajorMinor(majMin);
  checkLimits(limits);
  const v = version ?? ((await exists(join(dir, V1_FILES.readBps))) ? "v1" : "v2");
  if (v === "v1") {
    for (const f of Object.keys(V1_FILES) as (keyof IoLimits)[]) {
      if (limits[f] === undefined) continue;
      await writeCgroupFile(join(dir, V1_FILES[f]), `${majMin} ${limits[f]}`);
    }
  } else {
    if (Object.values(limits).every((x) => x === undefined)) return;
    await writeCgroupFile(join(dir, "io.max"), ioMaxLine(majMin, limits));
  }
}

/** Current limits of `majMin` in `dir` (0 = unlimited). */
export async function readIoLimits(dir: string, majMin: string, version?: CgroupVersion): Promise<IoLimits> {
  assertAbsolutePath(dir);
  assertMajorMinor(majMin);
  const v = version ?? ((await exists(join(dir, V1_FILES.readBps))) ? "v1" : "v2");
  if (v === "v1") {
    const out: IoLimits = { readBps: 0, writeBps: 0, readIops: 0, writeIops: 0 };
    for (const f of Object.keys(V1_FILES) as (keyof IoLimits)[]) {
      out[f] = parseV1ThrottleFile(await readFile(join(dir, V1_FILES[f]), "utf8"), majMin);
    }
    return out;
  }
  return parseIoMax((await ifExists(readFile(join(dir, "io.max"), "utf8"))) ?? "", majMin);
}

/** Remove every limit of `majMin` in `dir`. */
export async function clearIoLimits(dir: string, majMin: string, version?: CgroupVersion): Promise<void> {
  await setIoLimits(dir, majMin, { readBps: 0, writeBps: 0, readIops: 0, writeIops: 0 }, version);
}

async function writeCgroupFile(path: string, line: string): Promise<void> {
  try {
    await writeFile(path, line + "\n", { flag: "w" });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new HwError("NOT_FOUND", "CgroupNotFound", `cgroup file ${path} not found`, { cause: e });
    if (code === "ENODEV" || code === "EINVAL") {
      throw new HwError("INVALID_ARGUMENT", "InvalidIoLimit", `kernel rejected "${line}" in ${path}: ${code}`, {
        cause: e,
        hint: "the device must exist and be a whole block device (not a partition on v1)",
      });
    }
    throw e;
  }
}

/** Create a child cgroup directory (tests, and per-volume cgroups). Idempotent. */
export async function createCgroup(dir: string): Promise<void> {
  assertAbsolutePath(dir);
  await mkdir(dir, { recursive: true });
}

/** Remove an (empty) cgroup directory; missing = done. */
export async function removeCgroup(dir: string): Promise<void> {
  assertAbsolutePath(dir);
  try {
    await rmdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}
