// Server-side printing: a list of objects as a meta.k8s.io/v1 Table, the way the apiextensions-apiserver's
// tableconvertor renders custom resources (kubectl get / get -o wide / get -w all ask for it with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`). Built-in kinds use the same path: their
// ResourceType carries printerColumns. Pure.
//
// Cell rules (tableconvertor.go / cellForJSONValue): first JSONPath result only; a missing value is null
// (kubectl prints "<none>"); "string" columns print the value as text (maps and lists as compact JSON);
// "integer" columns take numbers (truncated) and null otherwise; "number" numbers; "boolean" booleans;
// "date" columns parse an RFC 3339 string and render its age with HumanDuration ("<invalid>" if unparsable).

import type { PrinterColumn, ResourceType } from "./resource-type.ts";
import { evalJsonPath } from "./jsonpath.ts";

const NAME_DESCRIPTION =
  "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATION_DESCRIPTION =
  "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/** The column a CRD version gets when it declares no additionalPrinterColumns (apiextensions default). */
export const DEFAULT_AGE_COLUMN: PrinterColumn = {
  name: "Age",
  type: "date",
  description: CREATION_DESCRIPTION,
  jsonPath: ".metadata.creationTimestamp",
};

export interface TableOptions {
  includeObject?: "None" | "Metadata" | "Object";
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
  now?: Date;
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    return dy === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function cellFor(col: PrinterColumn, obj: any, now: Date): unknown {
  const results = evalJsonPath(obj, col.jsonPath);
  if (results.length === 0) return null;
  const value = results[0];
  if (value === null || value === undefined) return null; // APPROXIMATION: a JSON null prints as <none>
  switch (col.type) {
    case "string":
      return typeof value === "object" ? JSON.stringify(value) : String(value);
    case "integer":
      return typeof value === "number" ? Math.trunc(value) : null;
    case "number":
      return typeof value === "number" ? value : null;
    case "boolean":
      return typeof value === "boolean" ? value : null;
    case "date": {
      if (typeof value !== "string") return null;
      if (!RFC3339.test(value)) return "<invalid>";
      const t = Date.parse(value);
      if (Number.isNaN(t)) return "<invalid>";
      if (t === Date.parse("0001-01-01T00:00:00Z")) return "<unknown>";
      return humanDuration(now.getTime() - t);
    }
    default:
      return null;
  }
}

/** The columns of a resource type: Name, then its printer columns (or the default Age column). */
export function columnDefinitions(rt: ResourceType): any[] {
  const cols = rt.printerColumns.length > 0 ? rt.printerColumns : [DEFAULT_AGE_COLUMN];
  return [
    { name: "Name", type: "string", format: "name", description: NAME_DESCRIPTION, priority: 0 },
    ...cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? "", description: c.description ?? "", priority: c.priority ?? 0 })),
  ];
}

/** Renders objects as a meta.k8s.io/v1 Table; row objects follow includeObject (default Metadata, as the apiserver). */
export function toTable(rt: ResourceType, objs: any[], opts: TableOptions = {}): any {
  const now = opts.now ?? new Date();
  const include = opts.includeObject ?? "Metadata";
  const cols = rt.printerColumns.length > 0 ? rt.printerColumns : [DEFAULT_AGE_COLUMN];
  const metadata: Record<string, unknown> = {};
  if (opts.resourceVersion !== undefined) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  if (opts.remainingItemCount !== undefined) metadata.remainingItemCount = opts.remainingItemCount;
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata,
    columnDefinitions: columnDefinitions(rt),
    rows: objs.map((obj) => {
      const row: Record<string, unknown> = { cells: [obj?.metadata?.name ?? "", ...cols.map((c) => cellFor(c, obj, now))] };
      if (include === "Object") row.object = obj;
      else if (include === "Metadata") row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj?.metadata ?? {} };
      return row;
    }),
  };
}
