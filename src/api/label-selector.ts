// Kubernetes label selectors: the string syntax of `?labelSelector=` / `kubectl -l` (apimachinery
// labels.Parse) and the structured metav1.LabelSelector (LabelSelectorAsSelector). Pure; used by the API
// server's list/watch filtering and by controllers (e.g. ResizePolicy selectors).

import { HwError } from "./errors.ts";

export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}
export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

/** Internal requirement, like apimachinery's labels.Requirement (operators of the string syntax included). */
interface Requirement {
  key: string;
  op: "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";
  values: string[];
}

const badRequest = (message: string) => new HwError("INVALID_ARGUMENT", "BadRequest", message, { httpStatus: 400, statusReason: "BadRequest" });

// Label keys: optional DNS-subdomain prefix (≤253) + "/" + name (≤63, alphanumeric ends, [-_.] inside).
const NAME_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const PREFIX_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function keyError(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2)
    return `invalid label key "${key}": a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/'`;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0 || prefix.length > 253 || !PREFIX_RE.test(prefix))
      return `invalid label key "${key}": prefix part must be a lowercase RFC 1123 subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !NAME_RE.test(name)) {
    return `invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`;
  }
  return undefined;
}

function valueError(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63 || !NAME_RE.test(value)) {
    return `invalid label value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`;
  }
  return undefined;
}

function checkRequirement(r: Requirement): Requirement {
  const ke = keyError(r.key);
  if (ke) throw badRequest(`unable to parse requirement: ${ke}`);
  if ((r.op === "in" || r.op === "notin") && r.values.length === 0) {
    throw badRequest(`unable to parse requirement: for 'in', 'notin' operators, values set can't be empty (key "${r.key}")`);
  }
  if ((r.op === "=" || r.op === "!=" || r.op === "gt" || r.op === "lt") && r.values.length !== 1) {
    throw badRequest(`unable to parse requirement: exact-match compatibility requires one single value (key "${r.key}")`);
  }
  if ((r.op === "gt" || r.op === "lt") && !/^-?\d+$/.test(r.values[0]!)) {
    throw badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer (key "${r.key}")`);
  }
  for (const v of r.values) {
    const ve = valueError(v);
    if (ve) throw badRequest(`unable to parse requirement: ${ve}`);
  }
  return r;
}

function matches(r: Requirement, labels: Record<string, string> | undefined): boolean {
  const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels![r.key]! : undefined;
  switch (r.op) {
    case "=":
    case "in":
      return has && r.values.includes(v!);
    case "!=":
    case "notin":
      return !has || !r.values.includes(v!);
    case "exists":
      return has;
    case "!":
      return !has;
    case "gt":
    case "lt": {
      if (!has || !/^-?\d+$/.test(v!)) return false;
      const a = BigInt(v!);
      const b = BigInt(r.values[0]!);
      return r.op === "gt" ? a > b : a < b;
    }
  }
}

function matcherOf(reqs: Requirement[]): LabelMatcher {
  return (labels) => reqs.every((r) => matches(r, labels));
}

// ---- string syntax -------------------------------------------------------------------------------------

type Tok = { t: "id"; v: string; pos: number } | { t: "op"; v: "=" | "==" | "!=" | "!" | "(" | ")" | "," | ">" | "<"; pos: number } | { t: "end"; pos: number };

const SPECIAL = new Set(["=", "!", "(", ")", ",", ">", "<"]);

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "=" && text[i + 1] === "=") {
      out.push({ t: "op", v: "==", pos: i });
      i += 2;
    } else if (c === "!" && text[i + 1] === "=") {
      out.push({ t: "op", v: "!=", pos: i });
      i += 2;
    } else if (SPECIAL.has(c)) {
      out.push({ t: "op", v: c as "=", pos: i });
      i++;
    } else {
      const start = i;
      while (i < text.length && !SPECIAL.has(text[i]!) && !/\s/.test(text[i]!)) i++;
      out.push({ t: "id", v: text.slice(start, i), pos: start });
    }
  }
  out.push({ t: "end", pos: text.length });
  return out;
}

/** Parses the Kubernetes label-selector string syntax; "" matches everything. */
export function parseLabelSelector(text: string): LabelMatcher {
  return matcherOf(parseRequirements(text));
}

function parseRequirements(text: string): Requirement[] {
  const toks = tokenize(text);
  let p = 0;
  const peek = () => toks[p]!;
  const next = () => toks[p++]!;
  const fail = (what: string, tok: Tok): never => {
    const found = tok.t === "end" ? "end of string" : `'${tok.v}'`;
    throw badRequest(`unable to parse requirement: found ${found} at position ${tok.pos} in "${text}", expected: ${what}`);
  };
  const reqs: Requirement[] = [];
  if (peek().t === "end") return reqs;
  for (;;) {
    let tok = next();
    let negated = false;
    if (tok.t === "op" && tok.v === "!") {
      negated = true;
      tok = next();
    }
    if (tok.t !== "id") fail("identifier", tok);
    const key = (tok as { v: string }).v;
    if (key === "in" || key === "notin") fail("identifier", tok);
    const after = peek();
    if (negated) {
      if (!(after.t === "end" || (after.t === "op" && after.v === ","))) fail("',' or end of string", after);
      reqs.push(checkRequirement({ key, op: "!", values: [] }));
    } else if (after.t === "end" || (after.t === "op" && after.v === ",")) {
      reqs.push(checkRequirement({ key, op: "exists", values: [] }));
    } else if (after.t === "op" && (after.v === "=" || after.v === "==" || after.v === "!=" || after.v === ">" || after.v === "<")) {
      next();
      const op = after.v === "!=" ? "!=" : after.v === ">" ? "gt" : after.v === "<" ? "lt" : "=";
      const val = peek();
      let value = "";
      if (val.t === "id") {
        value = val.v;
        next();
      } else if (!(val.t === "end" || (val.t === "op" && val.v === ","))) {
        fail("value", val);
      }
      reqs.push(checkRequirement({ key, op, values: [value] }));
    } else if (after.t === "id" && (after.v === "in" || after.v === "notin")) {
      next();
      const open = next();
      if (!(open.t === "op" && open.v === "(")) fail("'('", open);
      const values: string[] = [];
      for (;;) {
        const v = peek();
        if (v.t === "op" && v.v === ")") {
          next();
          break;
        }
        if (v.t === "id") {
          values.push(v.v);
          next();
        } else if (v.t === "op" && v.v === ",") {
          values.push(""); // "a in (,x)" has an empty value, as in apimachinery
        } else {
          fail("value or ')'", v);
        }
        const sep = next();
        if (sep.t === "op" && sep.v === ")") break;
        if (!(sep.t === "op" && sep.v === ",")) fail("',' or ')'", sep);
      }
      reqs.push(checkRequirement({ key, op: after.v, values: [...new Set(values)] }));
    } else {
      fail("'=', '!=', '==', 'in', 'notin'", after);
    }
    const sep = next();
    if (sep.t === "end") break;
    if (!(sep.t === "op" && sep.v === ",")) fail("','", sep);
    if (peek().t === "end") fail("identifier", peek());
  }
  return reqs;
}

// ---- structured selector -------------------------------------------------------------------------------

function requirementsOf(sel: LabelSelector): Requirement[] {
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push(checkRequirement({ key: k, op: "=", values: [v] }));
  for (const e of sel.matchExpressions ?? []) {
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0) throw badRequest(`values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty (key "${e.key}")`);
        reqs.push(checkRequirement({ key: e.key, op: e.operator === "In" ? "in" : "notin", values: [...new Set(values)] }));
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0)
          throw badRequest(`values: Invalid value: ${JSON.stringify(values)}: values set must be empty for exists and does not exist (key "${e.key}")`);
        reqs.push(checkRequirement({ key: e.key, op: e.operator === "Exists" ? "exists" : "!", values: [] }));
        break;
      default:
        throw badRequest(`"${String((e as { operator: unknown }).operator)}" is not a valid label selector operator`);
    }
  }
  return reqs;
}

/** metav1.LabelSelectorAsSelector: null/undefined matches nothing, {} matches everything. */
export function labelSelectorMatcher(sel: LabelSelector | null | undefined): LabelMatcher {
  if (sel === null || sel === undefined) return () => false;
  return matcherOf(requirementsOf(sel));
}

function formatRequirement(r: Requirement): string {
  switch (r.op) {
    case "=":
      return `${r.key}=${r.values[0]}`;
    case "!=":
      return `${r.key}!=${r.values[0]}`;
    case "in":
    case "notin":
      return `${r.key} ${r.op} (${[...r.values].sort().join(",")})`;
    case "exists":
      return r.key;
    case "!":
      return `!${r.key}`;
    case "gt":
      return `${r.key}>${r.values[0]}`;
    case "lt":
      return `${r.key}<${r.values[0]}`;
  }
}

/** metav1.FormatLabelSelector: requirements sorted by key, "<none>" when empty, "<error>" when invalid. */
export function formatLabelSelector(sel: LabelSelector): string {
  let reqs: Requirement[];
  try {
    reqs = requirementsOf(sel);
  } catch (e) {
    if (!(e instanceof HwError)) throw e;
    return "<error>";
  }
  const s = reqs
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (a.r.key < b.r.key ? -1 : a.r.key > b.r.key ? 1 : a.i - b.i))
    .map(({ r }) => formatRequirement(r))
    .join(",");
  return s === "" ? "<none>" : s;
}
