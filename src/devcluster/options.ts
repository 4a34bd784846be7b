// `cluster up` options: defaults, validation, and the comparison with a cluster that already exists.
// Options given on the command line must match the stored ones; options left out inherit them, so a plain
// `hwameistor cluster up` brings back whatever cluster the state dir holds.

import { HwError, invalid } from "../api/errors.ts";
import { POOL_CLASSES, isPoolClass, type PoolClass } from "../api/names.ts";
import { formatBytes, parseSize } from "../api/quantity.ts";

export interface ClusterOptions {
  nodes: number;
  disksPerNode: number;
  diskSizeBytes: number;
  diskClass: PoolClass;
  netns: boolean;
  /** Cluster spec.notClaimDisk: leave the disks unclaimed (no pools until someone claims them). */
  notClaimDisk: boolean;
  /** Node agents' `--file-fs` (file engine pool filesystem); undefined = the agent's default. */
  fileFs?: "btrfs" | "xfs";
}

export const DEFAULT_OPTIONS: ClusterOptions = {
  nodes: 3,
  disksPerNode: 2,
  diskSizeBytes: 2 * 2 ** 30,
  diskClass: "HDD",
  netns: false,
  notClaimDisk: false,
};

export const DEFAULT_STATE_DIR = ".state/cluster";
export const MAX_NODES = 32;
export const MAX_DISKS_PER_NODE = 16;
/** XFS needs ≥ 300 MB; smaller disks make volumes that cannot be formatted. */
export const MIN_DISK_BYTES = 512 * 2 ** 20;

/** Raw flag values as commander hands them over (strings for sizes, undefined when not given). */
export interface RawOptions {
  nodes?: string | number;
  disksPerNode?: string | number;
  diskSize?: string;
  diskClass?: string;
  netns?: boolean;
  notClaimDisk?: boolean;
  fileFs?: string;
}

function int(v: string | number, flag: string, min: number, max: number): number {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(`${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
  return n;
}

/** Parses only the options that were given (the rest stay undefined). */
export function parseGiven(raw: RawOptions): Partial<ClusterOptions> {
  const o: Partial<ClusterOptions> = {};
  if (raw.nodes !== undefined) o.nodes = int(raw.nodes, "--nodes", 1, MAX_NODES);
  if (raw.disksPerNode !== undefined) o.disksPerNode = int(raw.disksPerNode, "--disks-per-node", 1, MAX_DISKS_PER_NODE);
  if (raw.diskSize !== undefined) {
    o.diskSizeBytes = parseSize(raw.diskSize, "--disk-size");
    if (o.diskSizeBytes < MIN_DISK_BYTES)
      throw invalid(`--disk-size ${raw.diskSize} is too small`, { hint: `use at least ${formatBytes(MIN_DISK_BYTES)} (XFS needs 300 MB)` });
  }
  if (raw.diskClass !== undefined) {
    if (!isPoolClass(raw.diskClass))
      throw invalid(`--disk-class ${JSON.stringify(raw.diskClass)} is not a disk class`, { hint: `use one of ${POOL_CLASSES.join(", ")}` });
    o.diskClass = raw.diskClass;
  }
  if (raw.netns !== undefined) o.netns = raw.netns;
  if (raw.notClaimDisk !== undefined) o.notClaimDisk = raw.notClaimDisk;
  if (raw.fileFs !== undefined) {
    if (raw.fileFs !== "btrfs" && raw.fileFs !== "xfs") throw invalid(`--file-fs ${JSON.stringify(raw.fileFs)} is not btrfs or xfs`);
    o.fileFs = raw.fileFs;
  }
  return o;
}

const FLAG: Record<keyof ClusterOptions, string> = {
  nodes: "--nodes",
  disksPerNode: "--disks-per-node",
  diskSizeBytes: "--disk-size",
  diskClass: "--disk-class",
  netns: "--netns",
  notClaimDisk: "--not-claim-disk",
  fileFs: "--file-fs",
};

const show = (k: keyof ClusterOptions, v: unknown): string => (k === "diskSizeBytes" ? formatBytes(v as number) : String(v));

/** What differs between the stored options and those given now: one "flag: stored → given" line each. */
export function diffOptions(stored: ClusterOptions, given: Partial<ClusterOptions>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(FLAG) as Array<keyof ClusterOptions>) {
    if (given[k] === undefined || given[k] === stored[k]) continue;
    out.push(`${FLAG[k]}: the cluster has ${show(k, stored[k])}, this command asks for ${show(k, given[k])}`);
  }
  return out;
}

/** The options to use: stored ones (if any) after checking the given ones match, else defaults + given. */
export function resolveOptions(stored: ClusterOptions | undefined, given: Partial<ClusterOptions>, stateDir: string): ClusterOptions {
  if (!stored) return { ...DEFAULT_OPTIONS, ...given };
  const diff = diffOptions(stored, given);
  if (diff.length) {
    throw new HwError("ABORTED", "OptionsDiffer", `the cluster in ${stateDir} was made with other options:\n  ${diff.join("\n  ")}`, {
      hint: `nothing was changed. Drop those flags to use the existing cluster, or run \`hwameistor cluster down --purge --state-dir ${stateDir}\` first to make a new one`,
    });
  }
  return { ...stored };
}
