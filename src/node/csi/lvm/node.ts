// CSI Node service of lvm.hwameistor.io (runs in the node agent, `<csiSocketDir>/lvm.sock`).
//
// Idempotency:
// - NodePublishVolume: the device comes from publishContext `volumeReplicaDevicePath` (ControllerPublish),
//   else from this node's LocalVolumeReplica. Already published at the target, first-use formatting, the
//   volume record (`<stateDir>/lvm-volume/`), ForeignData / FilesystemGone and target removal: the shared
//   rules in src/csi/publish.ts.
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

import { realpath, lstat, stat } from "node:fs/promises";
import { HwError, isHwError, notFound } from "../../../api/errors.ts";
import { Annotations, PublishContextKeys, VolumeEncryptTypes, VolumeStates } from "../../../api/names.ts";
import { isReplicatedVolume } from "../../../api/replication.ts";
import { closeLuks, openLuks, readPassphrase } from "../../storage/encrypt/luks.ts";
import { deviceSizeBytes, isBlockDevice } from "../../../host/blkdev.ts";
import * as btrfs from "../../../host/btrfs/btrfs.ts";
import { fsStats, growXfs, resizeExt4 } from "../../../host/fs/fs.ts";
import { findMountsAt } from "../../../host/mount/mount.ts";
import type { ServiceHandlers } from "../../../csi/server.ts";
import type * as T from "../../../csi/types.ts";
import { filesystemUsage, parsePublishRequest, publisher } from "../../../csi/publish.ts";
import { requireField, validatePath, validateVolumeId, volumePathOf, bytesField } from "../../../csi/validate.ts";
import { volumeRecords } from "../../../csi/volume-record.ts";
import { silentLogger, type Logger } from "../../../kube/types.ts";
import { KeyedLock } from "../../../kube/keyed-lock.ts";
import type { HwameistorClients } from "../../../kube/hwameistor.ts";
import type { NodeReplicas } from "../../storage/replicas.ts";
import { LvmDriver as LvmNodeDriver, nodeInfoHandlers } from "../../../csi/capabilities.ts";
import { ifExists } from "../../../host/files.ts";

export interface LvmNodeOptions {
  nodeName: string;
  c: HwameistorClients;
  /** This node's replicas (the agent's cache; a miss is read live). */
  replicas: Pick<NodeReplicas, "mine">;
  stateDir: string;
  log?: Logger;
}

interface NodeExpandVolumeRequest {
  volume_id?: string;
  volume_path?: string;
  capacity_range?: { required_bytes?: string | number; limit_bytes?: string | number } | null;
  volume_capability?: T.VolumeCapability | null;
}

/** lstat, or undefined when nothing is at the path (ENOENT/ENOTDIR only; anything else is an error). */
const lstatIfExists = (p: string) => ifExists(lstat(p));

/** Where an lvm volume's records live (existing nodes keep them there). */
export const lvmVolumeRecords = volumeRecords("lvm-volume");

export function lvmNodeService(o: LvmNodeOptions): ServiceHandlers {
  const log = o.log ?? silentLogger;
  const lock = new KeyedLock();
  const pub = publisher({
    records: lvmVolumeRecords,
    stateDir: o.stateDir,
    noun: "device",
    foreignHint: "the device was not empty at first use; it has not been touched",
    emptyBlockCheck: false,
    log,
  });

  /** The replica's device path: publishContext first, else this node's LVR of the volume. */
  async function devPathOf(volume: string, ctx: Record<string, string> | undefined): Promise<string> {
    const fromCtx = ctx?.[PublishContextKeys.VolumeReplicaDevicePath];
    if (fromCtx) return validatePath(fromCtx, `publish_context.${PublishContextKeys.VolumeReplicaDevicePath}`);
    const r = await o.replicas.mine(volume, (x) => !x.spec?.delete && !!x.status?.devPath);
    if (!r) {
      throw new HwError("FAILED_PRECONDITION", "ReplicaNotFound", `volume ${volume} has no ready replica on node ${o.nodeName}`, {
        hint: "ControllerPublish passes the device in publish_context; without it a LocalVolumeReplica of this node must report status.devPath",
      });
    }
    return validatePath(r.status!.devPath!, "LocalVolumeReplica status.devPath");
  }

  async function kernelDevice(volume: string, devPath: string): Promise<string> {
    const real = (await ifExists(realpath(devPath))) ?? "";
    if (!real || !isBlockDevice(real)) {
      // A replicated volume's device appears when this node's data plane serves it as primary with I/O running
      // (after a failover: once the lost peer is outdated); until then the caller retries, as for ControllerPublish.
      const lv = await o.c.lv.get(volume).catch(() => undefined);
      if (lv && isReplicatedVolume(lv)) {
        throw new HwError("UNAVAILABLE", "ReplicaNotReady", `volume ${volume}: the data plane on node ${o.nodeName} has not exposed its device yet`, {
          hint: "retry; it is exposed once this node's data plane is the primary and its I/O is not suspended (LocalVolumeReplica status.haState)",
        });
      }
      throw new HwError("FAILED_PRECONDITION", "ReplicaDeviceMissing", `device ${devPath} of volume ${volume} is not present on node ${o.nodeName}`, {
        hint: "the node agent re-attaches replica devices on start (activateAll); check the LocalVolumeReplica's Ready condition",
      });
    }
    return real;
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
          throw new HwError(
            "FAILED_PRECONDITION",
            "OnlineResizeUnsupported",
            `volume ${volume}: ${fsType} on ${dev} cannot grow while mounted on this host (resize2fs needs CAP_SYS_RESOURCE)`,
            {
              hint: "unpublish the volume; the next NodePublish grows it, or use xfs",
              cause: e,
            },
          );
        }
        throw e;
      }
    }
    throw new HwError("UNIMPLEMENTED", "FsGrowUnsupported", `volume ${volume}: growing ${fsType} is not supported`);
  }

  async function publish(req: T.NodePublishVolumeRequest): Promise<object> {
    const p = parsePublishRequest(req, LvmNodeDriver);
    const { volume, target, accessType } = p;
    let devPath = await devPathOf(volume, req.publish_context ?? undefined);
    let dev = await kernelDevice(volume, devPath);
    // §3.1: an encrypted replica is opened (luksOpen with the Secret's key) and /dev/mapper/<volume>-encrypt is
    // what gets formatted and mounted. Deliberate difference: raw block publishes the opened device too (the
    // original bind-mounted the ciphertext).
    const encType = req.publish_context?.[PublishContextKeys.VolumeEncryptType];
    if (encType) {
      if (encType !== VolumeEncryptTypes.LUKS)
        throw new HwError(
          "INVALID_ARGUMENT",
          "UnknownEncryptType",
          `volume ${volume}: publish_context ${PublishContextKeys.VolumeEncryptType} ${JSON.stringify(encType)} is not LUKS`,
        );
      const key = await readPassphrase(o.c, req.publish_context?.[PublishContextKeys.VolumeEncryptSecret], volume);
      devPath = await openLuks(dev, key, volume);
      dev = await kernelDevice(volume, devPath);
    }

    if (await pub.isPublishedAt(p, dev)) return {};
    if (accessType === "block") {
      await pub.publishBlock(p, dev, { devPath });
    } else {
      const lv = await o.c.lv.get(volume).catch(() => undefined);
      const replicated = !!lv && isReplicatedVolume(lv);
      if (replicated) adoptReplicatedFilesystem(volume, devPath, lv!.metadata?.annotations?.[Annotations.ReplicatedFilesystem]);
      const fsType = await pub.publishMount(p, dev, { devPath });
      if (replicated) await recordReplicatedFilesystem(volume, lv!.metadata?.annotations?.[Annotations.ReplicatedFilesystem]);
      if (!p.readOnly) {
        await growIfSmaller(volume, fsType, dev, target).catch((e: unknown) =>
          log.warn({ volume, err: String(e) }, "growing the filesystem at publish failed"),
        );
      }
    }
    log.info({ volume, target, accessType, dev }, "volume published");
    return {};
  }

  /**
   * A replicated volume's filesystem was created by the node of its first primary; this node (a later primary)
   * knows it from the LocalVolume annotation and records it as its own, so the publish rules mount exactly that
   * filesystem (same UUID) and still refuse anything else as foreign data.
   */
  function adoptReplicatedFilesystem(volume: string, devPath: string, annotation: string | undefined): void {
    const m = /^([a-z0-9]+)\/([0-9a-fA-F-]+)$/.exec(annotation ?? "");
    if (!m || lvmVolumeRecords.read(o.stateDir, volume)) return;
    lvmVolumeRecords.write(o.stateDir, {
      volume,
      devPath,
      accessType: "mount",
      formatted: { fsType: m[1]!, uuid: m[2]! },
      firstPublishedAt: new Date().toISOString(),
    });
    log.info({ volume, fsType: m[1], uuid: m[2] }, "replicated volume: adopted the filesystem its first primary created");
  }

  /** The first primary to format a replicated volume tells the others which filesystem is the volume's. */
  async function recordReplicatedFilesystem(volume: string, annotation: string | undefined): Promise<void> {
    const f = lvmVolumeRecords.read(o.stateDir, volume)?.formatted;
    if (annotation || !f?.uuid) return;
    await o.c.lv.patch(volume, { metadata: { annotations: { [Annotations.ReplicatedFilesystem]: `${f.fsType}/${f.uuid}` } } });
  }

  /** After unmounting: close /dev/mapper/<volume>-encrypt when the volume is encrypted (the original's rule). */
  async function closeIfEncrypted(volume: string): Promise<void> {
    const lv = await o.c.lv.get(volume).catch(() => undefined);
    if (!lv?.spec?.volumeEncrypt?.enable) return;
    await closeLuks(volume);
    log.info({ volume }, "LUKS mapping closed");
  }

  /**
   * The LocalVolume, or NOT_FOUND when the volume does not exist. With the API server unreachable, a volume
   * this node has a record of exists (judged by local facts only) and the LocalVolume is undefined.
   */
  async function existingVolume(volume: string) {
    try {
      const lv = await o.c.lv.get(volume);
      if (!lv) throw notFound(`volume ${volume}`);
      return lv;
    } catch (e) {
      // The API may be unreachable or the LocalVolume already gone while this node still holds the published
      // volume (its record): the stats of what is mounted here are still true. Without a record: NOT_FOUND.
      if (isHwError(e) && lvmVolumeRecords.read(o.stateDir, volume)) return undefined;
      throw e;
    }
  }

  async function volumeStats(req: T.NodeGetVolumeStatsRequest): Promise<T.NodeGetVolumeStatsResponse> {
    const volume = validateVolumeId(req.volume_id);
    requireField(req.volume_path, "volume_path");
    const lv = await existingVolume(volume);
    const volumePath = volumePathOf(req.volume_path, volume);
    const st = await lstatIfExists(volumePath);
    if (!st) throw new HwError("NOT_FOUND", "VolumePathNotFound", `volume path ${volumePath} of volume ${volume} does not exist`);
    const mounts = await findMountsAt(volumePath);
    const problems: string[] = [];
    const usage: T.VolumeUsage[] = [];
    if (lv && lv.status?.state && lv.status.state !== VolumeStates.Ready) problems.push(`LocalVolume state is ${lv.status.state}`);
    if (!mounts.length) problems.push(`${volumePath} is not mounted`);
    if (mounts.length && !st.isDirectory()) {
      // Raw block: the bind target is the device node itself.
      const bs = await stat(volumePath);
      if (!bs.isBlockDevice()) problems.push(`${volumePath} is not a block device`);
      const rec = lvmVolumeRecords.read(o.stateDir, volume);
      const dev = rec ? ((await ifExists(realpath(rec.devPath))) ?? "") : "";
      if (dev && isBlockDevice(dev)) usage.push({ unit: "BYTES", total: String(await deviceSizeBytes(dev)) });
      else problems.push(`replica device ${rec?.devPath ?? "(unknown)"} is missing`);
    } else if (mounts.length) {
      const src = mounts.at(-1)!.source;
      if (src.startsWith("/dev/") && !isBlockDevice(src)) problems.push(`device ${src} is missing`);
      const s = await fsStats(volumePath);
      usage.push(...filesystemUsage(s));
      if (lv) {
        await o.c.lv
          .patchStatus(volume, { status: { usedCapacityBytes: s.usedBytes, totalInode: s.totalInodes, usedInode: s.usedInodes } })
          .catch((e: unknown) => log.debug({ volume, err: String(e) }, "writing usage to the LocalVolume failed"));
      }
    }
    const volume_condition = problems.length
      ? { abnormal: true, message: `volume ${volume}: ${problems.join("; ")}` }
      : { abnormal: false, message: `volume ${volume} is healthy` };
    return { usage, volume_condition };
  }

  async function expand(req: NodeExpandVolumeRequest): Promise<{ capacity_bytes: string }> {
    const volume = validateVolumeId(req.volume_id);
    requireField(req.volume_path, "volume_path");
    await existingVolume(volume);
    const volumePath = volumePathOf(req.volume_path, volume);
    const required = bytesField(req.capacity_range?.required_bytes, "capacity_range.required_bytes") ?? 0;
    const st = await lstatIfExists(volumePath);
    if (!st) throw new HwError("NOT_FOUND", "VolumePathNotFound", `volume path ${volumePath} of volume ${volume} does not exist`);
    const mounts = await findMountsAt(volumePath);
    if (!mounts.length) throw new HwError("FAILED_PRECONDITION", "NotMounted", `volume path ${volumePath} of volume ${volume} is not mounted`);
    const isBlock = !!req.volume_capability?.block || req.volume_capability?.access_type === "block" || !st.isDirectory();
    const rec = lvmVolumeRecords.read(o.stateDir, volume);
    const dev = isBlock ? (rec ? ((await ifExists(realpath(rec.devPath))) ?? "") : "") : mounts.at(-1)!.source;
    if (!dev || !isBlockDevice(dev))
      throw new HwError("FAILED_PRECONDITION", "ReplicaDeviceMissing", `the device of volume ${volume} is not present on node ${o.nodeName}`);
    const devBytes = await deviceSizeBytes(dev);
    if (required > devBytes) {
      throw new HwError(
        "UNAVAILABLE",
        "ReplicaNotExpanded",
        `volume ${volume}: replica device ${dev} has ${devBytes} bytes, less than the requested ${required}`,
        {
          hint: "the node agent grows the replica first (LocalVolumeReplica requiredCapacityBytes); retry",
        },
      );
    }
    if (!isBlock) {
      await growFs(volume, mounts.at(-1)!.fstype, dev, volumePath);
      log.info({ volume, dev, devBytes }, "filesystem grown");
    }
    return { capacity_bytes: String(devBytes) };
  }

  return {
    ...nodeInfoHandlers(LvmNodeDriver, o.nodeName),
    NodePublishVolume: (req: T.NodePublishVolumeRequest) => lock.with(req.volume_id ?? "", () => publish(req)),
    NodeUnpublishVolume: (req: T.NodeUnpublishVolumeRequest) =>
      lock.with(req.volume_id ?? "", async () => {
        await pub.unpublish(req);
        await closeIfEncrypted(req.volume_id ?? "");
        return {};
      }),
    NodeGetVolumeStats: (req: T.NodeGetVolumeStatsRequest) => volumeStats(req),
    NodeExpandVolume: (req: NodeExpandVolumeRequest) => lock.with(req.volume_id ?? "", () => expand(req)),
  };
}
