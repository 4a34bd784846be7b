// SMART health via smartmontools' JSON output (`smartctl --json --all DEV`, `smartctl --scan --json`).
// smartctl's exit status is a bit mask (bit 0 command line/device type, 1 open failed, 2 SMART command failed,
// 3 disk failing, 4-7 attribute/log warnings), so every exit code is accepted and the JSON decides.
// Devices without SMART (loop, virtio, zram — everything on this machine) give supportSmart=false, not an error.

import { run, parseJsonOutput, type RunOptions } from "../runner.ts";
import { assertDevicePath } from "../validate.ts";

export interface SmartResult {
  device: string;
  supportSmart: boolean;
  enabled: boolean;
  /** smart_status.passed; null when unknown (no SMART, or the status command failed). */
  healthPassed: boolean | null;
  modelName: string | null;
  serialNumber: string | null;
  firmwareVersion: string | null;
  wwn: string | null;
  rotationRate: number | null; // 0 = SSD
  powerOnHours: number | null;
  temperatureCelsius: number | null;
  userCapacityBytes: number | null;
  exitStatus: number;
  messages: string[];
  /** The whole JSON document (the original stores it in the hwameistor-smart-result ConfigMap). */
  raw: Record<string, unknown>;
}

export interface SmartScanEntry {
  name: string;
  infoName: string;
  type: string;
  protocol: string;
}

const ALL_EXIT_CODES = Array.from({ length: 255 }, (_, i) => i + 1);

type J = Record<string, any>;

export function parseSmartAll(device: string, doc: J): SmartResult {
  const exitStatus: number = doc.smartctl?.exit_status ?? 0;
  const messages: string[] = (doc.smartctl?.messages ?? []).map((m: J) => String(m.string));
  const support = doc.smart_support as J | undefined;
  const nvme = doc.nvme_smart_health_information_log !== undefined;
  // Bit 0/1: smartctl could not identify or open the device: no SMART for us.
  const usable = (exitStatus & 0b11) === 0;
  const supportSmart = usable && (support?.available === true || nvme);
  const wwn = doc.wwn as J | undefined;
  return {
    device,
    supportSmart,
    enabled: supportSmart && (support?.enabled === true || nvme),
    healthPassed: typeof doc.smart_status?.passed === "boolean" ? doc.smart_status.passed : null,
    modelName: doc.model_name ?? null,
    serialNumber: doc.serial_number ?? null,
    firmwareVersion: doc.firmware_version ?? null,
    wwn: wwn ? `0x${wwn.naa.toString(16)}${wwn.oui.toString(16).padStart(6, "0")}${wwn.id.toString(16).padStart(9, "0")}` : null,
    rotationRate: typeof doc.rotation_rate === "number" ? doc.rotation_rate : null,
    powerOnHours: doc.power_on_time?.hours ?? null,
    temperatureCelsius: doc.temperature?.current ?? null,
    userCapacityBytes: doc.user_capacity?.bytes ?? null,
    exitStatus,
    messages,
    raw: doc,
  };
}

export function parseSmartScan(doc: J): SmartScanEntry[] {
  return ((doc.devices ?? []) as J[]).map((d) => ({
    name: String(d.name),
    infoName: String(d.info_name ?? d.name),
    type: String(d.type ?? ""),
    protocol: String(d.protocol ?? ""),
  }));
}

/** `smartctl --json --all DEV` (add `deviceType` such as "sat" or "nvme" for `-d`). */
export async function smartAll(dev: string, o: { deviceType?: string } = {}, opts: RunOptions = {}): Promise<SmartResult> {
  assertDevicePath(dev);
  const argv = ["smartctl", "--json", "--all"];
  if (o.deviceType) {
    if (!/^[a-z0-9,+_-]+$/.test(o.deviceType)) throw new Error(`bad smartctl device type ${o.deviceType}`);
    argv.push("-d", o.deviceType);
  }
  argv.push(dev);
  const { stdout } = await run(argv, { ...opts, allowedExitCodes: ALL_EXIT_CODES });
  return parseSmartAll(dev, parseJsonOutput<J>(stdout, argv));
}
