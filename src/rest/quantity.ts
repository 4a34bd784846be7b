// Capacities in request bodies: a Kubernetes quantity ("2Gi", "1.5G", "2147483648") or a number of bytes,
// parsed by the project's one quantity module (src/api/quantity.ts). Volumes are sized in 4 MiB extents (the
// original rounds up), so targets are rounded the same way.

import { parseSize } from "../api/quantity.ts";
import { badBody } from "./errors.ts";
import { isHwError } from "../api/errors.ts";

export const EXTENT_BYTES = 4 * 2 ** 20;

/** Bytes of a quantity string or number; a 400 naming `field` when malformed, not positive or too large. */
export function parseCapacity(v: unknown, field: string): number {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v <= 0) throw badBody(field, `${v} must be a positive whole number of bytes`);
    return v;
  }
  if (typeof v !== "string") throw badBody(field, "is required: a capacity such as 2Gi or a number of bytes");
  try {
    return parseSize(v, field);
  } catch (e) {
    if (!isHwError(e)) throw e;
    throw badBody(field, `${JSON.stringify(v)} is not a capacity (examples: 2Gi, 1536Mi, 2147483648)`);
  }
}

export const roundUpExtent = (bytes: number): number => Math.max(EXTENT_BYTES, Math.ceil(bytes / EXTENT_BYTES) * EXTENT_BYTES);
