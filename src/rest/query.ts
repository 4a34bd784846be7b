// List query parameters of every REST collection (reference: the original apiserver's QueryPage), pure:
// `page`, `pageSize`, `sort` (alias `sortBy`), `sortDir`, `fuzzy` and the per-route filters.
//
// Differences from the original, on purpose (docs/compatibility.md):
// - `page`/`pageSize` default to 1 and -1 (everything) when both are absent; the original answered an empty
//   list (its ParseInt of "" gave page 0). A malformed value is a 400 naming the parameter, not a silent 0.
// - `fuzzy` is honoured: `true` (the default, as the original's name filters were substring matches) matches
//   a name filter case-insensitively anywhere; `false` requires the exact name. State/type filters are exact.
// - An unknown `sort` key is a 400 listing the keys the route sorts by (the original ignored it).

import { HwError } from "../api/errors.ts";

export type SortDir = "asc" | "desc";

export interface ListQuery {
  page: number;
  /** -1 = all items on one page. */
  pageSize: number;
  sort?: string;
  sortDir: SortDir;
  fuzzy: boolean;
  /** The route's filters that were given (non-empty values only). */
  filters: Record<string, string>;
}

export interface Pagination {
  total: number;
  page: number;
  pages: number;
  pageSize: number;
}

export interface ListSpec<T> {
  /** Filter parameter names the route accepts. */
  filters?: readonly string[];
  /** Sort keys → the value compared (strings compare by locale, numbers numerically). */
  sorts?: Record<string, (item: T) => string | number>;
  /** The sort applied when none is asked for. */
  defaultSort?: { key: string; dir: SortDir };
}

const badParam = (param: string, message: string) =>
  new HwError("INVALID_ARGUMENT", "InvalidParameter", `query parameter ${param}: ${message}`, {
    causes: [{ field: param, reason: "FieldValueInvalid", message }],
  });

function intParam(q: Record<string, unknown>, name: string): number | undefined {
  const raw = q[name];
  if (raw === undefined || raw === "") return undefined;
  const s = Array.isArray(raw) ? String(raw[0]) : String(raw);
  if (!/^-?\d{1,9}$/.test(s)) throw badParam(name, `${JSON.stringify(s)} is not an integer`);
  return Number(s);
}

function strParam(q: Record<string, unknown>, name: string): string | undefined {
  const raw = q[name];
  if (raw === undefined) return undefined;
  const s = Array.isArray(raw) ? String(raw[0] ?? "") : String(raw);
  return s === "" ? undefined : s;
}

/** A non-empty string query parameter, or undefined (absent, empty or repeated). */
export function queryString(q: Record<string, unknown>, key: string): string | undefined {
  const v = q[key];
  return typeof v === "string" && v ? v : undefined;
}

/** Parses and validates the query string of a list route. */
export function parseListQuery<T>(q: Record<string, unknown>, spec: ListSpec<T> = {}): ListQuery {
  let page = intParam(q, "page");
  let pageSize = intParam(q, "pageSize");
  if (page === undefined && pageSize === undefined) {
    page = 1;
    pageSize = -1;
  }
  page ??= 1;
  pageSize ??= 10; // the UI's default page size when only `page` is given
  if (page < 1) throw badParam("page", `must be ≥ 1, got ${page}`);
  if (pageSize === 0 || pageSize < -1) throw badParam("pageSize", `must be ≥ 1, or -1 for all, got ${pageSize}`);
  if (pageSize > 10_000) throw badParam("pageSize", `must be ≤ 10000, got ${pageSize}`);

  const sort = strParam(q, "sort") ?? strParam(q, "sortBy");
  const sorts = spec.sorts ?? {};
  if (sort !== undefined && !Object.hasOwn(sorts, sort)) {
    const known = Object.keys(sorts);
    throw badParam(
      "sort",
      `${JSON.stringify(sort)} is not a sort key of this list${known.length ? ` (one of ${known.join(", ")})` : " (it cannot be sorted)"}`,
    );
  }
  const dirRaw = strParam(q, "sortDir");
  let sortDir: SortDir;
  if (dirRaw === undefined) sortDir = sort === undefined ? (spec.defaultSort?.dir ?? "asc") : "asc";
  else if (/^asc$/i.test(dirRaw)) sortDir = "asc";
  else if (/^desc$/i.test(dirRaw)) sortDir = "desc";
  else throw badParam("sortDir", `${JSON.stringify(dirRaw)} must be asc or desc`);

  const fuzzyRaw = strParam(q, "fuzzy");
  if (fuzzyRaw !== undefined && !/^(true|false)$/i.test(fuzzyRaw)) throw badParam("fuzzy", `${JSON.stringify(fuzzyRaw)} must be true or false`);
  const fuzzy = fuzzyRaw === undefined ? true : /^true$/i.test(fuzzyRaw);

  const filters: Record<string, string> = {};
  for (const f of spec.filters ?? []) {
    const v = strParam(q, f);
    if (v !== undefined) filters[f] = v;
  }
  return { page, pageSize, sort: sort ?? spec.defaultSort?.key, sortDir, fuzzy, filters };
}

/** A name filter: substring, case-insensitive when fuzzy; exact otherwise. An absent filter matches. */
export function nameMatches(value: string | undefined, filter: string | undefined, fuzzy: boolean): boolean {
  if (filter === undefined) return true;
  const v = value ?? "";
  return fuzzy ? v.toLowerCase().includes(filter.toLowerCase()) : v === filter;
}

/** An exact filter (states, types). An absent filter matches. */
export const exactMatches = (value: string | undefined, filter: string | undefined): boolean => filter === undefined || (value ?? "") === filter;

/** Sorts (stable, by the query's key and direction; ties by the default key) and pages. */
export function pageOf<T>(all: T[], q: ListQuery, spec: ListSpec<T> = {}): { items: T[]; pagination: Pagination } {
  const items = [...all];
  const sorts = spec.sorts ?? {};
  const key = q.sort !== undefined ? sorts[q.sort] : undefined;
  if (key) {
    const sign = q.sortDir === "desc" ? -1 : 1;
    items.sort((a, b) => sign * compare(key(a), key(b)));
  }
  const total = items.length;
  if (q.pageSize === -1) return { items, pagination: { total, page: 1, pages: total ? 1 : 0, pageSize: -1 } };
  const pages = Math.ceil(total / q.pageSize);
  const start = (q.page - 1) * q.pageSize;
  return { items: items.slice(start, start + q.pageSize), pagination: { total, page: q.page, pages, pageSize: q.pageSize } };
}

function compare(a: string | number, b: string | number): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), "en", { numeric: true });
}
