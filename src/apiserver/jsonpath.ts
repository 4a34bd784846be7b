// The JSONPath subset of printer columns (apiextensions `additionalPrinterColumns[].jsonPath`) and
// `selectableFields`: ".a.b", ".a['k.with.dots']", ".a[0]", ".a[-1]", ".a[*].b", ".a.*", ".a[0:2]",
// ".conditions[?(@.type==\"Ready\")].status", with optional "{...}" braces. Pure; missing paths yield [].
// Not supported (APPROXIMATION): recursive descent "..", unions "[a,b]", range/end templates.

import { HwError } from "../api/errors.ts";

type Step =
  | { k: "key"; name: string }
  | { k: "index"; i: number }
  | { k: "slice"; start?: number; end?: number }
  | { k: "all" }
  | { k: "filter"; path: Step[]; op: "==" | "!=" | "exists"; value?: unknown };

const bad = (path: string, why: string) =>
  new HwError("INVALID_ARGUMENT", "BadRequest", `invalid JSONPath "${path}": ${why}`, { httpStatus: 400, statusReason: "BadRequest" });

const cache = new Map<string, Step[]>();

/** Parses a JSONPath expression (throws HwError 400 on bad syntax); results are cached. */
export function parseJsonPath(path: string): Step[] {
  const hit = cache.get(path);
  if (hit) return hit;
  let s = path.trim();
  if (s.startsWith("{") && s.endsWith("}")) s = s.slice(1, -1).trim();
  if (s.startsWith("$")) s = s.slice(1);
  const steps = parseSteps(s, path);
  if (cache.size > 1000) cache.clear();
  cache.set(path, steps);
  return steps;
}

function parseSteps(s: string, full: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ".") {
      i++;
      if (s[i] === "*") {
        steps.push({ k: "all" });
        i++;
        continue;
      }
      if (s[i] === ".") throw bad(full, "recursive descent '..' is not supported");
      const start = i;
      while (i < s.length && s[i] !== "." && s[i] !== "[") i++;
      if (i === start) {
        if (i >= s.length && steps.length === 0) break; // "." alone is the whole object
        throw bad(full, `empty field name at position ${start}`);
      }
      steps.push({ k: "key", name: s.slice(start, i) });
    } else if (c === "[") {
      const close = findClose(s, i, full);
      steps.push(parseBracket(s.slice(i + 1, close).trim(), full));
      i = close + 1;
    } else if (steps.length === 0 && /[A-Za-z_]/.test(c)) {
      s = "." + s.slice(i); // tolerate a missing leading dot ("metadata.name")
      i = 0;
    } else {
      throw bad(full, `unexpected '${c}' at position ${i}`);
    }
  }
  return steps;
}

function findClose(s: string, open: number, full: string): number {
  let quote: string | undefined;
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    const c = s[j]!;
    if (quote) {
      if (c === "\\") j++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "[" || c === "(") depth++;
    else if (c === "]" || c === ")") {
      depth--;
      if (depth === 0 && c === "]") return j;
    }
  }
  throw bad(full, "unclosed '['");
}

function unquote(q: string): string {
  return q.slice(1, -1).replace(/\\(.)/g, "$1");
}

function parseLiteral(v: string, full: string): unknown {
  v = v.trim();
  if (/^(['"]).*\1$/.test(v)) return unquote(v);
  if (v === "true" || v === "false") return v === "true";
  if (v === "null") return null;
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return Number(v);
  throw bad(full, `bad literal ${v}`);
}

function parseBracket(inner: string, full: string): Step {
  if (inner === "*") return { k: "all" };
  if (/^(['"]).*\1$/.test(inner)) return { k: "key", name: unquote(inner) };
  if (/^-?\d+$/.test(inner)) return { k: "index", i: Number(inner) };
  const slice = /^(-?\d*):(-?\d*)$/.exec(inner);
  if (slice) {
    const st: { k: "slice"; start?: number; end?: number } = { k: "slice" };
    if (slice[1]) st.start = Number(slice[1]);
    if (slice[2]) st.end = Number(slice[2]);
    return st;
  }
  const filt = /^\?\(\s*@((?:\.[^.=!<>\s[\]]+|\[[^\]]*\])*)\s*(?:(==|!=)\s*(.+?))?\s*\)$/.exec(inner);
  if (filt) {
    const path = parseSteps(filt[1] ?? "", full);
    if (filt[2] === undefined) return { k: "filter", path, op: "exists" };
    return { k: "filter", path, op: filt[2] as "==" | "!=", value: parseLiteral(filt[3]!, full) };
  }
  throw bad(full, `unsupported subscript [${inner}]`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether an array item passes a filter step: [?(@.a)], [?(@.a=="x")] or [?(@.a!="x")]. */
function passes(item: unknown, st: Extract<Step, { k: "filter" }>): boolean {
  const got = walk([item], st.path);
  const equal = got.length > 0 && got[0] === st.value;
  return st.op === "exists" ? got.length > 0 : st.op === "==" ? equal : !equal;
}

function walk(values: unknown[], steps: Step[]): unknown[] {
  let cur = values;
  for (const st of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      switch (st.k) {
        case "key":
          if (isObj(v) && Object.prototype.hasOwnProperty.call(v, st.name)) next.push(v[st.name]);
          break;
        case "index":
          if (Array.isArray(v)) {
            const i = st.i < 0 ? v.length + st.i : st.i;
            if (i >= 0 && i < v.length) next.push(v[i]);
          }
          break;
        case "slice":
          if (Array.isArray(v)) next.push(...v.slice(st.start ?? 0, st.end ?? v.length));
          break;
        case "all":
          if (Array.isArray(v)) next.push(...v);
          else if (isObj(v)) next.push(...Object.values(v));
          break;
        case "filter":
          if (Array.isArray(v)) next.push(...v.filter((item) => passes(item, st)));
          break;
      }
    }
    cur = next;
  }
  return cur;
}

/** Evaluates a printer-column JSONPath; every match in document order, [] when nothing matches. */
export function evalJsonPath(obj: any, path: string): unknown[] {
  return walk([obj], parseJsonPath(path));
}
