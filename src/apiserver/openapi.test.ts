import { test } from "node:test";
import assert from "node:assert/strict";
import { definitionName, openApiV2, openApiV3GroupVersion, openApiV3Root } from "./openapi.ts";
import type { ResourceType } from "./resource-type.ts";
import { localDiskResourceType } from "./testing/resource-types.ts";

const localDisk: ResourceType = localDiskResourceType({
  schema: {
    type: "object",
    properties: {
      spec: {
        type: "object",
        description: "LocalDiskSpec defines the desired state of LocalDisk",
        properties: {
          nodeName: { type: "string", description: "NodeName represents the node where the disk is attached" },
          note: { type: "string", nullable: true },
        },
      },
      status: { type: "object", properties: { state: { type: "string" } } },
    },
  },
});
const base = { shortNames: [], categories: [], printerColumns: [], selectableFields: [] };
const pvc: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  kind: "PersistentVolumeClaim",
  listKind: "PersistentVolumeClaimList",
  plural: "persistentvolumeclaims",
  singular: "persistentvolumeclaim",
  namespaced: true,
  hasStatus: true,
  builtin: true,
};
const sc: ResourceType = {
  ...base,
  group: "storage.k8s.io",
  version: "v1",
  kind: "StorageClass",
  listKind: "StorageClassList",
  plural: "storageclasses",
  singular: "storageclass",
  namespaced: false,
  hasStatus: false,
  builtin: true,
};
const types = [localDisk, pvc, sc];

/** The check kubectl 1.32's QueryParamVerifierV3 (supportsQueryParamV3) performs. */
function kubectlSupportsFieldValidation(doc: any, gvk: { group: string; version: string; kind: string }): boolean | "path-not-found" {
  for (const path of Object.values<any>(doc.paths)) {
    const op = path.patch;
    if (!op) continue;
    const ext = op["x-kubernetes-group-version-kind"];
    if (!ext || Array.isArray(ext) || ext.group !== gvk.group || ext.version !== gvk.version || ext.kind !== gvk.kind) continue;
    return op.parameters.some((p: any) => p.name === "fieldValidation" && p.in === "query");
  }
  return "path-not-found";
}

/** Resolve a $ref / allOf[$ref] inside a v3 document the way kubectl explain's templates do. */
function resolve(doc: any, s: any): any {
  const ref = s.$ref ?? s.allOf?.[0]?.$ref;
  return ref ? doc.components.schemas[ref.replace("#/components/schemas/", "")] : s;
}

test("definition names", () => {
  assert.equal(definitionName(localDisk), "io.hwameistor.v1alpha1.LocalDisk");
  assert.equal(definitionName(pvc), "io.k8s.api.core.v1.PersistentVolumeClaim");
  assert.equal(definitionName(sc), "io.k8s.api.storage.v1.StorageClass");
  assert.equal(
    definitionName({ group: "snapshot.storage.k8s.io", version: "v1", kind: "VolumeSnapshot", builtin: false }),
    "io.k8s.storage.snapshot.v1.VolumeSnapshot",
  );
});

test("v3 root lists every group-version with a hashed serverRelativeURL", () => {
  const root = openApiV3Root(types);
  assert.deepEqual(Object.keys(root.paths), ["api/v1", "apis/hwameistor.io/v1alpha1", "apis/storage.k8s.io/v1"]);
  assert.match(root.paths["apis/hwameistor.io/v1alpha1"].serverRelativeURL, /^\/openapi\/v3\/apis\/hwameistor\.io\/v1alpha1\?hash=[0-9A-F]{128}$/);
  assert.equal(openApiV3Root(types).paths["api/v1"].serverRelativeURL, root.paths["api/v1"].serverRelativeURL, "stable hash");
  const changed = openApiV3Root([{ ...localDisk, schema: { type: "object" } }, pvc, sc]);
  assert.notEqual(changed.paths["apis/hwameistor.io/v1alpha1"].serverRelativeURL, root.paths["apis/hwameistor.io/v1alpha1"].serverRelativeURL);
  assert.equal(changed.paths["api/v1"].serverRelativeURL, root.paths["api/v1"].serverRelativeURL);
});

test("kubectl's field-validation verifier finds fieldValidation on PATCH for CRDs and built-ins", () => {
  const hw = openApiV3GroupVersion(types, "apis/hwameistor.io/v1alpha1");
  assert.equal(hw.openapi, "3.0.0");
  assert.equal(kubectlSupportsFieldValidation(hw, { group: "hwameistor.io", version: "v1alpha1", kind: "LocalDisk" }), true);
  const core = openApiV3GroupVersion(types, "/openapi/v3/api/v1");
  assert.equal(kubectlSupportsFieldValidation(core, { group: "", version: "v1", kind: "PersistentVolumeClaim" }), true);
  assert.equal(kubectlSupportsFieldValidation(core, { group: "", version: "v1", kind: "Pod" }), "path-not-found");
  assert.equal(openApiV3GroupVersion(types, "apis/nope.io/v1"), undefined);
});

test("PATCH does not advertise strategic merge patch (kubectl then uses its compiled-in types / merge patch)", () => {
  const hw = openApiV3GroupVersion(types, "apis/hwameistor.io/v1alpha1");
  const patch = hw.paths["/apis/hwameistor.io/v1alpha1/localdisks/{name}"].patch;
  assert.deepEqual(Object.keys(patch.requestBody.content), ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]);
  assert.equal(patch["x-kubernetes-action"], "patch");
  assert.ok(hw.paths["/apis/hwameistor.io/v1alpha1/localdisks/{name}/status"].patch);
});

test("kubectl explain localdisk.spec: list path GET carries the GVK, schema found by GVK, fields reachable", () => {
  const doc = openApiV3GroupVersion(types, "apis/hwameistor.io/v1alpha1");
  const gvk = doc.paths["/apis/hwameistor.io/v1alpha1/localdisks"].get["x-kubernetes-group-version-kind"];
  assert.deepEqual(gvk, { group: "hwameistor.io", kind: "LocalDisk", version: "v1alpha1" });
  const [, schema] = Object.entries<any>(doc.components.schemas).find(([, s]) =>
    (s["x-kubernetes-group-version-kind"] ?? []).some((g: any) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind),
  )!;
  assert.equal(schema.properties.spec.description, "LocalDiskSpec defines the desired state of LocalDisk");
  assert.equal(schema.properties.spec.properties.nodeName.type, "string");
  assert.equal(schema.properties.spec.properties.note.nullable, true, "v3 keeps nullable");
  assert.equal(schema.properties.apiVersion.type, "string");
  const meta = resolve(doc, schema.properties.metadata);
  assert.equal(meta.properties.labels.type, "object");
  const list = doc.components.schemas["io.hwameistor.v1alpha1.LocalDiskList"];
  assert.deepEqual(list["x-kubernetes-group-version-kind"], [{ group: "hwameistor.io", kind: "LocalDiskList", version: "v1alpha1" }]);
  assert.equal(resolve(doc, list.properties.items.items), schema);
  assert.equal(localDisk.schema!.properties.apiVersion, undefined, "input schema not mutated");
  for (const r of JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? []) assert.ok(doc.components.schemas[r.slice(22, -1)], r);
});

test("namespaced built-in: namespaced paths plus the all-namespaces list; preserve-unknown schema", () => {
  const doc = openApiV3GroupVersion(types, "api/v1");
  assert.ok(doc.paths["/api/v1/namespaces/{namespace}/persistentvolumeclaims"].post);
  assert.ok(doc.paths["/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"].delete);
  assert.ok(doc.paths["/api/v1/persistentvolumeclaims"].get);
  const s = doc.components.schemas["io.k8s.api.core.v1.PersistentVolumeClaim"];
  assert.equal(s["x-kubernetes-preserve-unknown-fields"], true);
  assert.deepEqual(s["x-kubernetes-group-version-kind"], [{ group: "", kind: "PersistentVolumeClaim", version: "v1" }]);
  const list = doc.paths["/api/v1/namespaces/{namespace}/persistentvolumeclaims"].get;
  assert.ok(list.parameters.some((p: any) => p.name === "labelSelector" && p.in === "query"));
});

test("swagger 2.0 document", () => {
  const v2 = openApiV2(types);
  assert.equal(v2.swagger, "2.0");
  const d = v2.definitions["io.hwameistor.v1alpha1.LocalDisk"];
  assert.deepEqual(d["x-kubernetes-group-version-kind"], [{ group: "hwameistor.io", kind: "LocalDisk", version: "v1alpha1" }]);
  assert.equal(d.properties.spec.properties.note.nullable, undefined, "nullable stripped for v2");
  assert.equal(d.properties.metadata.$ref, "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  assert.equal(v2.definitions["io.k8s.api.storage.v1.StorageClass"]["x-kubernetes-preserve-unknown-fields"], true);
  const patch = v2.paths["/apis/hwameistor.io/v1alpha1/localdisks/{name}"].patch;
  assert.deepEqual(patch["x-kubernetes-group-version-kind"], { group: "hwameistor.io", kind: "LocalDisk", version: "v1alpha1" });
  assert.ok(patch.parameters.some((p: any) => p.name === "fieldValidation" && p.in === "query" && p.type === "string"));
  assert.ok(patch.parameters.some((p: any) => p.in === "body"));
  // every $ref resolves
  const refs = JSON.stringify(v2).match(/"#\/definitions\/[^"]+"/g) ?? [];
  for (const r of refs) assert.ok(v2.definitions[r.slice(15, -1)], r);
});
