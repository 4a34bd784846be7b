// Helpers both engines share: name/size validation (before any command or path is built), the capacity
// error, atomic JSON state files and listing the replicas of pools. The device-path links are dev-links.ts.

import { mkdir, open, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { HwError } from "../../api/errors.ts";
import { isPoolClass, STORAGE_POOL_PREFIX, type PoolClass } from "../../api/names.ts";
import { listLoops, type LoopDevice } from "../../host/loop/loop.ts";
import { assertSafeName } from "../../host/validate.ts";
import { EXTENT_BYTES, roundToExtent, type Replica } from "./engine.ts";

/** A pool name of the original: `LocalStorage_Pool<Class>` with a known class. Returns the class. */
export function assertPoolName(poolName: string, poolClass?: PoolClass): PoolClass {
  assertSafeName(poolName);
  const cls = poolName.startsWith(STORAGE_POOL_PREFIX) ? poolName.slice(STORAGE_POOL_PREFIX.length) : "";
  if (!isPoolClass(cls)) {
    throw new HwError("INVALID_ARGUMENT", "UnknownPool", `pool ${JSON.stringify(poolName)} is not one of ${STORAGE_POOL_PREFIX}HDD|SSD|NVMe`);
  }
  if (poolClass !== undefined && poolClass !== cls) {
    throw new HwError("INVALID_ARGUMENT", "PoolClassMismatch", `pool ${poolName} holds class ${cls}, not ${poolClass}`);
  }
  return cls;
}

/** A volume or snapshot name: LVM's charset (k8s names are a subset), and never a hidden file name. */
export function assertVolumeName(name: string, what = "volume"): string {
  assertSafeName(name);
  if (name.startsWith(".")) throw new HwError("INVALID_ARGUMENT", "Invalid", `${what} name ${JSON.stringify(name)} must not start with "."`);
  return name;
}

/** A requested size in bytes, rounded up to the extent (4 MiB). */
export function requestedSize(sizeBytes: number, what: string): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new HwError("INVALID_ARGUMENT", "InvalidSize", `${what}: size ${sizeBytes} must be a positive integer number of bytes`);
  }
  return roundToExtent(sizeBytes);
}

/** `perDisk`: the pool is one filesystem per disk (file engine on XFS) and `freeBytes` is the largest disk's free space. */
export function insufficientSpace(poolName: string, volumeName: string, requiredBytes: number, freeBytes: number, perDisk = false): HwError {
  return new HwError(
    "RESOURCE_EXHAUSTED",
    "InsufficientCapacity",
    `insufficient free space in pool ${poolName} for volume ${volumeName}: requested ${requiredBytes} bytes, free ${freeBytes} bytes${perDisk ? " on its emptiest disk (a volume of an XFS pool lives on one disk)" : ""}`,
    { hint: "delete volumes, add a disk to the pool, or request a smaller size" },
  );
}

export const floorToExtent = (b: number): number => Math.max(0, Math.floor(b / EXTENT_BYTES) * EXTENT_BYTES);

// ---------------------------------------------------------------------------------------------------------
// State files: written to a temp file, fsynced, renamed, directory fsynced, so a crash leaves the old or the
// new content, never a torn one.

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o644 });
  const fh = await open(tmp, "r");
  await fh.sync();
  await fh.close();
  await rename(tmp, path);
  await syncDir(dirname(path));
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Every replica of the named pool (validated first) or of every pool (`listPools`): `ofPool` lists one pool's,
 * given the host's loop devices (read once for all pools).
 */
export async function replicasOfPools(
  poolName: string | undefined,
  listPools: () => Promise<string[]>,
  ofPool: (pool: string, loops: LoopDevice[]) => Promise<Replica[]>,
  runner?: Parameters<typeof listLoops>[0],
): Promise<Replica[]> {
  if (poolName !== undefined) assertPoolName(poolName);
  const pools = poolName ? [poolName] : await listPools();
  const loops = await listLoops(runner);
  const out: Replica[] = [];
  for (const p of pools) out.push(...(await ofPool(p, loops)));
  return out;
}
