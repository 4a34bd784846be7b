import { test } from "node:test";
import assert from "node:assert/strict";
import { evalJsonPath } from "./jsonpath.ts";
import { HwError } from "../api/errors.ts";

const obj = {
  metadata: { name: "n1", labels: { "hwameistor.io/pool": "hdd", "a.b": "dots" } },
  spec: { nodeName: "node-a", disks: [{ devPath: "/dev/sdb" }, { devPath: "/dev/sdc" }], accessibility: { nodes: ["n1", "n2"] } },
  status: {
    pools: { LocalStorage_PoolHDD: { freeCapacityBytes: 1024, class: "HDD" } },
    conditions: [
      { type: "Ready", status: "True" },
      { type: "Scheduled", status: "False" },
    ],
    zero: 0,
    empty: "",
  },
};

test("simple paths", () => {
  assert.deepEqual(evalJsonPath(obj, ".spec.nodeName"), ["node-a"]);
  assert.deepEqual(evalJsonPath(obj, "{.spec.nodeName}"), ["node-a"]);
  assert.deepEqual(evalJsonPath(obj, "spec.nodeName"), ["node-a"]);
  assert.deepEqual(evalJsonPath(obj, ".status.pools.LocalStorage_PoolHDD.freeCapacityBytes"), [1024]);
  assert.deepEqual(evalJsonPath(obj, ".status.zero"), [0]);
  assert.deepEqual(evalJsonPath(obj, ".status.empty"), [""]);
  assert.deepEqual(evalJsonPath(obj, "."), [obj]);
});

test("quoted keys, indexes, wildcards, slices", () => {
  assert.deepEqual(evalJsonPath(obj, ".metadata.labels['a.b']"), ["dots"]);
  assert.deepEqual(evalJsonPath(obj, '.metadata.labels["hwameistor.io/pool"]'), ["hdd"]);
  assert.deepEqual(evalJsonPath(obj, ".spec.accessibility.nodes[0]"), ["n1"]);
  assert.deepEqual(evalJsonPath(obj, ".spec.accessibility.nodes[-1]"), ["n2"]);
  assert.deepEqual(evalJsonPath(obj, ".spec.disks[*].devPath"), ["/dev/sdb", "/dev/sdc"]);
  assert.deepEqual(evalJsonPath(obj, ".spec.disks[0:1].devPath"), ["/dev/sdb"]);
  assert.deepEqual(evalJsonPath(obj, ".status.pools.*.class"), ["HDD"]);
  assert.deepEqual(evalJsonPath(obj, ".status.pools[*].class"), ["HDD"]);
});

test("filters", () => {
  assert.deepEqual(evalJsonPath(obj, '.status.conditions[?(@.type=="Ready")].status'), ["True"]);
  assert.deepEqual(evalJsonPath(obj, ".status.conditions[?(@.type=='Scheduled')].status"), ["False"]);
  assert.deepEqual(evalJsonPath(obj, '.status.conditions[?(@.type!="Ready")].type'), ["Scheduled"]);
  assert.deepEqual(evalJsonPath(obj, ".spec.disks[?(@.devPath)].devPath").length, 2);
});

test("missing paths give []", () => {
  assert.deepEqual(evalJsonPath(obj, ".spec.nope"), []);
  assert.deepEqual(evalJsonPath(obj, ".spec.nodeName.deeper"), []);
  assert.deepEqual(evalJsonPath(obj, ".spec.accessibility.nodes[5]"), []);
  assert.deepEqual(evalJsonPath(obj, ".spec.disks[*].nope"), []);
  assert.deepEqual(evalJsonPath(undefined, ".a"), []);
  assert.deepEqual(evalJsonPath({ a: null }, ".a.b"), []);
});

test("bad syntax throws 400", () => {
  for (const p of [".a[", ".a..b", ".a[foo]", ".a.", "#"]) assert.throws(() => evalJsonPath(obj, p), HwError, p);
});
