// Mounts: findmnt parsing, mount / bind / remount read-only / unmount / make-rshared.
// mount is idempotent (the same source already at the target = done); unmount is idempotent (not mounted or
// missing target = done) and a busy target is classified UNAVAILABLE DeviceBusy (isBusy).

import { readFileSync } from "node:fs";
import { HwError } from "../../api/errors.ts";
import { isCommandError, run, type RunOptions } from "../runner.ts";
import { assertAbsolutePath } from "../validate.ts";

export interface MountInfo {
  target: string;
  source: string;
  fstype: string;
  options: string[];
  propagation: string; // private | shared | slave | unbindable (findmnt may join several with ",")
}

const COLUMNS = "TARGET,SOURCE,FSTYPE,OPTIONS,PROPAGATION";

type Raw = { target: string; source?: string | null; fstype?: string | null; options?: string | null; propagation?: string | null; children?: Raw[] };

/** Parse `findmnt --json -o TARGET,SOURCE,FSTYPE,OPTIONS,PROPAGATION` (tree or --list), flattened. */
export function parseFindmnt(json: string): MountInfo[] {
  if (json.trim() === "") return [];
  const doc = JSON.parse(json) as { filesystems?: Raw[] };
  const out: MountInfo[] = [];
  const walk = (r: Raw) => {
    out.push({
      target: r.target,
      source: r.source ?? "",
      fstype: r.fstype ?? "",
      options: (r.options ?? "").split(",").filter(Boolean),
      propagation: r.propagation ?? "",
    });
    (r.children ?? []).forEach(walk);
  };
  (doc.filesystems ?? []).forEach(walk);
  return out;
}

/** All mounts of this mount namespace. */
export async function listMounts(opts: RunOptions = {}): Promise<MountInfo[]> {
  return parseFindmnt((await run(["findmnt", "--json", "--list", "-o", COLUMNS], opts)).stdout);
}

/**
 * Mount points of /proc/self/mountinfo (field 5, octal escapes such as `\040` for a space undone), in order.
 * The same table findmnt reads; used where only "is something mounted at this path" matters.
 */
export function parseMountinfoTargets(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const target = line.split(" ")[4];
    if (target) out.push(target.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/**
 * The mount points of this process's mount namespace, read from /proc/self/mountinfo without spawning findmnt
 * (hot paths such as the file engine's "is the pool mounted" before every replica lookup and create: a
 * process costs 5-50 ms on a loaded machine, this read well under 1 ms). A synchronous read on purpose: procfs
 * generates the text in memory, no disk I/O.
 */
export function mountTargets(mountinfo = "/proc/self/mountinfo"): Set<string> {
  return new Set(parseMountinfoTargets(readFileSync(mountinfo, "utf8")));
}

/** Mounts at exactly `target` (several when stacked; the last is on top). [] when none. */
export async function findMountsAt(target: string, opts: RunOptions = {}): Promise<MountInfo[]> {
  assertAbsolutePath(target);
  // Nothing mounted there (the common case on a publish path): known from /proc/self/mountinfo, no process.
  if (!opts.nsenterNetPath && !mountTargets().has(target)) return [];
  const r = await run(["findmnt", "--json", "--list", "-o", COLUMNS, "--mountpoint", target], { ...opts, allowedExitCodes: [1] });
  return r.exitCode === 1 ? [] : parseFindmnt(r.stdout).filter((m) => m.target === target);
}

/** Mounts whose source is `source` (a device, or a bind-mounted path as findmnt shows it: dev[/subpath]). */
export async function findMountsBySource(source: string, opts: RunOptions = {}): Promise<MountInfo[]> {
  assertAbsolutePath(source);
  const r = await run(["findmnt", "--json", "--list", "-o", COLUMNS, "--source", source], { ...opts, allowedExitCodes: [1] });
  return r.exitCode === 1 ? [] : parseFindmnt(r.stdout);
}

export async function isMountPoint(path: string, opts: RunOptions = {}): Promise<boolean> {
  return (await findMountsAt(path, opts)).length > 0;
}

export interface MountOptions {
  fstype?: string;
  /** Filesystem options (e.g. ["nouuid"] for XFS clones, ["discard"]). */
  options?: string[];
  readOnly?: boolean;
}

function checkOptions(opts: string[]): void {
  for (const o of opts) {
    // eslint-disable-next-line no-control-regex
    if (!o || /[\s,\x00-\x1f\x7f]/.test(o) || o.startsWith("-")) {
      throw new HwError("INVALID_ARGUMENT", "Invalid", `mount option ${JSON.stringify(o)} is not valid`);
    }
  }
}

/** Build the argv of a mount (pure). */
export function mountArgv(source: string, target: string, o: MountOptions = {}): string[] {
  assertAbsolutePath(source);
  assertAbsolutePath(target);
  const options = [...(o.options ?? [])];
  if (o.readOnly) options.unshift("ro");
  checkOptions(options);
  const argv = ["mount"];
  if (o.fstype) {
    if (!/^[a-z0-9_.]+$/.test(o.fstype)) throw new HwError("INVALID_ARGUMENT", "Invalid", `filesystem type ${JSON.stringify(o.fstype)} is not valid`);
    argv.push("-t", o.fstype);
  }
  if (options.length) argv.push("-o", options.join(","));
  argv.push("--", source, target);
  return argv;
}

/**
 * Mount `source` (device) on `target` (existing directory). If `source` is already mounted there, do nothing;
 * if something else is mounted there, FAILED_PRECONDITION TargetBusy.
 */
export async function mount(source: string, target: string, o: MountOptions = {}, opts: RunOptions = {}): Promise<void> {
  const argv = mountArgv(source, target, o);
  // Crash window covered: mount(8) succeeded but the caller died before recording it.
  const existing = await findMountsAt(target, opts);
  if (existing.length) {
    if (existing.some((m) => m.source === source)) return;
    throw new HwError("FAILED_PRECONDITION", "MountTargetBusy", `${target} already has ${existing.at(-1)!.source} mounted, not ${source}`);
  }
  try {
    await run(argv, opts);
  } catch (e) {
    throw classifyMountError(e);
  }
}

/**
 * Bind-mount `source` onto `target` (directory onto directory, or a block device / file onto a file: the
 * CSI block-volume publish). readOnly adds the `remount,bind,ro` step a bind needs to become read-only.
 */
export async function bindMount(source: string, target: string, o: { readOnly?: boolean } = {}, opts: RunOptions = {}): Promise<void> {
  assertAbsolutePath(source);
  assertAbsolutePath(target);
  const existing = await findMountsAt(target, opts);
  if (!existing.length) {
    try {
      await run(["mount", "--bind", "--", source, target], opts);
    } catch (e) {
      throw classifyMountError(e);
    }
  }
  // Simplification: an existing mount at target is assumed to be our bind (findmnt shows a bind's source as
  // the underlying device[/path], which cannot be compared to `source` reliably).
  if (o.readOnly) await remountReadOnly(target, { bind: true }, opts);
}

/** `mount -o remount,[bind,]ro TARGET`. */
export async function remountReadOnly(target: string, o: { bind?: boolean } = {}, opts: RunOptions = {}): Promise<void> {
  assertAbsolutePath(target);
  try {
    await run(["mount", "-o", o.bind ? "remount,bind,ro" : "remount,ro", "--", target], opts);
  } catch (e) {
    throw classifyMountError(e);
  }
}

/** Unmount `target` (one layer). Not mounted or missing = already done. Busy → UNAVAILABLE DeviceBusy. */
export async function unmount(target: string, opts: RunOptions = {}): Promise<void> {
  assertAbsolutePath(target);
  try {
    await run(["umount", "--", target], opts);
  } catch (e) {
    if (isNotMounted(e)) return;
    throw classifyMountError(e);
  }
}

/** Unmount every layer stacked at `target`. */
export async function unmountAll(target: string, opts: RunOptions = {}): Promise<void> {
  for (let i = 0; i < 16 && (await isMountPoint(target, opts)); i++) await unmount(target, opts);
}

// ---------------------------------------------------------------------------------------------------------
// Classification (util-linux 2.38 texts; umount exits 32 for all of them)

export function isNotMounted(e: unknown): boolean {
  return isCommandError(e) && /not mounted|No such file or directory|no mount point specified/.test(e.stderr);
}
export function isBusy(e: unknown): boolean {
  return isCommandError(e) && /target is busy|Device or resource busy|already mounted/.test(e.stderr);
}
export function isNotFound(e: unknown): boolean {
  return isCommandError(e) && /No such file or directory|special device .* does not exist|mount point does not exist/.test(e.stderr);
}
export function isNoSpace(e: unknown): boolean {
  return isCommandError(e) && /No space left on device/.test(e.stderr);
}

function classifyMountError(e: unknown): unknown {
  if (!isCommandError(e)) return e;
  if (isBusy(e)) return e.reclassify("UNAVAILABLE", "DeviceBusy", "a process still uses the mount");
  if (isNotFound(e)) return e.reclassify("NOT_FOUND", "NotFound");
  if (/wrong fs type, bad option, bad superblock/.test(e.stderr)) return e.reclassify("FAILED_PRECONDITION", "BadFilesystem");
  return e;
}
