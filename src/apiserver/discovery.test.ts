import { test } from "node:test";
import assert from "node:assert/strict";
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, compareVersions, wantsAggregatedDiscovery } from "./discovery.ts";
import type { ResourceType } from "./resource-type.ts";

const rt = (o: Partial<ResourceType> & Pick<ResourceType, "group" | "version" | "kind" | "plural">): ResourceType => ({
  listKind: `${o.kind}List`,
  singular: o.kind.toLowerCase(),
  shortNames: [],
  categories: [],
  namespaced: false,
  hasStatus: false,
  printerColumns: [],
  selectableFields: [],
  builtin: false,
  ...o,
});
const types = [
  rt({ group: "", version: "v1", kind: "Pod", plural: "pods", shortNames: ["po"], categories: ["all"], namespaced: true, hasStatus: true, builtin: true }),
  rt({ group: "", version: "v1", kind: "Node", plural: "nodes", shortNames: ["no"], hasStatus: true, builtin: true }),
  rt({ group: "hwameistor.io", version: "v1alpha1", kind: "LocalDisk", plural: "localdisks", shortNames: ["ld"], hasStatus: true }),
  rt({ group: "hwameistor.io", version: "v1alpha1", kind: "LocalVolume", plural: "localvolumes", shortNames: ["lv"] }),
  rt({ group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", shortNames: ["sc"], builtin: true }),
  rt({ group: "example.io", version: "v1alpha1", kind: "Thing", plural: "things" }),
  rt({ group: "example.io", version: "v1", kind: "Thing", plural: "things" }),
  rt({ group: "example.io", version: "v2beta1", kind: "Thing", plural: "things" }),
];

test("kube-aware version ordering", () => {
  assert.deepEqual(["v1alpha1", "v1", "v2beta1", "v1beta2", "foo", "v2", "v10alpha1"].sort(compareVersions), [
    "v2",
    "v1",
    "v2beta1",
    "v1beta2",
    "v10alpha1",
    "v1alpha1",
    "foo",
  ]);
});

test("/api", () => {
  assert.deepEqual(apiVersions("127.0.0.1:6443"), {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:6443" }],
  });
});

test("/apis lists non-core groups with preferred versions", () => {
  const l = apiGroupList(types);
  assert.equal(l.kind, "APIGroupList");
  assert.deepEqual(
    l.groups.map((g: any) => g.name),
    ["hwameistor.io", "storage.k8s.io", "example.io"],
  );
  const ex = l.groups[2];
  assert.deepEqual(
    ex.versions.map((v: any) => v.groupVersion),
    ["example.io/v1", "example.io/v2beta1", "example.io/v1alpha1"],
  );
  assert.deepEqual(ex.preferredVersion, { groupVersion: "example.io/v1", version: "v1" });
  assert.deepEqual(apiGroup(types, "hwameistor.io"), {
    kind: "APIGroup",
    apiVersion: "v1",
    name: "hwameistor.io",
    versions: [{ groupVersion: "hwameistor.io/v1alpha1", version: "v1alpha1" }],
    preferredVersion: { groupVersion: "hwameistor.io/v1alpha1", version: "v1alpha1" },
  });
  assert.equal(apiGroup(types, "nope.io"), undefined);
  assert.equal(apiGroup(types, ""), undefined);
});

test("APIResourceList with status subresources", () => {
  const l = apiResourceList(types, "hwameistor.io", "v1alpha1");
  assert.equal(l.groupVersion, "hwameistor.io/v1alpha1");
  assert.deepEqual(l.resources, [
    {
      name: "localdisks",
      singularName: "localdisk",
      namespaced: false,
      kind: "LocalDisk",
      verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
      shortNames: ["ld"],
    },
    { name: "localdisks/status", singularName: "", namespaced: false, kind: "LocalDisk", verbs: ["get", "patch", "update"] },
    {
      name: "localvolumes",
      singularName: "localvolume",
      namespaced: false,
      kind: "LocalVolume",
      verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
      shortNames: ["lv"],
    },
  ]);
  const core = apiResourceList(types, "", "v1");
  assert.equal(core.groupVersion, "v1");
  assert.deepEqual(core.resources[0].categories, ["all"]);
  assert.equal(core.resources[0].namespaced, true);
  assert.deepEqual(apiResourceList(types, "x.io", "v1").resources, []);
});

test("aggregated discovery v2", () => {
  assert.equal(
    wantsAggregatedDiscovery(
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
    ),
    true,
  );
  assert.equal(wantsAggregatedDiscovery("application/json"), false);
  assert.equal(wantsAggregatedDiscovery("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"), false);
  assert.equal(wantsAggregatedDiscovery(undefined), false);
  const core = aggregatedDiscovery(types, true);
  assert.equal(core.kind, "APIGroupDiscoveryList");
  assert.equal(core.apiVersion, "apidiscovery.k8s.io/v2");
  assert.equal(core.items.length, 1);
  assert.deepEqual(core.items[0].metadata, {});
  assert.deepEqual(core.items[0].versions[0].resources[0], {
    resource: "pods",
    responseKind: { group: "", version: "v1", kind: "Pod" },
    scope: "Namespaced",
    singularResource: "pod",
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    shortNames: ["po"],
    categories: ["all"],
    subresources: [
      { subresource: "status", responseKind: { group: "", version: "v1", kind: "Pod" }, verbs: ["get", "patch", "update"] },
      { subresource: "binding", responseKind: { group: "", version: "v1", kind: "Binding" }, verbs: ["create"] },
      { subresource: "log", responseKind: { group: "", version: "v1", kind: "Pod" }, verbs: ["get"] },
      { subresource: "eviction", responseKind: { group: "policy", version: "v1", kind: "Eviction" }, verbs: ["create"] },
    ],
  });
  const apis = aggregatedDiscovery(types, false);
  assert.deepEqual(
    apis.items.map((i: any) => i.metadata.name),
    ["hwameistor.io", "storage.k8s.io", "example.io"],
  );
  assert.deepEqual(
    apis.items[2].versions.map((v: any) => v.version),
    ["v1", "v2beta1", "v1alpha1"],
  );
  assert.equal(apis.items[0].versions[0].freshness, "Current");
  assert.equal(apis.items[0].versions[0].resources[1].scope, "Cluster");
});
