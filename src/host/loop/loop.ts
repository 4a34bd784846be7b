// Loop devices: a sparse file attached as a block device (test disks, and the `file` engine's replicas).
// attachLoop is idempotent: a file already attached (same offset/sizelimit) returns the existing device, so
// a reconciler killed between `losetup` and recording the device does not leak a second one on re-run.
// Simplification: two concurrent attaches of the same file can still race (losetup has no lock for that);
// callers serialise per file.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { HwError } from "../../api/errors.ts";
import { isCommandError, run, type RunOptions } from "../runner.ts";
import { assertAbsolutePath, assertDevicePath, assertNonNegativeInt } from "../validate.ts";

export interface LoopDevice {
  /** /dev/loopN */
  name: string;
  /** Absolute path of the backing file as the kernel reports it (without " (deleted)"). */
  backFile: string;
  /** The backing file was deleted while attached. */
  backFileDeleted: boolean;
  backIno: number | null;
  majMin: string;
  offset: number;
  sizeLimit: number;
  readOnly: boolean;
  directIo: boolean;
  autoclear: boolean;
  partscan: boolean;
  logicalSectorSize: number | null;
}

export interface AttachOptions {
  readOnly?: boolean;
  /** Default true: bypass the page cache of the backing file (no double caching, honest fsync). */
  directIo?: boolean;
  offset?: number;
  sizeLimit?: number;
  /**
   * The caller has just created the file and nothing can have attached it yet (a new replica image, made
   * under its pool's lock): skip the look for a device already backed by it, a scan of every loop device in
   * sysfs that grows with the machine's loop count (9 reads per device).
   */
  neverAttached?: boolean;
}

const LIST_COLUMNS = "NAME,BACK-FILE,BACK-INO,MAJ:MIN,OFFSET,SIZELIMIT,RO,DIO,AUTOCLEAR,PARTSCAN,LOG-SEC";

interface RawLoop {
  name: string;
  "back-file"?: string | null;
  "back-ino"?: number | string | null;
  "maj:min"?: string | null;
  offset?: number | string | null;
  sizelimit?: number | string | null;
  ro?: boolean | string | number | null;
  dio?: boolean | string | number | null;
  autoclear?: boolean | string | number | null;
  partscan?: boolean | string | number | null;
  "log-sec"?: number | string | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined || v === "" ? null : Number(v));
const bool = (v: unknown): boolean => v === true || v === 1 || v === "1" || v === "true";

/** Parse `losetup --list --json -O …`. (losetup pads maj:min with spaces: "  7:1  ".) */
export function parseLosetupList(json: string): LoopDevice[] {
  if (json.trim() === "") return []; // losetup prints nothing at all when no loop device is attached
  const doc = JSON.parse(json) as { loopdevices?: RawLoop[] };
  return (doc.loopdevices ?? []).map((r) => {
    let backFile = (r["back-file"] ?? "").trim();
    const backFileDeleted = backFile.endsWith(" (deleted)");
    if (backFileDeleted) backFile = backFile.slice(0, -" (deleted)".length);
    return {
      name: r.name,
      backFile,
      backFileDeleted,
      backIno: num(r["back-ino"]),
      majMin: (r["maj:min"] ?? "").trim(),
      offset: num(r.offset) ?? 0,
      sizeLimit: num(r.sizelimit) ?? 0,
      readOnly: bool(r.ro),
      directIo: bool(r.dio),
      autoclear: bool(r.autoclear),
      partscan: bool(r.partscan),
      logicalSectorSize: num(r["log-sec"]),
    };
  });
}

/**
 * All attached loop devices, read from /sys/block/loopN (what losetup itself reads: backing_file, offset,
 * sizelimit, dio, autoclear, partscan, ro, dev, queue/logical_block_size) without spawning anything — the
 * engines call this on every replica lookup, and a losetup process costs 5–30 ms on a loaded machine.
 * Falls back to `losetup --list --json` where /sys/block cannot be read.
 */
export async function listLoops(opts: RunOptions = {}): Promise<LoopDevice[]> {
  const fromSys = await listLoopsSysfs().catch(() => undefined);
  if (fromSys) return fromSys;
  const { stdout } = await run(["losetup", "--list", "--json", "-O", LIST_COLUMNS], opts);
  return parseLosetupList(stdout);
}

/**
 * Loop devices from sysfs. Synchronous reads on purpose: sysfs attributes are generated in memory (no disk
 * I/O), and ~9 reads per device through the libuv thread pool cost more than the whole synchronous scan.
 */
export async function listLoopsSysfs(sysBlock = "/sys/block"): Promise<LoopDevice[]> {
  const out: LoopDevice[] = [];
  for (const n of readdirSync(sysBlock).filter((x) => /^loop\d+$/.test(x))) {
    const lo = loopFromSysfs(sysBlock, n);
    if (lo) out.push(lo);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
}

/** One loop device (`loopN`) from sysfs, or undefined when it is not attached. */
function loopFromSysfs(sysBlock: string, n: string): LoopDevice | undefined {
  const read = (f: string): string | undefined => {
    try {
      return readFileSync(`${sysBlock}/${n}/${f}`, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const back = read("loop/backing_file");
  if (back === undefined || back === "") return undefined; // loop/ exists only while attached
  return parseSysfsLoop(n, {
    back,
    offset: read("loop/offset"),
    sizelimit: read("loop/sizelimit"),
    dio: read("loop/dio"),
    autoclear: read("loop/autoclear"),
    partscan: read("loop/partscan"),
    ro: read("ro"),
    dev: read("dev"),
    lbs: read("queue/logical_block_size"),
  });
}

/** One loop device from its sysfs attribute texts (pure; the kernel appends " (deleted)" to a removed file). */
export function parseSysfsLoop(
  name: string,
  a: { back: string; offset?: string; sizelimit?: string; dio?: string; autoclear?: string; partscan?: string; ro?: string; dev?: string; lbs?: string },
): LoopDevice {
  let backFile = a.back;
  const backFileDeleted = backFile.endsWith(" (deleted)");
  if (backFileDeleted) backFile = backFile.slice(0, -" (deleted)".length);
  return {
    name: `/dev/${name}`,
    backFile,
    backFileDeleted,
    backIno: null,
    majMin: a.dev ?? "",
    offset: num(a.offset) ?? 0,
    sizeLimit: num(a.sizelimit) ?? 0,
    readOnly: bool(a.ro),
    directIo: bool(a.dio),
    autoclear: bool(a.autoclear),
    partscan: bool(a.partscan),
    logicalSectorSize: num(a.lbs),
  };
}

/** Loop devices backed by `file` (resolved through symlinks, as losetup records it). */
export async function findLoopsByBackingFile(file: string, opts: RunOptions = {}): Promise<LoopDevice[]> {
  assertAbsolutePath(file);
  const real = await realpath(file).catch(() => file);
  return (await listLoops(opts)).filter((l) => l.backFile === real && !l.backFileDeleted);
}

/** The loop device `dev`, or undefined when it is not attached (its sysfs attributes only, no scan of all). */
export async function getLoop(dev: string, opts: RunOptions = {}): Promise<LoopDevice | undefined> {
  assertDevicePath(dev);
  const n = /^\/dev\/(loop\d+)$/.exec(dev)?.[1];
  if (n && existsSync("/sys/block")) return loopFromSysfs("/sys/block", n);
  return (await listLoops(opts)).find((l) => l.name === dev);
}

/**
 * Attach `file` (`losetup --find --show --direct-io=on [-r] [--offset] [--sizelimit]`). If the file is already
 * attached with the same offset and size limit, that device is returned instead (a read-only request matches
 * only a read-only device and vice versa).
 */
export async function attachLoop(file: string, o: AttachOptions = {}, opts: RunOptions = {}): Promise<LoopDevice> {
  assertAbsolutePath(file);
  const offset = assertNonNegativeInt(o.offset ?? 0, "loop offset");
  const sizeLimit = assertNonNegativeInt(o.sizeLimit ?? 0, "loop size limit");
  const readOnly = o.readOnly ?? false;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new HwError("FAILED_PRECONDITION", "NotAFile", `loop backing file ${file} is not a regular file`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new HwError("NOT_FOUND", "BackingFileNotFound", `loop backing file ${file} not found`);
    throw e;
  }
  // Crash window covered: losetup succeeded but the caller died before recording the device.
  if (!o.neverAttached) {
    const existing = (await findLoopsByBackingFile(file, opts)).find((l) => l.offset === offset && l.sizeLimit === sizeLimit && l.readOnly === readOnly);
    if (existing) return existing;
  }

  const argv = ["losetup", "--find", "--show", `--direct-io=${o.directIo === false ? "off" : "on"}`];
  if (readOnly) argv.push("--read-only");
  if (offset) argv.push("--offset", String(offset));
  if (sizeLimit) argv.push("--sizelimit", String(sizeLimit));
  argv.push("--", file);
  let stdout: string;
  try {
    ({ stdout } = await run(argv, opts));
  } catch (e) {
    throw classifyLoopError(e);
  }
  const dev = stdout.trim();
  const attached = await getLoop(dev, opts);
  if (!attached) throw new HwError("INTERNAL", "LoopVanished", `loop device ${dev} for ${file} vanished right after attach`);
  return attached;
}

/** Detach; a device that is not attached (or does not exist) counts as detached. */
export async function detachLoop(dev: string, opts: RunOptions = {}): Promise<void> {
  assertDevicePath(dev);
  try {
    await run(["losetup", "--detach", dev], opts);
  } catch (e) {
    if (isNotFound(e)) return;
    throw classifyLoopError(e);
  }
  await waitDetached(dev);
}

/**
 * LOOP_CLR_FD only marks the device for rundown; the kernel releases the backing file when the last opener
 * closes it, possibly from a work queue after losetup has exited. A caller that unmounts the backing file's
 * filesystem right away then gets "target is busy". Wait (up to `maxMs`) until sysfs shows the device
 * unbound; a device another process keeps open stays bound (autoclear) and is left to the kernel.
 */
export async function waitDetached(dev: string, maxMs = 2000): Promise<boolean> {
  const attr = `/sys/block/${dev.replace(/^\/dev\//, "")}/loop/backing_file`;
  const end = Date.now() + maxMs;
  for (let delay = 2; ; delay = Math.min(50, delay * 2)) {
    let bound: boolean;
    try {
      bound = readFileSync(attr, "utf8").trim() !== "";
    } catch {
      bound = false;
    }
    if (!bound) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Re-read the backing file's size after it was grown (`losetup --set-capacity`). */
export async function setLoopCapacity(dev: string, opts: RunOptions = {}): Promise<void> {
  assertDevicePath(dev);
  try {
    await run(["losetup", "--set-capacity", dev], opts);
  } catch (e) {
    throw classifyLoopError(e);
  }
}

/** Create a sparse file of `sizeBytes` (fails with ALREADY_EXISTS if it exists). */
export async function createSparseFile(path: string, sizeBytes: number): Promise<void> {
  assertAbsolutePath(path);
  assertNonNegativeInt(sizeBytes, "file size");
  let fh;
  try {
    fh = await open(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new HwError("ALREADY_EXISTS", "AlreadyExists", `file ${path} already exists`);
    throw e;
  }
  try {
    await fh.truncate(sizeBytes);
  } finally {
    await fh.close();
  }
}

/** Grow a sparse file to `sizeBytes` (no-op if already that size; refuses to shrink: that would cut data). */
export async function growSparseFile(path: string, sizeBytes: number): Promise<void> {
  assertAbsolutePath(path);
  assertNonNegativeInt(sizeBytes, "file size");
  const fh = await open(path, "r+");
  try {
    const { size } = await fh.stat();
    if (size > sizeBytes) {
      throw new HwError("FAILED_PRECONDITION", "ShrinkRefused", `file ${path} is ${size} bytes; refusing to shrink it to ${sizeBytes}`);
    }
    if (size < sizeBytes) await fh.truncate(sizeBytes);
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Classification (stderr texts measured with util-linux 2.38)

/** "No such device or address" (ENXIO: not attached) or no such device node. */
export function isNotFound(e: unknown): boolean {
  return isCommandError(e) && /No such device or address|No such file or directory|No such device\b/.test(e.stderr);
}

export function isBusy(e: unknown): boolean {
  return isCommandError(e) && /Device or resource busy/.test(e.stderr);
}

/** No free loop device (loop module's max_loop reached, or /dev/loop-control missing). */
export function isNoSpace(e: unknown): boolean {
  return isCommandError(e) && /cannot find an unused loop device|could not find any free loop device/i.test(e.stderr);
}

function classifyLoopError(e: unknown): unknown {
  if (!isCommandError(e)) return e;
  if (isNoSpace(e)) return e.reclassify("RESOURCE_EXHAUSTED", "NoFreeLoopDevice", "detach unused loop devices or raise max_loop");
  if (isBusy(e)) return e.reclassify("UNAVAILABLE", "DeviceBusy");
  if (isNotFound(e)) return e.reclassify("NOT_FOUND", "DeviceNotFound");
  return e;
}
