// LVM: command builders, `--reportformat json` parsers and thin runners for pvs/vgs/lvs and the create /
// extend / remove commands the lvm engine needs (reference §5.3).
//
// This kernel has no device-mapper: metadata commands work, but lvcreate/lvextend/lvremove need
// `noActivation: true`, which adds `--config 'global{activation=0} activation{udev_sync=0 udev_rules=0}'`
// (LVs then exist in metadata only: no /dev/<vg>/<lv> node; lv_attr shows "-wi-XX----"). Without it the
// failure is classified FAILED_PRECONDITION NoDeviceMapper. All lvm tools exit 5 for every failure, so the
// classifiers read stderr.
//
// Snapshots, merges and thin provisioning (reference §5.3, the original's argv): thick COW snapshot
// `lvcreate --size <N>B --snapshot --name <snap> --permission r -k n <VG>/<vol>` (thin: no size), rollback
// `lvconvert --merge <VG>/<snap>` (we add --background: the reconciler then watches lv_merging instead of
// blocking a worker for the whole merge), thin pool `lvcreate <VG> --type thin-pool -n LocalStorage_ThinPool -y
// --poolmetadatasize=<m>G --size=<c>G` / `lvextend <VG>/LocalStorage_ThinPool -y --size=<c>G --poolmetadatasize=<m>G`,
// thin volume `lvcreate -V <N>B --thin --thinpool LocalStorage_ThinPool -W y <VG> -n <vol> -y`, thin clone
// `lvcreate -s -k n --thinpool LocalStorage_ThinPool <VG>/<origin> -n <vol> -y`, restore `dd if= of= bs=10M`.
// NOT RUN ON THIS KERNEL: every one of those needs device-mapper to create or change anything. Their argv is
// tested as built; their output parsers are tested against `lvs` JSON of real LVM metadata put on a loop PV
// with vgcfgrestore (testdata/record-dm-metadata.sh) and, for the kernel-derived columns (data_percent,
// lv_device_open, lv_snapshot_invalid, active), against SYNTHETIC fixtures (testdata/README.md says how).

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
  /** LVM lists internal and merging LVs in brackets ("[snap]"); `name` is without them. */
  hidden: boolean;
  /** lv_attr[0]: o origin, O origin of a merging snapshot, s snapshot, S merging snapshot, t thin pool, V thin volume, e pool metadata/spare, T pool data, - plain. */
  kind: string;
  /** A COW snapshot that overflowed its size (lv_snapshot_invalid; kernel-derived, false when unknown). */
  snapshotInvalid: boolean;
  mergeFailed: boolean;
  /** A merge of this snapshot into its origin (or of a snapshot into this origin) is pending or running. */
  merging: boolean;
  /** The LV's device is open (mounted, or held by a process); kernel-derived, false when unknown. */
  deviceOpen: boolean;
  snapPercent: number | null;
  /** Thin pool metadata size (lv_metadata_size), 0 for other LVs. */
  metadataSizeBytes: number;
}

export const PV_FIELDS = "pv_name,vg_name,pv_size,pv_free,pv_uuid,dev_size,pe_start";
export const VG_FIELDS = "vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,pv_count,lv_count,vg_attr";
export const LV_FIELDS =
  "lv_path,lv_name,vg_name,lv_uuid,lv_attr,lv_size,pool_lv,origin,data_percent,metadata_percent,lv_time,segtype,seg_start_pe,devices,lv_active," +
  "lv_snapshot_invalid,lv_merge_failed,snap_percent,lv_device_open,lv_merging,lv_metadata_size";

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

/** A binary lvs column: the field's name (or "1") when set, "" (or "0") when not, "unknown" without the kernel. */
const flag = (v: string | undefined): boolean => v !== undefined && v !== "" && v !== "0" && v !== "unknown";

export function parseLvs(json: string): LogicalVolume[] {
  return reportRows(json, "lv").map((r) => ({
    path: r.lv_path ?? "",
    name: (r.lv_name ?? "").replace(/^\[(.*)\]$/, "$1"),
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
    hidden: /^\[.*\]$/.test(r.lv_name ?? ""),
    kind: (r.lv_attr ?? "-")[0] ?? "-",
    snapshotInvalid: flag(r.lv_snapshot_invalid),
    mergeFailed: flag(r.lv_merge_failed),
    merging: flag(r.lv_merging),
    deviceOpen: flag(r.lv_device_open),
    snapPercent: pct(r.snap_percent),
    metadataSizeBytes: n(r.lv_metadata_size),
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
export const vgcreateArgv = (vg: string, devs: string[], o: LvmOptions = {}) => [
  "vgcreate",
  ...cfg(o),
  assertSafeName(vg),
  "-y",
  ...devs.map(assertDevicePath),
];
export const vgextendArgv = (vg: string, devs: string[], o: LvmOptions = {}) => [
  "vgextend",
  ...cfg(o),
  assertSafeName(vg),
  "-y",
  ...devs.map(assertDevicePath),
];
/** Moves every extent of PV `from` to PV `to` (dm-mirror underneath: needs device-mapper); resumable with a bare `pvmove`. */
export const pvmoveArgv = (from: string, to: string, o: LvmOptions = {}) => ["pvmove", ...cfg(o), "-i", "0", assertDevicePath(from), assertDevicePath(to)];
export const vgreduceArgv = (vg: string, dev: string, o: LvmOptions = {}) => ["vgreduce", ...cfg(o), assertSafeName(vg), assertDevicePath(dev)];
export const vgremoveArgv = (vg: string, o: LvmOptions = {}) => ["vgremove", ...cfg(o), "-y", assertSafeName(vg)];
export const lvcreateArgv = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) => [
  "lvcreate",
  ...cfg(o),
  "--size",
  `${assertNonNegativeInt(sizeBytes, "LV size")}B`,
  "--stripes",
  "1",
  assertSafeName(vg),
  "-n",
  assertSafeName(lv),
  "-y",
];
export const lvextendArgv = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) => [
  "lvextend",
  ...cfg(o),
  "--size",
  `${assertNonNegativeInt(sizeBytes, "LV size")}b`,
  `${assertSafeName(vg)}/${assertSafeName(lv)}`,
  "-y",
];
export const lvremoveArgv = (vg: string, lv: string, o: LvmOptions = {}) => ["lvremove", ...cfg(o), "-y", `${assertSafeName(vg)}/${assertSafeName(lv)}`];

/** The thin pool LV of a storage pool VG (reference §1.15). */
export const THIN_POOL_LV = "LocalStorage_ThinPool";
const lvRef = (vg: string, lv: string) => `${assertSafeName(vg)}/${assertSafeName(lv)}`;
const positiveInt = (v: number, what: string) => {
  if (assertNonNegativeInt(v, what) === 0) throw new HwError("INVALID_ARGUMENT", "InvalidSize", `${what} must be positive`);
  return v;
};

/**
 * Snapshot of `<vg>/<origin>`: thick COW with `sizeBytes` (the COW area; VolumeSnapshotClass `snapsize`), thin
 * (no size: a size would make LVM create a COW snapshot of the thin volume) when sizeBytes is undefined.
 * Read-only (`--permission r`), activated with the origin (`-k n`: no activation-skip flag).
 */
export const lvSnapshotArgv = (vg: string, origin: string, snap: string, sizeBytes: number | undefined, o: LvmOptions = {}) => [
  "lvcreate",
  ...cfg(o),
  ...(sizeBytes === undefined ? [] : ["--size", `${positiveInt(sizeBytes, "snapshot size")}B`]),
  "--snapshot",
  "--name",
  assertSafeName(snap),
  "--permission",
  "r",
  "-k",
  "n",
  lvRef(vg, origin),
];
/** Roll the origin back to the snapshot. The snapshot LV is consumed when the merge finishes. */
export const lvconvertMergeArgv = (vg: string, snap: string, o: LvmOptions = {}) => ["lvconvert", ...cfg(o), "--merge", "--background", lvRef(vg, snap)];
/** Re-load an LV's table: starts a merge that was delayed because the origin was open, once it is closed. */
export const lvchangeRefreshArgv = (vg: string, lv: string, o: LvmOptions = {}) => ["lvchange", ...cfg(o), "--refresh", lvRef(vg, lv)];
export const thinPoolCreateArgv = (vg: string, capacityGiB: number, metadataGiB: number, o: LvmOptions = {}) => [
  "lvcreate",
  ...cfg(o),
  assertSafeName(vg),
  "--type",
  "thin-pool",
  "-n",
  THIN_POOL_LV,
  "-y",
  `--poolmetadatasize=${positiveInt(metadataGiB, "thin pool metadata size")}G`,
  `--size=${positiveInt(capacityGiB, "thin pool size")}G`,
];
/** Grow the thin pool's data and/or metadata (GiB); undefined = leave as is. */
export const thinPoolExtendArgv = (vg: string, grow: { capacityGiB?: number; metadataGiB?: number }, o: LvmOptions = {}) => {
  const opts = [
    ...(grow.capacityGiB === undefined ? [] : [`--size=${positiveInt(grow.capacityGiB, "thin pool size")}G`]),
    ...(grow.metadataGiB === undefined ? [] : [`--poolmetadatasize=${positiveInt(grow.metadataGiB, "thin pool metadata size")}G`]),
  ];
  if (!opts.length) throw new HwError("INVALID_ARGUMENT", "NothingToExtend", `thin pool ${vg}/${THIN_POOL_LV}: nothing to extend`);
  return ["lvextend", ...cfg(o), lvRef(vg, THIN_POOL_LV), "-y", ...opts];
};
/** A thin volume of virtual size `sizeBytes` in the VG's thin pool (`-W y`: wipe signatures). */
export const lvcreateThinArgv = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) => [
  "lvcreate",
  ...cfg(o),
  "-V",
  `${positiveInt(sizeBytes, "LV size")}B`,
  "--thin",
  "--thinpool",
  THIN_POOL_LV,
  "-W",
  "y",
  assertSafeName(vg),
  "-n",
  assertSafeName(lv),
  "-y",
];
/** A writable thin snapshot of a thin volume or thin snapshot: a thin clone (`-k n`: activated normally). */
export const lvcreateThinCloneArgv = (vg: string, origin: string, lv: string, o: LvmOptions = {}) => [
  "lvcreate",
  ...cfg(o),
  "-s",
  "-k",
  "n",
  "--thinpool",
  THIN_POOL_LV,
  lvRef(vg, origin),
  "-n",
  assertSafeName(lv),
  "-y",
];
/**
 * Restore by copy (the original: `dd if=/dev/<VG>/<snap> of=/dev/<VG>/<target> bs=10M`). We add conv=fsync: the
 * restore is reported Completed right after, and a crash must not lose what dd wrote to the page cache.
 */
export const ddCopyArgv = (from: string, to: string) => ["dd", `if=${assertDevicePath(from)}`, `of=${assertDevicePath(to)}`, "bs=10M", "conv=fsync"];

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
export const pvmove = (from: string, to: string, o: LvmOptions = {}) =>
  lvm(pvmoveArgv(from, to, o), { timeoutMs: 24 * 3600_000, ...o }, `physical volume ${from}`).then(() => undefined);
export const vgreduce = (vg: string, dev: string, o: LvmOptions = {}) => lvm(vgreduceArgv(vg, dev, o), o, `volume group ${vg}`).then(() => undefined);
export const vgremove = (vg: string, o: LvmOptions = {}) => lvm(vgremoveArgv(vg, o), o, `volume group ${vg}`).then(() => undefined);
export const lvcreate = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) =>
  lvm(lvcreateArgv(vg, lv, sizeBytes, o), o, `logical volume ${vg}/${lv}`).then(() => undefined);
export const lvextend = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) =>
  lvm(lvextendArgv(vg, lv, sizeBytes, o), o, `logical volume ${vg}/${lv}`).then(() => undefined);
export const lvremove = (vg: string, lv: string, o: LvmOptions = {}) => lvm(lvremoveArgv(vg, lv, o), o, `logical volume ${vg}/${lv}`).then(() => undefined);
export const lvSnapshot = (vg: string, origin: string, snap: string, sizeBytes: number | undefined, o: LvmOptions = {}) =>
  lvm(lvSnapshotArgv(vg, origin, snap, sizeBytes, o), o, `snapshot ${vg}/${snap} of ${origin}`).then(() => undefined);
/** Starts (or schedules) the merge; returns what lvconvert said about it. */
export const lvconvertMerge = async (vg: string, snap: string, o: LvmOptions = {}) =>
  parseMergeOutput(await lvm(lvconvertMergeArgv(vg, snap, o), o, `snapshot ${vg}/${snap}`));
export const lvchangeRefresh = (vg: string, lv: string, o: LvmOptions = {}) =>
  lvm(lvchangeRefreshArgv(vg, lv, o), o, `logical volume ${vg}/${lv}`).then(() => undefined);
export const thinPoolCreate = (vg: string, capacityGiB: number, metadataGiB: number, o: LvmOptions = {}) =>
  lvm(thinPoolCreateArgv(vg, capacityGiB, metadataGiB, o), o, `thin pool ${vg}/${THIN_POOL_LV}`).then(() => undefined);
export const thinPoolExtend = (vg: string, grow: { capacityGiB?: number; metadataGiB?: number }, o: LvmOptions = {}) =>
  lvm(thinPoolExtendArgv(vg, grow, o), o, `thin pool ${vg}/${THIN_POOL_LV}`).then(() => undefined);
export const lvcreateThin = (vg: string, lv: string, sizeBytes: number, o: LvmOptions = {}) =>
  lvm(lvcreateThinArgv(vg, lv, sizeBytes, o), o, `thin volume ${vg}/${lv}`).then(() => undefined);
export const lvcreateThinClone = (vg: string, origin: string, lv: string, o: LvmOptions = {}) =>
  lvm(lvcreateThinCloneArgv(vg, origin, lv, o), o, `thin clone ${vg}/${lv} of ${origin}`).then(() => undefined);
/** Block copy for restores; `timeoutMs` is the original's --snapshot-restore-timeout (default 600 s). */
export async function ddCopy(from: string, to: string, o: RunOptions = {}): Promise<void> {
  await run(ddCopyArgv(from, to), { timeoutMs: 600_000, ...o });
}

export type MergeStart = "started" | "delayed";
/**
 * What `lvconvert --merge --background` printed (lvm2 2.03.16): "Merging of volume <VG>/<snap> started." when
 * neither LV is open, else "Delaying merge since origin is open." + "Merging of snapshot <VG>/<snap> will occur on
 * next activation of <VG>/<origin>." (the merge-on-next-activation case).
 */
export function parseMergeOutput(stdout: string): MergeStart {
  return /will occur on next activation|Delaying merge/.test(stdout) ? "delayed" : "started";
}

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
  // The second group: what lvcreate --snapshot/--thin/--type thin-pool, lvconvert --merge and lvextend of a thin
  // pool print with activation off (testdata/no-dm-stderr.txt, recorded here).
  return (
    isCommandError(e) &&
    /Failure to communicate with kernel device-mapper|\/dev\/mapper\/control: open failed|without using device-mapper kernel driver|Missing support in kernel/.test(
      e.stderr,
    )
  );
}

function classifyLvmError(e: unknown, what: string): unknown {
  if (!isCommandError(e)) return e;
  if (isAlreadyExists(e)) return e.reclassify("ALREADY_EXISTS", "AlreadyExists", `${what} already exists`);
  if (isNoSpace(e)) return e.reclassify("RESOURCE_EXHAUSTED", "InsufficientCapacity", `${what}: not enough free extents`);
  if (isNoDeviceMapper(e))
    return e.reclassify("FAILED_PRECONDITION", "NoDeviceMapper", "device-mapper is missing: use noActivation (metadata only) or the file engine");
  if (isNotFound(e)) return e.reclassify("NOT_FOUND", "NotFound", `${what} not found`);
  if (isBusy(e)) return e.reclassify("UNAVAILABLE", "DeviceBusy");
  return e;
}
