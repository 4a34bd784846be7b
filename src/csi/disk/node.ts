// CSI Node service of disk.hwameistor.io (runs in the node agent, `<csiSocketDir>/disk.sock`).
//
// Idempotency:
// - NodePublishVolume: a target that already has a mount is success (kubelet retries after timeouts). The
//   mount point is recorded in the LDV status (phase ToBeMounted) BEFORE mounting, so a crash after mount(8)
//   can never let DeleteVolume pass a mounted volume; it becomes Mounted after, and is removed on failure.
// - Formatting happens on FIRST use only, and only on an empty disk: blkid and wipefs must both see nothing,
//   and the volume record (volume-files.ts) must not exist. A filesystem is mounted again only if it is the
//   one this system created (UUID in the record). Anything else is FAILED_PRECONDITION ForeignData and
//   the disk is never written. Crash window mkfs-done/record-not-updated: `formatting` in the record and a
//   filesystem of that type with no recorded UUID → adopted.
// - NodeUnpublishVolume: not mounted / target missing is success; the mount point is removed from status.
// - NodeGetVolumeStats: a read; a missing disk or mount is reported as an abnormal condition, not an error.

import fs from "node:fs";
import path from "node:path";
import { HwError, invalid, notFound } from "../../api/errors.ts";
import { AccessTypes, LocalDiskStates, MountPointPhases, VolumeStates } from "../../api/names.ts";
import { deviceSizeBytes } from "../../host/blkdev.ts";
import { listSignatures, mkfs, probeFilesystem, fsStats, type FsType } from "../../host/fs/fs.ts";
import { bindMount, findMountsAt, mount, unmountAll } from "../../host/mount/mount.ts";
import type { KubeClient } from "../../kube/client.ts";
import { silentLogger, type Logger } from "../../kube/types.ts";
import { isBlockDevice, readRecord, writeRecord, type VolumeRecord } from "../../node/disk-volume/volume-files.ts";
import { DiskDriver, nodeCapabilities } from "../capabilities.ts";
import { USABLE_STATES, diskClients, mutateLdvStatus, nodeOfLdv, type Ldv } from "./ldv.ts";
import type { ServiceHandlers } from "../server.ts";
import type * as T from "../types.ts";
import { accessTypeOf, requireField, validatePath, validateVolumeId } from "../validate.ts";

export interface DiskNodeOptions {
  nodeName: string;
  client: KubeClient;
  stateDir: string;
  log?: Logger;
}

/** CSI AccessMode.Mode numbers, as the original stores them in mountPoints[].volumeCap.accessMode. */
const ACCESS_MODE_NUMBERS: Record<string, number> = { SINGLE_NODE_WRITER: 1, SINGLE_NODE_READER_ONLY: 2 };

const foreign = (volume: string, dev: string, what: string) =>
  new HwError("FAILED_PRECONDITION", "ForeignData", `refusing to use ${dev} for volume ${volume}: it holds ${what} that this system did not create`, {
    hint: "the disk was not empty when first used; it has not been touched. Reserve the disk, or wipe it deliberately if its data is disposable",
  });

export function diskNodeService(o: DiskNodeOptions): ServiceHandlers {
  const c = diskClients(o.client);
  const log = o.log ?? silentLogger;
  const locks = new Map<string, Promise<unknown>>();

  function withVolumeLock<R>(volume: string, fn: () => Promise<R>): Promise<R> {
    const prev = locks.get(volume) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    locks.set(volume, tail);
    void tail.then(() => {
      if (locks.get(volume) === tail) locks.delete(volume);
    });
    return next;
  }

  async function getLocalVolume(volume: string): Promise<Ldv> {
    const ldv = await c.ldv.get(volume);
    if (!ldv) throw notFound(`volume ${volume}`);
    const node = nodeOfLdv(ldv);
    if (node !== o.nodeName) throw new HwError("FAILED_PRECONDITION", "WrongNode", `volume ${volume} lives on node ${node}, not on ${o.nodeName}`);
    return ldv;
  }

  async function setMountPoint(volume: string, mp: NonNullable<NonNullable<Ldv["status"]>["mountPoints"]>[number] | undefined, target: string) {
    await mutateLdvStatus(c.ldv, volume, (st) => {
      const others = (st.mountPoints ?? []).filter((m) => m.targetPath !== target);
      const before = JSON.stringify(st.mountPoints ?? []);
      st.mountPoints = mp ? [...others, mp] : others;
      if (mp?.phase === MountPointPhases.Mounted && st.state !== VolumeStates.ToBeDeleted) st.state = VolumeStates.Ready;
      return JSON.stringify(st.mountPoints) !== before || (mp?.phase === MountPointPhases.Mounted && st.state === VolumeStates.Ready);
    });
  }

  /** Formats on first use, or proves the filesystem is ours. Returns the fs type to mount. */
  async function prepareFilesystem(ldv: Ldv, dev: string, wantFs: FsType): Promise<string> {
    const volume = ldv.metadata!.name!;
    const rec = readRecord(o.stateDir, volume);
    const probe = await probeFilesystem(dev);
    if (probe?.type) {
      if (rec?.formatted && rec.formatted.uuid === probe.uuid) return probe.type;
      if (rec && !rec.formatted && rec.formatting === probe.type && rec.devPath === dev) {
        writeRecord(o.stateDir, { ...rec, formatted: { fsType: probe.type, uuid: probe.uuid ?? "" }, formatting: undefined });
        return probe.type;
      }
      throw foreign(volume, dev, `a ${probe.type} filesystem${probe.uuid ? ` (UUID ${probe.uuid})` : ""}`);
    }
    if (rec?.formatted) {
      throw new HwError("DATA_LOSS", "FilesystemGone", `the ${rec.formatted.fsType} filesystem created for volume ${volume} on ${dev} is gone`, {
        hint: "something outside this system wiped the disk; not reformatting it silently",
      });
    }
    const sigs = await listSignatures(dev);
    if (probe || sigs.length) throw foreign(volume, dev, sigs.map((s) => `a ${s.type} signature at ${s.offset}`).join(", ") || `a ${probe?.pttype} partition table`);
    const base: VolumeRecord = rec ?? {
      volume,
      localDiskName: ldv.status?.localDiskName ?? "",
      devPath: dev,
      accessType: "mount",
      firstPublishedAt: new Date().toISOString(),
    };
    writeRecord(o.stateDir, { ...base, formatting: wantFs });
    // mkfs itself refuses a device with any signature (second check, right before writing).
    await mkfs(dev, wantFs, wantFs === "xfs" ? { reflink: false } : {});
    const after = await probeFilesystem(dev);
    writeRecord(o.stateDir, { ...base, formatting: undefined, formatted: { fsType: wantFs, uuid: after?.uuid ?? "" } });
    // canWipe: the signature on this disk is ours, DeleteVolume may erase it (mirrors the record in the API).
    await c.ldv.patch(volume, { spec: { canWipe: true } });
    log.info({ volume, dev, fsType: wantFs }, "formatted on first use");
    return wantFs;
  }

  async function publish(req: T.NodePublishVolumeRequest): Promise<object> {
    const volume = validateVolumeId(req.volume_id);
    const target = validatePath(req.target_path, "target_path");
    const cap = requireField(req.volume_capability, "volume_capability");
    const accessType = accessTypeOf(cap, "volume_capability");
    const mode = cap.access_mode?.mode ?? "UNKNOWN";
    if (!DiskDriver.accessModes.includes(mode)) throw invalid(`volume_capability.access_mode ${mode} is not supported (only ${DiskDriver.accessModes.join(", ")})`);
    const wantFs = (cap.mount?.fs_type || DiskDriver.fsTypes[0]) as FsType;
    if (accessType === "mount" && !DiskDriver.fsTypes.includes(wantFs)) throw invalid(`volume_capability.mount.fs_type ${wantFs} is not supported (${DiskDriver.fsTypes.join(", ")})`);
    const flags = cap.mount?.mount_flags ?? [];

    const ldv = await getLocalVolume(volume);
    const state = ldv.status?.state ?? "";
    if (!USABLE_STATES.includes(state)) {
      throw new HwError(state === VolumeStates.Creating || state === "" ? "UNAVAILABLE" : "FAILED_PRECONDITION", "VolumeNotReady", `volume ${volume} is ${state || "not created yet"}`);
    }
    const dev = ldv.status?.devPath ?? "";
    const disk = ldv.status?.localDiskName ? await c.ld.get(ldv.status.localDiskName) : undefined;
    if (!dev || !isBlockDevice(dev) || !disk || (disk.spec?.state && disk.spec.state !== LocalDiskStates.Active)) {
      throw new HwError("FAILED_PRECONDITION", "DiskGone", `disk ${ldv.status?.localDiskName} (${dev}) of volume ${volume} is not present on node ${o.nodeName}`);
    }

    const existing = await findMountsAt(target);
    type MountPoint = NonNullable<NonNullable<Ldv["status"]>["mountPoints"]>[number];
    const mp: MountPoint = {
      targetPath: target,
      volumeCap: { accessMode: ACCESS_MODE_NUMBERS[mode] ?? 0, accessType: accessType === "block" ? AccessTypes.Block : AccessTypes.Mount },
      ...(accessType === "mount" ? { fsTye: wantFs } : {}),
      mountOptions: flags,
      phase: MountPointPhases.ToBeMounted,
    };
    if (existing.length) {
      // Something else mounted at the target is not ours to adopt. (A bind of a block device shows up with
      // the devtmpfs as source, so only filesystem mounts can be compared.)
      if (accessType === "mount" && !existing.some((m) => m.source === dev)) {
        throw new HwError("ALREADY_EXISTS", "TargetBusy", `${target} already has ${existing.at(-1)!.source} mounted, not volume ${volume} (${dev})`);
      }
      // Already published here (a retry): make sure the status says so.
      await setMountPoint(volume, { ...mp, phase: MountPointPhases.Mounted }, target);
      return {};
    }
    await setMountPoint(volume, mp, target);
    try {
      if (accessType === "block") {
        if (!readRecord(o.stateDir, volume)) {
          const sigs = await listSignatures(dev);
          if (sigs.length) throw foreign(volume, dev, sigs.map((s) => `a ${s.type} signature at ${s.offset}`).join(", "));
          writeRecord(o.stateDir, { volume, localDiskName: ldv.status?.localDiskName ?? "", devPath: dev, accessType: "block", firstPublishedAt: new Date().toISOString() });
        }
        fs.mkdirSync(path.dirname(target), { recursive: true });
        if (!fs.existsSync(target)) fs.writeFileSync(target, "", { mode: 0o600 });
        await bindMount(dev, target, { readOnly: !!req.readonly });
      } else {
        const fsType = await prepareFilesystem(ldv, dev, wantFs);
        fs.mkdirSync(target, { recursive: true, mode: 0o750 });
        await mount(dev, target, { fstype: fsType, options: [...flags, ...(fsType === "xfs" ? ["nouuid"] : [])], readOnly: !!req.readonly });
        mp.fsTye = fsType;
      }
    } catch (e) {
      await setMountPoint(volume, undefined, target).catch(() => {});
      throw e;
    }
    await setMountPoint(volume, { ...mp, phase: MountPointPhases.Mounted }, target);
    log.info({ volume, target, accessType, dev }, "volume published");
    return {};
  }

  async function unpublish(req: T.NodeUnpublishVolumeRequest): Promise<object> {
    const volume = validateVolumeId(req.volume_id);
    const target = validatePath(req.target_path, "target_path");
    await unmountAll(target);
    // CSI: the plugin removes the target it was given (a directory for mounts, a file for block).
    try {
      const st = fs.lstatSync(target);
      if (st.isDirectory()) fs.rmdirSync(target);
      else fs.unlinkSync(target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    await setMountPoint(volume, undefined, target);
    log.info({ volume, target }, "volume unpublished");
    return {};
  }

  return {
    async NodeGetInfo(): Promise<T.NodeGetInfoResponse> {
      return { node_id: o.nodeName, max_volumes_per_node: 0, accessible_topology: { segments: { [DiskDriver.topologyKey]: o.nodeName } } };
    },
    async NodeGetCapabilities(): Promise<T.NodeGetCapabilitiesResponse> {
      return nodeCapabilities(DiskDriver);
    },
    async NodePublishVolume(req: T.NodePublishVolumeRequest) {
      return withVolumeLock(req.volume_id ?? "", () => publish(req));
    },
    async NodeUnpublishVolume(req: T.NodeUnpublishVolumeRequest) {
      return withVolumeLock(req.volume_id ?? "", () => unpublish(req));
    },
    async NodeGetVolumeStats(req: T.NodeGetVolumeStatsRequest): Promise<T.NodeGetVolumeStatsResponse> {
      const volume = validateVolumeId(req.volume_id);
      const volumePath = validatePath(req.volume_path, "volume_path");
      const ldv = await c.ldv.get(volume);
      if (!ldv) throw notFound(`volume ${volume}`);
      const dev = ldv.status?.devPath ?? "";
      const disk = ldv.status?.localDiskName ? await c.ld.get(ldv.status.localDiskName) : undefined;
      const mounts = await findMountsAt(volumePath);
      if (!mounts.length && !fs.existsSync(volumePath)) throw notFound(`volume path ${volumePath} of volume ${volume}`);
      const problems: string[] = [];
      if (!disk) problems.push(`disk ${ldv.status?.localDiskName ?? "?"} is gone`);
      else if (disk.spec?.state && disk.spec.state !== LocalDiskStates.Active) problems.push(`disk ${disk.metadata?.name} (${dev}) is ${disk.spec.state}`);
      if (!isBlockDevice(dev)) problems.push(`device ${dev} is missing`);
      if (!mounts.length) problems.push(`${volumePath} is not mounted`);
      const condition = problems.length
        ? { abnormal: true, message: `volume ${volume}: ${problems.join("; ")}` }
        : { abnormal: false, message: `volume ${volume} is healthy on ${dev}` };
      const usage: T.VolumeUsage[] = [];
      if (mounts.length) {
        const isBlock = (ldv.status?.mountPoints ?? []).some((m) => m.targetPath === volumePath && m.volumeCap?.accessType === AccessTypes.Block);
        if (isBlock) {
          if (isBlockDevice(dev)) usage.push({ unit: "BYTES", total: String(await deviceSizeBytes(dev)) });
        } else {
          const s = await fsStats(volumePath);
          usage.push({ unit: "BYTES", total: String(s.totalBytes), used: String(s.usedBytes), available: String(s.availableBytes) });
          usage.push({ unit: "INODES", total: String(s.totalInodes), used: String(s.usedInodes), available: String(s.freeInodes) });
          await c.ldv.patchStatus(volume, { status: { usedCapacityBytes: s.usedBytes } }).catch(() => {});
        }
      }
      return { usage, volume_condition: condition };
    },
  };
}

