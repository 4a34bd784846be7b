// ThinPoolClaim rules shared by the controller (may a claim be consumed?) and the node (the pool's ratio, the
// thin volume check): pure functions of the API objects (reference §1.15, §4.1).

import { HwError } from "./errors.ts";

const GiB = 1024 * 1024 * 1024;

/** Parse an overProvisionRatio ("1.0", "2.5"); at least 1.0 (reference §1.15). */
export function parseOverProvisionRatio(v: string | undefined, what: string): number {
  const s = v ?? "1.0";
  if (!/^[0-9]+(\.[0-9]+)?$/.test(s))
    throw new HwError("INVALID_ARGUMENT", "InvalidOverProvisionRatio", `${what}: overProvisionRatio ${JSON.stringify(s)} is not a decimal number`);
  const r = Number(s);
  if (r < 1) throw new HwError("INVALID_ARGUMENT", "InvalidOverProvisionRatio", `${what}: overProvisionRatio ${s} must be at least 1.0`);
  return r;
}

/** The pool's ratio: the latest ThinPoolClaim record that set one, else "1.0" (the original's rule). */
export function overProvisionRatioOf(records: Array<{ description?: { overProvisionRatio?: string } }> | undefined): string {
  for (const r of [...(records ?? [])].reverse()) if (r.description?.overProvisionRatio) return r.description.overProvisionRatio;
  return "1.0";
}

export interface ThinPoolClaimAsk {
  /** GiB */
  capacity: number;
  /** GiB, default 1 */
  poolMetadataSize?: number;
}

/**
 * The controller's check before a claim may be consumed (reference §1.15; the original's Pending step): the pool
 * exists, a thin pool is never shrunk, and the VG has room for data + metadata + the metadata spare (2 × metadata).
 * Returns the refusal, or undefined when it fits.
 */
export function checkThinPoolClaim(
  claim: string,
  node: string,
  ask: ThinPoolClaimAsk,
  pool: { name: string; freeCapacityBytes: number; thinPool?: { size?: number; metadataSize?: number } } | undefined,
  poolName: string,
): string | undefined {
  if (!pool) return `ThinPoolClaim ${claim}: storage pool ${poolName} does not exist on node ${node}`;
  const meta = ask.poolMetadataSize ?? 1;
  let required = (ask.capacity + meta * 2) * GiB;
  const tp = pool.thinPool;
  if (tp?.size !== undefined) {
    if (tp.size > ask.capacity * GiB)
      return `ThinPoolClaim ${claim}: thin pool of ${poolName} on node ${node} is ${tp.size} bytes, larger than the requested ${ask.capacity} GiB (thin pools never shrink)`;
    const tm = tp.metadataSize ?? 0;
    if (tm > meta * GiB)
      return `ThinPoolClaim ${claim}: thin pool metadata of ${poolName} on node ${node} is ${tm} bytes, larger than the requested ${meta} GiB`;
    required = ask.capacity * GiB - tp.size + (meta * GiB - tm) * 2;
  }
  if (required > pool.freeCapacityBytes) {
    return `ThinPoolClaim ${claim}: not enough free space in pool ${poolName} on node ${node}: requires ${required} bytes, free ${pool.freeCapacityBytes} bytes`;
  }
  return undefined;
}

/**
 * Room for a thin volume in a node's thin pool as its LocalStorageNode reports it (the scheduler's predicate,
 * reference §4.1: Σthin ≤ size × overProvisionRatio − totalProvisionedSize). Returns the refusal, or undefined.
 */
export function thinRoomProblem(
  node: string,
  poolName: string,
  thinPool: { size?: number; totalProvisionedSize?: number; overProvisionRatio?: string } | undefined,
  object: string,
  requestBytes: number,
): string | undefined {
  if (!thinPool?.size) return `pool ${poolName} on node ${node} has no thin pool for ${object} (create one with a ThinPoolClaim)`;
  const ratio = thinPool.overProvisionRatio ?? "1.0";
  const limit = Math.floor(thinPool.size * parseOverProvisionRatio(ratio, `thin pool of ${poolName} on node ${node}`));
  const used = thinPool.totalProvisionedSize ?? 0;
  if (used + requestBytes > limit) {
    return `insufficient free space in thin pool ${poolName} on node ${node} for ${object}: requested ${requestBytes} bytes, provisioned ${used} of ${limit} bytes (overProvisionRatio ${ratio})`;
  }
  return undefined;
}
