// Field selectors (`?fieldSelector=`, `kubectl --field-selector`): apimachinery fields.ParseSelector syntax
// (`=`, `==`, `!=`, comma = AND, `\` escapes `,` `=` `!` `\` in values) over metadata.name,
// metadata.namespace and the resource type's selectableFields. Pure.

import { HwError } from "../api/errors.ts";
import type { ResourceType } from "./resource-type.ts";

const badRequest = (message: string) => new HwError("INVALID_ARGUMENT", "BadRequest", message, { httpStatus: 400, statusReason: "BadRequest" });

interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** Splits on unescaped commas (apimachinery splitTerms). */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\" && i + 1 < text.length) {
      cur += c + text[i + 1]!;
      i++;
    } else if (c === ",") {
      terms.push(cur);
      cur = "";
    } else {
      cur += c;
    }
  }
  terms.push(cur);
  return terms;
}

function unescapeValue(raw: string, term: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === "\\") {
      const n = raw[i + 1];
      if (n === undefined || !"\\,=!".includes(n)) throw badRequest(`invalid field selector: invalid escape sequence in "${term}"`);
      out += n;
      i++;
    } else if (c === "=" || c === "," || (c === "!" && raw[i + 1] === "=")) {
      throw badRequest(`invalid field selector: unescaped "${c}" in value of "${term}"`);
    } else {
      out += c;
    }
  }
  return out;
}

function parseTerm(term: string): FieldRequirement {
  // The first unescaped operator splits field and value; "!=" before "==" before "=".
  for (let i = 0; i < term.length; i++) {
    const c = term[i]!;
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "!" && term[i + 1] === "=") return mk(term, i, 2, "!=");
    if (c === "=" && term[i + 1] === "=") return mk(term, i, 2, "=");
    if (c === "=") return mk(term, i, 1, "=");
  }
  throw badRequest(`invalid field selector: "${term}": expected one of '=', '==', '!='`);
}

function mk(term: string, at: number, len: number, op: "=" | "!="): FieldRequirement {
  const field = term.slice(0, at).trim();
  if (field === "") throw badRequest(`invalid field selector: "${term}": missing field name`);
  return { field, op, value: unescapeValue(term.slice(at + len), term) };
}

/** Reads a dotted path and renders it like the apiserver's field sets do (strings as is, others as JSON). */
function fieldValue(obj: any, path: string): string {
  let cur: any = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = cur[part];
  }
  if (cur === undefined || cur === null) return "";
  if (typeof cur === "string") return cur;
  if (typeof cur === "number" || typeof cur === "boolean") return String(cur);
  return JSON.stringify(cur);
}

/** Compiles a field selector for one resource type; unsupported fields are 400 BadRequest like the apiserver. */
export function parseFieldSelector(text: string, rt: ResourceType): (obj: any) => boolean {
  if (text.trim() === "") return () => true;
  const allowed = new Set(["metadata.name", "metadata.namespace", ...rt.selectableFields.map((f) => f.replace(/^\./, ""))]);
  const reqs = splitTerms(text).map((t) => {
    if (t.trim() === "") throw badRequest(`invalid field selector: empty term in "${text}"`);
    const r = parseTerm(t);
    if (!allowed.has(r.field)) throw badRequest(`field label not supported: ${r.field}`);
    return r;
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === "="));
}
