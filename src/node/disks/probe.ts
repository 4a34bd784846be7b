// Discovery, the host half: gathers DiskFacts for one block device from sysfs, lsblk, udevadm info (only
// where a udevd runs: without it udevadm answers with kernel keys only) and blkid probes (lsblk shows no
// FSTYPE/PTTYPE without udev, so "holds data" is decided by reading the device).
import { isHwError } from "../../api/errors.ts";
import { probeFilesystem, type ProbeResult } from "../../host/fs/fs.ts";
import { getBlockDevice, type BlockDevice } from "../../host/lsblk/lsblk.ts";
import { listSysBlock, readSysBlock } from "../../host/sysfs/sysfs.ts";
import { isUdevRunning, udevInfo } from "../../host/udev/udev.ts";
import type { DiskFacts, PartitionFacts, UdevFacts } from "./discovery.ts";

export interface ProbeOptions {
  /** Ask udevadm (default: only when a udevd runs). */
  useUdev?: boolean;
  sysBlockRoot?: string;
}

/** Kernel names of the whole block devices (/sys/block). */
export const listBlockDeviceNames = (root?: string): Promise<string[]> => listSysBlock(root);

type Probed = { result: ProbeResult | null; busy: boolean };

async function probe(dev: string): Promise<Probed> {
  try {
    return { result: await probeFilesystem(dev), busy: false };
  } catch (e) {
    if (isHwError(e) && e.code === "UNAVAILABLE") return { result: null, busy: true };
    throw e;
  }
}

/** The facts lsblk and udev add, as they stand before either is read (a device of size 0 is never read). */
export const unreadFacts = () =>
  ({
    transport: null,
    lsblkType: null,
    udev: null,
    fsType: null,
    ptType: null,
    busy: false,
    mountpoints: [],
    partitions: [],
  }) satisfies Partial<DiskFacts>;

/**
 * What sysfs alone says about one device (no process spawned); undefined when it is gone. The lsblk, blkid
 * and udev facts are still unread (unreadFacts): `decideManaged` on these facts already refuses every device
 * it would refuse with them all (docs/disk-manager.md "Discovery"), so the scanner spawns nothing for those.
 */
export async function readDiskSysFacts(kernelName: string, o: ProbeOptions = {}): Promise<DiskFacts | undefined> {
  let sys;
  try {
    sys = await readSysBlock(kernelName, o.sysBlockRoot);
  } catch (e) {
    if (isHwError(e) && e.code === "NOT_FOUND") return undefined;
    throw e;
  }
  return {
    kernelName: sys.name,
    devPath: sys.devPath,
    sysPath: sys.sysPath,
    isVirtual: sys.isVirtual,
    sizeBytes: sys.sizeBytes,
    rotational: sys.rotational,
    readOnly: sys.readOnly,
    majMin: sys.majMin,
    model: sys.model,
    vendor: sys.vendor,
    serial: sys.serial,
    wwn: sys.wwid,
    loopBackingFile: sys.loopBackingFile,
    holders: sys.holders,
    ...unreadFacts(),
  };
}

/** Facts about one device; undefined when it is gone. */
export async function probeDisk(kernelName: string, o: ProbeOptions = {}): Promise<DiskFacts | undefined> {
  const facts = await readDiskSysFacts(kernelName, o);
  return facts && completeDiskFacts(facts, o);
}

/** Adds what lsblk, blkid and (where a udevd runs) udevadm say to the sysfs facts of readDiskSysFacts. */
export async function completeDiskFacts(sysFacts: DiskFacts, o: ProbeOptions = {}): Promise<DiskFacts> {
  const facts: DiskFacts = { ...sysFacts, ...unreadFacts() };
  if (facts.sizeBytes <= 0) return facts; // an unattached loop or empty drive: nothing to read
  let blk: BlockDevice | undefined;
  try {
    blk = await getBlockDevice(facts.devPath);
  } catch (e) {
    if (!isHwError(e)) throw e; // a failed lsblk (raced with a detach): the next scan sees it gone; a bug is not that
    blk = undefined;
  }
  if (blk) {
    facts.transport = blk.transport;
    facts.lsblkType = blk.type;
    facts.mountpoints = blk.mountpoints;
    for (const c of blk.children.filter((c) => c.type === "part")) {
      const p = await probe(c.path).catch((e: unknown) => (isHwError(e) ? { result: null, busy: false } : Promise.reject(e)));
      const part: PartitionFacts = { path: c.path, fsType: p.result?.type ?? c.fstype ?? (p.busy ? "unknown" : null), mountpoints: c.mountpoints };
      facts.partitions.push(part);
    }
  }
  const whole = await probe(facts.devPath);
  facts.fsType = whole.result?.type ?? null;
  facts.ptType = whole.result?.pttype ?? null;
  facts.busy = whole.busy;
  if (o.useUdev ?? (await isUdevRunning())) {
    try {
      const u = await udevInfo(facts.devPath);
      const udev: UdevFacts = {
        devlinks: u.devlinks,
        byPath: u.byPath,
        serial: u.serialShort ?? u.serial,
        wwn: u.wwn,
        model: u.model,
        vendor: u.vendor,
        bus: u.bus,
        type: u.type,
        devtype: u.devtype,
      };
      facts.udev = udev;
    } catch (e) {
      if (!isHwError(e)) throw e; // udevadm failed: no udev facts this scan
      facts.udev = null;
    }
  }
  return facts;
}
