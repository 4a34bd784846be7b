// OpenAPI documents for kubectl: /openapi/v2 (swagger 2.0 JSON), /openapi/v3 (index of group-versions) and
// /openapi/v3/<api/v1 | apis/<g>/<v>> (OpenAPI 3.0). Pure.
//
// What kubectl 1.32 needs (see docs/apiserver-compat.md):
// - field validation: QueryParamVerifierV3 GETs /openapi/v3, then the group-version document, and looks for
//   a PATCH operation whose `x-kubernetes-group-version-kind` ({group, version, kind} object) matches the
//   object's GVK and that lists a `fieldValidation` query parameter. Found → kubectl sends
//   ?fieldValidation=Strict|Warn and skips client-side validation (and never needs /openapi/v2).
// - explain: finds `/api(s)/<gv>/<plural>` (or the namespaced path) with a GET carrying the GVK, then the
//   components.schemas entry whose `x-kubernetes-group-version-kind` list holds the GVK, following
//   `$ref`/`allOf` into #/components/schemas.
// - apply: PATCH requestBody content types are what kubectl reads to decide whether it may compute a
//   strategic merge patch from the v3 schema; we deliberately do NOT list
//   application/strategic-merge-patch+json, so kubectl uses its compiled-in types for built-ins and JSON
//   merge patch for custom resources (as against a real server).
// APPROXIMATIONS: built-in kinds have no schema here (objects with x-kubernetes-preserve-unknown-fields);
// ObjectMeta/ListMeta are abbreviated; only the operations our server serves are described.

import { createHash } from "node:crypto";
import type { JSONSchemaProps, ResourceType } from "./resource-type.ts";
import { groupVersion } from "./resource-type.ts";

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const OBJECT_META = `${META}.ObjectMeta`;
const LIST_META = `${META}.ListMeta`;
const STATUS = `${META}.Status`;
const PATCH = `${META}.Patch`;

const API_VERSION_DESC =
  "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESC =
  "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESC = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/** Definition name of a kind: "io.hwameistor.v1alpha1.LocalDisk", "io.k8s.api.core.v1.Pod", "io.k8s.api.storage.v1.StorageClass". */
export function definitionName(rt: Pick<ResourceType, "group" | "version" | "kind" | "builtin">, kind: string = rt.kind): string {
  if (rt.group === "") return `io.k8s.api.core.${rt.version}.${kind}`;
  const labels = rt.group.split(".");
  if (rt.builtin && rt.group.endsWith(".k8s.io") && labels.length === 3) return `io.k8s.api.${labels[0]}.${rt.version}.${kind}`;
  return `${labels.reverse().join(".")}.${rt.version}.${kind}`;
}

const gvk = (rt: ResourceType, kind: string = rt.kind) => ({ group: rt.group, kind, version: rt.version });

type Flavor = "v2" | "v3";
const refTo = (f: Flavor, name: string) => ({ $ref: f === "v2" ? `#/definitions/${name}` : `#/components/schemas/${name}` });

/** Recursively adapts a CRD schema node for swagger 2.0 (no nullable/anyOf/oneOf/not, as apiextensions publishes). */
function toV2(s: any): any {
  if (Array.isArray(s)) return s.map(toV2);
  if (typeof s !== "object" || s === null) return s;
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === "nullable" || k === "anyOf" || k === "oneOf" || k === "not" || k === "allOf") continue;
    if (k === "properties" || k === "patternProperties") out[k] = Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, toV2(pv)]));
    else if (k === "items" || k === "additionalProperties") out[k] = toV2(v);
    else out[k] = v;
  }
  return out;
}

function kindSchema(rt: ResourceType, f: Flavor): JSONSchemaProps {
  const base: JSONSchemaProps = rt.schema ? structuredClone(rt.schema) : { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  const s = f === "v2" ? toV2(base) : base;
  s.type ??= "object";
  if (!s.description)
    s.description = rt.builtin ? `${rt.kind} (stored as given by this server; schema not published).` : `${rt.kind} is the Schema for the ${rt.plural} API.`;
  s.properties = {
    apiVersion: { type: "string", description: API_VERSION_DESC },
    kind: { type: "string", description: KIND_DESC },
    ...(s.properties ?? {}),
    metadata:
      f === "v2" ? { ...refTo(f, OBJECT_META), description: METADATA_DESC } : { allOf: [refTo(f, OBJECT_META)], default: {}, description: METADATA_DESC },
  };
  s["x-kubernetes-group-version-kind"] = [gvk(rt)];
  return s;
}

function listSchema(rt: ResourceType, f: Flavor): JSONSchemaProps {
  return {
    type: "object",
    description: `${rt.listKind} is a list of ${rt.kind}`,
    required: ["items"],
    properties: {
      apiVersion: { type: "string", description: API_VERSION_DESC },
      items: { type: "array", description: `List of ${rt.plural}.`, items: refTo(f, definitionName(rt)) },
      kind: { type: "string", description: KIND_DESC },
      metadata:
        f === "v2"
          ? { ...refTo(f, LIST_META), description: "Standard list metadata." }
          : { allOf: [refTo(f, LIST_META)], default: {}, description: "Standard list metadata." },
    },
    "x-kubernetes-group-version-kind": [gvk(rt, rt.listKind)],
  };
}

function metaSchemas(): Record<string, JSONSchemaProps> {
  const str = (description: string) => ({ type: "string", description });
  const strMap = (description: string) => ({ type: "object", additionalProperties: { type: "string", default: "" }, description });
  const time = (description: string) => ({ type: "string", format: "date-time", description });
  const loose = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  return {
    [OBJECT_META]: {
      type: "object",
      description: "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
      properties: {
        annotations: strMap(
          "Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.",
        ),
        creationTimestamp: time("CreationTimestamp is a timestamp representing the server time when this object was created."),
        deletionGracePeriodSeconds: { type: "integer", format: "int64", description: "Number of seconds allowed for this object to gracefully terminate." },
        deletionTimestamp: time("DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted."),
        finalizers: {
          type: "array",
          items: { type: "string", default: "" },
          description: "Must be empty before the object is deleted from the registry.",
          "x-kubernetes-list-type": "set",
          "x-kubernetes-patch-strategy": "merge",
        },
        generateName: str("GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
        generation: { type: "integer", format: "int64", description: "A sequence number representing a specific generation of the desired state." },
        labels: strMap("Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
        managedFields: {
          type: "array",
          items: loose,
          description: "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow.",
        },
        name: str("Name must be unique within a namespace."),
        namespace: str("Namespace defines the space within which each name must be unique."),
        ownerReferences: {
          type: "array",
          items: loose,
          description: "List of objects depended by this object.",
          "x-kubernetes-patch-merge-key": "uid",
          "x-kubernetes-patch-strategy": "merge",
        },
        resourceVersion: str("An opaque value that represents the internal version of this object."),
        selfLink: str("Deprecated: selfLink is a legacy read-only field that is no longer populated by the system."),
        uid: str("UID is the unique in time and space value for this object."),
      },
    },
    [LIST_META]: {
      type: "object",
      description: "ListMeta describes metadata that synthetic resources must have, including lists and various status objects.",
      properties: {
        continue: str("continue may be set if the user set a limit on the number of items returned."),
        remainingItemCount: {
          type: "integer",
          format: "int64",
          description: "The number of subsequent items in the list which are not included in this list response.",
        },
        resourceVersion: str("String that identifies the server's internal version of this object."),
        selfLink: str("Deprecated."),
      },
    },
    [STATUS]: { ...loose, description: "Status is a return value for calls that don't return other objects." },
    [PATCH]: { type: "object", description: "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body." },
  };
}

// ---- paths ---------------------------------------------------------------------------------------------

interface Param {
  name: string;
  in: "query" | "path";
  description: string;
  type: "string" | "integer" | "boolean";
  required?: boolean;
}

const q = (name: string, type: Param["type"], description: string): Param => ({ name, in: "query", type, description });
const P = {
  pretty: q("pretty", "string", "If 'true', then the output is pretty printed."),
  dryRun: q("dryRun", "string", "When present, indicates that modifications should not be persisted. Valid values are: - All"),
  fieldManager: q("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes."),
  fieldValidation: q(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
  ),
  force: q("force", "boolean", 'Force is going to "force" Apply requests. It must be unset for non-apply patch requests.'),
  list: [
    q("allowWatchBookmarks", "boolean", 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
    q("continue", "string", "The continue option should be set when retrieving more results from the server."),
    q("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
    q("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
    q("limit", "integer", "limit is a maximum number of responses to return for a list call."),
    q("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from."),
    q("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
    q("sendInitialEvents", "boolean", "sendInitialEvents=true may be set together with watch=true."),
    q("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    q("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."),
  ],
  delete: [
    q("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted."),
    q("propagationPolicy", "string", "Whether and how garbage collection will be performed."),
  ],
};

function param(f: Flavor, p: Param): any {
  const base: any = { name: p.name, in: p.in, description: p.description };
  if (p.required) base.required = true;
  if (f === "v2") return { ...base, type: p.type, uniqueItems: true };
  return { ...base, schema: { type: p.type, uniqueItems: true } };
}

type Action = "list" | "post" | "deletecollection" | "get" | "put" | "patch" | "delete";

function operation(f: Flavor, rt: ResourceType, action: Action, opId: string, sub: string, params: Param[]): any {
  const kindRef = refTo(f, definitionName(rt));
  const listRef = refTo(f, definitionName(rt, rt.listKind));
  const result = action === "list" ? listRef : action === "delete" || action === "deletecollection" ? refTo(f, STATUS) : kindRef;
  const op: any = {
    description: `${action} ${sub ? `${sub} of ` : ""}${rt.kind}`,
    operationId: opId,
    tags: [groupVersion(rt).replace(/[./]/g, "_")],
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk(rt),
  };
  const body =
    action === "post" || action === "put"
      ? { types: ["application/json", "application/yaml"], schema: kindRef }
      : action === "patch"
        ? { types: ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"], schema: refTo(f, PATCH) }
        : undefined;
  const produces = ["application/json", "application/yaml"];
  if (f === "v2") {
    op.consumes = body ? body.types : ["*/*"];
    op.produces = action === "list" ? [...produces, "application/json;stream=watch"] : produces;
    op.schemes = ["https"];
    op.parameters = [...(body ? [{ name: "body", in: "body", required: true, schema: body.schema }] : []), ...params.map((p) => param(f, p))];
    op.responses = { "200": { description: "OK", schema: result }, "401": { description: "Unauthorized" } };
    if (action === "post") op.responses["201"] = { description: "Created", schema: result };
  } else {
    op.parameters = params.map((p) => param(f, p));
    if (body) op.requestBody = { content: Object.fromEntries(body.types.map((t) => [t, { schema: body.schema }])), required: true };
    const content = Object.fromEntries((action === "list" ? [...produces, "application/json;stream=watch"] : produces).map((t) => [t, { schema: result }]));
    op.responses = { "200": { description: "OK", content }, "401": { description: "Unauthorized" } };
    if (action === "post") op.responses["201"] = { description: "Created", content };
  }
  return op;
}

function pathsFor(f: Flavor, rt: ResourceType): Record<string, any> {
  const prefix = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  const ns = rt.namespaced ? "/namespaces/{namespace}" : "";
  const nsParam: Param = {
    name: "namespace",
    in: "path",
    type: "string",
    required: true,
    description: "object name and auth scope, such as for teams and projects",
  };
  const nameParam: Param = { name: "name", in: "path", type: "string", required: true, description: `name of the ${rt.kind}` };
  const K = rt.kind;
  const V = rt.version.charAt(0).toUpperCase() + rt.version.slice(1);
  const G = rt.group
    .split(".")
    .map((s) => s.charAt(0).toUpperCase() + s.slice(1))
    .join("");
  const id = (verb: string, what: string) => `${verb}${G}${V}${what}`;
  const nsWord = rt.namespaced ? "Namespaced" : "";
  const write = [P.dryRun, P.fieldManager, P.fieldValidation];
  const pathParams = (ps: Param[]) => ({ parameters: ps.map((p) => param(f, p)) });
  const out: Record<string, any> = {};
  const coll = `${prefix}${ns}/${rt.plural}`;
  out[coll] = {
    ...pathParams(rt.namespaced ? [nsParam, P.pretty] : [P.pretty]),
    get: operation(f, rt, "list", id("list", `${nsWord}${K}`), "", P.list),
    post: operation(f, rt, "post", id("create", `${nsWord}${K}`), "", write),
    delete: operation(f, rt, "deletecollection", id("deleteCollection", `${nsWord}${K}`), "", [...P.list, P.dryRun, ...P.delete]),
  };
  out[`${coll}/{name}`] = {
    ...pathParams(rt.namespaced ? [nameParam, nsParam, P.pretty] : [nameParam, P.pretty]),
    get: operation(f, rt, "get", id("read", `${nsWord}${K}`), "", []),
    put: operation(f, rt, "put", id("replace", `${nsWord}${K}`), "", write),
    patch: operation(f, rt, "patch", id("patch", `${nsWord}${K}`), "", [...write, P.force]),
    delete: operation(f, rt, "delete", id("delete", `${nsWord}${K}`), "", [P.dryRun, ...P.delete]),
  };
  if (rt.hasStatus) {
    out[`${coll}/{name}/status`] = {
      ...pathParams(rt.namespaced ? [nameParam, nsParam, P.pretty] : [nameParam, P.pretty]),
      get: operation(f, rt, "get", id("read", `${nsWord}${K}Status`), "status", []),
      put: operation(f, rt, "put", id("replace", `${nsWord}${K}Status`), "status", write),
      patch: operation(f, rt, "patch", id("patch", `${nsWord}${K}Status`), "status", [...write, P.force]),
    };
  }
  if (rt.namespaced) {
    out[`${prefix}/${rt.plural}`] = {
      parameters: [param(f, P.pretty)],
      get: operation(f, rt, "list", id("list", `${K}ForAllNamespaces`), "", P.list),
    };
  }
  return out;
}

// ---- documents -----------------------------------------------------------------------------------------

const INFO = { title: "Kubernetes", version: "v1.32.0" };

/** The schemas (meta types, each kind and its list) and the paths of `types`, for one OpenAPI version. */
function schemasAndPaths(types: ResourceType[], v: Flavor): { schemas: Record<string, any>; paths: Record<string, any> } {
  const schemas: Record<string, any> = { ...metaSchemas() };
  const paths: Record<string, any> = {};
  for (const rt of types) {
    schemas[definitionName(rt)] = kindSchema(rt, v);
    schemas[definitionName(rt, rt.listKind)] = listSchema(rt, v);
    Object.assign(paths, pathsFor(v, rt));
  }
  return { schemas, paths };
}

/** GET /openapi/v2 (JSON). kubectl itself asks for protobuf here; see docs/apiserver-compat.md. */
export function openApiV2(types: ResourceType[]): any {
  const { schemas: definitions, paths } = schemasAndPaths(types, "v2");
  return {
    swagger: "2.0",
    info: INFO,
    paths,
    definitions,
    securityDefinitions: { BearerToken: { type: "apiKey", name: "authorization", in: "header" } },
    security: [{ BearerToken: [] }],
  };
}

/** "api/v1" or "apis/<group>/<version>" for a resource type. */
function gvPath(rt: Pick<ResourceType, "group" | "version">): string {
  return rt.group ? `apis/${rt.group}/${rt.version}` : `api/${rt.version}`;
}

/** GET /openapi/v3/<gvPath>: an OpenAPI 3.0 document for one group-version; undefined if not served. */
export function openApiV3GroupVersion(types: ResourceType[], gvPathArg: string): any | undefined {
  const wanted = gvPathArg
    .replace(/^\/+/, "")
    .replace(/^openapi\/v3\//, "")
    .replace(/\/+$/, "");
  const members = types.filter((rt) => gvPath(rt) === wanted);
  if (members.length === 0) return undefined;
  const { schemas, paths } = schemasAndPaths(members, "v3");
  return {
    openapi: "3.0.0",
    info: INFO,
    paths,
    components: { schemas, securitySchemes: { BearerToken: { type: "apiKey", name: "authorization", in: "header" } } },
    security: [{ BearerToken: [] }],
  };
}

/** Content hash used in serverRelativeURL (clients cache documents by URL). */
export function openApiV3Hash(doc: unknown): string {
  return createHash("sha512").update(JSON.stringify(doc)).digest("hex").toUpperCase();
}

/** GET /openapi/v3: the index of group-version documents. */
export function openApiV3Root(types: ResourceType[]): any {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  const gvs = [...new Set(types.map(gvPath))].sort();
  for (const p of gvs) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${openApiV3Hash(openApiV3GroupVersion(types, p))}` };
  return { paths };
}
