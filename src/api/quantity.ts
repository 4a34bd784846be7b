// Kubernetes quantities (resource.Quantity) as whole numbers: "500", "10Mi", "1.5k", "1e3". One parser for
// every part (PVC requests, QoS limits, StorageClass parameters).

import { HwError } from "./errors.ts";

const SUFFIX: Record<string, number> = {
  "": 1,
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
const QUANTITY = /^\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$/;

/** A Kubernetes quantity as a whole number (rounded up, as resource.Quantity.Value()); throws on malformed. */
export function parseQuantity(text: string, what: string): number {
  const m = QUANTITY.exec(text.trim());
  if (!m) throw new HwError("INVALID_ARGUMENT", "InvalidQuantity", `${what} ${JSON.stringify(text)} is not a Kubernetes quantity (e.g. 500, 10Mi, 1.5k)`);
  const base = Number(m[1]);
  const v = m[2] ? base * 10 ** Number(m[2].slice(1)) : base * SUFFIX[m[3] ?? ""]!;
  const n = v <= 0 ? 0 : Math.ceil(v - 1e-9);
  if (!Number.isSafeInteger(n)) throw new HwError("INVALID_ARGUMENT", "InvalidQuantity", `${what} ${JSON.stringify(text)} is out of range`);
  return n;
}

/** A quantity in bytes, or undefined when missing or malformed (for reads of objects others wrote). */
export function quantityOrUndefined(text: string | undefined): number | undefined {
  if (text === undefined || text === null) return undefined;
  try {
    return parseQuantity(String(text), "quantity");
  } catch {
    return undefined;
  }
}
