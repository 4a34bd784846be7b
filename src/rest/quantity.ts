// Capacities in request bodies: a Kubernetes quantity ("2Gi", "1.5G", "2147483648") or a number of bytes.
// Pure. Volumes are sized in 4 MiB extents (the original rounds up), so targets are rounded the same way.

import { badBody } from "./errors.ts";

const MULT: Record<string, number> = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
export const EXTENT_BYTES = 4 * 2 ** 20;

/** Bytes of a quantity string or number; a 400 naming `field` when malformed, not positive or too large. */
export function parseCapacity(v: unknown, field: string): number {
  let bytes: number;
  if (typeof v === "number") bytes = v;
  else if (typeof v === "string") {
    const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?i?B?\s*$/.exec(v);
    if (!m) throw badBody(field, `${JSON.stringify(v)} is not a capacity (examples: 2Gi, 1536Mi, 2147483648)`);
    bytes = Math.ceil(Number(m[1]) * MULT[m[2] ?? ""]!);
  } else throw badBody(field, "is required: a capacity such as 2Gi or a number of bytes");
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw badBody(field, `${JSON.stringify(v)} must be a positive number of bytes`);
  return bytes;
}

export const roundUpExtent = (bytes: number): number => Math.max(EXTENT_BYTES, Math.ceil(bytes / EXTENT_BYTES) * EXTENT_BYTES);

/** Bytes as a binary-SI quantity string for a PVC request (exact: falls back to plain bytes). */
export function binarySI(bytes: number): string {
  for (const [suffix, m] of [["Ti", 2 ** 40], ["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]] as const) {
    if (bytes % m === 0) return `${bytes / m}${suffix}`;
  }
  return String(bytes);
}

/** 1536 MiB → "1.5 GiB" (for messages). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
