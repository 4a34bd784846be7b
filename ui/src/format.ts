export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

export const percent = (used: number | undefined, total: number | undefined): number => (total ? Math.min(100, Math.round(((used ?? 0) * 100) / total)) : 0);

export function time(t: string | undefined): string {
  if (!t) return "—";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString();
}

/** "2Gi", "1536Mi", "3G" or bytes → bytes; undefined when malformed. */
export function parseSize(s: string): number | undefined {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?\s*$/.exec(s);
  if (!m) return undefined;
  const mult: Record<string, number> = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.ceil(Number(m[1]) * mult[m[2] ?? ""]!);
}
