// Turns a KindDefinition into an apiextensions.k8s.io/v1 CustomResourceDefinition. The typebox schema is
// plain JSON Schema underneath; we copy only the keywords a CRD's structural openAPIV3Schema allows (so no
// `$id`, `$schema`, `patternProperties`, typebox symbols or `~kind` markers) and keep the key order of the
// definitions, which makes the generated YAML deterministic.

import { GROUP, VERSION, crdName } from "./names.ts";
import type { KindDefinition } from "./kinds/common.ts";

/** An OpenAPI v3 schema node as found in a CRD, including x-kubernetes-* extensions. */
export type JSONSchemaProps = Record<string, any>;

/** JSONSchemaProps keywords of apiextensions/v1 (besides the x-kubernetes-* extensions). */
export const ALLOWED_KEYWORDS: ReadonlySet<string> = new Set([
  "type",
  "format",
  "title",
  "description",
  "default",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "uniqueItems",
  "multipleOf",
  "enum",
  "maxProperties",
  "minProperties",
  "required",
  "items",
  "allOf",
  "oneOf",
  "anyOf",
  "not",
  "properties",
  "additionalProperties",
  "nullable",
  "example",
  "externalDocs",
]);

const SCHEMA_MAPS = new Set(["properties"]);
const SCHEMA_VALUES = new Set(["items", "additionalProperties", "not"]);
const SCHEMA_LISTS = new Set(["allOf", "oneOf", "anyOf"]);

/** A deep copy of a (typebox) schema with only CRD-valid keywords; empty `required` lists are dropped. */
export function toOpenApiSchema(schema: unknown): JSONSchemaProps {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw new Error(`toOpenApiSchema: not a schema node: ${JSON.stringify(schema)}`);
  }
  const out: JSONSchemaProps = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!ALLOWED_KEYWORDS.has(key) && !key.startsWith("x-kubernetes-")) continue;
    if (value === undefined) continue;
    if (SCHEMA_MAPS.has(key)) {
      const props: JSONSchemaProps = {};
      for (const [name, sub] of Object.entries(value as object)) props[name] = toOpenApiSchema(sub);
      out[key] = props;
    } else if (SCHEMA_VALUES.has(key)) {
      out[key] = typeof value === "boolean" ? value : toOpenApiSchema(value);
    } else if (SCHEMA_LISTS.has(key)) {
      out[key] = (value as unknown[]).map(toOpenApiSchema);
    } else if (key === "required") {
      if ((value as string[]).length) out[key] = [...(value as string[])];
    } else {
      out[key] = structuredClone(value);
    }
  }
  return out;
}

/** The CRD's `openAPIV3Schema` for a kind. */
export function crdSchema(def: KindDefinition): JSONSchemaProps {
  return toOpenApiSchema(def.schema);
}

/** The apiextensions.k8s.io/v1 CustomResourceDefinition of a kind. */
export function toCrd(def: KindDefinition): JSONSchemaProps {
  const names: JSONSchemaProps = {
    kind: def.kind,
    listKind: def.listKind,
    plural: def.plural,
    singular: def.singular,
  };
  if (def.shortNames.length) names.shortNames = [...def.shortNames];
  const version: JSONSchemaProps = { name: VERSION, served: true, storage: true };
  if (def.printerColumns.length) version.additionalPrinterColumns = def.printerColumns.map((c) => ({ ...c }));
  if (def.selectableFields?.length) version.selectableFields = def.selectableFields.map((jsonPath) => ({ jsonPath }));
  version.schema = { openAPIV3Schema: crdSchema(def) };
  version.subresources = { status: {} };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: crdName(def.plural) },
    spec: {
      group: GROUP,
      names,
      scope: def.scope,
      versions: [version],
    },
  };
}
