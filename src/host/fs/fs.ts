// Filesystems on block devices: probe, format (refusing non-empty devices), grow, freeze, trim, wipe, stats.
//
// No silent data loss (ARCHITECTURE.md principle 5): `mkfs` probes the device first (blkid -p and wipefs -n)
// and refuses a device with ANY signature — filesystem, partition table, RAID/LVM member — unless the caller
// passes `force: true` explicitly. `wipeSignatures` erases only signatures of the type the caller says it
// wrote, one offset at a time, and refuses when anything else is present.
//
// Measured here: mkfs.xfs 6.1 refuses devices under 300 MB ("Filesystem must be larger than 300MB"); ext4
// cannot be grown while mounted (no CAP_SYS_RESOURCE in this VM); `blkid -p` of a mounted/busy device fails
// with "Operation not permitted"/"Device or resource busy" (reported as in use, never as empty).

import { statfs } from "node:fs/promises";
import { HwError } from "../../api/errors.ts";
import { isCommandError, run, type RunOptions } from "../runner.ts";
import { assertAbsolutePath, assertDevicePath } from "../validate.ts";

export type FsType = "xfs" | "ext4";

export interface ProbeResult {
  /** TYPE: xfs, ext4, btrfs, LVM2_member, swap, … (null when only a partition table was found) */
  type: string | null;
  /** USAGE: filesystem, raid, crypto, other */
  usage: string | null;
  uuid: string | null;
  label: string | null;
  /** PTTYPE: gpt, dos (a partition table) */
  pttype: string | null;
  properties: Record<string, string>;
}

export interface Signature {
  offset: string; // "0x438"
  type: string;
  uuid: string | null;
  label: string | null;
}

/** Parse `blkid -p -o export` output; null when there is no line with a value we care about. */
export function parseBlkidExport(text: string): ProbeResult | null {
  const props: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) props[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const g = (k: string) => props[k] ?? null;
  if (!g("TYPE") && !g("PTTYPE") && !g("USAGE")) return null;
  return { type: g("TYPE"), usage: g("USAGE"), uuid: g("UUID"), label: g("LABEL"), pttype: g("PTTYPE"), properties: props };
}

export function parseWipefsJson(json: string): Signature[] {
  if (json.trim() === "") return [];
  const doc = JSON.parse(json) as { signatures?: Array<Record<string, unknown>> };
  return (doc.signatures ?? []).map((s) => ({
    offset: String(s.offset),
    type: String(s.type),
    uuid: (s.uuid as string | null) ?? null,
    label: (s.label as string | null) ?? null,
  }));
}

/**
 * What is on the device (`blkid -p -o export`, low-level probe, bypasses the cache). null = nothing found.
 * A device that cannot be opened exclusively (mounted, held by another user) throws UNAVAILABLE "in use".
 */
export async function probeFilesystem(dev: string, opts: RunOptions = {}): Promise<ProbeResult | null> {
  assertDevicePath(dev);
  let r;
  try {
    r = await run(["blkid", "-p", "-o", "export", dev], { ...opts, allowedExitCodes: [2] });
  } catch (e) {
    throw classifyFsError(e);
  }
  if (r.exitCode === 2) {
    // 2 = nothing identified, but also "error: <dev>: Operation not permitted" when the device is busy.
    if (/error:/.test(r.stderr)) {
      throw new HwError("UNAVAILABLE", "DeviceInUse", `cannot probe ${dev}: ${r.stderr.trim()}`, {
        hint: "the device is mounted or held by another process",
      });
    }
    return null;
  }
  return parseBlkidExport(r.stdout);
}

/** Every signature wipefs sees (`wipefs --no-act --json`). */
export async function listSignatures(dev: string, opts: RunOptions = {}): Promise<Signature[]> {
  assertDevicePath(dev);
  try {
    return parseWipefsJson((await run(["wipefs", "--no-act", "--json", dev], opts)).stdout);
  } catch (e) {
    throw classifyFsError(e);
  }
}

export interface MkfsOptions {
  /** XFS only: `-m reflink=0|1`. The original formats volumes with reflink=0; pools of the file engine want 1. */
  reflink?: boolean;
  label?: string;
  /** XFS only: the filesystem UUID to write (`-m uuid=`), so a caller can record it before formatting (an intent). */
  uuid?: string;
  /** Format even if the device holds a signature. Never set this from user input without an explicit flag. */
  force?: boolean;
  /**
   * xfs only: the caller has just probed the device empty (blkid and wipefs), so mkfs() does not probe again;
   * mkfs.xfs without -f still refuses any filesystem or partition table it finds itself.
   */
  probed?: boolean;
  /** Extra options appended before the device, e.g. ["-b", "size=4096"]. */
  extraArgs?: string[];
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Build the mkfs argv (pure, for tests and dry runs). */
export function mkfsArgv(dev: string, fstype: FsType, o: MkfsOptions = {}): string[] {
  assertDevicePath(dev);
  if (o.label !== undefined && !/^[A-Za-z0-9_.-]{1,12}$/.test(o.label)) {
    throw new HwError("INVALID_ARGUMENT", "Invalid", `filesystem label ${JSON.stringify(o.label)} must be 1-12 of A-Z a-z 0-9 _ . -`);
  }
  if (o.uuid !== undefined && !UUID_RE.test(o.uuid))
    throw new HwError("INVALID_ARGUMENT", "Invalid", `filesystem UUID ${JSON.stringify(o.uuid)} is not a UUID`);
  if (o.uuid !== undefined && fstype !== "xfs") throw new HwError("INVALID_ARGUMENT", "Invalid", `a filesystem UUID can only be chosen for xfs, not ${fstype}`);
  for (const a of o.extraArgs ?? []) if (a.startsWith("/")) throw new HwError("INVALID_ARGUMENT", "Invalid", `mkfs extra argument ${a} looks like a device`);
  switch (fstype) {
    case "xfs": {
      const argv = ["mkfs.xfs", "-q"];
      if (o.force) argv.push("-f");
      const meta = [...(o.reflink !== undefined ? [`reflink=${o.reflink ? 1 : 0}`] : []), ...(o.uuid !== undefined ? [`uuid=${o.uuid}`] : [])];
      if (meta.length) argv.push("-m", meta.join(","));
      if (o.label) argv.push("-L", o.label);
      return [...argv, ...(o.extraArgs ?? []), dev];
    }
    case "ext4": {
      // -F: mke2fs otherwise asks "Proceed anyway?" for a whole device; our own probe is the safety check.
      const argv = ["mkfs.ext4", "-q", "-F"];
      if (o.label) argv.push("-L", o.label);
      return [...argv, ...(o.extraArgs ?? []), dev];
    }
    default:
      throw new HwError("INVALID_ARGUMENT", "UnsupportedFsType", `filesystem type ${String(fstype)} is not supported (use xfs or ext4)`);
  }
}

/** Format `dev`; refuses (FAILED_PRECONDITION DeviceNotEmpty) if any signature is present and force is not set. */
export async function mkfs(dev: string, fstype: FsType, o: MkfsOptions = {}, opts: RunOptions = {}): Promise<void> {
  const argv = mkfsArgv(dev, fstype, o);
  if (!o.force && !(o.probed && fstype === "xfs")) {
    const probe = await probeFilesystem(dev, opts);
    const sigs = await listSignatures(dev, opts);
    if (probe || sigs.length) {
      const what = probe?.type ?? probe?.pttype ?? sigs.map((s) => `${s.type}@${s.offset}`).join(", ");
      throw new HwError("FAILED_PRECONDITION", "DeviceNotEmpty", `refusing to format ${dev}: it holds a ${what} signature`, {
        hint: "wipe it deliberately first, or format with force if its data is known to be disposable",
      });
    }
  }
  try {
    await run(argv, { timeoutMs: 10 * 60_000, ...opts });
  } catch (e) {
    throw classifyFsError(e);
  }
}

/** Grow a mounted XFS to its device's size (`xfs_growfs MOUNTPOINT`). */
export async function growXfs(mountpoint: string, opts: RunOptions = {}): Promise<void> {
  assertAbsolutePath(mountpoint);
  try {
    await run(["xfs_growfs", mountpoint], { timeoutMs: 10 * 60_000, ...opts });
  } catch (e) {
    throw classifyFsError(e);
  }
}

/**
 * XFS allocation hints of a file or directory (`xfs_io -c "extsize N" -c "cowextsize N"`); files created in a
 * directory later inherit them. extsize: allocate in chunks of N bytes (fewer, larger extents for a sparse file
 * written at random); cowextsize: the unit of copy-on-write staging when a shared (reflinked) block is written.
 * Both must be multiples of the filesystem block size; 0 clears the hint.
 */
export async function setXfsHints(path: string, h: { extsizeBytes?: number; cowextsizeBytes?: number }, opts: RunOptions = {}): Promise<void> {
  assertAbsolutePath(path);
  const cmds: string[] = [];
  for (const [k, v] of [
    ["extsize", h.extsizeBytes],
    ["cowextsize", h.cowextsizeBytes],
  ] as const) {
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0 || v % 4096 !== 0) throw new HwError("INVALID_ARGUMENT", "Invalid", `xfs ${k} ${v} must be a multiple of 4096`);
    cmds.push("-c", `${k} ${v}`);
  }
  if (cmds.length) await run(["xfs_io", ...cmds, path], opts);
}

/** The XFS hints of a file or directory as `xfs_io -c stat` reports them (fsxattr.extsize / cowextsize), in bytes. */
export async function getXfsHints(path: string, opts: RunOptions = {}): Promise<{ extsizeBytes: number; cowextsizeBytes: number }> {
  assertAbsolutePath(path);
  return parseXfsIoStat((await run(["xfs_io", "-c", "stat", path], opts)).stdout);
}

export function parseXfsIoStat(stdout: string): { extsizeBytes: number; cowextsizeBytes: number } {
  const num = (k: string): number => Number(new RegExp(`^fsxattr\\.${k} = (\\d+)$`, "m").exec(stdout)?.[1] ?? NaN);
  return { extsizeBytes: num("extsize"), cowextsizeBytes: num("cowextsize") };
}

/**
 * Resize ext2/3/4 to the device size (`resize2fs DEV`). Online growth needs CAP_SYS_RESOURCE, which this VM
 * lacks (reported as FAILED_PRECONDITION OnlineResizeUnsupported). Offline, run checkExt4 first.
 */
export async function resizeExt4(dev: string, opts: RunOptions = {}): Promise<void> {
  assertDevicePath(dev);
  try {
    await run(["resize2fs", dev], { timeoutMs: 10 * 60_000, ...opts });
  } catch (e) {
    if (isCommandError(e) && /Permission denied to resize filesystem|Operation not permitted While checking for on-line resizing/i.test(e.stderr)) {
      throw e.reclassify("FAILED_PRECONDITION", "OnlineResizeUnsupported", "online ext4 resize needs CAP_SYS_RESOURCE; unmount and resize offline");
    }
    throw classifyFsError(e);
  }
}

/** `e2fsck -f -y DEV` (exit 1 = errors corrected, counted as success). */
export async function checkExt4(dev: string, opts: RunOptions = {}): Promise<void> {
  assertDevicePath(dev);
  await run(["e2fsck", "-f", "-y", dev], { timeoutMs: 10 * 60_000, ...opts, allowedExitCodes: [1] });
}

/** Suspend writes (`fsfreeze --freeze`), e.g. around a snapshot. Always pair with unfreeze in a finally. */
export async function freeze(mountpoint: string, opts: RunOptions = {}): Promise<void> {
  assertAbsolutePath(mountpoint);
  try {
    await run(["fsfreeze", "--freeze", mountpoint], opts);
  } catch (e) {
    throw classifyFsError(e);
  }
}

/** `fsfreeze --unfreeze`; a filesystem that is not frozen counts as unfrozen ("Invalid argument"). */
export async function unfreeze(mountpoint: string, opts: RunOptions = {}): Promise<void> {
  assertAbsolutePath(mountpoint);
  try {
    await run(["fsfreeze", "--unfreeze", mountpoint], opts);
  } catch (e) {
    if (isCommandError(e) && /Invalid argument/.test(e.stderr)) return;
    throw classifyFsError(e);
  }
}

/** Discard unused blocks (`fstrim -v`); returns the bytes reported trimmed. */
export async function fstrim(mountpoint: string, opts: RunOptions = {}): Promise<number> {
  assertAbsolutePath(mountpoint);
  let stdout: string;
  try {
    ({ stdout } = await run(["fstrim", "-v", mountpoint], { timeoutMs: 10 * 60_000, ...opts }));
  } catch (e) {
    throw classifyFsError(e);
  }
  return parseFstrimOutput(stdout);
}

/** "/mnt: 123 MiB (128974848 bytes) trimmed" → 128974848 */
export function parseFstrimOutput(stdout: string): number {
  const m = /\((\d+) bytes\) trimmed/.exec(stdout);
  return m ? Number(m[1]) : 0;
}

/**
 * Erase the signatures of `expectType` (e.g. "xfs" we formatted) by offset. Refuses (FAILED_PRECONDITION)
 * when any signature of another type is present, so a foreign partition table or filesystem survives.
 * Returns the erased offsets ([] when the device was already clean).
 */
export async function wipeSignatures(dev: string, expectType: string, opts: RunOptions = {}): Promise<string[]> {
  assertDevicePath(dev);
  const sigs = await listSignatures(dev, opts);
  const foreign = sigs.filter((s) => s.type !== expectType);
  if (foreign.length) {
    throw new HwError(
      "FAILED_PRECONDITION",
      "ForeignSignature",
      `refusing to wipe ${dev}: it holds ${foreign.map((s) => `${s.type}@${s.offset}`).join(", ")}, not only ${expectType}`,
    );
  }
  for (const s of sigs) {
    if (!/^0x[0-9a-f]+$/i.test(s.offset)) throw new HwError("INTERNAL", "UnparseableOutput", `wipefs printed offset ${s.offset}`);
    try {
      await run(["wipefs", "--offset", s.offset, dev], opts);
    } catch (e) {
      throw classifyFsError(e);
    }
  }
  return sigs.map((s) => s.offset);
}

export interface FsStats {
  blockSize: number;
  totalBytes: number;
  freeBytes: number;
  /** Free for unprivileged users (what df shows as Avail). */
  availableBytes: number;
  usedBytes: number;
  totalInodes: number;
  freeInodes: number;
  usedInodes: number;
}

/** statfs(2) of a mounted path. */
export async function fsStats(path: string): Promise<FsStats> {
  assertAbsolutePath(path);
  const s = await statfs(path, { bigint: true });
  const bs = s.bsize;
  return {
    blockSize: Number(bs),
    totalBytes: Number(s.blocks * bs),
    freeBytes: Number(s.bfree * bs),
    availableBytes: Number(s.bavail * bs),
    usedBytes: Number((s.blocks - s.bfree) * bs),
    totalInodes: Number(s.files),
    freeInodes: Number(s.ffree),
    usedInodes: Number(s.files - s.ffree),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Classification

export function isNoSpace(e: unknown): boolean {
  return isCommandError(e) && /No space left on device/.test(e.stderr);
}
export function isBusy(e: unknown): boolean {
  return isCommandError(e) && /Device or resource busy|contains a mounted filesystem|is mounted/i.test(e.stderr);
}
export function isNotFound(e: unknown): boolean {
  return isCommandError(e) && /No such file or directory|No such device/.test(e.stderr);
}
/** mkfs.xfs: "Filesystem must be larger than 300MB." */
export function isTooSmall(e: unknown): boolean {
  return isCommandError(e) && /must be larger than|too small/i.test(e.stderr);
}

function classifyFsError(e: unknown): unknown {
  if (!isCommandError(e)) return e;
  if (isTooSmall(e)) return e.reclassify("FAILED_PRECONDITION", "DeviceTooSmall", "XFS needs at least 300 MB");
  if (isNoSpace(e)) return e.reclassify("RESOURCE_EXHAUSTED", "NoSpace");
  if (isBusy(e)) return e.reclassify("UNAVAILABLE", "DeviceBusy");
  if (isNotFound(e)) return e.reclassify("NOT_FOUND", "NotFound");
  return e;
}
