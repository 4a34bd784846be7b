// The first-use publish path both CSI Node services share (disk.hwameistor.io in src/node/csi/disk/node.ts,
// lvm.hwameistor.io in src/node/csi/lvm/node.ts): request checks, the volume record (volume-record.ts),
// formatting, the block and mount hand-outs and the unpublish of a target. Each service keeps what is
// its own: where the device comes from, status bookkeeping, growth and stats.
//
// Idempotency (the rules both services state in their headers refer here):
// - A target that already has this device mounted (mount) or any bind (block) is an already-published
//   target: success, kubelet retries after timeouts. A bind of a block device shows the devtmpfs as its
//   source, so only filesystem mounts can be compared. Something else mounted there is ALREADY_EXISTS
//   TargetBusy.
// - Formatting (xfs default, ext4) happens on FIRST use only, and only on an empty device: blkid and wipefs
//   must both see nothing and the volume record must not name a filesystem. A filesystem is mounted again
//   only if it is the one this system created (UUID in the record); anything else is FAILED_PRECONDITION
//   ForeignData and the device is never written. Crash window mkfs-done/record-not-updated: `formatting`
//   in the record, for the same device path, and a filesystem of that type → adopted. A recorded
//   filesystem that vanished is DATA_LOSS FilesystemGone, never silently reformatted.
// - Raw block: the record is written at the first hand-out (after an empty-device check where the driver
//   asks for one); the target file is created if missing, then bind-mounted.
// - Mount flags reach mount(8)'s -o list: each must be one option without separators (INVALID_ARGUMENT).
// - Unpublish: not mounted / target missing is success; the target (directory or file) is removed.
// Also here: the usage a NodeGetVolumeStats reports for a mounted filesystem (both services).

import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { lstat, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { HwError, invalid } from "../api/errors.ts";
import { listSignatures, mkfs, probeFilesystem, type FsStats, type FsType } from "../host/fs/fs.ts";
import { bindMount, findMountsAt, mount, unmountAll } from "../host/mount/mount.ts";
import type { Logger } from "../kube/types.ts";
import type { DriverCapabilities } from "./capabilities.ts";
import type * as T from "./types.ts";
import { accessTypeOf, requireField, validatePath, validateVolumeId } from "./validate.ts";
import type { VolumeRecord, VolumeRecords } from "./volume-record.ts";
import { ifExists } from "../host/files.ts";

/** A NodePublishVolume request, checked against the driver's capability table. */
export interface PublishRequest {
  volume: string;
  target: string;
  accessType: "block" | "mount";
  /** CSI access mode name (one of the driver's accessModes). */
  mode: string;
  /** The filesystem to create on first use (mount only; the driver's default when the capability names none). */
  fsType: FsType;
  flags: string[];
  readOnly: boolean;
}

const MOUNT_FLAG_RE = /^[A-Za-z0-9_=.:/+-]+$/;

export function parsePublishRequest(req: T.NodePublishVolumeRequest, driver: DriverCapabilities): PublishRequest {
  const volume = validateVolumeId(req.volume_id);
  const target = validatePath(req.target_path, "target_path");
  const cap = requireField(req.volume_capability, "volume_capability");
  const accessType = accessTypeOf(cap, "volume_capability");
  const mode = cap.access_mode?.mode ?? "UNKNOWN";
  if (!driver.accessModes.includes(mode)) throw invalid(`volume_capability.access_mode ${mode} is not supported (only ${driver.accessModes.join(", ")})`);
  const fsType = (cap.mount?.fs_type || driver.fsTypes[0]) as FsType;
  if (accessType === "mount" && !driver.fsTypes.includes(fsType))
    throw invalid(`volume_capability.mount.fs_type ${fsType} is not supported (${driver.fsTypes.join(", ")})`);
  const flags = cap.mount?.mount_flags ?? [];
  for (const f of flags) {
    if (!MOUNT_FLAG_RE.test(f)) throw invalid(`volume_capability.mount.mount_flags entry ${JSON.stringify(f)} is not a valid mount option`);
  }
  return { volume, target, accessType, mode, fsType, flags, readOnly: !!req.readonly };
}

export interface PublisherOptions {
  records: VolumeRecords;
  stateDir: string;
  /** What the device is called in messages: "disk" (a whole disk) or "device" (a replica device). */
  noun: "disk" | "device";
  /** The hint of a ForeignData error (what the user can do about a device that was not empty). */
  foreignHint: string;
  /** Raw block: refuse a device with any signature at its first hand-out (the disk driver: a whole disk). */
  emptyBlockCheck: boolean;
  log: Logger;
}

/** What a first publish records besides the volume, access type and time. */
export type RecordSeed = Pick<VolumeRecord, "devPath" | "localDiskName">;

export interface Publisher {
  /** True when `target` already holds this volume (a retry); ALREADY_EXISTS TargetBusy if something else. */
  isPublishedAt(p: PublishRequest, dev: string): Promise<boolean>;
  /** Hands out `dev` as a raw block device at the target file. */
  publishBlock(p: PublishRequest, dev: string, seed: RecordSeed): Promise<void>;
  /**
   * Formats on first use (or proves the filesystem is ours) and mounts it at the target directory. Returns
   * the mounted fs type. `afterFormat` runs right after this call created the filesystem, before mounting.
   */
  publishMount(p: PublishRequest, dev: string, seed: RecordSeed, afterFormat?: () => Promise<unknown>): Promise<string>;
  /** NodeUnpublishVolume: unmounts everything at the target and removes it. Returns the checked request. */
  unpublish(req: T.NodeUnpublishVolumeRequest): Promise<{ volume: string; target: string }>;
}

export function publisher(o: PublisherOptions): Publisher {
  const foreign = (volume: string, dev: string, what: string) =>
    new HwError("FAILED_PRECONDITION", "ForeignData", `refusing to use ${dev} for volume ${volume}: it holds ${what} that this system did not create`, {
      hint: o.foreignHint,
    });
  const signatures = (sigs: Array<{ type: string; offset: string }>) => sigs.map((s) => `a ${s.type} signature at ${s.offset}`).join(", ");
  const newRecord = (volume: string, seed: RecordSeed, accessType: VolumeRecord["accessType"]): VolumeRecord => ({
    volume,
    ...seed,
    accessType,
    firstPublishedAt: new Date().toISOString(),
  });

  async function prepareFilesystem(volume: string, dev: string, seed: RecordSeed, wantFs: FsType, afterFormat?: () => Promise<unknown>): Promise<string> {
    const rec = o.records.read(o.stateDir, volume);
    const probe = await probeFilesystem(dev);
    if (probe?.type) {
      if (rec?.formatted && rec.formatted.uuid === (probe.uuid ?? "")) return probe.type;
      if (
        rec &&
        !rec.formatted &&
        rec.formatting === probe.type &&
        rec.devPath === seed.devPath &&
        (!rec.formattingUuid || rec.formattingUuid === (probe.uuid ?? ""))
      ) {
        o.records.write(o.stateDir, { ...rec, formatting: undefined, formattingUuid: undefined, formatted: { fsType: probe.type, uuid: probe.uuid ?? "" } });
        return probe.type;
      }
      throw foreign(volume, dev, `a ${probe.type} filesystem${probe.uuid ? ` (UUID ${probe.uuid})` : ""}`);
    }
    if (rec?.formatted) {
      throw new HwError("DATA_LOSS", "FilesystemGone", `the ${rec.formatted.fsType} filesystem created for volume ${volume} on ${dev} is gone`, {
        hint: `something outside this system wiped the ${o.noun}; not reformatting it silently`,
      });
    }
    const sigs = await listSignatures(dev);
    if (probe || sigs.length) throw foreign(volume, dev, signatures(sigs) || `a ${probe?.pttype} partition table`);
    const base = rec ?? newRecord(volume, seed, "mount");
    // xfs: the UUID is chosen here and recorded with the intent, so no probe is needed after mkfs (one blkid
    // less on the publish path) and an adoption after a crash checks it is that very filesystem.
    const uuid = wantFs === "xfs" ? randomUUID() : undefined;
    o.records.write(o.stateDir, { ...base, formatting: wantFs, ...(uuid ? { formattingUuid: uuid } : {}) });
    // The original formats xfs with `-m reflink=0`. The device was just probed empty (blkid and wipefs above);
    // the second check right before writing is mkfs.xfs's own (without -f it refuses any filesystem or
    // partition table it finds); mkfs.ext4 runs with -F, so for ext4 mkfs() probes once more itself.
    await mkfs(dev, wantFs, wantFs === "xfs" ? { reflink: false, uuid, probed: true } : {});
    const fsUuid = uuid ?? (await probeFilesystem(dev))?.uuid ?? "";
    o.records.write(o.stateDir, { ...base, formatting: undefined, formatted: { fsType: wantFs, uuid: fsUuid } });
    await afterFormat?.();
    o.log.info({ volume, dev, fsType: wantFs }, "formatted on first use");
    return wantFs;
  }

  return {
    async isPublishedAt(p, dev) {
      const existing = await findMountsAt(p.target);
      if (!existing.length) return false;
      if (p.accessType === "mount" && !existing.some((m) => m.source === dev)) {
        throw new HwError("ALREADY_EXISTS", "TargetBusy", `${p.target} already has ${existing.at(-1)!.source} mounted, not volume ${p.volume} (${dev})`);
      }
      return true;
    },

    async publishBlock(p, dev, seed) {
      if (!o.records.read(o.stateDir, p.volume)) {
        if (o.emptyBlockCheck) {
          const sigs = await listSignatures(dev);
          if (sigs.length) throw foreign(p.volume, dev, signatures(sigs));
        }
        o.records.write(o.stateDir, newRecord(p.volume, seed, "block"));
      }
      await mkdir(path.dirname(p.target), { recursive: true });
      if (!fs.existsSync(p.target)) await writeFile(p.target, "", { mode: 0o600 });
      await bindMount(dev, p.target, { readOnly: p.readOnly });
    },

    async publishMount(p, dev, seed, afterFormat) {
      const fsType = await prepareFilesystem(p.volume, dev, seed, p.fsType, afterFormat);
      await mkdir(p.target, { recursive: true, mode: 0o750 });
      await mount(dev, p.target, { fstype: fsType, options: [...p.flags, ...(fsType === "xfs" ? ["nouuid"] : [])], readOnly: p.readOnly });
      return fsType;
    },

    async unpublish(req) {
      const volume = validateVolumeId(req.volume_id);
      const target = validatePath(req.target_path, "target_path");
      await unmountAll(target);
      // CSI: the plugin removes the target it was given (a directory for mounts, a file for block).
      const st = await ifExists(lstat(target));
      if (st?.isDirectory()) await fs.promises.rmdir(target);
      else if (st) await rm(target, { force: true });
      o.log.info({ volume, target }, "volume unpublished");
      return { volume, target };
    },
  };
}

/** NodeGetVolumeStats usage of a mounted filesystem: bytes and inodes. */
export function filesystemUsage(s: FsStats): T.VolumeUsage[] {
  return [
    { unit: "BYTES", total: String(s.totalBytes), used: String(s.usedBytes), available: String(s.availableBytes) },
    { unit: "INODES", total: String(s.totalInodes), used: String(s.usedInodes), available: String(s.freeInodes) },
  ];
}
