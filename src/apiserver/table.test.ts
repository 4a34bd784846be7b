import { test } from "node:test";
import assert from "node:assert/strict";
import { humanDuration, toTable } from "./table.ts";
import type { ResourceType } from "./resource-type.ts";
import { localDiskResourceType } from "./testing/resource-types.ts";

const base = localDiskResourceType({ shortNames: ["ld"] });
const localDisks: ResourceType = localDiskResourceType({
  shortNames: ["ld"],
  printerColumns: [
    { name: "NodeMatch", type: "string", jsonPath: ".spec.nodeName" },
    { name: "DevicePath", type: "string", jsonPath: ".spec.devicePath" },
    { name: "Capacity", type: "integer", jsonPath: ".spec.capacity", priority: 1 },
    { name: "Reserved", type: "boolean", jsonPath: ".spec.reserved" },
    { name: "Pools", type: "string", jsonPath: ".status.pools", priority: 1 },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
});
const now = new Date("2026-01-02T12:00:00Z");
const disk = {
  apiVersion: "hwameistor.io/v1alpha1",
  kind: "LocalDisk",
  metadata: { name: "node1-sdb", creationTimestamp: "2026-01-02T11:55:00Z", resourceVersion: "7" },
  spec: { nodeName: "node1", devicePath: "/dev/sdb", capacity: 107374182400.0, reserved: false },
  status: { pools: ["a", "b"] },
};

test("HumanDuration matches apimachinery", () => {
  const s = 1000;
  const cases: [number, string][] = [
    [-5 * s, "<invalid>"],
    [-1500, "0s"],
    [0, "0s"],
    [59 * s, "59s"],
    [119 * s, "119s"],
    [120 * s, "2m"],
    [125 * s, "2m5s"],
    [10 * 60 * s, "10m"],
    [179 * 60 * s, "179m"],
    [3 * 3600 * s, "3h"],
    [(3 * 3600 + 12 * 60) * s, "3h12m"],
    [8 * 3600 * s, "8h"],
    [47 * 3600 * s, "47h"],
    [48 * 3600 * s, "2d"],
    [50 * 3600 * s, "2d2h"],
    [8 * 86400 * s, "8d"],
    [400 * 86400 * s, "400d"],
    [730 * 86400 * s, "2y"],
    [731 * 86400 * s, "2y1d"],
    [9 * 365 * 86400 * s, "9y"],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

test("CRD table: Name first, columns in order with priority, cells typed", () => {
  const t = toTable(localDisks, [disk, { metadata: { name: "bare" } }], { now, resourceVersion: "42" });
  assert.equal(t.kind, "Table");
  assert.equal(t.apiVersion, "meta.k8s.io/v1");
  assert.deepEqual(t.metadata, { resourceVersion: "42" });
  // Name first, then the printer columns as declared: same order and types, no format, priority 0 unless given
  const declared = localDisks.printerColumns.map((c) => [c.name, c.type, "", c.priority ?? 0]);
  assert.deepEqual(
    t.columnDefinitions.map((c: any) => [c.name, c.type, c.format, c.priority]),
    [["Name", "string", "name", 0], ...declared],
  );
  assert.deepEqual(
    t.columnDefinitions.map((c: any) => c.priority),
    [0, 0, 0, 1, 0, 1, 0],
  );
  assert.deepEqual(t.rows[0].cells, ["node1-sdb", "node1", "/dev/sdb", 107374182400, false, '["a","b"]', "5m"]);
  assert.deepEqual(t.rows[1].cells, ["bare", null, null, null, null, null, null], "missing values are null (kubectl prints <none>)");
  assert.deepEqual(t.rows[0].object, { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: disk.metadata });
});

test("includeObject None/Object, continue and remainingItemCount", () => {
  const none = toTable(localDisks, [disk], { now, includeObject: "None", continue: "tok", remainingItemCount: 3 });
  assert.equal("object" in none.rows[0], false);
  assert.deepEqual(none.metadata, { continue: "tok", remainingItemCount: 3 });
  assert.equal(toTable(localDisks, [disk], { now, includeObject: "Object" }).rows[0].object, disk);
});

test("type mismatches and bad dates", () => {
  const rt: ResourceType = {
    ...base,
    printerColumns: [
      { name: "I", type: "integer", jsonPath: ".a" },
      { name: "N", type: "number", jsonPath: ".b" },
      { name: "D", type: "date", jsonPath: ".c" },
      { name: "S", type: "string", jsonPath: ".d" },
      { name: "F", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    ],
  };
  const t = toTable(rt, [{ metadata: { name: "x" }, a: "7", b: 2.5, c: "yesterday", d: 12, status: { conditions: [{ type: "Ready", status: "True" }] } }], {
    now,
  });
  assert.deepEqual(t.rows[0].cells, ["x", null, 2.5, "<invalid>", "12", "True"]);
  const t2 = toTable(rt, [{ metadata: { name: "y" }, a: 7.9, c: "0001-01-01T00:00:00Z" }], { now });
  assert.deepEqual(t2.rows[0].cells, ["y", 7, null, "<unknown>", null, null]);
});

test("a CRD without printer columns gets the default Age column", () => {
  const t = toTable({ ...base, printerColumns: [] }, [disk], { now });
  assert.deepEqual(
    t.columnDefinitions.map((c: any) => [c.name, c.type]),
    [
      ["Name", "string"],
      ["Age", "date"],
    ],
  );
  assert.deepEqual(t.rows[0].cells, ["node1-sdb", "5m"]);
});
