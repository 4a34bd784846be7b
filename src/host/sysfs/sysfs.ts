// /sys/block/<dev>: what the kernel itself says about a block device — works without udev, without root
// for most attributes, and without spawning anything. `size` is always in 512-byte sectors, whatever the
// device's logical block size.

import { readFile, readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import { invalid, HwError } from "../../api/errors.ts";

export const SYS_BLOCK = "/sys/block";

export interface SysBlockInfo {
  /** Kernel name: loop0, sda, nvme0n1 */
  name: string;
  devPath: string; // /dev/<name>
  /** Resolved /sys/devices/… path (contains /virtual/ for loop, zram, dm). */
  sysPath: string;
  isVirtual: boolean;
  sizeBytes: number;
  rotational: boolean | null;
  readOnly: boolean;
  removable: boolean;
  majMin: string;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwid: string | null;
  /** Loop devices only; null when not attached or not a loop. */
  loopBackingFile: string | null;
  /** Partition kernel names (sda1, nvme0n1p1). */
  partitions: string[];
  /** Holders (dm, md) using this device. */
  holders: string[];
}

/** Accepts "loop0" or "/dev/loop0"; returns the kernel name. */
export function kernelName(dev: string): string {
  const name = dev.startsWith("/dev/") ? dev.slice(5) : dev;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$/.test(name)) throw invalid(`${JSON.stringify(dev)} is not a kernel block device name`);
  return name;
}

async function readAttr(path: string): Promise<string | null> {
  try {
    const s = (await readFile(path, "utf8")).trim();
    return s === "" ? null : s;
  } catch {
    return null;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

/** Names in /sys/block (whole disks incl. loop/zram/dm; partitions are not listed there). */
export async function listSysBlock(root = SYS_BLOCK): Promise<string[]> {
  return listDir(root);
}

/** Read one device's attributes; NOT_FOUND when /sys/block/<name> does not exist. */
export async function readSysBlock(dev: string, root = SYS_BLOCK): Promise<SysBlockInfo> {
  const name = kernelName(dev);
  const dir = join(root, name);
  let sysPath: string;
  try {
    sysPath = await realpath(dir);
  } catch (e) {
    throw new HwError("NOT_FOUND", "DeviceNotFound", `block device ${name} not found in ${root}`, { cause: e });
  }
  const [size, rota, ro, rm, dev_, model, vendor, serial, wwid, backing, entries, holders] = await Promise.all([
    readAttr(join(dir, "size")),
    readAttr(join(dir, "queue/rotational")),
    readAttr(join(dir, "ro")),
    readAttr(join(dir, "removable")),
    readAttr(join(dir, "dev")),
    readAttr(join(dir, "device/model")),
    readAttr(join(dir, "device/vendor")),
    readAttr(join(dir, "serial")).then((v) => v ?? readAttr(join(dir, "device/serial"))), // virtio: /serial; scsi: device/serial
    readAttr(join(dir, "wwid")).then((w) => w ?? readAttr(join(dir, "device/wwid"))),
    readAttr(join(dir, "loop/backing_file")),
    listDir(dir),
    listDir(join(dir, "holders")),
  ]);
  return {
    name,
    devPath: `/dev/${name}`,
    sysPath,
    isVirtual: sysPath.includes("/virtual/"),
    sizeBytes: Number(size ?? 0) * 512,
    rotational: rota === null ? null : rota === "1",
    readOnly: ro === "1",
    removable: rm === "1",
    majMin: dev_ ?? "",
    model,
    vendor,
    serial,
    wwid,
    loopBackingFile: backing,
    partitions: entries.filter((e) => e.startsWith(name) && e !== name),
    holders,
  };
}

/** The attributes that tell one device's state from another's (poll.ts): 4 reads instead of readSysBlock's 15. */
export type SysBlockBrief = Pick<SysBlockInfo, "name" | "majMin" | "sizeBytes" | "readOnly" | "loopBackingFile">;

/** A cheap readSysBlock for pollers; NOT_FOUND when /sys/block/<name> does not exist. */
export async function readSysBlockBrief(dev: string, root = SYS_BLOCK): Promise<SysBlockBrief> {
  const name = kernelName(dev);
  const dir = join(root, name);
  const [dev_, size, ro, backing] = await Promise.all([
    readAttr(join(dir, "dev")),
    readAttr(join(dir, "size")),
    readAttr(join(dir, "ro")),
    name.startsWith("loop") ? readAttr(join(dir, "loop/backing_file")) : null,
  ]);
  // Every block device has `dev`: without it the device is gone (or never was).
  if (dev_ === null) throw new HwError("NOT_FOUND", "DeviceNotFound", `block device ${name} not found in ${root}`);
  return { name, majMin: dev_, sizeBytes: Number(size ?? 0) * 512, readOnly: ro === "1", loopBackingFile: backing };
}

// ---------------------------------------------------------------- I/O statistics (/sys/block/<dev>/stat)

/**
 * Cumulative I/O counters of a block device since it appeared (Documentation/block/stat.rst). Times are the
 * kernel's millisecond tick sums over all I/Os of that kind (so time/ios = mean latency); sectors are 512 B.
 * Kernels before 4.18 print 11 fields (no discard), before 5.5 15 (no flush): missing fields read as 0.
 */
export interface BlockStat {
  readIos: number;
  readMerges: number;
  readSectors: number;
  readTicksMs: number;
  writeIos: number;
  writeMerges: number;
  writeSectors: number;
  writeTicksMs: number;
  inFlight: number;
  ioTicksMs: number;
  timeInQueueMs: number;
  discardIos: number;
  discardSectors: number;
  discardTicksMs: number;
  flushIos: number;
  flushTicksMs: number;
}

/** Parses the one line of a `stat` file; throws on anything that is not 11, 15 or 17 unsigned integers. */
export function parseBlockStat(text: string, what = "stat"): BlockStat {
  const f = text.trim().split(/\s+/);
  if (![11, 15, 17].includes(f.length) || !f.every((x) => /^\d+$/.test(x))) {
    throw new HwError("INTERNAL", "BadBlockStat", `${what}: expected 11, 15 or 17 counters, got ${JSON.stringify(text.trim().slice(0, 200))}`);
  }
  const n = f.map(Number);
  const at = (i: number) => n[i] ?? 0;
  return {
    readIos: at(0),
    readMerges: at(1),
    readSectors: at(2),
    readTicksMs: at(3),
    writeIos: at(4),
    writeMerges: at(5),
    writeSectors: at(6),
    writeTicksMs: at(7),
    inFlight: at(8),
    ioTicksMs: at(9),
    timeInQueueMs: at(10),
    discardIos: at(11),
    discardSectors: at(13),
    discardTicksMs: at(14),
    flushIos: at(15),
    flushTicksMs: at(16),
  };
}

/** The I/O counters of a whole block device ("loop3" or "/dev/loop3"); NOT_FOUND when it does not exist. */
export async function readBlockStat(dev: string, root = SYS_BLOCK): Promise<BlockStat> {
  const name = kernelName(dev);
  const file = join(root, name, "stat");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new HwError("NOT_FOUND", "DeviceNotFound", `block device ${name} not found in ${root}`, { cause: e });
  }
  return parseBlockStat(text, file);
}
