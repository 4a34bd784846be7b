// udev: device properties (`udevadm info --query=property`), settle, and the block event monitor.
//
// Measured on this machine: no udevd runs (systemd-udevd is only a symlink to udevadm, /run/udev does not
// exist). `udevadm info` still answers, but only with the kernel's uevent keys (DEVNAME, DEVTYPE, MAJOR,
// MINOR, DISKSEQ…): no DEVLINKS, no ID_SERIAL/ID_WWN/ID_BUS, no /dev/disk/by-*. `udevadm monitor --udev`
// receives nothing; `--kernel` events do arrive (a loop attach: one "change", a detach: two). `udevadm settle` returns
// at once. Callers check `isUdevRunning()` and fall back to kernel events or `watchBlockDevices` (poll.ts).

import { access } from "node:fs/promises";
import { HwError } from "../../api/errors.ts";
import { isCommandError, run, spawnStream, type RunOptions, type StreamHandle } from "../runner.ts";
import { assertDevicePath, assertNonNegativeInt } from "../validate.ts";

export interface UdevDevice {
  devname: string | null;
  devpath: string | null;
  devtype: string | null; // disk | partition
  subsystem: string | null;
  major: number | null;
  minor: number | null;
  /** DEVLINKS split and sorted (the original sorts them too). */
  devlinks: string[];
  byId: string[];
  byPath: string[];
  byUuid: string[];
  serial: string | null; // ID_SERIAL
  serialShort: string | null; // ID_SERIAL_SHORT
  wwn: string | null; // ID_WWN
  model: string | null; // ID_MODEL
  vendor: string | null; // ID_VENDOR
  bus: string | null; // ID_BUS (ata, scsi, nvme, usb) — the original's `protocol`
  type: string | null; // ID_TYPE (disk, cd, …)
  fsType: string | null; // ID_FS_TYPE
  fsUuid: string | null; // ID_FS_UUID
  partTableType: string | null; // ID_PART_TABLE_TYPE
  /** Every KEY=VALUE as printed. */
  properties: Record<string, string>;
}

/** Parse `KEY=VALUE` lines (udevadm info --query=property, or the body of a monitor event). */
export function parseProperties(text: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.startsWith("E: ") ? raw.slice(3) : raw; // also accept --query=all's E: lines
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    props[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return props;
}

export function toUdevDevice(props: Record<string, string>): UdevDevice {
  const get = (k: string): string | null => (props[k] === undefined || props[k] === "" ? null : props[k]!);
  const devlinks = (props.DEVLINKS ?? "").split(/\s+/).filter(Boolean).sort();
  const under = (dir: string) => devlinks.filter((l) => l.startsWith(`/dev/disk/${dir}/`));
  const intOrNull = (k: string) => (get(k) === null ? null : Number(get(k)));
  return {
    devname: get("DEVNAME"),
    devpath: get("DEVPATH"),
    devtype: get("DEVTYPE"),
    subsystem: get("SUBSYSTEM"),
    major: intOrNull("MAJOR"),
    minor: intOrNull("MINOR"),
    devlinks,
    byId: under("by-id"),
    byPath: under("by-path"),
    byUuid: under("by-uuid"),
    serial: get("ID_SERIAL"),
    serialShort: get("ID_SERIAL_SHORT"),
    wwn: get("ID_WWN"),
    model: get("ID_MODEL"),
    vendor: get("ID_VENDOR"),
    bus: get("ID_BUS"),
    type: get("ID_TYPE"),
    fsType: get("ID_FS_TYPE"),
    fsUuid: get("ID_FS_UUID"),
    partTableType: get("ID_PART_TABLE_TYPE"),
    properties: props,
  };
}

export function parseUdevInfo(text: string): UdevDevice {
  return toUdevDevice(parseProperties(text));
}

/** `udevadm info --query=property --name DEV`; NOT_FOUND for an unknown device. */
export async function udevInfo(dev: string, opts: RunOptions = {}): Promise<UdevDevice> {
  assertDevicePath(dev);
  try {
    const { stdout } = await run(["udevadm", "info", "--query=property", `--name=${dev}`], opts);
    return parseUdevInfo(stdout);
  } catch (e) {
    if (isCommandError(e) && isNotFound(e)) throw e.reclassify("NOT_FOUND", "DeviceNotFound");
    throw e;
  }
}

/** Wait for the udev event queue to drain (returns at once when no udevd runs). */
export async function udevSettle(timeoutSeconds = 10, opts: RunOptions = {}): Promise<void> {
  assertNonNegativeInt(timeoutSeconds, "settle timeout");
  await run(["udevadm", "settle", `--timeout=${timeoutSeconds}`], { timeoutMs: (timeoutSeconds + 5) * 1000, ...opts });
}

/** Is a udev daemon running (its control socket exists)? */
export async function isUdevRunning(): Promise<boolean> {
  try {
    await access("/run/udev/control");
    return true;
  } catch {
    return false;
  }
}

/** "Unknown device "/dev/x": No such device" (exit 1). */
export function isNotFound(e: unknown): boolean {
  return isCommandError(e) && /Unknown device|No such device/.test(e.stderr);
}

// ---------------------------------------------------------------------------------------------------------
// Monitor

export interface UdevEvent {
  /** "UDEV" (after rules) or "KERNEL" (raw uevent). */
  source: "UDEV" | "KERNEL";
  action: string; // add | remove | change | move | online | offline | bind | unbind
  devpath: string;
  devname: string | null;
  devtype: string | null;
  properties: Record<string, string>;
}

const HEADER = /^(UDEV|KERNEL)\s*\[[\d.]+\]\s+(\S+)\s+(\S+)\s+\(([^)]*)\)\s*$/;

/**
 * Incremental parser of `udevadm monitor --property` output. Feed lines; an event is emitted at the blank
 * line that ends its property block.
 */
export class MonitorParser {
  private current: { source: "UDEV" | "KERNEL"; action: string; devpath: string; lines: string[] } | undefined;
  constructor(private readonly onEvent: (e: UdevEvent) => void) {}

  push(line: string): void {
    const h = HEADER.exec(line);
    if (h) {
      this.flush();
      this.current = { source: h[1] as "UDEV" | "KERNEL", action: h[2]!, devpath: h[3]!, lines: [] };
      return;
    }
    if (line.trim() === "") {
      this.flush();
      return;
    }
    this.current?.lines.push(line);
  }

  flush(): void {
    const c = this.current;
    this.current = undefined;
    if (!c) return;
    const properties = parseProperties(c.lines.join("\n"));
    this.onEvent({
      source: c.source,
      action: properties.ACTION ?? c.action,
      devpath: properties.DEVPATH ?? c.devpath,
      devname: properties.DEVNAME ?? null,
      devtype: properties.DEVTYPE ?? null,
      properties,
    });
  }
}

const KERNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$/;

/**
 * The whole disk a block event is about, as its kernel name (/sys/block/<name>), or undefined when the event
 * names no block device. A partition's events (DEVTYPE=partition: created or dropped by a partition-table
 * re-read, a filesystem made on it) map to its parent disk — the LocalDisk describes the disk with its
 * partitions. The kernel's DEVPATH of a partition is the disk's path plus one component
 * (/devices/virtual/block/loop0/loop0p1, /devices/pci…/block/sda/sda1); DEVNAME is the node under /dev
 * (printed with or without the /dev/ prefix depending on the source).
 */
export function blockEventDisk(e: Pick<UdevEvent, "devpath" | "devname" | "devtype" | "properties">): string | undefined {
  const subsystem = e.properties.SUBSYSTEM;
  if (subsystem !== undefined && subsystem !== "block") return undefined;
  const parts = e.devpath.split("/").filter(Boolean);
  let name: string | undefined;
  if (e.devtype === "partition") name = parts.at(-2);
  else if (e.devname) name = e.devname.startsWith("/dev/") ? e.devname.slice(5) : e.devname;
  else name = parts.at(-1);
  // /sys/block holds whole disks only; a name with a "/" (a DEVNAME in a subdirectory) is none of them.
  return name !== undefined && KERNEL_NAME.test(name) ? name : undefined;
}

export interface MonitorOptions extends Pick<RunOptions, "nsenterNetPath" | "env"> {
  /** "udev" = after rules (needs udevd), "kernel" = raw uevents (work without udevd), "both". Default "udev". */
  source?: "udev" | "kernel" | "both";
  subsystem?: string; // default "block"
}

/** Start `udevadm monitor --property --subsystem-match=block`; stop() the handle to end it. */
export function monitorBlockEvents(onEvent: (e: UdevEvent) => void, o: MonitorOptions = {}): StreamHandle {
  const source = o.source ?? "udev";
  const subsystem = o.subsystem ?? "block";
  if (!/^[a-z0-9_-]+$/.test(subsystem)) throw new HwError("INVALID_ARGUMENT", "Invalid", `bad subsystem ${subsystem}`);
  const argv = ["udevadm", "monitor", "--property", `--subsystem-match=${subsystem}`];
  if (source === "udev" || source === "both") argv.push("--udev");
  if (source === "kernel" || source === "both") argv.push("--kernel");
  const parser = new MonitorParser(onEvent);
  return spawnStream(argv, (line) => parser.push(line), { nsenterNetPath: o.nsenterNetPath, env: o.env });
}
