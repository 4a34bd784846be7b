// LocalDisk identity (reference §6 "Name"): `localdisk-` + md5hex(vendor + serial + wwn) for disks with a
// serial; otherwise md5hex(vendor + Σ(hostname + by-path link)). The original gives a disk with neither a
// serial nor a by-path link no identity at all, so it is never managed. Loop devices (our test and dev
// disks) have neither; we name them by their backing file instead — re-attaching the same file, on any
// loop number, is the same LocalDisk (docs/compatibility.md).
import { createHash } from "node:crypto";

export const LOCAL_DISK_PREFIX = "localdisk-";

export interface DiskIdentityFacts {
  hostname: string;
  vendor?: string;
  serial?: string;
  wwn?: string;
  byPathLinks: string[];
  /** Set for loop devices: the absolute path of the backing file. */
  loopBackingFile?: string;
}

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/** The LocalDisk name of a device, or undefined when it has no stable identity (it is then left alone). */
export function localDiskName(f: DiskIdentityFacts): string | undefined {
  const vendor = f.vendor ?? "";
  if (f.serial) return LOCAL_DISK_PREFIX + md5(vendor + f.serial + (f.wwn ?? ""));
  const links = [...f.byPathLinks].sort();
  if (links.length > 0) return LOCAL_DISK_PREFIX + md5(vendor + links.map((l) => f.hostname + l).join(""));
  if (f.loopBackingFile) return LOCAL_DISK_PREFIX + md5(`loop:${f.hostname}:${f.loopBackingFile}`);
  return undefined;
}

/** Drive type from sysfs facts (reference §6): rotational → HDD; otherwise NVMe when the sysfs path says so, else SSD. */
export function driveType(rotational: boolean, sysPath: string): "HDD" | "SSD" | "NVMe" {
  if (rotational) return "HDD";
  return sysPath.includes("nvme") ? "NVMe" : "SSD";
}
