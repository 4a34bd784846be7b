// ObjectMeta rules of the API server: name validation, generateName, system fields on create, what an
// update may change, and generation bumps. Pure functions over plain JSON objects.

import { randomBytes, randomUUID } from "node:crypto";
import { HwError, invalid, type FieldCause } from "../api/errors.ts";
import type { ResourceType } from "./resource-type.ts";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function badRequest(message: string): HwError {
  return new HwError("INVALID_ARGUMENT", "BadRequest", message, { httpStatus: 400, statusReason: "BadRequest" });
}

/** 422 Invalid naming the object and each bad field, like kube's `<Kind> "<name>" is invalid: ...`. */
export function invalidObject(rt: ResourceType, name: string, causes: FieldCause[]): HwError {
  const detail = causes.map((c) => `${c.field}: ${c.message}`).join(", ");
  return invalid(`${rt.kind} "${name}" is invalid: ${detail}`, {
    causes,
    httpStatus: 422,
    statusReason: "Invalid",
    details: { name, group: rt.group, kind: rt.kind },
  });
}

/** Checks a name: DNS-1123 subdomain (label for namespaces), at most 253 characters. */
export function nameCauses(rt: ResourceType, name: unknown, field = "metadata.name"): FieldCause[] {
  if (typeof name !== "string" || name === "") return [{ field, reason: "FieldValueRequired", message: "Required value: name or generateName is required" }];
  const label = rt.kind === "Namespace" && rt.group === "";
  const max = label ? 63 : 253;
  const re = label ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  if (name.length > max || !re.test(name)) {
    return [
      {
        field,
        reason: "FieldValueInvalid",
        message: `Invalid value: "${name}": a lowercase RFC 1123 ${label ? "label" : "subdomain"} must consist of lower case alphanumeric characters, '-'${label ? "" : " or '.'"}, and must start and end with an alphanumeric character`,
      },
    ];
  }
  return [];
}

const ALNUM = "bcdfghjklmnpqrstvwxz2456789"; // kube's utilrand alphabet (no vowels, no confusable digits)

/** `generateName` + 5 random characters, base truncated so the whole fits 63 characters (kube behaviour). */
export function generateName(base: string): string {
  const b = base.length > 58 ? base.slice(0, 58) : base;
  const bytes = randomBytes(5);
  let s = "";
  for (const x of bytes) s += ALNUM[x % ALNUM.length];
  return b + s;
}

export function nowTimestamp(now = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Fills system metadata on create; drops fields clients may not set. */
export function prepareCreateMeta(obj: any, now = new Date()): void {
  const m = obj.metadata;
  m.uid = randomUUID();
  m.creationTimestamp = nowTimestamp(now);
  m.generation = 1;
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
  delete m.resourceVersion;
  delete m.selfLink;
  delete m.managedFields;
}

/** Copies the metadata an update may not change from the stored object. */
export function preserveSystemMeta(obj: any, old: any): void {
  const m = obj.metadata;
  const o = old.metadata;
  m.uid = o.uid;
  m.creationTimestamp = o.creationTimestamp;
  m.generation = o.generation;
  m.name = o.name;
  if (o.namespace !== undefined) m.namespace = o.namespace;
  else delete m.namespace;
  if (o.deletionTimestamp !== undefined) {
    m.deletionTimestamp = o.deletionTimestamp;
    m.deletionGracePeriodSeconds = o.deletionGracePeriodSeconds;
  } else {
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
  }
  delete m.selfLink;
  delete m.managedFields;
  if (o.generateName !== undefined && m.generateName === undefined) m.generateName = o.generateName;
}

/** Generation goes up by one when anything but metadata (and status, for kinds with a status subresource) changed. */
export function bumpGeneration(obj: any, old: any, rt: ResourceType): void {
  const strip = (x: any) => {
    const { metadata: _m, status: _s, ...rest } = x;
    return rt.hasStatus ? rest : { ...rest, status: _s };
  };
  if (!deepEqual(strip(obj), strip(old))) obj.metadata.generation = (old.metadata.generation ?? 0) + 1;
}

export function deepEqual(a: any, b: any): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual(a[k], b[k])) return false;
  return true;
}

/** Basic shape checks of labels/annotations/finalizers common to all kinds. */
export function metadataCauses(obj: any): FieldCause[] {
  const causes: FieldCause[] = [];
  const m = obj.metadata;
  for (const f of ["labels", "annotations"] as const) {
    const v = m[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== "object" || Array.isArray(v)) {
      causes.push({ field: `metadata.${f}`, reason: "FieldValueInvalid", message: "Invalid value: must be a map of strings" });
      continue;
    }
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== "string") causes.push({ field: `metadata.${f}.${k}`, reason: "FieldValueInvalid", message: "Invalid value: must be a string" });
    }
  }
  if (m.finalizers !== undefined && m.finalizers !== null && (!Array.isArray(m.finalizers) || m.finalizers.some((f: unknown) => typeof f !== "string"))) {
    causes.push({ field: "metadata.finalizers", reason: "FieldValueInvalid", message: "Invalid value: must be a list of strings" });
  }
  return causes;
}
