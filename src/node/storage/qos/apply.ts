// Applying a volume's IO limits to the kernel (through src/host/cgroup only). Level-triggered: each call reads
// the rules in place and writes only those that differ, so a re-run (agent restart, resync) is harmless.
//
// Which cgroup (docs/expansion-qos.md): blkio/io limits bind a (cgroup, device) pair, so a limit needs the
// cgroup the workload's I/O is charged to.
// - `<io hierarchy>/hwameistor/<volume>` — created here; a workload that uses the volume runs in it (tests run
//   fio there; a runtime hook or a pod's cgroup parent can place containers there).
// - the kubepods cgroup when present (v1: `<root>/blkio/kubepods.slice|kubepods`; v2: `<root>/kubepods.slice|
//   kubepods`, hybrid `<root>/unified/…`): every pod is below it, which is what the original writes (for v2;
//   for v1 it writes the root blkio cgroup, which would throttle every process on the host — we do not).

import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { formatMajorMinor, deviceNumber } from "../../../host/blkdev.ts";
import {
  CGROUP_ROOT,
  clearIoLimits,
  createCgroup,
  detectCgroupVersion,
  readIoLimits,
  removeCgroup,
  setIoLimits,
  type CgroupVersion,
  type IoLimits,
} from "../../../host/cgroup/cgroup.ts";
import { HwError } from "../../../api/errors.ts";
import { KUBEPODS_RELS, VOLUME_CGROUP_PARENT, isUnlimited, volumeCgroupRel } from "./limits.ts";
import { ifExists } from "../../../host/files.ts";

const isDir = async (p: string) => (await ifExists(stat(p)))?.isDirectory() ?? false;

export interface QosTarget {
  version: CgroupVersion;
  /** The volume's own cgroup directory. */
  volumeDir: string;
  /** kubepods directories that exist on this host. */
  kubepodsDirs: string[];
}

/** Where the limits of `volume` go on this host (nothing is created). */
export async function qosTarget(volume: string, root = CGROUP_ROOT): Promise<QosTarget> {
  const version = await detectCgroupVersion(root);
  if (version === "none")
    throw new HwError(
      "FAILED_PRECONDITION",
      "NoCgroup",
      `node has no blkio (v1) or io (v2) cgroup controller under ${root}; volume ${volume} cannot be limited`,
    );
  const base = version === "v1" ? join(root, "blkio") : root;
  const candidates =
    version === "v1"
      ? KUBEPODS_RELS.map((k) => join(base, k))
      : [...KUBEPODS_RELS.map((k) => join(root, "unified", k)), ...KUBEPODS_RELS.map((k) => join(root, k))];
  const kubepodsDirs: string[] = [];
  for (const d of candidates) if (await isDir(d)) kubepodsDirs.push(d);
  return { version, volumeDir: join(base, volumeCgroupRel(volume)), kubepodsDirs };
}

const same = (a: IoLimits, b: IoLimits) => a.readBps === b.readBps && a.writeBps === b.writeBps && a.readIops === b.readIops && a.writeIops === b.writeIops;

export interface ApplyResult {
  majMin: string;
  dirs: string[];
  /** Directories whose rules were written (empty = everything was already in place). */
  changed: string[];
}

/** Makes the rules for `devPath` in the volume's cgroup (and kubepods) equal `limits`. */
export async function applyVolumeQos(volume: string, devPath: string, limits: IoLimits, root = CGROUP_ROOT): Promise<ApplyResult> {
  const t = await qosTarget(volume, root);
  // Unlimited: no cgroup is created for the volume (most volumes; nothing to leak when an agent dies), an
  // existing one is emptied of rules and removed when no process is left in it.
  const unlimited = isUnlimited(limits);
  const hasVolumeDir = await isDir(t.volumeDir);
  if (unlimited && !hasVolumeDir && !t.kubepodsDirs.length) return { majMin: "", dirs: [], changed: [] };
  const majMin = formatMajorMinor(await deviceNumber(devPath));
  if (!unlimited) await createCgroup(t.volumeDir);
  const dirs = [...(unlimited && !hasVolumeDir ? [] : [t.volumeDir]), ...t.kubepodsDirs];
  const changed: string[] = [];
  for (const d of dirs) {
    const cur = await readIoLimits(d, majMin, t.version);
    if (same(cur, limits)) continue;
    if (isUnlimited(limits)) await clearIoLimits(d, majMin, t.version);
    else await setIoLimits(d, majMin, limits, t.version);
    changed.push(d);
  }
  if (unlimited && hasVolumeDir) await removeCgroup(t.volumeDir).catch(() => undefined); // EBUSY: a workload still runs there
  return { majMin, dirs, changed };
}

/** The devices (maj:min) that have rules in a cgroup directory. */
async function devicesWithRules(dir: string, version: CgroupVersion): Promise<string[]> {
  const files =
    version === "v1"
      ? ["blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"]
      : ["io.max"];
  const out = new Set<string>();
  for (const f of files) {
    const text = (await ifExists(readFile(join(dir, f), "utf8"))) ?? "";
    for (const line of text.split("\n")) {
      const mm = line.trim().split(/\s+/)[0];
      if (mm && /^\d+:\d+$/.test(mm)) out.add(mm);
    }
  }
  return [...out];
}

/**
 * The volume is gone from this node: clear its devices' rules (a loop minor is reused by the next volume, so
 * a stale rule would limit a stranger) and remove its cgroup if no process is left in it.
 */
export async function removeVolumeQos(volume: string, root = CGROUP_ROOT): Promise<{ cleared: string[]; cgroupRemoved: boolean }> {
  const t = await qosTarget(volume, root);
  if (!(await isDir(t.volumeDir))) return { cleared: [], cgroupRemoved: false };
  const devices = await devicesWithRules(t.volumeDir, t.version);
  for (const mm of devices) for (const d of [t.volumeDir, ...t.kubepodsDirs]) await clearIoLimits(d, mm, t.version).catch(() => undefined);
  let cgroupRemoved = true;
  await removeCgroup(t.volumeDir).catch(() => {
    cgroupRemoved = false; // EBUSY: a workload still runs in it; the next pass tries again
  });
  return { cleared: devices, cgroupRemoved };
}

export { VOLUME_CGROUP_PARENT };
