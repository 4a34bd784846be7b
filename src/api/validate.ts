// Runtime validation and defaulting of hwameistor.io objects, with Kubernetes semantics.
//
// Choice: validation runs ajv (8.x) on the *generated CRD schema* (crd.ts), not typebox's Value module on
// the typebox schema. That way we check exactly what a real kube-apiserver enforces from deploy/crds
// (one source, no drift between the embedded API server and a real cluster), ajv reports every error at once
// with a JSON pointer we turn into a Kubernetes field path (`spec.pools[LocalStorage_PoolHDD]`,
// `spec.diskRefs[0].name`), and compiled validators are cached per kind. Defaulting, null-dropping and
// pruning are small schema walks of our own because they follow apiextensions rules that neither ajv's
// `useDefaults` nor typebox's Value.Default implement (defaults inside `additionalProperties` maps, nulls
// dropped unless `nullable`, unknown fields kept under `x-kubernetes-preserve-unknown-fields`).

import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { HwError, invalid, type FieldCause } from "./errors.ts";
import { crdSchema, type JSONSchemaProps } from "./crd.ts";
import { findKind, type KindDefinition } from "./kinds/index.ts";
import { GROUP } from "./names.ts";

// ---------------------------------------------------------------- schema lookup

interface Compiled {
  def: KindDefinition;
  schema: JSONSchemaProps;
  validate: ValidateFunction;
}

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, validateFormats: true });
for (const keyword of [
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-map-type",
  "x-kubernetes-int-or-string",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-validations",
]) {
  ajv.addKeyword({ keyword });
}
ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
// RFC 3339 as Kubernetes writes metav1.Time (seconds, optional fraction, Z or offset).
ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/);

const compiled = new Map<string, Compiled>();

function lookup(kind: string): Compiled {
  const def = findKind(kind);
  if (!def) {
    throw new HwError("NOT_FOUND", "UnknownKind", `kind ${JSON.stringify(kind)} is not a ${GROUP} kind`, {
      hint: "use one of the kinds in src/api/kinds/index.ts",
    });
  }
  let c = compiled.get(def.kind);
  if (!c) {
    const schema = crdSchema(def);
    c = { def, schema, validate: ajv.compile(schema) };
    compiled.set(def.kind, c);
  }
  return c;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------- defaulting, null-dropping, pruning

/**
 * Apply the schema's defaults in place, as the API server does before validation: a missing property with
 * a `default` gets it (also inside arrays and maps, and below freshly defaulted objects); `null` values of
 * non-nullable fields are dropped first. Parents are not created: a nested default applies only when its
 * parent object is present. Returns the same object.
 */
export function applyDefaults<T>(kind: string, obj: T): T {
  const { schema } = lookup(kind);
  if (isObject(obj)) defaultNode(schema, obj, true);
  return obj;
}

function defaultNode(schema: JSONSchemaProps, value: unknown, root = false): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) defaultNode(schema.items, item);
    return;
  }
  if (!isObject(value)) return;
  const props: Record<string, JSONSchemaProps> | undefined = schema.properties;
  for (const key of Object.keys(value)) {
    const sub = props?.[key] ?? (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (value[key] === null && sub && !sub.nullable) delete value[key];
  }
  if (props) {
    for (const [key, sub] of Object.entries(props)) {
      if (root && key === "metadata") continue;
      if (value[key] === undefined && sub.default !== undefined) value[key] = structuredClone(sub.default);
      if (value[key] !== undefined) defaultNode(sub, value[key]);
    }
  }
  if (isObject(schema.additionalProperties)) {
    for (const key of Object.keys(value)) if (!props?.[key]) defaultNode(schema.additionalProperties, value[key]);
  }
}

/**
 * Remove fields the schema does not know, in place, as the API server does for structural schemas
 * (metadata is left alone; `x-kubernetes-preserve-unknown-fields` keeps unknown fields at that level).
 * Returns the Kubernetes field paths that were removed (kubectl prints them as "unknown field" warnings).
 */
export function pruneUnknownFields(kind: string, obj: unknown): string[] {
  const { schema } = lookup(kind);
  const removed: string[] = [];
  pruneNode(schema, obj, "", removed, true);
  return removed;
}

function pruneNode(schema: JSONSchemaProps, value: unknown, path: string, removed: string[], root = false): void {
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => pruneNode(schema.items, item, `${path}[${i}]`, removed));
    return;
  }
  if (!isObject(value) || schema.type !== "object") return;
  const props: Record<string, JSONSchemaProps> = schema.properties ?? {};
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
  for (const key of Object.keys(value)) {
    if (root && key === "metadata") continue;
    const sub = props[key];
    if (sub) {
      pruneNode(sub, value[key], path ? `${path}.${key}` : key, removed);
    } else if (isObject(schema.additionalProperties)) {
      pruneNode(schema.additionalProperties, value[key], `${path}[${key}]`, removed);
    } else if (schema.additionalProperties !== true && !preserve) {
      removed.push(path ? `${path}.${key}` : key);
      delete value[key];
    }
  }
}

// ---------------------------------------------------------------- validation

/**
 * Validate an object of `kind` (kind name, plural or short name) against its CRD schema. Returns one
 * FieldCause per problem, with Kubernetes field paths and reasons (FieldValueRequired, FieldValueInvalid,
 * FieldValueNotSupported, FieldValueTypeInvalid); empty when valid. Call applyDefaults first, as the API
 * server does. Throws HwError NOT_FOUND for an unknown kind.
 */
export function validateObject(kind: string, obj: unknown): FieldCause[] {
  const { schema, validate } = lookup(kind);
  if (validate(obj)) return [];
  const causes: FieldCause[] = [];
  const seen = new Set<string>();
  for (const err of validate.errors ?? []) {
    const cause = toCause(schema, obj, err);
    const key = `${cause.field}\u0000${cause.reason}\u0000${cause.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      causes.push(cause);
    }
  }
  return causes;
}

/** Throw the Kubernetes-style 422 Invalid HwError when `obj` is not valid (after defaulting). */
export function assertValid(kind: string, obj: unknown): void {
  const causes = validateObject(kind, obj);
  if (!causes.length) return;
  const { def } = lookup(kind);
  const name = isObject(obj) && isObject(obj.metadata) && typeof obj.metadata.name === "string" ? obj.metadata.name : "";
  const list = causes.map((c) => `${c.field}: ${c.message}`).join(", ");
  throw invalid(`${def.kind}.${def.group} ${JSON.stringify(name)} is invalid: [${list}]`, {
    causes,
    statusReason: "Invalid",
    httpStatus: 422,
    details: { name, group: def.group, kind: def.plural },
  });
}

function decodePointer(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Kubernetes field path of a JSON pointer: `.name` for properties, `[i]` for list items, `[key]` for map keys. */
function fieldPath(schema: JSONSchemaProps, segments: string[]): string {
  let node: JSONSchemaProps | undefined = schema;
  let path = "";
  for (const seg of segments) {
    if (node?.type === "array") {
      path += `[${seg}]`;
      node = node.items;
    } else if (node?.properties?.[seg]) {
      path += path ? `.${seg}` : seg;
      node = node.properties[seg];
    } else if (isObject(node?.additionalProperties)) {
      path += `[${seg}]`;
      node = node.additionalProperties as JSONSchemaProps;
    } else {
      path += path ? `.${seg}` : seg;
      node = undefined;
    }
  }
  return path;
}

function valueAt(obj: unknown, segments: string[]): unknown {
  let v: unknown = obj;
  for (const seg of segments) {
    if (Array.isArray(v)) v = v[Number(seg)];
    else if (isObject(v)) v = v[seg];
    else return undefined;
  }
  return v;
}

const show = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? "null"));
const jsonType = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);

function toCause(schema: JSONSchemaProps, obj: unknown, err: ErrorObject): FieldCause {
  const segments = decodePointer(err.instancePath);
  const p = err.params as Record<string, any>;
  if (err.keyword === "required") {
    return { field: fieldPath(schema, [...segments, p.missingProperty]), reason: "FieldValueRequired", message: "Required value" };
  }
  const field = fieldPath(schema, segments) || "<root>";
  const value = valueAt(obj, segments);
  const bad = `Invalid value: ${show(value)}`;
  switch (err.keyword) {
    case "enum":
      return {
        field,
        reason: "FieldValueNotSupported",
        message: `Unsupported value: ${show(value)}: supported values: ${(p.allowedValues as unknown[]).map(show).join(", ")}`,
      };
    case "type":
      return { field, reason: "FieldValueTypeInvalid", message: `${bad}: ${field} in body must be of type ${p.type}: "${jsonType(value)}"` };
    case "minimum":
    case "exclusiveMinimum":
      return { field, reason: "FieldValueInvalid", message: `${bad}: ${field} in body should be greater than or equal to ${p.limit}` };
    case "maximum":
    case "exclusiveMaximum":
      return { field, reason: "FieldValueInvalid", message: `${bad}: ${field} in body should be less than or equal to ${p.limit}` };
    case "minLength":
      return { field, reason: "FieldValueInvalid", message: `${bad}: ${field} in body should be at least ${p.limit} chars long` };
    case "maxLength":
      return { field, reason: "FieldValueTooLong", message: `Too long: may not be longer than ${p.limit}` };
    case "pattern":
      return { field, reason: "FieldValueInvalid", message: `${bad}: ${field} in body should match '${p.pattern}'` };
    case "format":
      return { field, reason: "FieldValueInvalid", message: `${bad}: ${field} in body must be of type ${p.format}: ${show(value)}` };
    default:
      return { field, reason: "FieldValueInvalid", message: `${bad}: ${err.message ?? err.keyword}` };
  }
}
