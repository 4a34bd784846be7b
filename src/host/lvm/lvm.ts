// LVM: command builders, `--reportformat json` parsers and thin runners for pvs/vgs/lvs and the create /
// extend / remove commands the lvm engine needs (reference §5.3).
//
// This kernel has no device-mapper: metadata commands work, but lvcreate/lvextend/lvremove need
// `noActivation: true`, which adds `--config 'global{activation=0} activation{udev_sync=0 udev_rules=0}'`
// (LVs then exist in metadata only: no /dev/<vg>/<lv> node; lv_attr shows "-wi-XX----"). Without it the
// failure is classified FAILED_PRECONDITION NoDeviceMapper. All lvm tools exit 5 for every failure, so the
// classifiers read stderr. Simplification: no thin pools or snapshots here (they need device-mapper).

import { HwError } from "../../api/errors.ts";
import { isCommandError, run, type RunOptions } from "../runner.ts";
import { assertDevicePath, assertNonNegativeInt, assertSafeName } from "../validate.ts";

export const NO_ACTIVATION_CONFIG = "global{activation=0} activation{udev_sync=0 udev_rules=0}";

export interface LvmOptions extends RunOptions {
  /** Run with activation off (needed wherever device-mapper is missing, as on this machine). */
  noActivation?: boolean;
}

export interface PhysicalVolume {
  name: string;
  vgName: string;
  sizeBytes: number;
  freeBytes: number;
  uuid: string;
  devSizeBytes: number;
  /** Byte offset of the first extent on the device (pe_start). */
  peStartBytes: number;
}

export interface VolumeGroup {
  name: string;
  uuid: string;
  sizeBytes: number;
  freeBytes: number;
  extentSizeBytes: number;
  extentCount: number;
  freeExtentCount: number;
  pvCount: number;
  lvCount: number;
  attr: string;
}

export interface LogicalVolume {
  path: string;
  name: string;
  vgName: string;
  uuid: string;
  attr: string;
  sizeBytes: number;
  poolLv: string;
  origin: string;
  dataPercent: number | null;
  metadataPercent: number | null;
  time: string;
  segtype: string;
  /** First physical extent of the first segment (with `devices`, where the LV's bytes start on its PV). */
  segStartPe: number | null;
  devices: string;
  active: boolean;
}

export const PV_FIELDS = "pv_name,vg_name,pv_size,pv_free,pv_uuid,dev_size,pe_start";
export const VG_FIELDS = "vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,pv_count,lv_count,vg_attr";
export const LV_FIELDS = "lv_path,lv_name,vg_name,lv_uuid,lv_attr,lv_size,pool_lv,origin,data_percent,metadata_percent,lv_time,segtype,seg_start_pe,devices,lv_active";

type Row = Record<string, string>;

function reportRows(json: string, kind: "pv" | "vg" | "lv"): Row[] {
  if (json.trim() === "") return [];
  const doc = JSON.parse(json) as { report?: Array<Record<string, Row[]>> };
  return (doc.report ?? []).flatMap((r) => r[kind] ?? []);
}

const n = (v: string | undefined): number => (v === undefined || v === "" ? 0 : Number(v));
const pct = (v: string | undefined): number | null => (v === undefined || v === "" ? null : Number(v));

/** Parse `pvs --reportformat json --units B --nosuffix -o PV_FIELDS`. */
export function parsePvs(json: string): PhysicalVolume[] {
  return reportRows(json, "pv").map((r) => ({
    name: r.pv_name ?? "",
    vgName: r.vg_name ?? "",
    sizeBytes: n(r.pv_size),
    freeBytes: n(r.pv_free),
    uuid: r.pv_uuid ?? "",
    devSizeBytes: n(r.dev_size),
    peStartBytes: n(r.pe_start),
  }));
}

export function parseVgs(json: string): VolumeGroup[] {
  return reportRows(json, "vg").map((r) => ({
    name: r.vg_name ?? "",
    uuid: r.vg_uuid ?? "",
    sizeBytes: n(r.vg_size),
    freeBytes: n(r.vg_free),
    extentSizeBytes: n(r.vg_extent_size),
    extentCount: n(r.vg_extent_count),
    freeExtentCount: n(r.vg_free_count),
    pvCount: n(r.pv_count),
    lvCount: n(r.lv_count),
    attr: r.vg_attr ?? "",
  }));
}

export function parseLvs(json: string): LogicalVolume[] {
  return reportRows(json, "lv").map((r) => ({
    path: r.lv_path ?? "",
    name: r.lv_name ?? "",
    vgName: r.vg_name ?? "",
    uuid: r.lv_uuid ?? "",
    attr: r.lv_attr ?? "",
    sizeBytes: n(r.lv_size),
    poolLv: r.pool_lv ?? "",
    origin: r.origin ?? "",
    dataPercent: pct(r.data_percent),
    metadataPercent: pct(r.metadata_percent),
    time: r.lv_time ?? "",
    segtype: r.segtype ?? "",
    segStartPe: r.seg_start_pe === undefined || r.seg_start_pe === "" ? null : Number(r.seg_start_pe),
    devices: r.devices ?? "",
    active: r.lv_active === "active",
  }));
}

/** LVM sizes round UP to the extent (the original: 4 MiB, minimum one extent). */
export function roundUpToExtent(bytes: number, extentBytes = 4 * 1024 * 1024): number {
  assertNonNegativeInt(bytes, "size");
  return Math.max(extentBytes, Math.ceil(bytes / extentBytes) * extentBytes);
}

// ---------------------------------------------------------------------------------------------------------
// Command builders (pure)

const cfg = (o: LvmOptions) => (o.noActivation ? ["--config", NO_ACTIVATION_CONFIG] : []);

export const pvcreateArgv = (devs: string[]) => ["pvcreate", "-y", ...devs.map(assertDevicePath)];
export const pvremoveArgv = (devs: string[]) => ["pvremove", "-y", ...devs.map(assertDevicePath)];
export const vgcreateArgv = (vg: string, devs: string[], o: LvmOptions = {}) => ["vgcreate", ...cfg(o), assertSafeName(vg), "-y", ...devs.map(assertDevicePath)];
export const vgextendArgv = (vg: string, devs: string[], o: LvmOptions = {}) => ["vgextend", ...cfg(o), assertSafeName(vg), "-y", ...devs.map(assertDevicePath)];
export const vgremoveArgv = (vg: string, o: LvmOptions = {}) => ["vgremove", ...cfg(o), "-y", assertSafeName(vg)];
export const lvcreateArgv = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) => [
  "lvcreate", ...cfg(o), "--size", `${assertNonNegativeInt(sizeBytes, "LV size")}B`, "--stripes", "1", assertSafeName(vg), "-n", assertSafeName(lv), "-y",
];
export const lvextendArgv = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) => [
  "lvextend", ...cfg(o), "--size", `${assertNonNegativeInt(sizeBytes, "LV size")}b`, `${assertSafeName(vg)}/${assertSafeName(lv)}`, "-y",
];
export const lvremoveArgv = (vg: string, lv: string, o: LvmOptions = {}) => ["lvremove", ...cfg(o), "-y", `${assertSafeName(vg)}/${assertSafeName(lv)}`];

// ---------------------------------------------------------------------------------------------------------
// Runners

async function lvm(argv: string[], o: LvmOptions, what: string): Promise<string> {
  const { noActivation: _na, ...runOpts } = o;
  try {
    return (await run(argv, { ...runOpts, env: { LVM_SUPPRESS_FD_WARNINGS: "1", ...(o.env ?? {}) } })).stdout;
  } catch (e) {
    throw classifyLvmError(e, what);
  }
}

const REPORT = ["--reportformat", "json", "--units", "B", "--nosuffix"];

export async function listPvs(devs: string[] = [], o: LvmOptions = {}): Promise<PhysicalVolume[]> {
  return parsePvs(await lvm(["pvs", ...REPORT, "-o", PV_FIELDS, ...devs.map(assertDevicePath)], o, "physical volumes"));
}

export async function listVgs(names: string[] = [], o: LvmOptions = {}): Promise<VolumeGroup[]> {
  return parseVgs(await lvm(["vgs", ...REPORT, "-o", VG_FIELDS, ...names.map(assertSafeName)], o, `volume group ${names.join(",")}`));
}

/** One VG, or undefined when it does not exist. */
export async function getVg(name: string, o: LvmOptions = {}): Promise<VolumeGroup | undefined> {
  try {
    return (await listVgs([name], o))[0];
  } catch (e) {
    if (e instanceof HwError && e.code === "NOT_FOUND") return undefined;
    throw e;
  }
}

export async function listLvs(vg?: string, o: LvmOptions = {}): Promise<LogicalVolume[]> {
  return parseLvs(await lvm(["lvs", "-a", ...REPORT, "-o", LV_FIELDS, ...(vg ? [assertSafeName(vg)] : [])], o, `logical volumes of ${vg ?? "all VGs"}`));
}

export const pvcreate = (devs: string[], o: LvmOptions = {}) => lvm(pvcreateArgv(devs), o, `physical volume ${devs.join(",")}`).then(() => undefined);
export const pvremove = (devs: string[], o: LvmOptions = {}) => lvm(pvremoveArgv(devs), o, `physical volume ${devs.join(",")}`).then(() => undefined);
export const vgcreate = (vg: string, devs: string[], o: LvmOptions = {}) => lvm(vgcreateArgv(vg, devs, o), o, `volume group ${vg}`).then(() => undefined);
export const vgextend = (vg: string, devs: string[], o: LvmOptions = {}) => lvm(vgextendArgv(vg, devs, o), o, `volume group ${vg}`).then(() => undefined);
export const vgremove = (vg: string, o: LvmOptions = {}) => lvm(vgremoveArgv(vg, o), o, `volume group ${vg}`).then(() => undefined);
export const lvcreate = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) =>
  lvm(lvcreateArgv(vg, lv, sizeBytes, o), o, `logical volume ${vg}/${lv}`).then(() => undefined);
export const lvextend = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) =>
  lvm(lvextendArgv(vg, lv, sizeBytes, o), o, `logical volume ${vg}/${lv}`).then(() => undefined);
export const lvremove = (vg: string, lv: string, o: LvmOptions = {}) => lvm(lvremoveArgv(vg, lv, o), o, `logical volume ${vg}/${lv}`).then(() => undefined);

// ---------------------------------------------------------------------------------------------------------
// Classification (lvm2 2.03.16 texts; the exit code is 5 for all)

export function isNotFound(e: unknown): boolean {
  return isCommandError(e) && /not found|Failed to find|Cannot process volume group|No such file or directory/.test(e.stderr);
}
export function isAlreadyExists(e: unknown): boolean {
  return isCommandError(e) && /already exists/.test(e.stderr);
}
export function isNoSpace(e: unknown): boolean {
  return isCommandError(e) && /insufficient free space|Insufficient free/i.test(e.stderr);
}
export function isBusy(e: unknown): boolean {
  return isCommandError(e) && /in use|is used by|Device or resource busy|open logical volume/i.test(e.stderr);
}
export function isNoDeviceMapper(e: unknown): boolean {
  // Not the "WARNING: Activation disabled. No device-mapper interaction…" line every noActivation run prints.
  return isCommandError(e) && /Failure to communicate with kernel device-mapper|\/dev\/mapper\/control: open failed/.test(e.stderr);
}

function classifyLvmError(e: unknown, what: string): unknown {
  if (!isCommandError(e)) return e;
  if (isAlreadyExists(e)) return e.reclassify("ALREADY_EXISTS", "AlreadyExists", `${what} already exists`);
  if (isNoSpace(e)) return e.reclassify("RESOURCE_EXHAUSTED", "InsufficientCapacity", `${what}: not enough free extents`);
  if (isNoDeviceMapper(e)) return e.reclassify("FAILED_PRECONDITION", "NoDeviceMapper", "device-mapper is missing: use noActivation (metadata only) or the file engine");
  if (isNotFound(e)) return e.reclassify("NOT_FOUND", "NotFound", `${what} not found`);
  if (isBusy(e)) return e.reclassify("UNAVAILABLE", "DeviceBusy");
  return e;
}
