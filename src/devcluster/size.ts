// Byte sizes as people write them (Kubernetes quantities: 2Gi, 512Mi, 1G, 1048576) and as we print them.

import { invalid } from "../api/errors.ts";

const UNITS: Record<string, number> = {
  "": 1,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50,
  k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15,
};

/** "2Gi" → 2147483648. Bad input is INVALID_ARGUMENT explaining the format (`what` names the flag). */
export function parseSize(text: string, what = "size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i|[kKMGTP])?\s*$/.exec(String(text));
  const bytes = m ? Math.round(Number(m[1]) * UNITS[m[2] ?? ""]!) : NaN;
  if (!m || !Number.isSafeInteger(bytes) || bytes <= 0) {
    throw invalid(`${what} ${JSON.stringify(text)} is not a size`, {
      hint: "write a positive number with an optional unit: 2Gi, 512Mi, 1G, or plain bytes (binary units Ki Mi Gi Ti, decimal k M G T)",
    });
  }
  return bytes;
}

/** 2147483648 → "2Gi", 1610612736 → "1.5Gi", 0 → "0". */
export function formatBytes(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return "";
  if (n === 0) return "0";
  const units = ["", "Ki", "Mi", "Gi", "Ti", "Pi"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1).replace(/\.0$/, "");
  return `${s}${units[i]}`;
}
