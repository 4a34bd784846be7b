// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic merge patch.
// Pure: every function returns a new object and never mutates its inputs. Server-side apply
// ("apply") is only recognised here; the server core decides how to treat it.
//
// Strategic merge patch is an APPROXIMATION: real Kubernetes reads patchStrategy/patchMergeKey from the Go
// struct tags of each built-in type (and rejects strategic patches for custom resources with 415). We keep a
// small table of list merge keys by field name (MERGE_KEYS) and of primitive lists that merge as sets
// (SET_LISTS); every other list is replaced. Directives ($patch, $retainKeys, $deleteFromPrimitiveList/,
// $setElementOrder/) are honoured and never end up in the result.

import { HwError, invalid } from "../api/errors.ts";

export type PatchType = "merge" | "json" | "strategic" | "apply";

const CONTENT_TYPES: Record<string, PatchType> = {
  "application/merge-patch+json": "merge",
  "application/json-patch+json": "json",
  "application/strategic-merge-patch+json": "strategic",
  "application/apply-patch+yaml": "apply",
  "application/apply-patch+cbor": "apply",
};

const badRequest = (message: string) => new HwError("INVALID_ARGUMENT", "BadRequest", message, { httpStatus: 400, statusReason: "BadRequest" });

/** Maps a PATCH request's Content-Type (parameters like "; charset=utf-8" ignored) to a patch type. */
export function patchTypeFromContentType(contentType: string | undefined): PatchType {
  const base = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const t = CONTENT_TYPES[base];
  if (t === undefined || base === "application/apply-patch+cbor") {
    throw new HwError(
      "INVALID_ARGUMENT",
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      { httpStatus: 415, statusReason: "UnsupportedMediaType" },
    );
  }
  return t;
}

/** Applies a parsed patch body to a target object; returns the new object. */
export function applyPatch(type: Exclude<PatchType, "apply">, target: any, patch: any): any {
  switch (type) {
    case "merge":
      if (!isObject(patch)) throw badRequest(`invalid merge patch: the patch must be a JSON object, got ${kindOf(patch)}`);
      return mergePatch(target, patch);
    case "json":
      return jsonPatch(target, patch);
    case "strategic":
      if (!isObject(patch)) throw badRequest(`invalid strategic merge patch: the patch must be a JSON object, got ${kindOf(patch)}`);
      return stripDirectives(strategicMerge(isObject(target) ? target : {}, patch));
    default:
      throw badRequest(`unsupported patch type ${String(type)}`);
  }
}

// ---- helpers -------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

// ---- RFC 7386 ------------------------------------------------------------------------------------------

function mergePatch(target: any, patch: any): any {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, any> = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- RFC 6902 ------------------------------------------------------------------------------------------

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(ptr: unknown, opDesc: string): string[] {
  if (typeof ptr !== "string") throw badRequest(`invalid JSON patch: ${opDesc}: path must be a string`);
  if (ptr === "") return [];
  if (!ptr.startsWith("/")) throw badRequest(`invalid JSON patch: ${opDesc}: JSON pointer "${ptr}" must start with "/"`);
  return ptr
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function arrayIndex(tok: string, len: number, allowEnd: boolean, fail: (why: string) => never): number {
  if (allowEnd && tok === "-") return len;
  if (!/^(0|[1-9][0-9]*)$/.test(tok)) fail(`invalid array index "${tok}"`);
  const i = Number(tok);
  if (i > len || (!allowEnd && i === len)) fail(`array index ${i} out of bounds (length ${len})`);
  return i;
}

function jsonPatch(target: any, ops: any): any {
  if (!Array.isArray(ops)) throw badRequest(`invalid JSON patch: the patch must be a JSON array of operations, got ${kindOf(ops)}`);
  let doc = clone(target);
  ops.forEach((raw, n) => {
    if (!isObject(raw) || typeof raw.op !== "string") throw badRequest(`invalid JSON patch: operation ${n} must be an object with an "op"`);
    const op = raw as JsonPatchOp;
    const desc = `operation ${n} (${op.op} ${String(op.path)})`;
    const fail = (why: string): never => {
      throw invalid(`jsonpatch ${op.op} operation does not apply: ${why} (${desc})`, { httpStatus: 422 });
    };
    const path = parsePointer(op.path, desc);
    const needValue = () => {
      if (!("value" in op)) throw badRequest(`invalid JSON patch: ${desc}: missing "value"`);
      return clone(op.value);
    };
    switch (op.op) {
      case "add":
        doc = addAt(doc, path, needValue(), fail);
        break;
      case "remove":
        doc = removeAt(doc, path, fail).doc;
        break;
      case "replace": {
        const value = needValue();
        const r = removeAt(doc, path, fail);
        doc = addAt(r.doc, path, value, fail);
        break;
      }
      case "move": {
        const from = parsePointer(op.from, desc);
        if (from.length < path.length && from.every((t, i) => t === path[i])) fail(`cannot move "${op.from}" into its own child "${op.path}"`);
        const r = removeAt(doc, from, fail);
        doc = addAt(r.doc, path, r.value, fail);
        break;
      }
      case "copy": {
        const from = parsePointer(op.from, desc);
        doc = addAt(doc, path, clone(getAt(doc, from, fail)), fail);
        break;
      }
      case "test": {
        const value = needValue();
        if (!deepEqual(getAt(doc, path, fail), value)) fail(`testing value ${op.path} failed: test failed`);
        break;
      }
      default:
        throw badRequest(`invalid JSON patch: ${desc}: unknown op "${op.op}"`);
    }
  });
  return doc;
}

function getAt(doc: any, path: string[], fail: (why: string) => never): any {
  let cur = doc;
  for (const tok of path) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(tok, cur.length, false, fail)];
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, tok)) cur = cur[tok];
    else fail(`doc is missing path: "/${path.join("/")}"`);
  }
  return cur;
}

function addAt(doc: any, path: string[], value: any, fail: (why: string) => never): any {
  if (path.length === 0) return value;
  const parent = getAt(doc, path.slice(0, -1), fail);
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, fail), 0, value);
  else if (isObject(parent)) parent[last] = value;
  else fail(`doc is missing path: "/${path.join("/")}": parent is not a container`);
  return doc;
}

function removeAt(doc: any, path: string[], fail: (why: string) => never): { doc: any; value: any } {
  if (path.length === 0) return { doc: undefined, value: doc };
  const parent = getAt(doc, path.slice(0, -1), fail);
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, false, fail);
    return { doc, value: parent.splice(i, 1)[0] };
  }
  if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) {
    const value = parent[last];
    delete parent[last];
    return { doc, value };
  }
  return fail(`doc is missing path: "/${path.join("/")}"`);
}

// ---- strategic merge patch (approximation) -------------------------------------------------------------

/** patchMergeKey by list field name, from the core/v1 and meta/v1 Go struct tags. */
const MERGE_KEYS: Record<string, string | ((items: any[]) => string)> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  volumes: "name",
  env: "name",
  imagePullSecrets: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  hostAliases: "ip",
  conditions: "type",
  ownerReferences: "uid",
  topologySpreadConstraints: "topologyKey",
  resourceClaims: "name",
  // container ports merge by containerPort, Service ports by port
  ports: (items) => (items.some((i) => isObject(i) && "containerPort" in i) ? "containerPort" : "port"),
};

/** Primitive lists with patchStrategy "merge" (set union); other primitive lists are replaced. */
const SET_LISTS = new Set(["finalizers"]);

const DELETE_FROM = "$deleteFromPrimitiveList/";
const SET_ORDER = "$setElementOrder/";

function mergeKeyFor(field: string, original: any[], patch: any[]): string | undefined {
  const k = MERGE_KEYS[field];
  if (k === undefined) return undefined;
  return typeof k === "string" ? k : k([...original, ...patch]);
}

function strategicMerge(original: Record<string, any>, patch: Record<string, any>): Record<string, any> {
  const directive = patch.$patch;
  if (directive !== undefined) {
    if (directive === "replace") {
      const { $patch: _d, ...rest } = patch;
      return stripDirectives(clone(rest));
    }
    if (directive === "delete") return {};
    if (directive !== "merge") throw badRequest(`invalid strategic merge patch: unknown $patch directive "${String(directive)}"`);
  }
  const out: Record<string, any> = clone(original);
  if ("$retainKeys" in patch) {
    const keep = patch.$retainKeys;
    if (!Array.isArray(keep)) throw badRequest(`invalid strategic merge patch: $retainKeys must be a list of field names`);
    for (const k of Object.keys(out)) if (!keep.includes(k)) delete out[k];
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys") continue;
    if (k.startsWith(DELETE_FROM)) {
      if (!Array.isArray(v)) throw badRequest(`invalid strategic merge patch: ${k} must be a list`);
      // Applied after the field's own patch below, so the deletions win.
      continue;
    }
    if (k.startsWith(SET_ORDER)) continue;
    if (v === null) {
      delete out[k];
    } else if (isObject(v)) {
      if (v.$patch === "delete") delete out[k];
      else out[k] = strategicMerge(isObject(out[k]) ? out[k] : {}, v);
    } else if (Array.isArray(v)) {
      out[k] = mergeList(k, Array.isArray(out[k]) ? out[k] : [], v);
    } else {
      out[k] = v;
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith(DELETE_FROM) && Array.isArray(out[k.slice(DELETE_FROM.length)])) {
      const field = k.slice(DELETE_FROM.length);
      out[field] = (out[field] as any[]).filter((x) => !(v as any[]).some((d) => deepEqual(d, x)));
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith(SET_ORDER) && Array.isArray(v)) {
      const field = k.slice(SET_ORDER.length);
      if (Array.isArray(out[field])) out[field] = applyOrder(field, out[field], v);
    }
  }
  return out;
}

function mergeList(field: string, original: any[], patch: any[]): any[] {
  // A {$patch: replace} element replaces the whole list with the patch's other elements.
  if (patch.some((p) => isObject(p) && p.$patch === "replace")) {
    return patch.filter((p) => !(isObject(p) && p.$patch === "replace")).map((p) => stripDirectives(clone(p)));
  }
  const isObjList = patch.some(isObject) || original.some(isObject);
  const key = isObjList ? mergeKeyFor(field, original, patch) : undefined;
  if (isObjList && key !== undefined) {
    const out = clone(original);
    for (const p of patch) {
      if (!isObject(p)) throw badRequest(`invalid strategic merge patch: list ${field} mixes objects and scalars`);
      if (!(key in p)) throw badRequest(`invalid strategic merge patch: element of ${field} has no merge key "${key}"`);
      const idx = out.findIndex((o) => isObject(o) && deepEqual(o[key], p[key]));
      if (p.$patch === "delete") {
        if (idx >= 0) out.splice(idx, 1);
      } else if (idx >= 0) {
        out[idx] = strategicMerge(out[idx], p);
      } else {
        out.push(stripDirectives(clone(p)));
      }
    }
    return out;
  }
  if (!isObjList && SET_LISTS.has(field)) {
    const out = clone(original);
    for (const p of patch) if (!out.some((o) => deepEqual(o, p))) out.push(clone(p));
    return out;
  }
  return patch.map((p) => stripDirectives(clone(p)));
}

/** $setElementOrder: listed elements first in the given order, then the rest in their current order. */
function applyOrder(field: string, list: any[], order: any[]): any[] {
  const key = list.some(isObject) ? mergeKeyFor(field, list, []) : undefined;
  const id = (x: any) => (key !== undefined && isObject(x) ? x[key] : x);
  const ordered: any[] = [];
  const rest = [...list];
  for (const o of order) {
    const want = isObject(o) && key !== undefined ? o[key] : o;
    const i = rest.findIndex((x) => deepEqual(id(x), want));
    if (i >= 0) ordered.push(rest.splice(i, 1)[0]);
  }
  return [...ordered, ...rest];
}

/** Removes any directive keys so they are never stored. */
function stripDirectives(v: any): any {
  if (Array.isArray(v)) return v.filter((x) => !(isObject(x) && x.$patch === "delete" && Object.keys(x).length === 1)).map(stripDirectives);
  if (!isObject(v)) return v;
  const out: Record<string, any> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "$patch" || k === "$retainKeys" || k.startsWith(DELETE_FROM) || k.startsWith(SET_ORDER)) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}
