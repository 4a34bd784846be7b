// What size a CreateVolume gets, for both drivers (CSI spec: capacity_range is optional; when set, the
// volume's capacity must be ≥ required_bytes and ≤ limit_bytes, else OUT_OF_RANGE).
// - No capacity_range: DEFAULT_VOLUME_BYTES (a PVC always carries a size; this is for bare CSI callers);
//   the disk driver asks for 0 instead: the smallest disk that fits.
// - Only limit_bytes: min(default, limit).
// - A filesystem volume is never smaller than its filesystem's minimum (mkfs.xfs refuses under 300 MiB —
//   measured with xfsprogs 6.1: 300 MiB formats, 299 MiB is refused), because Kubernetes allows a capacity
//   above the request; when limit_bytes forbids that, OUT_OF_RANGE names the filesystem and its minimum.
//   So a too-small volume fails at CreateVolume or not at all, never later at mkfs in NodePublish.

import { HwError, invalid } from "../api/errors.ts";
import { MIN_VOLUME_BYTES } from "../api/kinds/common.ts";
import { ScParams } from "../api/names.ts";
import type { CapacityRange, VolumeCapability } from "./types.ts";
import { bytesField } from "./validate.ts";

const MiB = 2 ** 20;
export const DEFAULT_VOLUME_BYTES = 1024 * MiB;

/** The smallest device each filesystem can be made on (ext4 formats down to a few MiB: our 4 MiB floor). */
export const FS_MIN_BYTES: Readonly<Record<string, number>> = { xfs: 300 * MiB, ext4: MIN_VOLUME_BYTES };

/**
 * The filesystem a volume will be formatted with: the first mount capability's fs_type, else the
 * StorageClass's `csi.storage.k8s.io/fstype` parameter, else `defaultFs`; undefined for block-only volumes.
 */
export function filesystemOf(caps: VolumeCapability[], params: Record<string, string> | undefined, defaultFs: string): string | undefined {
  const mount = caps.find((c) => c.access_type === "mount" || !!c.mount);
  if (!mount) return undefined;
  return mount.mount?.fs_type || params?.[ScParams.FsType] || defaultFs;
}

export interface SizeOptions {
  /** The size when capacity_range sets nothing (default DEFAULT_VOLUME_BYTES; the disk driver: 0 = the smallest disk). */
  defaultBytes?: number;
  /** At least this many bytes (e.g. the disk driver's minCap); the filesystem minimum is added here. */
  minBytes?: number;
  fsType?: string;
  /** Rounds a size up to what the driver allocates (LVM: 4 MiB extents). */
  roundUp?: (bytes: number) => number;
}

/** The bytes to provision for `range`, and its limit (see the header). */
export function provisionSize(range: CapacityRange | null | undefined, o: SizeOptions = {}): { bytes: number; limitBytes?: number } {
  const req = bytesField(range?.required_bytes, "capacity_range.required_bytes");
  const limit = bytesField(range?.limit_bytes, "capacity_range.limit_bytes");
  if (req !== undefined && limit !== undefined && limit < req) {
    throw invalid(`capacity_range.limit_bytes ${limit} is below capacity_range.required_bytes ${req}`);
  }
  const dflt = o.defaultBytes ?? DEFAULT_VOLUME_BYTES;
  const wanted = req ?? Math.min(dflt, limit ?? dflt);
  const fsMin = o.fsType ? (FS_MIN_BYTES[o.fsType] ?? 0) : 0;
  const floor = Math.max(o.minBytes ?? 0, fsMin);
  const round = o.roundUp ?? ((b: number) => b);
  const bytes = round(Math.max(wanted, floor));
  if (limit !== undefined && bytes > limit) {
    const why =
      fsMin > wanted && fsMin >= (o.minBytes ?? 0)
        ? `a ${o.fsType} filesystem needs at least ${fsMin / MiB} MiB`
        : bytes > Math.max(wanted, floor)
          ? `${bytes} bytes after rounding up to the allocation unit`
          : `at least ${floor} bytes are needed`;
    throw new HwError("OUT_OF_RANGE", "CapacityOutOfRange", `capacity_range.limit_bytes ${limit} is too small: ${why}`, {
      hint: `allow at least ${bytes} bytes (Kubernetes lets a volume be larger than its request), or use a block volume or another filesystem`,
    });
  }
  return { bytes, ...(limit !== undefined ? { limitBytes: limit } : {}) };
}
