// CSI Node service of disk.hwameistor.io (runs in the node agent, `<csiSocketDir>/disk.sock`).
//
// Idempotency:
// - NodePublishVolume: a target that already holds this volume is success (kubelet retries after timeouts). The
//   mount point is recorded in the LDV status (phase ToBeMounted) BEFORE mounting, so a crash after mount(8)
//   can never let DeleteVolume pass a mounted volume; it becomes Mounted after, and is removed on failure.
// - First-use formatting, the volume record (`<stateDir>/disk-volume/`), ForeignData / FilesystemGone, the
//   already-published check and target removal: the shared rules in ../publish.ts. Disk specifics: a raw
//   block hand-out also requires an empty disk, and after creating the filesystem `canWipe` is set on the
//   LDV (DeleteVolume may erase that signature).
// - NodeUnpublishVolume: not mounted / target missing is success; the mount point is removed from status.
// - NodeGetVolumeStats: a read; a missing disk or mount is reported as an abnormal condition, not an error.

import fs from "node:fs";
import { HwError, notFound } from "../../../api/errors.ts";
import { AccessTypes, LocalDiskStates, MountPointPhases, VolumeStates } from "../../../api/names.ts";
import { deviceSizeBytes, isBlockDevice } from "../../../host/blkdev.ts";
import { fsStats } from "../../../host/fs/fs.ts";
import { findMountsAt } from "../../../host/mount/mount.ts";
import type { KubeClient } from "../../../kube/client.ts";
import { hwameistorClients, type Ldv } from "../../../kube/hwameistor.ts";
import { silentLogger, type Logger } from "../../../kube/types.ts";
import { diskVolumeRecords } from "../../disk-volume/volume-files.ts";
import { KeyedLock } from "../../../kube/keyed-lock.ts";
import { DiskDriver, nodeInfoHandlers } from "../../../csi/capabilities.ts";
import { filesystemUsage, parsePublishRequest, publisher } from "../../../csi/publish.ts";
import type { ServiceHandlers } from "../../../csi/server.ts";
import type * as T from "../../../csi/types.ts";
import { requireField, validateVolumeId, volumePathOf } from "../../../csi/validate.ts";
import { USABLE_STATES, mutateLdvStatus, nodeOfLdv } from "../../../kube/local-disk-volume.ts";

export interface DiskNodeOptions {
  nodeName: string;
  client: KubeClient;
  stateDir: string;
  log?: Logger;
}

/** CSI AccessMode.Mode numbers, as the original stores them in mountPoints[].volumeCap.accessMode. */
const ACCESS_MODE_NUMBERS: Record<string, number> = { SINGLE_NODE_WRITER: 1, SINGLE_NODE_READER_ONLY: 2 };

type MountPoint = NonNullable<NonNullable<Ldv["status"]>["mountPoints"]>[number];

export function diskNodeService(o: DiskNodeOptions): ServiceHandlers {
  const c = hwameistorClients(o.client);
  const log = o.log ?? silentLogger;
  const lock = new KeyedLock();
  const pub = publisher({
    records: diskVolumeRecords,
    stateDir: o.stateDir,
    noun: "disk",
    foreignHint: "the disk was not empty when first used; it has not been touched. Reserve the disk, or wipe it deliberately if its data is disposable",
    emptyBlockCheck: true,
    log,
  });

  async function getLocalVolume(volume: string): Promise<Ldv> {
    const ldv = await c.ldv.get(volume);
    if (!ldv) throw notFound(`volume ${volume}`);
    const node = nodeOfLdv(ldv);
    if (node !== o.nodeName) throw new HwError("FAILED_PRECONDITION", "WrongNode", `volume ${volume} lives on node ${node}, not on ${o.nodeName}`);
    return ldv;
  }

  async function setMountPoint(volume: string, mp: MountPoint | undefined, target: string) {
    await mutateLdvStatus(c.ldv, volume, (st) => {
      const others = (st.mountPoints ?? []).filter((m) => m.targetPath !== target);
      const before = JSON.stringify(st.mountPoints ?? []);
      st.mountPoints = mp ? [...others, mp] : others;
      if (mp?.phase === MountPointPhases.Mounted && st.state !== VolumeStates.ToBeDeleted) st.state = VolumeStates.Ready;
      return JSON.stringify(st.mountPoints) !== before || (mp?.phase === MountPointPhases.Mounted && st.state === VolumeStates.Ready);
    });
  }

  async function publish(req: T.NodePublishVolumeRequest): Promise<object> {
    const p = parsePublishRequest(req, DiskDriver);
    const { volume, target, accessType } = p;

    const ldv = await getLocalVolume(volume);
    const state = ldv.status?.state ?? "";
    if (!USABLE_STATES.includes(state)) {
      throw new HwError(
        state === VolumeStates.Creating || state === "" ? "UNAVAILABLE" : "FAILED_PRECONDITION",
        "VolumeNotReady",
        `volume ${volume} is ${state || "not created yet"}`,
      );
    }
    const dev = ldv.status?.devPath ?? "";
    const disk = ldv.status?.localDiskName ? await c.ld.get(ldv.status.localDiskName) : undefined;
    if (!dev || !isBlockDevice(dev) || !disk || (disk.spec?.state && disk.spec.state !== LocalDiskStates.Active)) {
      throw new HwError(
        "FAILED_PRECONDITION",
        "DiskGone",
        `disk ${ldv.status?.localDiskName} (${dev}) of volume ${volume} is not present on node ${o.nodeName}`,
      );
    }

    const mp: MountPoint = {
      targetPath: target,
      volumeCap: { accessMode: ACCESS_MODE_NUMBERS[p.mode] ?? 0, accessType: accessType === "block" ? AccessTypes.Block : AccessTypes.Mount },
      ...(accessType === "mount" ? { fsTye: p.fsType } : {}),
      mountOptions: p.flags,
      phase: MountPointPhases.ToBeMounted,
    };
    if (await pub.isPublishedAt(p, dev)) {
      // Already published here (a retry): make sure the status says so.
      await setMountPoint(volume, { ...mp, phase: MountPointPhases.Mounted }, target);
      return {};
    }
    await setMountPoint(volume, mp, target);
    const seed = { devPath: dev, localDiskName: ldv.status?.localDiskName ?? "" };
    try {
      if (accessType === "block") {
        await pub.publishBlock(p, dev, seed);
      } else {
        // canWipe: the signature on this disk is ours, DeleteVolume may erase it (mirrors the record in the API).
        mp.fsTye = await pub.publishMount(p, dev, seed, () => c.ldv.patch(volume, { spec: { canWipe: true } }));
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
    const { volume, target } = await pub.unpublish(req);
    await setMountPoint(volume, undefined, target);
    return {};
  }

  return {
    ...nodeInfoHandlers(DiskDriver, o.nodeName),
    NodePublishVolume: (req: T.NodePublishVolumeRequest) => lock.with(req.volume_id ?? "", () => publish(req)),
    NodeUnpublishVolume: (req: T.NodeUnpublishVolumeRequest) => lock.with(req.volume_id ?? "", () => unpublish(req)),
    async NodeGetVolumeStats(req: T.NodeGetVolumeStatsRequest): Promise<T.NodeGetVolumeStatsResponse> {
      const volume = validateVolumeId(req.volume_id);
      requireField(req.volume_path, "volume_path");
      const ldv = await c.ldv.get(volume);
      if (!ldv) throw notFound(`volume ${volume}`);
      const volumePath = volumePathOf(req.volume_path, volume);
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
          usage.push(...filesystemUsage(s));
          await c.ldv.patchStatus(volume, { status: { usedCapacityBytes: s.usedBytes } }).catch(() => {});
        }
      }
      return { usage, volume_condition: condition };
    },
  };
}
