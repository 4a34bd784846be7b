// Block device inventory from `lsblk --json --bytes --paths -o <columns>`.
//
// Measured here: without a running udevd, lsblk's FSTYPE/UUID/PTTYPE/SERIAL/WWN columns come from the udev
// database and are null even for a mounted XFS loop device. So `hasForeignData` on lsblk data alone is NOT
// proof that a disk is empty: the disk manager must also call `probeFilesystem` (blkid -p) from ../fs before
// treating a disk as free (and `hasForeignData` also counts mountpoints for that reason).

import { run, type RunOptions } from "../runner.ts";
import { assertDevicePath } from "../validate.ts";

export interface BlockDevice {
  name: string; // /dev/sda (with --paths)
  kname: string;
  path: string;
  type: string; // disk, part, loop, lvm, rom, …
  sizeBytes: number;
  rotational: boolean;
  transport: string | null; // sata, nvme, usb, …
  model: string | null;
  serial: string | null;
  wwn: string | null;
  vendor: string | null;
  fstype: string | null;
  uuid: string | null;
  label: string | null;
  pttype: string | null;
  partuuid: string | null;
  mountpoints: string[];
  majMin: string;
  readOnly: boolean;
  removable: boolean;
  hotplug: boolean;
  pkname: string | null;
  subsystems: string | null;
  state: string | null;
  children: BlockDevice[];
}

export const LSBLK_COLUMNS = [
  "NAME",
  "KNAME",
  "PATH",
  "TYPE",
  "SIZE",
  "ROTA",
  "TRAN",
  "MODEL",
  "SERIAL",
  "WWN",
  "VENDOR",
  "FSTYPE",
  "UUID",
  "LABEL",
  "PTTYPE",
  "PARTUUID",
  "MOUNTPOINTS",
  "MAJ:MIN",
  "RO",
  "RM",
  "HOTPLUG",
  "PKNAME",
  "SUBSYSTEMS",
  "STATE",
] as const;

type Raw = Record<string, unknown> & { children?: Raw[] };

const str = (v: unknown): string | null => {
  if (v === null || v === undefined) return null;
  const s = String(v).trim();
  return s === "" ? null : s;
};
const bool = (v: unknown): boolean => v === true || v === 1 || v === "1" || v === "true";
const int = (v: unknown): number => (v === null || v === undefined || v === "" ? 0 : Number(v));

function toDevice(r: Raw): BlockDevice {
  const mps = Array.isArray(r.mountpoints) ? r.mountpoints : r.mountpoint !== undefined ? [r.mountpoint] : [];
  return {
    name: str(r.name) ?? "",
    kname: str(r.kname) ?? str(r.name) ?? "",
    path: str(r.path) ?? str(r.name) ?? "",
    type: str(r.type) ?? "",
    sizeBytes: int(r.size),
    rotational: bool(r.rota),
    transport: str(r.tran),
    model: str(r.model),
    serial: str(r.serial),
    wwn: str(r.wwn),
    vendor: str(r.vendor),
    fstype: str(r.fstype),
    uuid: str(r.uuid),
    label: str(r.label),
    pttype: str(r.pttype),
    partuuid: str(r.partuuid),
    mountpoints: mps.map(str).filter((m): m is string => m !== null),
    majMin: (str(r["maj:min"]) ?? "").trim(),
    readOnly: bool(r.ro),
    removable: bool(r.rm),
    hotplug: bool(r.hotplug),
    pkname: str(r.pkname),
    subsystems: str(r.subsystems),
    state: str(r.state),
    children: (r.children ?? []).map(toDevice),
  };
}

/** Parse `lsblk --json --bytes` output (any column set; missing columns become null/false/0). */
export function parseLsblk(json: string): BlockDevice[] {
  const doc = JSON.parse(json) as { blockdevices?: Raw[] };
  return (doc.blockdevices ?? []).map(toDevice);
}

/** One device, or undefined when lsblk does not know it (exit 32 "not a block device"). */
export async function getBlockDevice(dev: string, opts: RunOptions = {}): Promise<BlockDevice | undefined> {
  assertDevicePath(dev);
  const { stdout, exitCode } = await run(["lsblk", "--json", "--bytes", "--paths", "-o", LSBLK_COLUMNS.join(","), dev], {
    ...opts,
    allowedExitCodes: [32, ...(opts.allowedExitCodes ?? [])],
  });
  if (exitCode === 32 || stdout.trim() === "") return undefined;
  return parseLsblk(stdout)[0];
}

/** Flatten the tree (depth first, parent before children). */
export function flattenBlockDevices(devs: BlockDevice[]): BlockDevice[] {
  const out: BlockDevice[] = [];
  const walk = (d: BlockDevice) => {
    out.push(d);
    d.children.forEach(walk);
  };
  devs.forEach(walk);
  return out;
}

/**
 * Does the device visibly hold something: partitions, a filesystem / partition-table signature, or a mount?
 * (Necessary, not sufficient, without udev: see the header. Pair with fs.probeFilesystem.)
 */
export function hasForeignData(dev: BlockDevice): boolean {
  return (
    dev.children.some((c) => c.type === "part") ||
    dev.fstype !== null ||
    dev.pttype !== null ||
    dev.mountpoints.length > 0 ||
    dev.children.some((c) => c.mountpoints.length > 0 || c.fstype !== null)
  );
}
