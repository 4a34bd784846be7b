// CSI Node service of lvm.hwameistor.io (runs in the node agent, `<csiSocketDir>/lvm.sock`).
//
// Idempotency:
// - NodePublishVolume: the device comes from publishContext `volumeReplicaDevicePath` (ControllerPublish),
//   else from this node's LocalVolumeReplica. A target that already has this device mounted (mount) or any
//   bind (block) is success — kubelet retries after timeouts. Something else mounted there is ALREADY_EXISTS.
// - Formatting (xfs default, ext4) happens on FIRST use only, and only on an empty device: blkid and wipefs
//   must both see nothing and the volume record (volume-record.ts) must not name a filesystem. A filesystem
//   is mounted again only if it is the one this system created (UUID in the record); anything else is
//   FAILED_PRECONDITION ForeignData and the device is never written. Crash window mkfs-done/record-not-
//   updated: `formatting` in the record and a filesystem of that type → adopted.
// - After mounting read-write, a filesystem smaller than its device (the replica grew while unpublished) is
//   grown online (the original does the same in NodePublish).
// - NodeUnpublishVolume: not mounted / target missing is success; the target is removed.
// - NodeGetVolumeStats: a read (+ a best-effort write of usage into the LocalVolume status); a missing device
//   or mount is an abnormal condition, not an error. The API server being down changes nothing but the
//   LocalVolume-state part of the condition.
// - NodeExpandVolume: growing to the device's current size is idempotent (xfs_growfs / btrfs resize max);
//   ext4 online growth needs CAP_SYS_RESOURCE, absent on these machines: FAILED_PRECONDITION with the reason.
// - NodeStage/Unstage: not served (no STAGE_UNSTAGE capability, as the original) → UNIMPLEMENTED.
//
// Nothing here sits in the I/O path: a published volume is a loop device (or LV) plus a mount, both kernel
// objects that outlive this process (docs/local-storage.md "Data plane independence").

import fs from "node:fs";
import { mkdir, realpath, rm, lstat, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { HwError, invalid, isHwError } from "../../api/errors.ts";
import { PublishContextKeys, VolumeStates } from "../../api/names.ts";
import { deviceSizeBytes } from "../../host/blkdev.ts";
import * as btrfs from "../../host/btrfs/btrfs.ts";
import { fsStats, growXfs, listSignatures, mkfs, probeFilesystem, resizeExt4, type FsType } from "../../host/fs/fs.ts";
import { bindMount, findMountsAt, mount, unmountAll } from "../../host/mount/mount.ts";
import type { ServiceHandlers } from "../../csi/server.ts";
import type * as T from "../../csi/types.ts";
import { accessTypeOf, requireField, validatePath, validateVolumeId, bytesField } from "../../csi/validate.ts";
import { nodeCapabilities } from "../../csi/capabilities.ts";
import { silentLogger, type Logger } from "../../kube/types.ts";
import { KeyedLock } from "../engines/common.ts";
import type { StorageClients } from "../storage/clients.ts";
import { LvmDriver as LvmNodeDriver } from "../../csi/capabilities.ts";
import { readVolumeRecord, writeVolumeRecord, type LvmVolumeRecord } from "./volume-record.ts";

export interface LvmNodeOptions {
  nodeName: string;
  c: StorageClients;
  stateDir: string;
  log?: Logger;
}

interface NodeExpandVolumeRequest {
  volume_id?: string;
  volume_path?: string;
  capacity_range?: { required_bytes?: string | number; limit_bytes?: string | number } | null;
  volume_capability?: T.VolumeCapability | null;
}

const foreign = (volume: string, dev: string, what: string) =>
  new HwError("FAILED_PRECONDITION", "ForeignData", `refusing to use ${dev} for volume ${volume}: it holds ${what} that this system did not create`, {
    hint: "the device was not empty at first use; it has not been touched",
  });

async function isBlockDev(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isBlockDevice(), () => false);
}

export function lvmNodeService(o: LvmNodeOptions): ServiceHandlers {
  const log = o.log ?? silentLogger;
  const lock = new KeyedLock();

  /** The replica's device path: publishContext first, else this node's LVR of the volume. */
  async function devPathOf(volume: string, ctx: Record<string, string> | undefined): Promise<string> {
    const fromCtx = ctx?.[PublishContextKeys.VolumeReplicaDevicePath];
    if (fromCtx) return validatePath(fromCtx, `publish_context.${PublishContextKeys.VolumeReplicaDevicePath}`);
    const lvrs = (await o.c.lvr.list()).items.filter((r) => r.spec?.volumeName === volume && r.spec?.nodeName === o.nodeName && !r.spec?.delete);
    const r = lvrs.find((x) => x.status?.devPath);
    if (!r) {
      throw new HwError("FAILED_PRECONDITION", "ReplicaNotFound", `volume ${volume} has no ready replica on node ${o.nodeName}`, {
        hint: "ControllerPublish passes the device in publish_context; without it a LocalVolumeReplica of this node must report status.devPath",
      });
    }
    return validatePath(r.status!.devPath!, "LocalVolumeReplica status.devPath");
  }

  async function kernelDevice(volume: string, devPath: string): Promise<string> {
    const real = await realpath(devPath).catch(() => "");
    if (!real || !(await isBlockDev(real))) {
      throw new HwError("FAILED_PRECONDITION", "DeviceNotFound", `device ${devPath} of volume ${volume} is not present on node ${o.nodeName}`, {
        hint: "the node agent re-attaches replica devices on start (activateAll); check the LocalVolumeReplica's Ready condition",
      });
    }
    return real;
  }

  /** Formats on first use, or proves the filesystem is ours. Returns the fs type to mount. */
  async function prepareFilesystem(volume: string, devPath: string, dev: string, wantFs: FsType): Promise<string> {
    const rec = await readVolumeRecord(o.stateDir, volume);
    const probe = await probeFilesystem(dev);
    if (probe?.type) {
      if (rec?.formatted && rec.formatted.uuid === (probe.uuid ?? "")) return probe.type;
      if (rec && !rec.formatted && rec.formatting === probe.type) {
        await writeVolumeRecord(o.stateDir, { ...rec, formatting: undefined, formatted: { fsType: probe.type, uuid: probe.uuid ?? "" } });
        return probe.type;
      }
      throw foreign(volume, dev, `a ${probe.type} filesystem${probe.uuid ? ` (UUID ${probe.uuid})` : ""}`);
    }
    if (rec?.formatted) {
      throw new HwError("DATA_LOSS", "FilesystemGone", `the ${rec.formatted.fsType} filesystem created for volume ${volume} on ${dev} is gone`, {
        hint: "something outside this system wiped the device; not reformatting it silently",
      });
    }
    const sigs = await listSignatures(dev);
    if (probe || sigs.length) throw foreign(volume, dev, sigs.map((s) => `a ${s.type} signature at ${s.offset}`).join(", ") || `a ${probe?.pttype} partition table`);
    const base: LvmVolumeRecord = rec ?? { volume, devPath, accessType: "mount", firstPublishedAt: new Date().toISOString() };
    await writeVolumeRecord(o.stateDir, { ...base, formatting: wantFs });
    // The original formats xfs with `-m reflink=0`; mkfs itself refuses a device with any signature.
    await mkfs(dev, wantFs, wantFs === "xfs" ? { reflink: false } : {});
    const after = await probeFilesystem(dev);
    await writeVolumeRecord(o.stateDir, { ...base, formatting: undefined, formatted: { fsType: wantFs, uuid: after?.uuid ?? "" } });
    log.info({ volume, dev, fsType: wantFs }, "formatted on first use");
    return wantFs;
  }

  async function growIfSmaller(volume: string, fsType: string, dev: string, target: string): Promise<void> {
    const [devBytes, s] = await Promise.all([deviceSizeBytes(dev), fsStats(target)]);
    // XFS/ext4 report less than the device (log, metadata); only a gap of more than 1 extent (4 MiB) + 5 % is growth.
    if (s.totalBytes + 4 * 2 ** 20 + devBytes * 0.05 >= devBytes) return;
    log.info({ volume, dev, fsBytes: s.totalBytes, devBytes }, "filesystem smaller than its device: growing");
    await growFs(volume, fsType, dev, target);
  }

  async function growFs(volume: string, fsType: string, dev: string, target: string): Promise<void> {
    if (fsType === "xfs") return growXfs(target);
    if (fsType === "btrfs") return btrfs.resizeMax(target, 1);
    if (fsType === "ext4" || fsType === "ext3" || fsType === "ext2") {
      try {
        return await resizeExt4(dev);
      } catch (e) {
        if (isHwError(e) && e.reason === "OnlineResizeUnsupported") {
          throw new HwError("FAILED_PRECONDITION", "OnlineResizeUnsupported", `volume ${volume}: ${fsType} on ${dev} cannot grow while mounted on this host (resize2fs needs CAP_SYS_RESOURCE)`, {
            hint: "unpublish the volume; the next NodePublish grows it, or use xfs",
            cause: e,
          });
        }
        throw e;
      }
    }
    throw new HwError("UNIMPLEMENTED", "UnsupportedFsType", `volume ${volume}: growing ${fsType} is not supported`);
  }

  async function publish(req: T.NodePublishVolumeRequest): Promise<object> {
    const volume = validateVolumeId(req.volume_id);
    const target = validatePath(req.target_path, "target_path");
    const cap = requireField(req.volume_capability, "volume_capability");
    const accessType = accessTypeOf(cap, "volume_capability");
    const mode = cap.access_mode?.mode ?? "UNKNOWN";
    if (!LvmNodeDriver.accessModes.includes(mode)) throw invalid(`volume_capability.access_mode ${mode} is not supported (only ${LvmNodeDriver.accessModes.join(", ")})`);
    const wantFs = (cap.mount?.fs_type || LvmNodeDriver.fsTypes[0]) as FsType;
    if (accessType === "mount" && !LvmNodeDriver.fsTypes.includes(wantFs)) throw invalid(`volume_capability.mount.fs_type ${wantFs} is not supported (${LvmNodeDriver.fsTypes.join(", ")})`);
    const flags = cap.mount?.mount_flags ?? [];
    for (const f of flags) {
      // Flags reach mount(8)'s -o list: no separators smuggling other options or arguments.
      if (!/^[A-Za-z0-9_=.:/+-]+$/.test(f)) throw invalid(`volume_capability.mount.mount_flags entry ${JSON.stringify(f)} is not a valid mount option`);
    }
    const devPath = await devPathOf(volume, req.publish_context ?? undefined);
    const dev = await kernelDevice(volume, devPath);

    const existing = await findMountsAt(target);
    if (existing.length) {
      // A bind of a block device shows the devtmpfs as its source, so only filesystem mounts can be compared.
      if (accessType === "mount" && !existing.some((m) => m.source === dev)) {
        throw new HwError("ALREADY_EXISTS", "TargetBusy", `${target} already has ${existing.at(-1)!.source} mounted, not volume ${volume} (${dev})`);
      }
      return {};
    }
    if (accessType === "block") {
      if (!(await readVolumeRecord(o.stateDir, volume))) {
        await writeVolumeRecord(o.stateDir, { volume, devPath, accessType: "block", firstPublishedAt: new Date().toISOString() });
      }
      await mkdir(path.dirname(target), { recursive: true });
      if (!fs.existsSync(target)) await writeFile(target, "", { mode: 0o600 });
      await bindMount(dev, target, { readOnly: !!req.readonly });
    } else {
      const fsType = await prepareFilesystem(volume, devPath, dev, wantFs);
      await mkdir(target, { recursive: true, mode: 0o750 });
      await mount(dev, target, { fstype: fsType, options: [...flags, ...(fsType === "xfs" ? ["nouuid"] : [])], readOnly: !!req.readonly });
      if (!req.readonly) {
        await growIfSmaller(volume, fsType, dev, target).catch((e: unknown) => log.warn({ volume, err: String(e) }, "growing the filesystem at publish failed"));
      }
    }
    log.info({ volume, target, accessType, dev }, "volume published");
    return {};
  }

  async function unpublish(req: T.NodeUnpublishVolumeRequest): Promise<object> {
    const volume = validateVolumeId(req.volume_id);
    const target = validatePath(req.target_path, "target_path");
    await unmountAll(target);
    // CSI: the plugin removes the target it was given (a directory for mounts, a file for block).
    const st = await lstat(target).catch(() => undefined);
    if (st?.isDirectory()) await fs.promises.rmdir(target);
    else if (st) await rm(target, { force: true });
    log.info({ volume, target }, "volume unpublished");
    return {};
  }

  async function volumeStats(req: T.NodeGetVolumeStatsRequest): Promise<T.NodeGetVolumeStatsResponse> {
    const volume = validateVolumeId(req.volume_id);
    const volumePath = validatePath(req.volume_path, "volume_path");
    const st = await lstat(volumePath).catch(() => undefined);
    if (!st) throw new HwError("NOT_FOUND", "VolumePathNotFound", `volume path ${volumePath} of volume ${volume} does not exist`);
    const mounts = await findMountsAt(volumePath);
    const problems: string[] = [];
    const usage: T.VolumeUsage[] = [];
    const lv = await o.c.lv.get(volume).catch(() => undefined); // API down: judge by local facts only
    if (lv && lv.status?.state && lv.status.state !== VolumeStates.Ready) problems.push(`LocalVolume state is ${lv.status.state}`);
    if (!mounts.length) problems.push(`${volumePath} is not mounted`);
    if (mounts.length && !st.isDirectory()) {
      // Raw block: the bind target is the device node itself.
      const bs = await stat(volumePath);
      if (!bs.isBlockDevice()) problems.push(`${volumePath} is not a block device`);
      const rec = await readVolumeRecord(o.stateDir, volume);
      const dev = rec ? await realpath(rec.devPath).catch(() => "") : "";
      if (dev && (await isBlockDev(dev))) usage.push({ unit: "BYTES", total: String(await deviceSizeBytes(dev)) });
      else problems.push(`replica device ${rec?.devPath ?? "(unknown)"} is missing`);
    } else if (mounts.length) {
      const src = mounts.at(-1)!.source;
      if (src.startsWith("/dev/") && !(await isBlockDev(src))) problems.push(`device ${src} is missing`);
      const s = await fsStats(volumePath);
      usage.push({ unit: "BYTES", total: String(s.totalBytes), used: String(s.usedBytes), available: String(s.availableBytes) });
      usage.push({ unit: "INODES", total: String(s.totalInodes), used: String(s.usedInodes), available: String(s.freeInodes) });
      if (lv) {
        await o.c.lv
          .patchStatus(volume, { status: { usedCapacityBytes: s.usedBytes, totalInode: s.totalInodes, usedInode: s.usedInodes } })
          .catch((e: unknown) => log.debug({ volume, err: String(e) }, "writing usage to the LocalVolume failed"));
      }
    }
    const volume_condition = problems.length ? { abnormal: true, message: `volume ${volume}: ${problems.join("; ")}` } : { abnormal: false, message: `volume ${volume} is healthy` };
    return { usage, volume_condition };
  }

  async function expand(req: NodeExpandVolumeRequest): Promise<{ capacity_bytes: string }> {
    const volume = validateVolumeId(req.volume_id);
    const volumePath = validatePath(req.volume_path, "volume_path");
    const required = bytesField(req.capacity_range?.required_bytes, "capacity_range.required_bytes") ?? 0;
    const st = await lstat(volumePath).catch(() => undefined);
    if (!st) throw new HwError("NOT_FOUND", "VolumePathNotFound", `volume path ${volumePath} of volume ${volume} does not exist`);
    const mounts = await findMountsAt(volumePath);
    if (!mounts.length) throw new HwError("FAILED_PRECONDITION", "NotMounted", `volume path ${volumePath} of volume ${volume} is not mounted`);
    const isBlock = !!req.volume_capability?.block || req.volume_capability?.access_type === "block" || !st.isDirectory();
    const rec = await readVolumeRecord(o.stateDir, volume);
    const dev = isBlock ? (rec ? await realpath(rec.devPath).catch(() => "") : "") : mounts.at(-1)!.source;
    if (!dev || !(await isBlockDev(dev))) throw new HwError("FAILED_PRECONDITION", "DeviceNotFound", `the device of volume ${volume} is not present on node ${o.nodeName}`);
    const devBytes = await deviceSizeBytes(dev);
    if (required > devBytes) {
      throw new HwError("UNAVAILABLE", "ReplicaNotExpanded", `volume ${volume}: replica device ${dev} has ${devBytes} bytes, less than the requested ${required}`, {
        hint: "the node agent grows the replica first (LocalVolumeReplica requiredCapacityBytes); retry",
      });
    }
    if (!isBlock) {
      await growFs(volume, mounts.at(-1)!.fstype, dev, volumePath);
      log.info({ volume, dev, devBytes }, "filesystem grown");
    }
    return { capacity_bytes: String(devBytes) };
  }

  return {
    async NodeGetInfo(): Promise<T.NodeGetInfoResponse> {
      return { node_id: o.nodeName, max_volumes_per_node: 0, accessible_topology: { segments: { [LvmNodeDriver.topologyKey]: o.nodeName } } };
    },
    async NodeGetCapabilities(): Promise<T.NodeGetCapabilitiesResponse> {
      return nodeCapabilities(LvmNodeDriver);
    },
    NodePublishVolume: (req: T.NodePublishVolumeRequest) => lock.with(req.volume_id ?? "", () => publish(req)),
    NodeUnpublishVolume: (req: T.NodeUnpublishVolumeRequest) => lock.with(req.volume_id ?? "", () => unpublish(req)),
    NodeGetVolumeStats: (req: T.NodeGetVolumeStatsRequest) => volumeStats(req),
    NodeExpandVolume: (req: NodeExpandVolumeRequest) => lock.with(req.volume_id ?? "", () => expand(req)),
  };
}
