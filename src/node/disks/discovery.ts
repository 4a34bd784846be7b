// Discovery, the pure half: facts about one block device (gathered by probe.ts from sysfs, lsblk, udevadm
// info and blkid) → whether this agent manages it, its LocalDisk name, and the LocalDisk spec fields that
// describe the hardware. The spec merge (create vs update, pre* tracking) and the Inactive transition are
// here too, so every rule of reference §6 "Discovery"/"Create"/"Update"/"Remove" is testable with fixtures.
import { invalid } from "../../api/errors.ts";
import type { LocalDiskSpec, DiskAttributes } from "../../api/kinds/local-disk.ts";
import { DEV_TYPE_DISK, LocalDiskStates, isPoolClass, type PoolClass } from "../../api/names.ts";
import { driveType, localDiskName } from "./identity.ts";
import { isExplicitlySelected, selectsAll, type DeviceSelector } from "./selector.ts";

export interface PartitionFacts {
  path: string;
  /** blkid TYPE of the partition, null = none found. */
  fsType: string | null;
  mountpoints: string[];
}

export interface UdevFacts {
  devlinks: string[];
  byPath: string[];
  serial: string | null;
  wwn: string | null;
  model: string | null;
  vendor: string | null;
  bus: string | null;
  /** ID_TYPE (disk, cd, …) */
  type: string | null;
  /** DEVTYPE (disk, partition) */
  devtype: string | null;
}

export interface DiskFacts {
  /** Kernel name: sdb, loop3, nvme0n1. */
  kernelName: string;
  devPath: string;
  sysPath: string;
  isVirtual: boolean;
  sizeBytes: number;
  rotational: boolean | null;
  readOnly: boolean;
  majMin: string;
  /** lsblk TRAN (sata, nvme, usb, …) */
  transport: string | null;
  /** lsblk TYPE (disk, loop, rom, …) */
  lsblkType: string | null;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  loopBackingFile: string | null;
  /** null where no udevd runs (only kernel keys would come back). */
  udev: UdevFacts | null;
  /** blkid -p of the whole device. */
  fsType: string | null;
  ptType: string | null;
  /** blkid could not open the device exclusively (mounted or held): treated as holding data. */
  busy: boolean;
  mountpoints: string[];
  partitions: PartitionFacts[];
  /** dm/md devices stacked on it. */
  holders: string[];
}

export interface ManageOptions {
  selector: DeviceSelector;
  /** The agent's state dir: loop devices backed by files under it are its own volumes, never disks. */
  stateDir: string;
}

export type ManageDecision = { manage: true } | { manage: false; reason: string };

const VIRTUAL_NAME = /^(ram|zram|dm-|md|nbd|drbd|ublk|sr)/;

/**
 * Reference §6 filter, adapted: the original keeps devices with a serial or by-path link, not under /virtual/.
 * The rules that read lsblk or udev facts only ever refuse: the scanner asks this first with sysfs facts alone
 * (unreadFacts) and spawns lsblk/blkid only for a device that passes (discovery.test.ts checks this).
 */
export function decideManaged(f: DiskFacts, o: ManageOptions): ManageDecision {
  if (f.sizeBytes <= 0) return { manage: false, reason: "no media (size 0)" };
  const under = (dir: string, file: string) => file.startsWith(dir.endsWith("/") ? dir : dir + "/");
  if (f.loopBackingFile && under(o.stateDir, f.loopBackingFile)) {
    return { manage: false, reason: `loop device backing a volume of this agent (${f.loopBackingFile})` };
  }
  if (f.lsblkType === "rom" || f.udev?.type === "cd") return { manage: false, reason: "optical drive" };
  if (f.udev?.devtype && f.udev.devtype !== DEV_TYPE_DISK) return { manage: false, reason: `devtype ${f.udev.devtype}` };
  const explicit = isExplicitlySelected(o.selector, f);
  if (!selectsAll(o.selector) && !explicit) return { manage: false, reason: "not selected by --devices" };
  if (f.loopBackingFile !== null || f.kernelName.startsWith("loop")) {
    // Loop devices are virtual: managed only when --devices names them (our test and dev-cluster disks).
    return explicit ? { manage: true } : { manage: false, reason: "loop device not selected by --devices" };
  }
  if (VIRTUAL_NAME.test(f.kernelName) || f.isVirtual) return { manage: false, reason: "virtual device" };
  return { manage: true };
}

/** True when the device holds a partition table, a filesystem (or any signature), partitions or a mount. */
export function hasForeignData(f: DiskFacts): boolean {
  return f.fsType !== null || f.ptType !== null || f.busy || f.partitions.length > 0 || f.mountpoints.length > 0;
}

export interface DescribeOptions {
  nodeName: string;
  /** `--disk-class`: the type of every disk this agent manages (dev cluster), overriding rotational. */
  diskClass?: PoolClass;
}

export interface DiscoveredDisk {
  name: string;
  /** The hardware part of the spec (what a scan may overwrite). */
  spec: LocalDiskSpec;
}

/** LocalDisk name and hardware spec of a managed device; undefined when it has no stable identity. */
export function describeDisk(f: DiskFacts, o: DescribeOptions): DiscoveredDisk | undefined {
  const serial = f.udev?.serial ?? f.serial ?? undefined;
  const wwn = f.udev?.wwn ?? f.wwn ?? undefined;
  const vendor = f.udev?.vendor ?? f.vendor ?? undefined;
  const name = localDiskName({
    hostname: o.nodeName,
    vendor,
    serial,
    wwn,
    byPathLinks: f.udev?.byPath ?? [],
    loopBackingFile: f.loopBackingFile ?? undefined,
  });
  if (!name) return undefined;
  const partitionInfo: NonNullable<LocalDiskSpec["partitionInfo"]> = [];
  for (const p of f.partitions) {
    partitionInfo.push({
      path: p.path,
      hasFileSystem: p.fsType !== null,
      ...(p.fsType !== null ? { filesystem: { fsType: p.fsType, ...(p.mountpoints[0] ? { mountPoint: p.mountpoints[0] } : {}) } } : {}),
    });
  }
  // A whole-disk filesystem or partition table counts as a partition entry of the disk itself (the original's
  // lsblk rule: "a disk entry counts only if it has a partition table or fs type"). A busy device we could not
  // probe counts too: something holds it.
  if (f.fsType !== null || f.ptType !== null || f.busy || (f.mountpoints.length > 0 && f.partitions.length === 0)) {
    const fsType = f.fsType ?? (f.busy ? "unknown" : null);
    partitionInfo.push({
      path: f.devPath,
      hasFileSystem: fsType !== null,
      ...(fsType !== null ? { filesystem: { fsType, ...(f.mountpoints[0] ? { mountPoint: f.mountpoints[0] } : {}) } } : {}),
    });
  }
  const [major, minor] = f.majMin.split(":");
  const type: PoolClass = o.diskClass ?? (f.transport === "nvme" ? "NVMe" : driveType(f.rotational === true, f.sysPath));
  const attrs: DiskAttributes = {
    type,
    devType: DEV_TYPE_DISK,
    ...(vendor ? { vendor } : {}),
    ...((f.udev?.model ?? f.model) ? { modelName: (f.udev?.model ?? f.model)! } : {}),
    ...(serial ? { serialNumber: serial } : {}),
    ...(f.udev?.bus ? { protocol: f.udev.bus } : f.transport ? { protocol: f.transport } : {}),
  };
  const spec: LocalDiskSpec = {
    nodeName: o.nodeName,
    devicePath: f.devPath,
    devLinks: [...(f.udev?.devlinks ?? [])].sort(),
    capacity: f.sizeBytes,
    partitioned: hasForeignData(f),
    partitionInfo,
    diskAttributes: attrs,
    state: LocalDiskStates.Active,
    ...(major !== undefined && minor !== undefined && minor !== "" ? { major, minor } : {}),
  };
  return { name, spec };
}

/** The hardware fields a scan owns; everything else (claimRef, reserved, owner, smart) belongs to others. */
const HARDWARE_FIELDS = ["devicePath", "devLinks", "capacity", "partitioned", "partitionInfo", "major", "minor", "state"] as const;

export interface MergeOptions {
  /** `--disk-class` was given: its type wins over a user's edit. */
  classOverride?: boolean;
}

/**
 * The spec to write for a discovered disk. Create: state Active and, when it holds data, `reserved: true`
 * (system-disk protection, §6). Update: hardware fields refreshed; `preDevicePath`/`preNodeName` record
 * where it was when that changed; a user-edited `diskAttributes.type` is kept for disks with a serial (as
 * the original) unless `--disk-class` forces it.
 */
export function mergeDiskSpec(existing: LocalDiskSpec | undefined, d: LocalDiskSpec, o: MergeOptions = {}): LocalDiskSpec {
  if (!existing) return { ...d, reserved: d.partitioned === true ? true : false };
  const next: LocalDiskSpec = { ...existing };
  for (const k of HARDWARE_FIELDS) {
    if (d[k] === undefined) delete next[k];
    else (next as Record<string, unknown>)[k] = d[k];
  }
  const keepType = !o.classOverride && !!d.diskAttributes?.serialNumber && !!existing.diskAttributes?.type;
  next.diskAttributes = { ...existing.diskAttributes, ...d.diskAttributes, ...(keepType ? { type: existing.diskAttributes!.type } : {}) };
  const oldPath = existing.devicePath || existing.preDevicePath;
  if (oldPath && oldPath !== d.devicePath) next.preDevicePath = oldPath;
  if (existing.nodeName && existing.nodeName !== d.nodeName) next.preNodeName = existing.nodeName;
  next.nodeName = d.nodeName;
  return next;
}

/**
 * A managed disk that is gone (remove event, or absent at a scan): Inactive, its path moved to
 * preDevicePath, major/minor cleared (§6). Deliberate difference: `nodeName` is kept (and copied to
 * preNodeName) — it is a required field and says which agent answers for the disk; the original moves it.
 */
export function inactiveDiskSpec(existing: LocalDiskSpec): LocalDiskSpec {
  const next: LocalDiskSpec = { ...existing, state: LocalDiskStates.Inactive };
  if (existing.devicePath) next.preDevicePath = existing.devicePath;
  delete next.devicePath;
  delete next.major;
  delete next.minor;
  next.preNodeName = existing.nodeName;
  return next;
}

/** Parses `--disk-class`. */
export function parseDiskClass(v: string | undefined): PoolClass | undefined {
  if (v === undefined || v === "") return undefined;
  if (!isPoolClass(v)) throw invalid(`--disk-class must be HDD, SSD or NVMe, not ${JSON.stringify(v)}`);
  return v;
}

/** Whether two specs are the same (key order independent). */
export function sameSpec(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x as object)
            .filter(([, y]) => y !== undefined)
            .sort(([p], [q]) => (p < q ? -1 : 1)),
        )
      : x,
  );
}
