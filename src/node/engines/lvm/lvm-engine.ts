// The `lvm` engine: the original's data path (reference §5.3). A pool is the VG `LocalStorage_Pool<Class>`
// over the pool's disks (pvcreate + `vgcreate <VG> -y <pv…>` / `vgextend <VG> -y <pv…>`); a replica is the
// thick LV `lvcreate --size <N>B --stripes 1 <VG> -n <vol> -y`, grown with `lvextend --size <N>b`, removed
// with `lvremove`; stats come from `vgs`/`pvs`/`lvs --reportformat json --units B`.
//
// With device-mapper (production): LVs are active and devPath is LVM's own /dev/<VG>/<vol>.
// Without device-mapper (this kernel; detected at runtime by opening /dev/mapper/control): every LVM command
// runs with activation off (metadata only), and a replica's bytes are reached through a "loop window": a loop
// device over the PV's backing file at offset = PV loop offset + pe_start + first extent × extent size, size =
// LV size, linked at <devLinkRoot>/<VG>/<vol> (devLinkRoot /dev gives the same path LVM would create). That
// works only when (a) the PV is itself a loop device over a file (dev clusters, tests) and (b) the LV has one
// segment. Otherwise the replica exists in metadata but is inactive, with the reason in `inactiveReason`.
// Cannot run here at all: activation (/dev/<VG>/<vol> by LVM), snapshots, thin pools, `lvconvert --merge`.
// Those live in dm-ops.ts; which of them a node offers is probed (host/dm/targets.ts) and reported by
// capabilities(), and each is refused before any command where the kernel lacks it.
// Simplification: an active window cannot be resized in place (losetup cannot change a size limit), so
// expanding re-creates the window, which needs the volume unpublished; with device-mapper that limit is gone.

import { realpath } from "node:fs/promises";
import { join } from "node:path";
import { HwError } from "../../../api/errors.ts";
import { STORAGE_POOL_PREFIX, type PoolClass } from "../../../api/names.ts";
import { listSignatures, probeFilesystem } from "../../../host/fs/fs.ts";
import { attachLoop, detachLoop, getLoop, listLoops, type LoopDevice } from "../../../host/loop/loop.ts";
import * as lvm from "../../../host/lvm/lvm.ts";
import type { RunOptions } from "../../../host/runner.ts";
import { assertPoolName, assertVolumeName, insufficientSpace, replicasOfPools, requestedSize } from "../common.ts";
import { ensureDevLink, isDeviceInUse, readDevLink, removeDevLink } from "../dev-links.ts";
import { KeyedLock } from "../../../kube/keyed-lock.ts";
import {
  POOL_VOLUME_LIMIT,
  type ActivationReport,
  type CreateReplicaOptions,
  type CreateSnapshotOptions,
  type EngineCapabilities,
  type PoolStats,
  type Replica,
  type RollbackProgress,
  type SnapshotInfo,
  type StorageEngine,
  type ThinPoolStats,
} from "../engine.ts";
import { hasDeviceMapper } from "../dm.ts";
import { probeDmFeatures, type DmFeatures } from "../../../host/dm/targets.ts";
import * as dmOps from "./dm-ops.ts";
import { isThinLv, isVolumeLv } from "./layout.ts";
import { ifExists } from "../../../host/files.ts";

export interface LvmEngineOptions {
  /** Whether device-mapper works; detected (open /dev/mapper/control) when undefined. */
  deviceMapper?: boolean;
  /** Where loop-window devPaths go without device-mapper: <devLinkRoot>/<VG>/<vol>. Default /dev. */
  devLinkRoot?: string;
  /**
   * VG name = pool name + this suffix. Empty in production (VG = `LocalStorage_Pool<Class>`); tests and dev
   * clusters that run several node agents on one machine (one LVM namespace) set a per-node suffix.
   */
  vgSuffix?: string;
  run?: RunOptions;
  /** Which dm targets work (snapshot, thin, crypt); probed when undefined (tests inject). */
  features?: DmFeatures;
  /** Where rollback markers live (<stateDir>/engine/lvm/merges). Default /etc/hwameistor. */
  stateDir?: string;
}

interface Segment {
  lv: lvm.LogicalVolume;
  pv: string;
  startPe: number;
}

export class LvmEngine implements StorageEngine {
  readonly kind = "lvm" as const;
  private dm: boolean | undefined;
  private readonly devLinkRoot: string;
  private readonly vgSuffix: string;
  private readonly ro: RunOptions;
  private readonly lock = new KeyedLock();
  private feat: DmFeatures | undefined;
  private readonly stateDir: string;

  constructor(o: LvmEngineOptions = {}) {
    this.dm = o.deviceMapper;
    this.devLinkRoot = o.devLinkRoot ?? "/dev";
    this.vgSuffix = o.vgSuffix ?? "";
    this.ro = o.run ?? {};
    this.feat = o.features;
    this.stateDir = o.stateDir ?? "/etc/hwameistor";
  }

  private async hasDm(): Promise<boolean> {
    this.dm ??= (await hasDeviceMapper()).available;
    return this.dm;
  }

  /** The dm features of this node, probed once (capabilities() reports them after the first call). */
  async features(): Promise<DmFeatures> {
    if (!this.feat) {
      if (await this.hasDm()) this.feat = await probeDmFeatures();
      else {
        const reason = (await hasDeviceMapper()).reason;
        this.feat = { snapshot: { available: false, reason }, thin: { available: false, reason }, crypt: { available: false, reason } };
      }
    }
    return this.feat;
  }

  private async ops(poolName: string, thinRatio?: string): Promise<dmOps.DmOpsContext> {
    return { vg: this.vgOf(poolName), poolName, lo: await this.lo(), ro: this.ro, features: await this.features(), stateDir: this.stateDir, thinRatio };
  }
  private async lo(): Promise<lvm.LvmOptions> {
    return { ...this.ro, noActivation: !(await this.hasDm()) };
  }

  vgOf(poolName: string): string {
    return poolName + this.vgSuffix;
  }
  private poolOf(vg: string): string | undefined {
    if (!vg.startsWith(STORAGE_POOL_PREFIX) || !vg.endsWith(this.vgSuffix)) return undefined;
    return this.vgSuffix ? vg.slice(0, -this.vgSuffix.length) : vg;
  }

  capabilities(): EngineCapabilities {
    const noDm = "device-mapper is not available on this kernel (/dev/mapper/control cannot be opened)";
    const dm = this.dm ?? false;
    const f = this.feat;
    const of = (k: keyof DmFeatures) =>
      f ? (f[k].available ? { supported: true } : { supported: false, reason: f[k].reason }) : { supported: false, reason: dm ? "not probed yet" : noDm };
    const snap = of("snapshot");
    const thin = of("thin");
    return {
      multiDiskPools: true,
      snapshots: snap,
      // Thin clones need dm-thin; thick clones are a snapshot plus a restore (the CSI clone path).
      clones: snap.supported ? { supported: true } : snap,
      blockDevices: dm ? { supported: true } : { supported: false, reason: `${noDm}; only single-segment LVs on loop-file PVs are reachable (loop window)` },
      thin,
      encryption: of("crypt"),
    };
  }

  devPathOf(poolName: string, volumeName: string): string {
    return join(this.devLinkRoot, this.vgOf(poolName), volumeName);
  }

  // -------------------------------------------------------------------------------------------------------
  // Pools

  async ensurePool(poolName: string, poolClass: PoolClass, devices: string[]): Promise<PoolStats> {
    assertPoolName(poolName, poolClass);
    const vg = this.vgOf(poolName);
    const devs = [...new Set(devices)];
    return this.lock.with(poolName, async () => {
      const lo = await this.lo();
      const pvs = await lvm.listPvs([], lo);
      const pvOf = new Map<string, lvm.PhysicalVolume>();
      for (const p of pvs) pvOf.set((await ifExists(realpath(p.name))) ?? p.name, p);
      const fresh: string[] = [];
      for (const d of devs) {
        const pv = pvOf.get((await ifExists(realpath(d))) ?? d);
        if (pv?.vgName === vg) continue;
        if (pv?.vgName) throw new HwError("FAILED_PRECONDITION", "DeviceInOtherVg", `disk ${d} already belongs to volume group ${pv.vgName}`);
        if (!pv) {
          // No silent data loss: pvcreate -y would overwrite a filesystem.
          const probe = await probeFilesystem(d, this.ro);
          if (probe || (await listSignatures(d, this.ro)).length) {
            throw new HwError(
              "FAILED_PRECONDITION",
              "DeviceNotEmpty",
              `refusing to use ${d} for pool ${poolName}: it holds a ${probe?.type ?? probe?.pttype ?? "signature"}`,
            );
          }
          // Crash window covered: pvcreate done, vgcreate/vgextend not → the PV is found next time (no VG).
          await lvm.pvcreate([d], lo);
        }
        fresh.push(d);
      }
      if (fresh.length) {
        if (await lvm.getVg(vg, lo)) await lvm.vgextend(vg, fresh, lo);
        else await lvm.vgcreate(vg, fresh, lo);
      }
      return this.statsOf(poolName);
    });
  }

  async poolStats(poolName: string): Promise<PoolStats> {
    assertPoolName(poolName);
    return this.statsOf(poolName);
  }

  async listPools(): Promise<string[]> {
    const vgs = await lvm.listVgs([], await this.lo());
    return vgs
      .map((v) => this.poolOf(v.name))
      .filter((p): p is string => p !== undefined)
      .sort();
  }

  private async statsOf(poolName: string): Promise<PoolStats> {
    const lo = await this.lo();
    const vg = await lvm.getVg(this.vgOf(poolName), lo);
    if (!vg) throw new HwError("NOT_FOUND", "PoolNotFound", `pool ${poolName} (volume group ${this.vgOf(poolName)}) does not exist on this node`);
    const pvs = (await lvm.listPvs([], lo)).filter((p) => p.vgName === vg.name);
    const lvs = await lvm.listLvs(vg.name, lo);
    const volumes = [...new Set(lvs.filter(isVolumeLv).map((l) => l.name))].sort();
    const thinPool = await dmOps.thinPoolStats(await this.ops(poolName));
    const cls = assertPoolName(poolName);
    return {
      name: poolName,
      class: cls,
      path: `/dev/${vg.name}`,
      totalCapacityBytes: vg.sizeBytes,
      usedCapacityBytes: vg.sizeBytes - vg.freeBytes,
      freeCapacityBytes: vg.freeBytes,
      volumeCapacityBytesLimit: vg.sizeBytes,
      totalVolumeCount: POOL_VOLUME_LIMIT,
      usedVolumeCount: volumes.length,
      freeVolumeCount: Math.max(0, POOL_VOLUME_LIMIT - volumes.length),
      disks: pvs.map((p) => ({ devPath: p.name, capacityBytes: p.sizeBytes })),
      volumes,
      ...(thinPool ? { thinPool } : {}),
    };
  }

  // -------------------------------------------------------------------------------------------------------
  // Replicas

  async createReplica(poolName: string, volumeName: string, sizeBytes: number, opts: CreateReplicaOptions = {}): Promise<Replica> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    const size = requestedSize(sizeBytes, `volume ${volumeName}`);
    if (opts.sourceVolume !== undefined) assertVolumeName(opts.sourceVolume, "source volume");
    if (opts.sourceVolume !== undefined && !opts.thin) {
      throw new HwError(
        "FAILED_PRECONDITION",
        "ThickCloneIsSnapshotRestore",
        `volume ${volumeName}: an LVM clone of ${opts.sourceVolume} needs thin volumes; thick clones go through a snapshot and a restore`,
      );
    }
    return this.lock.with(poolName, async () => {
      const lo = await this.lo();
      const vg = this.vgOf(poolName);
      let segs = await this.segmentsOf(vg, volumeName);
      if (segs.length === 0 && opts.thin) {
        await dmOps.createThinReplica(await this.ops(poolName, opts.overProvisionRatio), volumeName, size, opts.sourceVolume);
        segs = await this.segmentsOf(vg, volumeName);
      } else if (segs.length === 0) {
        const stats = await this.statsOf(poolName);
        if (stats.freeCapacityBytes < size) throw insufficientSpace(poolName, volumeName, size, stats.freeCapacityBytes);
        try {
          await lvm.lvcreate(vg, volumeName, size, lo);
        } catch (e) {
          // lvm's own check, in case the VG changed between our check and lvcreate: same words for the caller.
          if (e instanceof HwError && e.code === "RESOURCE_EXHAUSTED") throw insufficientSpace(poolName, volumeName, size, 0);
          throw e;
        }
        segs = await this.segmentsOf(vg, volumeName);
      } else if (segs[0]!.lv.sizeBytes < size) {
        throw new HwError(
          "ALREADY_EXISTS",
          "VolumeExists",
          `volume ${volumeName} exists in pool ${poolName} with ${segs[0]!.lv.sizeBytes} bytes, less than ${size}`,
        );
      }
      return this.activate(poolName, volumeName, segs);
    });
  }

  /** The LV's segments (lvs prints one row per segment when segment fields are asked for). */
  private async segmentsOf(vg: string, volumeName: string): Promise<Segment[]> {
    let lvs: lvm.LogicalVolume[];
    try {
      lvs = await lvm.listLvs(vg, await this.lo());
    } catch (e) {
      if (e instanceof HwError && e.code === "NOT_FOUND") throw new HwError("NOT_FOUND", "PoolNotFound", `pool volume group ${vg} does not exist`);
      throw e;
    }
    return lvs
      .filter((l) => l.name === volumeName)
      .map((lv) => {
        const m = /^(.+)\((\d+)\)$/.exec(lv.devices.split(",")[0] ?? "");
        return { lv, pv: m?.[1] ?? "", startPe: m ? Number(m[2]) : -1 };
      });
  }

  /** Where the LV's bytes are, as a loop window over the PV's backing file; or why that is impossible. */
  private async windowOf(vg: string, segs: Segment[]): Promise<{ file: string; offset: number; sizeLimit: number } | { reason: string }> {
    if (segs.length !== 1) return { reason: `the LV has ${segs.length} segments; a loop window can map only one` };
    const seg = segs[0]!;
    if (!seg.pv.startsWith("/dev/") || seg.startPe < 0) return { reason: `cannot read the LV's device list "${seg.lv.devices}"` };
    const pvLoop = await getLoop(seg.pv, this.ro).catch(() => undefined);
    if (!pvLoop) return { reason: `PV ${seg.pv} is not a loop device over a file; a loop window needs one` };
    const lo = await this.lo();
    const [pv] = await lvm.listPvs([seg.pv], lo);
    const vgInfo = await lvm.getVg(vg, lo);
    if (!pv || !vgInfo) return { reason: `PV ${seg.pv} or VG ${vg} vanished` };
    return { file: pvLoop.backFile, offset: pvLoop.offset + pv.peStartBytes + seg.startPe * vgInfo.extentSizeBytes, sizeLimit: seg.lv.sizeBytes };
  }

  private async windowLoops(w: { file: string; offset: number }, loops?: LoopDevice[]): Promise<LoopDevice[]> {
    return (loops ?? (await listLoops(this.ro))).filter((l) => l.backFile === w.file && l.offset === w.offset && !l.backFileDeleted);
  }

  /** With device-mapper the LV is its own device: `/dev/<VG>/<LV>`, active when the node exists. */
  private async dmReplica(poolName: string, vg: string, volumeName: string, sizeBytes: number): Promise<Replica> {
    const devPath = `/dev/${vg}/${volumeName}`;
    const kernelDevice = (await ifExists(realpath(devPath))) ?? "";
    return { poolName, volumeName, devPath, storagePath: devPath, allocatedCapacityBytes: sizeBytes, kernelDevice, active: kernelDevice !== "" };
  }

  private async activate(poolName: string, volumeName: string, segs: Segment[]): Promise<Replica> {
    const vg = this.vgOf(poolName);
    const lv = segs[0]!.lv;
    if (await this.hasDm()) return this.dmReplica(poolName, vg, volumeName, lv.sizeBytes);
    const devPath = this.devPathOf(poolName, volumeName);
    const w = await this.windowOf(vg, segs);
    const base = { poolName, volumeName, devPath, storagePath: devPath, allocatedCapacityBytes: lv.sizeBytes };
    if ("reason" in w) return { ...base, kernelDevice: "", active: false, inactiveReason: w.reason };
    // A window of another size is stale (the LV was extended): re-create it, unless it is in use.
    for (const old of await this.windowLoops(w)) {
      if (old.sizeLimit === w.sizeLimit) continue;
      if (await isDeviceInUse(old.name)) {
        throw new HwError(
          "FAILED_PRECONDITION",
          "VolumeInUse",
          `volume ${volumeName} (${old.name}) is in use; without device-mapper its loop window can only be resized while unpublished`,
        );
      }
      await detachLoop(old.name, this.ro);
    }
    // Crash window covered: attached but never linked → attachLoop returns the same device.
    const loop = await attachLoop(w.file, { offset: w.offset, sizeLimit: w.sizeLimit, directIo: true }, this.ro);
    await ensureDevLink(devPath, loop.name);
    return { ...base, kernelDevice: loop.name, active: true };
  }

  async expandReplica(poolName: string, volumeName: string, sizeBytes: number, opts: { overProvisionRatio?: string } = {}): Promise<Replica> {
    const overProvisionRatio = opts.overProvisionRatio;
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    const size = requestedSize(sizeBytes, `volume ${volumeName}`);
    return this.lock.with(poolName, async () => {
      const vg = this.vgOf(poolName);
      let segs = await this.segmentsOf(vg, volumeName);
      if (segs.length === 0) throw new HwError("NOT_FOUND", "VolumeNotFound", `volume ${volumeName} not found in pool ${poolName}`);
      if (size > segs[0]!.lv.sizeBytes && isThinLv(segs[0]!.lv)) {
        await dmOps.checkThinGrowth(await this.ops(poolName, overProvisionRatio), volumeName, size - segs[0]!.lv.sizeBytes);
        await lvm.lvextend(vg, volumeName, size, await this.lo());
        segs = await this.segmentsOf(vg, volumeName);
      } else if (size > segs[0]!.lv.sizeBytes) {
        const stats = await this.statsOf(poolName);
        const delta = size - segs[0]!.lv.sizeBytes;
        if (stats.freeCapacityBytes < delta) throw insufficientSpace(poolName, volumeName, delta, stats.freeCapacityBytes);
        if (!(await this.hasDm())) {
          // Check before changing metadata: an in-use window could not follow the new size.
          const w = await this.windowOf(vg, segs);
          if (!("reason" in w)) {
            for (const l of await this.windowLoops(w)) {
              if (await isDeviceInUse(l.name))
                throw new HwError(
                  "FAILED_PRECONDITION",
                  "VolumeInUse",
                  `volume ${volumeName} (${l.name}) is in use; without device-mapper it can only be expanded while unpublished`,
                );
            }
          }
        }
        await lvm.lvextend(vg, volumeName, size, await this.lo());
        segs = await this.segmentsOf(vg, volumeName);
      }
      return this.activate(poolName, volumeName, segs);
    });
  }

  async deleteReplica(poolName: string, volumeName: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    await this.lock.with(poolName, async () => {
      const vg = this.vgOf(poolName);
      if (!(await lvm.getVg(vg, await this.lo()))) return;
      const segs = await this.segmentsOf(vg, volumeName);
      if (segs.length === 0) {
        await removeDevLink(this.devPathOf(poolName, volumeName));
        return;
      }
      if (!(await this.hasDm())) {
        const w = await this.windowOf(vg, segs);
        const loops = "reason" in w ? [] : await this.windowLoops(w);
        for (const l of loops)
          if (await isDeviceInUse(l.name))
            throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `volume ${volumeName} (${l.name}) is in use`, { hint: "unpublish it first" });
        await removeDevLink(this.devPathOf(poolName, volumeName));
        for (const l of loops) await detachLoop(l.name, this.ro);
      }
      try {
        await lvm.lvremove(vg, volumeName, await this.lo());
      } catch (e) {
        if (!(e instanceof HwError && e.code === "NOT_FOUND")) throw e;
      }
    });
  }

  async getReplica(poolName: string, volumeName: string): Promise<Replica | undefined> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    if (!(await lvm.getVg(this.vgOf(poolName), await this.lo()))) return undefined;
    return this.describe(poolName, volumeName, await this.segmentsOf(this.vgOf(poolName), volumeName));
  }

  /** The replica as it is now, without changing anything. */
  private async describe(poolName: string, volumeName: string, segs: Segment[], loops?: LoopDevice[]): Promise<Replica | undefined> {
    if (segs.length === 0) return undefined;
    const vg = this.vgOf(poolName);
    const lv = segs[0]!.lv;
    if (await this.hasDm()) return this.dmReplica(poolName, vg, volumeName, lv.sizeBytes);
    const devPath = this.devPathOf(poolName, volumeName);
    const base = { poolName, volumeName, devPath, storagePath: devPath, allocatedCapacityBytes: lv.sizeBytes };
    const w = await this.windowOf(vg, segs);
    if ("reason" in w) return { ...base, kernelDevice: "", active: false, inactiveReason: w.reason };
    const win = (await this.windowLoops(w, loops)).find((l) => l.sizeLimit === w.sizeLimit);
    const link = await readDevLink(devPath);
    const active = !!win && link === win.name;
    return {
      ...base,
      kernelDevice: win?.name ?? "",
      active,
      ...(active ? {} : { inactiveReason: "loop window not attached or not linked (run activateAll)" }),
    };
  }

  async listReplicas(poolName?: string): Promise<Replica[]> {
    const ofPool = async (p: string, loops: LoopDevice[]) => {
      const names = [...new Set((await lvm.listLvs(this.vgOf(p), await this.lo())).filter(isVolumeLv).map((l) => l.name))].sort();
      const out: Replica[] = [];
      for (const n of names) {
        const r = await this.describe(p, n, await this.segmentsOf(this.vgOf(p), n), loops);
        if (r) out.push(r);
      }
      return out;
    };
    return replicasOfPools(poolName, () => this.listPools(), ofPool, this.ro);
  }

  async activateAll(): Promise<ActivationReport> {
    await this.features(); // probed once at start: capabilities() (and the node's status) report them from here on
    const report: ActivationReport = { pools: [], activated: [], cleaned: [], errors: [] };
    for (const p of await this.listPools()) {
      report.pools.push(p);
      // With device-mapper, LVM's own boot-time activation (lvm2-activation / pvscan --cache -aay) brings LVs
      // back at /dev/<VG>/<vol>; we only report them. Without it, re-attach the loop windows.
      await this.lock.with(p, async () => {
        const names = [...new Set((await lvm.listLvs(this.vgOf(p), await this.lo())).filter(isVolumeLv).map((l) => l.name))].sort();
        for (const n of names) {
          try {
            const r = await this.activate(p, n, await this.segmentsOf(this.vgOf(p), n));
            if (r.active) report.activated.push(n);
            else report.errors.push({ object: `${p}/${n}`, message: r.inactiveReason ?? "not active" });
          } catch (e) {
            report.errors.push({ object: `${p}/${n}`, message: (e as Error).message });
          }
        }
      });
    }
    return report;
  }

  async deactivateAll(): Promise<void> {
    if (await this.hasDm()) return; // LV deactivation (vgchange -an) is the system's shutdown job
    for (const r of await this.listReplicas()) {
      if (!r.kernelDevice) continue;
      if (await isDeviceInUse(r.kernelDevice)) throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `volume ${r.volumeName} (${r.kernelDevice}) is in use`);
      await removeDevLink(r.devPath);
      await detachLoop(r.kernelDevice, this.ro);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Snapshots, rollback, restore, clones, thin pools: dm-ops.ts (refused before any command without the dm target)

  async createSnapshot(poolName: string, volumeName: string, snapshotName: string, opts: CreateSnapshotOptions = {}): Promise<SnapshotInfo> {
    assertPoolName(poolName);
    assertVolumeName(volumeName);
    assertVolumeName(snapshotName, "snapshot");
    return this.lock.with(poolName, async () => dmOps.createSnapshot(await this.ops(poolName), volumeName, snapshotName, opts));
  }
  async deleteSnapshot(poolName: string, snapshotName: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    if (!(await lvm.getVg(this.vgOf(poolName), await this.lo()))) return;
    await this.lock.with(poolName, async () => dmOps.deleteSnapshot(await this.ops(poolName), snapshotName));
  }
  async listSnapshots(poolName: string, volumeName?: string): Promise<SnapshotInfo[]> {
    assertPoolName(poolName);
    if (!(await lvm.getVg(this.vgOf(poolName), await this.lo()))) return [];
    return dmOps.listSnapshots(await this.ops(poolName), volumeName);
  }
  async restoreSnapshot(poolName: string, snapshotName: string, targetVolume: string): Promise<void> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    assertVolumeName(targetVolume);
    await dmOps.restoreSnapshot(await this.ops(poolName), snapshotName, targetVolume);
  }
  async rollbackSnapshot(poolName: string, snapshotName: string): Promise<void | RollbackProgress> {
    assertPoolName(poolName);
    assertVolumeName(snapshotName, "snapshot");
    return this.lock.with(poolName, async () => dmOps.rollbackSnapshot(await this.ops(poolName), snapshotName));
  }
  /** Thin volumes only (a thin snapshot of the source); thick clones are a snapshot plus a restore. */
  async cloneReplica(poolName: string, sourceVolume: string, targetVolume: string, overProvisionRatio?: string): Promise<Replica> {
    const src = await this.getReplica(poolName, sourceVolume);
    if (!src) throw new HwError("NOT_FOUND", "VolumeNotFound", `clone ${targetVolume}: source volume ${sourceVolume} not found in pool ${poolName}`);
    return this.createReplica(poolName, targetVolume, src.allocatedCapacityBytes, { sourceVolume, thin: true, overProvisionRatio });
  }
  /**
   * The original's procedure for a disk leaving a VG: `vgextend VG NEW`, `pvmove OLD NEW` (every extent, online),
   * `vgreduce VG OLD`, `pvremove OLD`. pvmove works through a temporary dm-mirror: without device-mapper it
   * cannot run, and LVM metadata edited without the kernel's mirror would point volumes at extents nobody
   * copied. So it is refused before any command where device-mapper is missing — as on this machine, where
   * this path has therefore never run (its command lines are tested, not their effect).
   */
  async replaceDisk(poolName: string, oldDevice: string, newDevice: string): Promise<{ done: boolean; percent: number }> {
    assertPoolName(poolName);
    const vg = this.vgOf(poolName);
    if (!(await this.hasDm())) {
      throw new HwError(
        "FAILED_PRECONDITION",
        "NoDeviceMapper",
        `pool ${poolName}: replacing ${oldDevice} with ${newDevice} needs pvmove, and pvmove needs device-mapper, which this node's kernel does not have (${(await hasDeviceMapper()).reason})`,
        { hint: "replace the disk on a node with device-mapper, or move the volumes off this node (LocalVolumeMigrate) and rebuild the pool" },
      );
    }
    return this.lock.with(poolName, async () => {
      const lo = await this.lo();
      const inVg = async (dev: string) => {
        const real = (await ifExists(realpath(dev))) ?? dev;
        const pvs = await lvm.listPvs([], lo);
        return (await Promise.all(pvs.map(async (p) => ((await ifExists(realpath(p.name))) ?? p.name) === real && p.vgName === vg))).some(Boolean);
      };
      if (!(await inVg(oldDevice))) {
        if (await inVg(newDevice)) return { done: true, percent: 100 }; // a previous call finished
        throw new HwError("FAILED_PRECONDITION", "NotAPoolMember", `${oldDevice} is not a disk of pool ${poolName} (volume group ${vg})`);
      }
      if (!(await inVg(newDevice))) await lvm.vgextend(vg, [newDevice], lo);
      // Simplification: after a crash mid-move LVM holds the half-done move (a bare `pvmove` resumes it); this
      // call then fails with pvmove's "in progress" error and is retried by the reconciler.
      await lvm.pvmove(oldDevice, newDevice, lo);
      await lvm.vgreduce(vg, oldDevice, lo);
      await lvm.pvremove([oldDevice], lo);
      return { done: true, percent: 100 };
    });
  }

  async ensureThinPool(poolName: string, capacityGiB: number, metadataGiB: number): Promise<ThinPoolStats> {
    assertPoolName(poolName);
    return this.lock.with(poolName, async () => dmOps.ensureThinPool(await this.ops(poolName), capacityGiB, metadataGiB));
  }
}
