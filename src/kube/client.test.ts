import { test } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "./client.ts";
import { kubeConfigForServer } from "./config.ts";
import { CONFIG_MAP, LEASE, NODE } from "./resources.ts";
import { objectKey, splitKey } from "./types.ts";

const client = new KubeClient(kubeConfigForServer("http://127.0.0.1:1"));

test("paths for core, grouped, namespaced and cluster-scoped resources", () => {
  assert.equal(client.forKind(CONFIG_MAP).path("ns", "a"), "/api/v1/namespaces/ns/configmaps/a");
  assert.equal(client.forKind(CONFIG_MAP).path(), "/api/v1/configmaps", "all namespaces");
  assert.equal(client.forKind(NODE).path("ignored", "n1", "status"), "/api/v1/nodes/n1/status");
  assert.equal(client.forKind(LEASE).path("kube-node-lease", "n1"), "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1");
});

test("forKind accepts a KindDefinition-shaped value with scope instead of namespaced", () => {
  const lv = client.forKind({ group: "hwameistor.io", version: "v1alpha1", plural: "localvolumes", kind: "LocalVolume", scope: "Cluster" });
  assert.equal(lv.resource.namespaced, false);
  assert.equal(lv.apiVersion, "hwameistor.io/v1alpha1");
  assert.equal(lv.path("x", "v1"), "/apis/hwameistor.io/v1alpha1/localvolumes/v1");
  const ns = client.forKind({ group: "x.io", version: "v1", plural: "things", kind: "Thing", scope: "Namespaced" });
  assert.equal(ns.resource.namespaced, true);
});

test("a namespaced call without a namespace is a programmer error", async () => {
  await assert.rejects(client.forKind(CONFIG_MAP).get("a"), /namespace required/);
});

test("object keys", () => {
  assert.equal(objectKey({ metadata: { name: "a", namespace: "ns" } }), "ns/a");
  assert.equal(objectKey({ metadata: { name: "n1" } }), "n1");
  assert.deepEqual(splitKey("ns/a"), { namespace: "ns", name: "a" });
  assert.deepEqual(splitKey("n1"), { name: "n1" });
});
