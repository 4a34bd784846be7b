// Block device basics: size (`blockdev --getsize64`) and device number (stat's st_rdev).
//
// The original computed major:minor as st_rdev/256 : st_rdev%256 — right only for major < 4096 and minor < 256
// (loop256+, nvme partitions and dynamic majors break it). Linux encodes dev_t as
//   major = bits 8..19 and 32..63,  minor = bits 0..7 and 20..31   (glibc gnu_dev_major/minor),
// which is what decodeDevT does, on a BigInt so no bit is lost.

import fs from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { basename } from "node:path";
import { HwError } from "../api/errors.ts";
import { ifExistsSync } from "./files.ts";
import { run, type RunOptions } from "./runner.ts";
import { assertDevicePath } from "./validate.ts";

export interface DeviceNumber {
  major: number;
  minor: number;
}

export function decodeDevT(rdev: bigint | number): DeviceNumber {
  const d = BigInt(rdev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n);
  const minor = (d & 0xffn) | ((d >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

export function encodeDevT({ major, minor }: DeviceNumber): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) | ((mi & 0xffffff00n) << 12n);
}

export function formatMajorMinor(n: DeviceNumber): string {
  return `${n.major}:${n.minor}`;
}

export function parseMajorMinor(s: string): DeviceNumber {
  const m = /^\s*(\d+):(\d+)\s*$/.exec(s);
  if (!m) throw new HwError("INTERNAL", "UnparseableOutput", `cannot parse device number ${JSON.stringify(s)}`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** Whether `devPath` is (still) a block device node (follows symlinks); false when it is missing. */
export function isBlockDevice(devPath: string): boolean {
  try {
    return fs.statSync(devPath).isBlockDevice();
  } catch {
    return false;
  }
}

/** major:minor of a block device node (follows symlinks such as /dev/disk/by-id/…). */
export async function deviceNumber(devPath: string): Promise<DeviceNumber> {
  assertDevicePath(devPath);
  let st;
  try {
    st = await stat(devPath, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new HwError("NOT_FOUND", "DeviceNotFound", `block device ${devPath} not found`, { cause: e });
    }
    throw e;
  }
  if (!st.isBlockDevice()) throw new HwError("FAILED_PRECONDITION", "NotABlockDevice", `${devPath} is not a block device`);
  return decodeDevT(st.rdev);
}

/**
 * Size in bytes: `/sys/dev/block/MAJ:MIN/size` (512-byte sectors whatever the logical block size, the capacity
 * the kernel has now, also after `losetup --set-capacity`), found by the node's device number — no process on
 * the publish path; `blockdev --getsize64` where sysfs cannot be read.
 */
export async function deviceSizeBytes(devPath: string, opts: RunOptions = {}): Promise<number> {
  assertDevicePath(devPath);
  const { major, minor } = await deviceNumber(devPath);
  const sectors = ifExistsSync(() => fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, "utf8").trim());
  if (sectors !== undefined && /^\d+$/.test(sectors)) return Number(sectors) * 512;
  const { stdout } = await run(["blockdev", "--getsize64", devPath], opts);
  const n = Number(stdout.trim());
  if (!Number.isSafeInteger(n)) throw new HwError("INTERNAL", "UnparseableOutput", `blockdev --getsize64 ${devPath} printed ${stdout.trim()}`);
  return n;
}

/**
 * Flushes and drops the kernel's buffer cache of a block device (`blockdev --flushbufs`, BLKFLSBUF), so the
 * next read comes from the device itself (a copy is verified by re-reading what reached the disk).
 */
export async function flushDeviceBuffers(devPath: string, opts: RunOptions = {}): Promise<void> {
  assertDevicePath(devPath);
  await run(["blockdev", "--flushbufs", devPath], opts);
}

/**
 * Makes every byte of a block device read as zero. A loop device is DISCARDed (`blkdiscard`): the kernel punches
 * holes in its backing file, which frees space and reads back as zeros (BLKZEROOUT would instead allocate zeroed
 * extents — on a full pool that fails with EIO, seen here on btrfs). Any other device gets `blkdiscard
 * --zeroout` (BLKZEROOUT), the one that guarantees zeros. Only for a device this system just created and nothing
 * uses (a migration's new target replica).
 */
export async function zeroOutDevice(devPath: string, opts: RunOptions = {}): Promise<void> {
  assertDevicePath(devPath);
  const real = await realpath(devPath);
  const isLoop = fs.existsSync(`/sys/block/${basename(real)}/loop`);
  await run(isLoop ? ["blkdiscard", real] : ["blkdiscard", "--zeroout", real], { timeoutMs: 600_000, ...opts });
}
