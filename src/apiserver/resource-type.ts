// The API server's view of one resource: everything discovery, OpenAPI, tables, validation and the REST
// handlers need to know. Built-in kinds are declared in builtins.ts; every CustomResourceDefinition stored
// in the server adds one ResourceType per served version (registry.ts).

/** A printer column as in a CRD's `additionalPrinterColumns`. */
export interface PrinterColumn {
  name: string;
  type: string; // string | integer | number | boolean | date
  format?: string;
  description?: string;
  priority?: number; // 0 = default columns, >0 only with -o wide
  jsonPath: string; // e.g. ".spec.nodeName", ".spec.accessibility.nodes[0]"
}

/** An OpenAPI v3 schema node as found in a CRD (`openAPIV3Schema`), including x-kubernetes-* extensions. */
export type JSONSchemaProps = Record<string, any>;

export interface ResourceType {
  group: string; // "" for the core group
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  /** Has a `/status` subresource: the main endpoint ignores status changes, /status ignores everything else. */
  hasStatus: boolean;
  printerColumns: PrinterColumn[];
  /** Structural schema of a CRD version; undefined for built-ins (stored as given, no validation). */
  schema?: JSONSchemaProps;
  /** Extra field-selector paths this resource supports besides metadata.name / metadata.namespace. */
  selectableFields: string[];
  builtin: boolean;
}

/** "apps/v1" style group-version string ("v1" for the core group). */
export function groupVersion(rt: Pick<ResourceType, "group" | "version">): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}
