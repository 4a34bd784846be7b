// Kubernetes quantities (resource.Quantity): the one parser and the one byte formatter of the project.
// Grammar: <sign>? <digits>[.<digits>] then one of: a binary SI suffix (Ki Mi Gi Ti Pi Ei), a decimal SI
// suffix (n u m "" k M G T P E) or a decimal exponent (e|E <sign>? <digits>). Values are rounded up to a
// whole number, as Quantity.Value() does; sizes are never negative here, so a negative value is refused.

import { HwError } from "./errors.ts";

const SUFFIX: Record<string, number> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;
const FORMAT_HINT = "write a Kubernetes quantity: a number with an optional unit, e.g. 2Gi, 512Mi, 1G, 1.5k, 1e9 or plain bytes";

const bad = (message: string, hint: string) => new HwError("INVALID_ARGUMENT", "InvalidQuantity", message, { hint });

/** Whether `text` is a Kubernetes quantity (any sign). */
export const isQuantity = (text: string): boolean => QUANTITY.test(text.trim());

/**
 * A non-negative Kubernetes quantity as a whole number, rounded up. `what` names the field or flag in the
 * INVALID_ARGUMENT error (malformed, negative, or beyond 2^53).
 */
export function parseQuantity(text: string, what: string): number {
  const m = QUANTITY.exec(String(text).trim());
  if (!m) throw bad(`${what} ${JSON.stringify(String(text).slice(0, 40))} is not a Kubernetes quantity`, FORMAT_HINT);
  const magnitude = Number(m[2]) * (m[3] !== undefined ? 10 ** Number(m[3]) : SUFFIX[m[4] ?? ""]!);
  if (m[1] === "-" && magnitude > 0) throw bad(`${what} ${JSON.stringify(text)} is negative`, FORMAT_HINT);
  // 1.1k is 1100.0000000000002 in floating point: shave a relative epsilon before rounding up a fraction
  const n = Number.isInteger(magnitude) ? magnitude : Math.ceil(magnitude * (1 - 1e-12));
  if (!Number.isSafeInteger(n)) throw bad(`${what} ${JSON.stringify(text)} is out of range`, "use a value below 8Pi");
  return Math.max(0, n);
}

const BINARY_UNITS = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/** Bytes for people, as kubectl shows quantities: 2147483648 → "2Gi", 1610612736 → "1.5Gi", 1000 → "1000". */
export function formatBytes(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return "";
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < BINARY_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1).replace(/\.0$/, "");
  return `${s}${BINARY_UNITS[i]}`;
}

/** Bytes as an exact binary SI quantity ("1Gi", "1284Mi", or plain bytes), as the original patches PVCs. */
export function toBinarySI(bytes: number): string {
  for (let i = BINARY_UNITS.length - 1; i > 0; i--) {
    const unit = 2 ** (10 * i);
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${BINARY_UNITS[i]}`;
  }
  return String(bytes);
}

/** A size in bytes: a quantity above zero (flags such as `--size`, `--disk-size`). */
export function parseSize(text: string, what: string): number {
  const n = parseQuantity(text, what);
  if (n <= 0) throw bad(`${what} ${JSON.stringify(text)} is not a size above zero`, FORMAT_HINT);
  return n;
}

/** A quantity in bytes, or undefined when missing or malformed (for reads of objects others wrote). */
export function quantityOrUndefined(text: string | undefined): number | undefined {
  if (text === undefined || text === null) return undefined;
  try {
    return parseQuantity(String(text), "quantity");
  } catch (e) {
    if ((e as { reason?: string }).reason === "InvalidQuantity") return undefined;
    throw e;
  }
}
