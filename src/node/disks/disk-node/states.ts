// LocalDiskNode status (reference §1.3, §6 "LDN pools"), pure: the disk pools `LocalDisk_Pool<class>` of a
// node from its LocalDisks and the LocalDiskVolumes on them.
//
// A disk is in a disk pool when it was claimed by the disk manager (`owner: local-disk-manager` and a
// claimRef) — what the original's pool directory `<stateDir>/LocalDisk_Pool<class>/disk/` holds. Disk state:
// `InUse` when a LocalDiskVolume sits on it, `Offline` when the disk is Inactive, else `Available`.
// A reserved disk is left out (unless a volume still uses it), so the disk driver never picks it.
// Pool counts as the original: totalVolumeCount = #disks, volumeCapacityBytesLimit = largest Available disk.
import type { LocalDisk } from "../../../api/kinds/local-disk.ts";
import type { LocalDiskNodeStatus } from "../../../api/kinds/local-disk-node.ts";
import type { LocalDiskVolume } from "../../../api/kinds/local-disk-volume.ts";
import type { LocalDevice, LocalPool } from "../../../api/kinds/storage-pool.ts";
import { DeviceStates, LocalDiskStates, NodeStates, Owners, POOL_CLASSES, PoolTypes, VolumeStates, diskPoolName, isPoolClass } from "../../../api/names.ts";

/** Whether a LocalDisk belongs to the disk manager's pools. */
export const isDiskPoolMember = (d: LocalDisk): boolean => d.spec?.owner === Owners.LocalDiskManager && !!d.spec?.claimRef;

/** The LocalDiskVolumes that occupy each disk, by LocalDisk name (or device path as the fallback key). */
function volumesByDisk(volumes: LocalDiskVolume[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const v of volumes) {
    if (v.status?.state === VolumeStates.Deleted) continue;
    const key = v.status?.localDiskName || v.status?.devPath;
    if (!key) continue;
    m.set(key, [...(m.get(key) ?? []), v.metadata!.name!]);
  }
  return m;
}

export function buildDiskNodeStatus(
  nodeName: string,
  disks: LocalDisk[],
  volumes: LocalDiskVolume[],
  prev: LocalDiskNodeStatus | undefined,
  stateDir: string,
): LocalDiskNodeStatus {
  const used = volumesByDisk(volumes);
  const pools: Record<string, LocalPool> = {};
  let totalDisk = 0;
  let freeDisk = 0;
  let totalCapacity = 0;
  let freeCapacity = 0;
  const members = disks
    .filter((d) => d.spec?.nodeName === nodeName && isDiskPoolMember(d))
    // A reserved disk leaves the pool unless a volume still sits on it.
    .filter((d) => !d.spec?.reserved || used.has(d.metadata!.name!))
    .sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1));
  for (const cls of POOL_CLASSES) {
    const inPool = members.filter((d) => (d.spec!.diskAttributes?.type ?? "") === cls);
    if (inPool.length === 0) continue;
    const name = diskPoolName(cls);
    const devices: LocalDevice[] = [];
    const vols: string[] = [];
    let total = 0;
    let usedBytes = 0;
    let limit = 0;
    let inUse = 0;
    for (const d of inPool) {
      const cap = d.spec!.capacity ?? 0;
      const v = used.get(d.metadata!.name!) ?? used.get(d.spec!.devicePath ?? "\0") ?? [];
      const state = v.length > 0 ? DeviceStates.InUse : d.spec!.state === LocalDiskStates.Inactive ? DeviceStates.Offline : DeviceStates.Available;
      devices.push({ devPath: d.spec!.devicePath ?? d.spec!.preDevicePath ?? "", type: cls, capacityBytes: cap, state });
      vols.push(...v);
      total += cap;
      if (state === DeviceStates.InUse) {
        usedBytes += cap;
        inUse++;
      }
      if (state === DeviceStates.Available) limit = Math.max(limit, cap);
    }
    const free = devices.filter((x) => x.state === DeviceStates.Available);
    pools[name] = {
      name,
      class: cls,
      type: PoolTypes.Regular,
      path: `${stateDir}/${name}`,
      totalCapacityBytes: total,
      usedCapacityBytes: usedBytes,
      freeCapacityBytes: free.reduce((s, x) => s + (x.capacityBytes ?? 0), 0),
      volumeCapacityBytesLimit: limit,
      totalVolumeCount: devices.length,
      usedVolumeCount: inUse,
      freeVolumeCount: free.length,
      disks: devices,
      volumes: vols.sort(),
    };
    totalDisk += devices.length;
    freeDisk += free.length;
    totalCapacity += total;
    freeCapacity += pools[name]!.freeCapacityBytes!;
  }
  const status: LocalDiskNodeStatus = {
    ...(prev ?? {}),
    pools,
    state: NodeStates.Ready,
    totalDisk,
    freeDisk,
    totalCapacity,
    freeCapacity,
  };
  return status;
}

/** Appends a claim's spec to `poolExtendRecords[pool]` unless an identical record exists (idempotent). */
export function withExtendRecord(
  status: LocalDiskNodeStatus | undefined,
  pool: string,
  record: NonNullable<LocalDiskNodeStatus["poolExtendRecords"]>[string][number],
): LocalDiskNodeStatus {
  const records = { ...(status?.poolExtendRecords ?? {}) };
  const list = records[pool] ?? [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!list.some((r) => same(r, record))) records[pool] = [...list, record];
  return { ...(status ?? {}), poolExtendRecords: records };
}

export const poolOfClass = (cls: string | undefined): string | undefined => (cls && isPoolClass(cls) ? diskPoolName(cls) : undefined);
