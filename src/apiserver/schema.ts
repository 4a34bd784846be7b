// CRD structural schemas: validation with Kubernetes-style field paths and messages, structural defaulting,
// pruning of unknown fields, CRD validation on create, and ResourceTypes from a CRD. Pure.
//
// The validator is hand-written rather than ajv: Kubernetes reports every error as a StatusCause with a
// field path ("spec.disks[0].devPath") and kube-openapi's wording, which ajv's error objects would have to
// be re-translated into anyway, and structural schemas are a small subset of JSON schema.
// APPROXIMATIONS: x-kubernetes-validations (CEL) rules are not evaluated; `format` is checked only for
// int32/int64/byte/date-time/date; x-kubernetes-list-type set/map duplicates are checked by deep equality.

import type { FieldCause } from "../api/errors.ts";
import type { JSONSchemaProps, PrinterColumn, ResourceType } from "./resource-type.ts";

export interface CompiledSchema {
  validate(obj: any): FieldCause[];
  applyDefaults(obj: any): void;
  prune(obj: any): string[];
}

type S = JSONSchemaProps;

const isObj = (v: unknown): v is Record<string, any> => typeof v === "object" && v !== null && !Array.isArray(v);

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** Go-ish rendering of a value inside "Invalid value: X" messages. */
function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return "null";
  if (typeof v === "object") return JSON.stringify(Array.isArray(v) ? "array" : "object");
  return String(v);
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

const required = (field: string): FieldCause => ({ field, reason: "FieldValueRequired", message: "Required value" });
const invalidCause = (field: string, value: unknown, detail: string): FieldCause => ({
  field,
  reason: "FieldValueInvalid",
  message: `Invalid value: ${show(value)}: ${detail}`,
});

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (isObj(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canon(v[k])]),
    );
  return v;
}

const regexCache = new Map<string, RegExp | null>();
function regexOf(p: string): RegExp | null {
  if (!regexCache.has(p)) {
    let re: RegExp | null = null;
    try {
      re = new RegExp(p, "u");
    } catch {
      re = null;
    }
    regexCache.set(p, re);
  }
  return regexCache.get(p)!;
}

// ---- validation ----------------------------------------------------------------------------------------

function checkType(s: S, v: unknown, path: string, out: FieldCause[]): boolean {
  if (v === null) {
    if (s.nullable === true || (!s.type && !s["x-kubernetes-int-or-string"])) return true;
    out.push({
      field: path,
      reason: "FieldValueTypeInvalid",
      message: `Invalid value: "null": ${path} in body must be of type ${s.type ?? "integer,string"}: "null"`,
    });
    return false;
  }
  if (s["x-kubernetes-int-or-string"]) {
    if ((typeof v === "number" && Number.isInteger(v)) || typeof v === "string") return true;
    out.push({
      field: path,
      reason: "FieldValueTypeInvalid",
      message: `Invalid value: "${typeName(v)}": ${path} in body must be of type integer,string: "${typeName(v)}"`,
    });
    return false;
  }
  const t = s.type as string | undefined;
  if (!t) return true;
  const ok =
    t === "object"
      ? isObj(v)
      : t === "array"
        ? Array.isArray(v)
        : t === "integer"
          ? typeof v === "number" && Number.isInteger(v)
          : t === "number"
            ? typeof v === "number"
            : typeof v === t;
  if (!ok)
    out.push({
      field: path,
      reason: "FieldValueTypeInvalid",
      message: `Invalid value: "${typeName(v)}": ${path} in body must be of type ${t}: "${typeName(v)}"`,
    });
  return ok;
}

function validateNode(s: S, v: unknown, path: string, out: FieldCause[], root: boolean): void {
  if (!checkType(s, v, path, out) || v === null) return;
  if (Array.isArray(s.enum) && !s.enum.some((e: unknown) => deepEqual(e, v))) {
    out.push({
      field: path,
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${show(v)}: supported values: ${s.enum.map((e: unknown) => (typeof e === "string" ? JSON.stringify(e) : String(e))).join(", ")}`,
    });
  }
  if (typeof v === "number") {
    if (typeof s.maximum === "number") {
      if (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum)
        out.push(invalidCause(path, v, `${path} in body should be less than ${s.exclusiveMaximum === true ? "" : "or equal to "}${s.maximum}`));
    }
    if (typeof s.minimum === "number") {
      if (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum)
        out.push(invalidCause(path, v, `${path} in body should be greater than ${s.exclusiveMinimum === true ? "" : "or equal to "}${s.minimum}`));
    }
    if (typeof s.multipleOf === "number" && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf))
      out.push(invalidCause(path, v, `${path} in body should be a multiple of ${s.multipleOf}`));
    if (s.format === "int32" && Number.isInteger(v) && (v > 2147483647 || v < -2147483648))
      out.push(invalidCause(path, v, `${path} in body should be a valid int32`));
  }
  if (typeof v === "string") {
    const len = [...v].length;
    if (typeof s.maxLength === "number" && len > s.maxLength)
      out.push({ field: path, reason: "FieldValueTooLong", message: `Too long: may not be more than ${s.maxLength} bytes` });
    if (typeof s.minLength === "number" && len < s.minLength) out.push(invalidCause(path, v, `${path} in body should be at least ${s.minLength} chars long`));
    if (typeof s.pattern === "string") {
      const re = regexOf(s.pattern);
      if (re && !re.test(v)) out.push(invalidCause(path, v, `${path} in body should match '${s.pattern}'`));
    }
    if (s.format === "date-time" && !/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(v))
      out.push(invalidCause(path, v, `${path} in body must be of type date-time: ${JSON.stringify(v)}`));
    if (s.format === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(v)) out.push(invalidCause(path, v, `${path} in body must be of type date: ${JSON.stringify(v)}`));
  }
  if (Array.isArray(v)) {
    if (typeof s.maxItems === "number" && v.length > s.maxItems)
      out.push({ field: path, reason: "FieldValueTooMany", message: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
    if (typeof s.minItems === "number" && v.length < s.minItems) out.push(invalidCause(path, v, `${path} in body should have at least ${s.minItems} items`));
    const listType = s["x-kubernetes-list-type"];
    if (s.uniqueItems === true || listType === "set") {
      v.forEach((x, i) => {
        if (v.findIndex((y) => deepEqual(x, y)) < i)
          out.push({ field: `${path}[${i}]`, reason: "FieldValueDuplicate", message: `Duplicate value: ${show(x)}` });
      });
    } else if (listType === "map" && Array.isArray(s["x-kubernetes-list-map-keys"])) {
      const keys = s["x-kubernetes-list-map-keys"] as string[];
      const ids = v.map((x) => JSON.stringify(keys.map((k) => (isObj(x) ? x[k] : undefined))));
      ids.forEach((id, i) => {
        if (ids.indexOf(id) < i) out.push({ field: `${path}[${i}]`, reason: "FieldValueDuplicate", message: `Duplicate value: ${id}` });
      });
    }
    if (isObj(s.items)) v.forEach((x, i) => validateNode(s.items, x, `${path}[${i}]`, out, false));
  }
  if (isObj(v)) {
    const n = Object.keys(v).length;
    if (typeof s.maxProperties === "number" && n > s.maxProperties)
      out.push({ field: path, reason: "FieldValueTooMany", message: `Too many: ${n}: must have at most ${s.maxProperties} items` });
    if (typeof s.minProperties === "number" && n < s.minProperties)
      out.push(invalidCause(path, v, `${path} in body should have at least ${s.minProperties} properties`));
    for (const r of Array.isArray(s.required) ? (s.required as string[]) : []) {
      if (!(r in v)) out.push(required(join(path, r)));
    }
    const props: Record<string, S> = isObj(s.properties) ? s.properties : {};
    for (const [k, x] of Object.entries(v)) {
      if (root && (k === "metadata" || k === "apiVersion" || k === "kind")) {
        if (k === "metadata" && !isObj(x))
          out.push({
            field: k,
            reason: "FieldValueTypeInvalid",
            message: `Invalid value: "${typeName(x)}": metadata in body must be of type object: "${typeName(x)}"`,
          });
        if (k === "metadata" || !props[k]) continue;
      }
      const child = props[k];
      if (child) validateNode(child, x, join(path, k), out, false);
      else if (isObj(s.additionalProperties)) validateNode(s.additionalProperties, x, `${path}[${k}]`, out, false);
    }
  }
  for (const key of ["allOf", "anyOf", "oneOf"] as const) {
    const list = s[key];
    if (!Array.isArray(list)) continue;
    const results = list.map((sub: S) => {
      const errs: FieldCause[] = [];
      validateNode(sub, v, path, errs, false);
      return errs;
    });
    const okCount = results.filter((e) => e.length === 0).length;
    if (key === "allOf") out.push(...results.flat());
    else if (key === "anyOf" && okCount === 0) out.push(invalidCause(path, v, `${path} in body must validate at least one schema (anyOf)`));
    else if (key === "oneOf" && okCount !== 1) out.push(invalidCause(path, v, `${path} in body must validate one and only one schema (oneOf)`));
  }
  if (isObj(s.not)) {
    const errs: FieldCause[] = [];
    validateNode(s.not, v, path, errs, false);
    if (errs.length === 0) out.push(invalidCause(path, v, `${path} in body must not validate the schema (not)`));
  }
}

// ---- defaulting ----------------------------------------------------------------------------------------

function defaultNode(s: S, v: unknown): void {
  if (Array.isArray(v)) {
    if (isObj(s.items)) for (const x of v) defaultNode(s.items, x);
    return;
  }
  if (!isObj(v)) return;
  const props: Record<string, S> = isObj(s.properties) ? s.properties : {};
  for (const [k, p] of Object.entries(props)) {
    const absent = !(k in v);
    const nonNullableNull = v[k] === null && p.nullable !== true;
    if (absent || nonNullableNull) {
      if (p.default !== undefined) v[k] = structuredClone(p.default);
      else if (nonNullableNull) delete v[k]; // PruneNonNullableNullsWithoutDefaults
    }
  }
  for (const [k, x] of Object.entries(v)) {
    const p = props[k];
    if (p) defaultNode(p, x);
    else if (isObj(s.additionalProperties)) defaultNode(s.additionalProperties, x);
  }
}

// ---- pruning -------------------------------------------------------------------------------------------

function pruneNode(s: S, v: unknown, path: string, removed: string[], root: boolean): void {
  if (s["x-kubernetes-preserve-unknown-fields"] === true && !isObj(s.properties) && !isObj(s.items) && !isObj(s.additionalProperties)) return;
  if (Array.isArray(v)) {
    if (isObj(s.items)) v.forEach((x, i) => pruneNode(s.items, x, `${path}[${i}]`, removed, false));
    return;
  }
  if (!isObj(v)) return;
  const props: Record<string, S> = isObj(s.properties) ? s.properties : {};
  const embedded = s["x-kubernetes-embedded-resource"] === true;
  for (const k of Object.keys(v)) {
    if ((root || embedded) && (k === "apiVersion" || k === "kind")) continue;
    if ((root || embedded) && k === "metadata") continue; // ObjectMeta is handled by the server itself
    const child = props[k];
    if (child) pruneNode(child, v[k], join(path, k), removed, false);
    else if (isObj(s.additionalProperties)) pruneNode(s.additionalProperties, v[k], `${path}[${k}]`, removed, false);
    else if (s.additionalProperties === true || s["x-kubernetes-preserve-unknown-fields"] === true) continue;
    else {
      removed.push(join(path, k));
      delete v[k];
    }
  }
}

/** Compiles a CRD version's openAPIV3Schema. */
export function compileSchema(openAPIV3Schema: JSONSchemaProps): CompiledSchema {
  const schema = openAPIV3Schema;
  return {
    validate: (obj) => {
      const out: FieldCause[] = [];
      validateNode(schema, obj, "", out, true);
      return out;
    },
    applyDefaults: (obj) => defaultNode(schema, obj),
    prune: (obj) => {
      const removed: string[] = [];
      pruneNode(schema, obj, "", removed, true);
      return removed;
    },
  };
}

// ---- CustomResourceDefinition --------------------------------------------------------------------------

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const COLUMN_TYPES = ["integer", "number", "string", "boolean", "date"];

/** Structural-schema rules (apiextensions validateStructural, the parts that matter for our CRDs). */
function structuralErrors(s: unknown, path: string, out: FieldCause[], root: boolean): void {
  if (!isObj(s)) {
    out.push(invalidCause(path, s, "must be an object"));
    return;
  }
  const intOrString = s["x-kubernetes-int-or-string"] === true;
  const preserve = s["x-kubernetes-preserve-unknown-fields"] === true;
  if (root && s.type !== "object")
    out.push(
      s.type
        ? { field: `${path}.type`, reason: "FieldValueInvalid", message: `Invalid value: ${show(s.type)}: must be object at the root` }
        : { field: `${path}.type`, reason: "FieldValueRequired", message: "Required value: must not be empty at the root" },
    );
  else if (!root && !s.type && !intOrString && !preserve)
    out.push({ field: `${path}.type`, reason: "FieldValueRequired", message: "Required value: must not be empty for specified object fields" });
  if (s.type && !["object", "array", "string", "integer", "number", "boolean"].includes(s.type))
    out.push({ field: `${path}.type`, reason: "FieldValueNotSupported", message: `Unsupported value: ${show(s.type)}` });
  if (intOrString && s.type && !Array.isArray(s.anyOf) && !Array.isArray(s.allOf))
    out.push({ field: `${path}.type`, reason: "FieldValueForbidden", message: "Forbidden: must be empty if x-kubernetes-int-or-string is true" });
  if (s.type === "array" && !isObj(s.items)) out.push({ field: `${path}.items`, reason: "FieldValueRequired", message: "Required value: must be specified" });
  if (isObj(s.properties) && s.additionalProperties !== undefined && s.additionalProperties !== false)
    out.push({
      field: `${path}.additionalProperties`,
      reason: "FieldValueForbidden",
      message: "Forbidden: additionalProperties and properties are mutual exclusive",
    });
  if (isObj(s.properties))
    for (const [k, p] of Object.entries(s.properties)) {
      if (root && k === "metadata" && isObj(p) && p.type && p.type !== "object")
        out.push(invalidCause(`${path}.properties[metadata].type`, p.type, "must be object"));
      structuralErrors(p, `${path}.properties[${k}]`, out, false);
    }
  if (isObj(s.items)) structuralErrors(s.items, `${path}.items`, out, false);
  if (isObj(s.additionalProperties)) structuralErrors(s.additionalProperties, `${path}.additionalProperties`, out, false);
}

/** What the apiextensions-apiserver validates on CRD create (the subset our server relies on). */
export function validateCrd(crd: any): FieldCause[] {
  const out: FieldCause[] = [];
  const spec = isObj(crd?.spec) ? crd.spec : undefined;
  if (!spec) return [required("spec")];
  const group = spec.group;
  if (typeof group !== "string" || group === "") out.push(required("spec.group"));
  else if (!DNS1123_SUBDOMAIN.test(group) || !group.includes(".")) out.push(invalidCause("spec.group", group, "should be a domain with at least one dot"));
  const names = isObj(spec.names) ? spec.names : {};
  const plural = names.plural;
  if (typeof plural !== "string" || plural === "") out.push(required("spec.names.plural"));
  else if (!DNS1123_LABEL.test(plural))
    out.push(invalidCause("spec.names.plural", plural, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"));
  if (names.singular !== undefined && (typeof names.singular !== "string" || !DNS1123_LABEL.test(names.singular)))
    out.push(invalidCause("spec.names.singular", names.singular, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"));
  if (typeof names.kind !== "string" || names.kind === "") out.push(required("spec.names.kind"));
  if (names.listKind !== undefined && (typeof names.listKind !== "string" || names.listKind === "")) out.push(required("spec.names.listKind"));
  if (typeof names.kind === "string" && names.kind !== "" && names.listKind === names.kind)
    out.push(invalidCause("spec.names.listKind", names.listKind, "kind and listKind may not be the same"));
  for (const [i, sn] of (Array.isArray(names.shortNames) ? names.shortNames : []).entries()) {
    if (typeof sn !== "string" || !DNS1123_LABEL.test(sn))
      out.push(invalidCause(`spec.names.shortNames[${i}]`, sn, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"));
  }
  if (typeof plural === "string" && typeof group === "string" && crd?.metadata?.name !== `${plural}.${group}`)
    out.push(invalidCause("metadata.name", crd?.metadata?.name ?? "", 'must be spec.names.plural+"."+spec.group'));
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster")
    out.push(
      spec.scope === undefined
        ? required("spec.scope")
        : {
            field: "spec.scope",
            reason: "FieldValueNotSupported",
            message: `Unsupported value: ${show(spec.scope)}: supported values: "Cluster", "Namespaced"`,
          },
    );
  const versions: any[] = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) {
    out.push({ field: "spec.versions", reason: "FieldValueInvalid", message: "Invalid value: []: must have exactly one version marked as storage version" });
    return out;
  }
  const storage = versions.filter((v) => v?.storage === true).length;
  if (storage !== 1)
    out.push({
      field: "spec.versions",
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(versions.map((v) => v?.name))}: must have exactly one version marked as storage version`,
    });
  if (!versions.some((v) => v?.served === true))
    out.push({ field: "spec.versions", reason: "FieldValueInvalid", message: "Invalid value: must have at least one version marked as served" });
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    const p = `spec.versions[${i}]`;
    if (typeof v?.name !== "string" || v.name === "") out.push(required(`${p}.name`));
    else if (!DNS1123_LABEL.test(v.name))
      out.push(invalidCause(`${p}.name`, v.name, "a DNS-1035 label must consist of lower case alphanumeric characters or '-'"));
    else if (seen.has(v.name)) out.push({ field: `${p}.name`, reason: "FieldValueDuplicate", message: `Duplicate value: ${show(v.name)}` });
    else seen.add(v.name);
    if (typeof v?.served !== "boolean") out.push(required(`${p}.served`));
    if (typeof v?.storage !== "boolean") out.push(required(`${p}.storage`));
    const schema = v?.schema?.openAPIV3Schema;
    if (v?.served === true || v?.storage === true) {
      if (!isObj(schema)) out.push({ field: `${p}.schema.openAPIV3Schema`, reason: "FieldValueRequired", message: "Required value: schemas are required" });
      else structuralErrors(schema, `${p}.schema.openAPIV3Schema`, out, true);
    }
    (Array.isArray(v?.additionalPrinterColumns) ? v.additionalPrinterColumns : []).forEach((c: any, j: number) => {
      const cp = `${p}.additionalPrinterColumns[${j}]`;
      if (typeof c?.name !== "string" || c.name === "") out.push(required(`${cp}.name`));
      if (typeof c?.type !== "string" || c.type === "") out.push(required(`${cp}.type`));
      else if (!COLUMN_TYPES.includes(c.type))
        out.push({
          field: `${cp}.type`,
          reason: "FieldValueNotSupported",
          message: `Unsupported value: ${show(c.type)}: supported values: ${COLUMN_TYPES.map((t) => JSON.stringify(t)).join(", ")}`,
        });
      if (typeof c?.jsonPath !== "string" || c.jsonPath === "") out.push(required(`${cp}.jsonPath`));
      if (c?.priority !== undefined && (!Number.isInteger(c.priority) || c.priority < 0))
        out.push(invalidCause(`${cp}.priority`, c.priority, "must be a non-negative integer"));
    });
    (Array.isArray(v?.selectableFields) ? v.selectableFields : []).forEach((f: any, j: number) => {
      if (typeof f?.jsonPath !== "string" || f.jsonPath === "") out.push(required(`${p}.selectableFields[${j}].jsonPath`));
    });
  });
  return out;
}

/** One ResourceType per served version of a CRD (names defaulted the way apiextensions defaults them). */
export function resourceTypesFromCrd(crd: any): ResourceType[] {
  const spec = crd.spec;
  const names = spec.names ?? {};
  const kind: string = names.kind;
  return (spec.versions as any[])
    .filter((v) => v.served === true)
    .map((v) => {
      const printerColumns: PrinterColumn[] = (v.additionalPrinterColumns ?? []).map((c: any) => {
        const col: PrinterColumn = { name: c.name, type: c.type, jsonPath: c.jsonPath };
        if (c.format !== undefined) col.format = c.format;
        if (c.description !== undefined) col.description = c.description;
        if (c.priority !== undefined) col.priority = c.priority;
        return col;
      });
      const rt: ResourceType = {
        group: spec.group,
        version: v.name,
        kind,
        listKind: names.listKind ?? `${kind}List`,
        plural: names.plural,
        singular: names.singular ?? kind.toLowerCase(),
        shortNames: [...(names.shortNames ?? [])],
        categories: [...(names.categories ?? [])],
        namespaced: spec.scope === "Namespaced",
        hasStatus: v.subresources?.status !== undefined && v.subresources?.status !== null,
        printerColumns,
        selectableFields: (v.selectableFields ?? []).map((f: any) => String(f.jsonPath).replace(/^\./, "")),
        builtin: false,
      };
      if (v.schema?.openAPIV3Schema) rt.schema = v.schema.openAPIV3Schema;
      return rt;
    });
}
