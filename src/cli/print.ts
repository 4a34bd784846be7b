// The one printer of the CLIs (STYLE.md: handlers return data, one printer renders). A handler returns a
// View: table columns over rows (kubectl-style: upper-case headers, columns padded, `wide` columns only
// with -o wide) and/or a text block, plus `data` — what -o json / -o yaml print (the objects themselves,
// so scripts get every field).

import { stringify } from "yaml";
import { invalid } from "../api/errors.ts";

export const OUTPUT_FORMATS = ["table", "wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface Column<R> {
  header: string;
  value: (row: R) => unknown;
  /** Shown only with -o wide. */
  wide?: boolean;
}

export interface Section<R = any> {
  title?: string;
  columns: Column<R>[];
  rows: R[];
  /** Printed instead of an empty table. */
  empty?: string;
  /** false: no header row (key/value listings). */
  headers?: boolean;
}

export interface View {
  sections?: Section[];
  /** Free text printed after the tables (table/wide only). */
  text?: string;
  /** What json/yaml print. */
  data: unknown;
}

export function parseOutputFormat(v: string | undefined): OutputFormat {
  const f = (v ?? "table") as OutputFormat;
  if (!OUTPUT_FORMATS.includes(f)) throw invalid(`-o ${JSON.stringify(v)} is not an output format`, { hint: `use one of ${OUTPUT_FORMATS.join(", ")}` });
  return f;
}

const cell = (v: unknown): string =>
  v === undefined || v === null ? "" : Array.isArray(v) ? v.join(",") : typeof v === "object" ? JSON.stringify(v) : String(v);

export function renderTable<R>(s: Section<R>, wide: boolean): string {
  const cols = s.columns.filter((c) => wide || !c.wide);
  if (s.rows.length === 0) return s.empty ?? "No resources found.";
  const grid = [...(s.headers === false ? [] : [cols.map((c) => c.header.toUpperCase())]), ...s.rows.map((r) => cols.map((c) => cell(c.value(r))))];
  const widths = cols.map((_, i) => Math.max(...grid.map((row) => row[i]!.length)));
  return grid
    .map((row) =>
      row
        .map((v, i) => (i === row.length - 1 ? v : v.padEnd(widths[i]! + 3)))
        .join("")
        .trimEnd(),
    )
    .join("\n");
}

export function render(view: View, format: OutputFormat): string {
  if (format === "json") return JSON.stringify(view.data, null, 2);
  if (format === "yaml") return stringify(view.data, { lineWidth: 0, aliasDuplicateObjects: false }).trimEnd();
  const parts: string[] = [];
  for (const s of view.sections ?? []) parts.push((s.title ? `${s.title}\n` : "") + renderTable(s, format === "wide"));
  if (view.text) parts.push(view.text);
  return parts.join("\n\n");
}

export function print(view: View, format: OutputFormat, out: NodeJS.WritableStream = process.stdout): void {
  const s = render(view, format);
  if (s) out.write(s + "\n");
}
