import { test } from "node:test";
import assert from "node:assert/strict";
import { compileSchema, resourceTypesFromCrd, validateCrd } from "./schema.ts";
import { localDiskResourceType } from "./testing/resource-types.ts";

const schema = {
  type: "object",
  properties: {
    apiVersion: { type: "string" },
    kind: { type: "string" },
    metadata: { type: "object" },
    spec: {
      type: "object",
      required: ["poolName", "replicaNumber"],
      properties: {
        poolName: { type: "string", enum: ["LocalStorage_PoolHDD", "LocalStorage_PoolSSD"] },
        replicaNumber: { type: "integer", format: "int64", minimum: 1, maximum: 4 },
        volumeQoS: { type: "object", properties: { throughput: { type: "string", default: "0" }, iops: { type: "string" } } },
        config: {
          type: "object",
          default: {},
          properties: { convertible: { type: "boolean", default: false }, version: { type: "integer", default: 1 } },
        },
        disks: {
          type: "array",
          maxItems: 2,
          items: {
            type: "object",
            required: ["devPath"],
            properties: { devPath: { type: "string", pattern: "^/dev/" }, class: { type: "string", default: "HDD" } },
          },
        },
        size: { "x-kubernetes-int-or-string": true },
        labels: { type: "object", additionalProperties: { type: "object", properties: { v: { type: "string", default: "d" } } } },
        extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        template: { type: "object", "x-kubernetes-embedded-resource": true, properties: { spec: { type: "object", properties: { a: { type: "string" } } } } },
        note: { type: "string", nullable: true, maxLength: 5 },
        name: { type: "string", minLength: 2 },
      },
    },
    status: { type: "object", properties: { state: { type: "string" } } },
  },
};

const ok = () => ({
  apiVersion: "hwameistor.io/v1alpha1",
  kind: "LocalVolume",
  metadata: { name: "v1", labels: { a: "b" } },
  spec: { poolName: "LocalStorage_PoolHDD", replicaNumber: 2 },
});

test("a valid object has no causes", () => {
  assert.deepEqual(compileSchema(schema).validate(ok()), []);
});

test("enum, maximum, required, type errors read like Kubernetes", () => {
  const c = compileSchema(schema);
  const o: any = ok();
  o.spec.poolName = "X";
  o.spec.replicaNumber = 7;
  assert.deepEqual(c.validate(o), [
    {
      field: "spec.poolName",
      reason: "FieldValueNotSupported",
      message: 'Unsupported value: "X": supported values: "LocalStorage_PoolHDD", "LocalStorage_PoolSSD"',
    },
    { field: "spec.replicaNumber", reason: "FieldValueInvalid", message: "Invalid value: 7: spec.replicaNumber in body should be less than or equal to 4" },
  ]);
  assert.deepEqual(c.validate({ ...ok(), spec: { poolName: "LocalStorage_PoolSSD" } }), [
    { field: "spec.replicaNumber", reason: "FieldValueRequired", message: "Required value" },
  ]);
  assert.deepEqual(c.validate({ ...ok(), spec: { poolName: "LocalStorage_PoolSSD", replicaNumber: "two" } }), [
    {
      field: "spec.replicaNumber",
      reason: "FieldValueTypeInvalid",
      message: 'Invalid value: "string": spec.replicaNumber in body must be of type integer: "string"',
    },
  ]);
  assert.equal(c.validate({ ...ok(), spec: { poolName: "LocalStorage_PoolSSD", replicaNumber: 1.5 } })[0]?.reason, "FieldValueTypeInvalid");
  assert.equal(
    c.validate({ ...ok(), spec: { poolName: "LocalStorage_PoolSSD", replicaNumber: 0 } })[0]?.message,
    "Invalid value: 0: spec.replicaNumber in body should be greater than or equal to 1",
  );
});

test("nested paths in arrays and maps; pattern, maxItems, lengths, nullable", () => {
  const c = compileSchema(schema);
  const o: any = ok();
  o.spec.disks = [{ devPath: "/dev/sdb" }, { devPath: "sdc" }, {}];
  o.spec.labels = { k: { v: 3 } };
  o.spec.note = "toolong";
  o.spec.name = "x";
  const causes = c.validate(o);
  assert.deepEqual(
    causes.map((x) => [x.field, x.reason]),
    [
      ["spec.disks", "FieldValueTooMany"],
      ["spec.disks[1].devPath", "FieldValueInvalid"],
      ["spec.disks[2].devPath", "FieldValueRequired"],
      ["spec.labels[k].v", "FieldValueTypeInvalid"],
      ["spec.note", "FieldValueTooLong"],
      ["spec.name", "FieldValueInvalid"],
    ],
  );
  assert.equal(causes[1]!.message, "Invalid value: \"sdc\": spec.disks[1].devPath in body should match '^/dev/'");
  o.spec = { poolName: "LocalStorage_PoolHDD", replicaNumber: 1, note: null };
  assert.deepEqual(c.validate(o), []);
});

test("int-or-string accepts integers and strings only", () => {
  const c = compileSchema(schema);
  for (const size of [10, "10Gi"]) assert.deepEqual(c.validate({ ...ok(), spec: { ...ok().spec, size } }), [], String(size));
  for (const size of [1.5, true, {}]) assert.equal(c.validate({ ...ok(), spec: { ...ok().spec, size } })[0]?.reason, "FieldValueTypeInvalid", String(size));
});

test("structural defaulting: nested defaults, array items, additionalProperties, not into absent parents", () => {
  const c = compileSchema(schema);
  const o: any = ok();
  o.spec.disks = [{ devPath: "/dev/sdb" }, { devPath: "/dev/sdc", class: "SSD" }];
  o.spec.labels = { k: {} };
  c.applyDefaults(o);
  assert.deepEqual(o.spec.config, { convertible: false, version: 1 }, "default {} then its own properties' defaults");
  assert.deepEqual(o.spec.disks, [
    { devPath: "/dev/sdb", class: "HDD" },
    { devPath: "/dev/sdc", class: "SSD" },
  ]);
  assert.deepEqual(o.spec.labels, { k: { v: "d" } });
  assert.equal("volumeQoS" in o.spec, false, "absent parent without default stays absent");
  const q: any = ok();
  q.spec.volumeQoS = {};
  q.spec.config = { convertible: true };
  c.applyDefaults(q);
  assert.deepEqual(q.spec.volumeQoS, { throughput: "0" });
  assert.deepEqual(q.spec.config, { convertible: true, version: 1 });
  const n: any = ok();
  n.spec.config = null;
  n.spec.volumeQoS = null;
  c.applyDefaults(n);
  assert.deepEqual(n.spec.config, { convertible: false, version: 1 }, "non-nullable null takes the default");
  assert.equal("volumeQoS" in n.spec, false, "non-nullable null without default is dropped");
});

test("pruning removes unknown fields and reports their paths", () => {
  const c = compileSchema(schema);
  const o: any = ok();
  o.spec.bogus = 1;
  o.spec.disks = [{ devPath: "/dev/sdb", typo: "x" }];
  o.spec.extra = { anything: { goes: true } };
  o.spec.template = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { a: "x", b: "y" } };
  o.spec.labels = { k: { v: "1", w: "2" } };
  o.top = true;
  o.status = { state: "Ready", junk: 1 };
  const removed = c.prune(o);
  assert.deepEqual(removed, ["spec.bogus", "spec.disks[0].typo", "spec.template.spec.b", "spec.labels[k].w", "top", "status.junk"]);
  assert.deepEqual(o.metadata, { name: "v1", labels: { a: "b" } });
  assert.equal(o.apiVersion, "hwameistor.io/v1alpha1");
  assert.deepEqual(o.spec.extra, { anything: { goes: true } });
  assert.deepEqual(o.spec.template, { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { a: "x" } });
  assert.deepEqual(c.prune(o), []);
});

const crd = () => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "localdisks.hwameistor.io" },
  spec: {
    group: "hwameistor.io",
    names: { kind: "LocalDisk", plural: "localdisks", shortNames: ["ld"], categories: ["hwameistor"] },
    scope: "Cluster",
    versions: [
      {
        name: "v1alpha1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: schema },
        additionalPrinterColumns: [
          { name: "NodeMatch", type: "string", jsonPath: ".spec.nodeName" },
          { name: "Capacity", type: "integer", jsonPath: ".spec.capacity", priority: 1, format: "int64", description: "bytes" },
        ],
        selectableFields: [{ jsonPath: ".spec.nodeName" }],
      },
      { name: "v1alpha0", served: false, storage: false },
    ],
  },
});

test("validateCrd accepts a good CRD", () => {
  assert.deepEqual(validateCrd(crd()), []);
});

test("validateCrd rejects two storage versions, non-structural schemas, bad names and columns", () => {
  const two: any = crd();
  two.spec.versions[1] = { ...two.spec.versions[0], name: "v1beta1" };
  assert.deepEqual(
    validateCrd(two).map((c) => [c.field, c.reason]),
    [["spec.versions", "FieldValueInvalid"]],
  );
  assert.match(validateCrd(two)[0]!.message, /exactly one version marked as storage version/);

  const nonStructural: any = crd();
  nonStructural.spec.versions[0].schema.openAPIV3Schema = {
    type: "object",
    properties: { spec: { properties: { a: { type: "string" } } }, list: { type: "array" } },
  };
  assert.deepEqual(
    validateCrd(nonStructural).map((c) => [c.field, c.reason]),
    [
      ["spec.versions[0].schema.openAPIV3Schema.properties[spec].type", "FieldValueRequired"],
      ["spec.versions[0].schema.openAPIV3Schema.properties[list].items", "FieldValueRequired"],
    ],
  );
  const noSchema: any = crd();
  delete noSchema.spec.versions[0].schema;
  assert.deepEqual(
    validateCrd(noSchema).map((c) => c.field),
    ["spec.versions[0].schema.openAPIV3Schema"],
  );

  const bad: any = crd();
  bad.metadata.name = "disks.hwameistor.io";
  bad.spec.scope = "Global";
  bad.spec.versions[0].additionalPrinterColumns.push({ name: "X", type: "map", jsonPath: "" });
  assert.deepEqual(
    validateCrd(bad).map((c) => [c.field, c.reason]),
    [
      ["metadata.name", "FieldValueInvalid"],
      ["spec.scope", "FieldValueNotSupported"],
      ["spec.versions[0].additionalPrinterColumns[2].type", "FieldValueNotSupported"],
      ["spec.versions[0].additionalPrinterColumns[2].jsonPath", "FieldValueRequired"],
    ],
  );
  assert.deepEqual(
    validateCrd({ spec: { names: {}, versions: [] } }).map((c) => c.field),
    ["spec.group", "spec.names.plural", "spec.names.kind", "spec.scope", "spec.versions"],
  );
  const preserve: any = crd();
  preserve.spec.versions[0].schema.openAPIV3Schema = {
    type: "object",
    properties: { spec: { "x-kubernetes-preserve-unknown-fields": true }, size: { "x-kubernetes-int-or-string": true } },
  };
  assert.deepEqual(validateCrd(preserve), []);
});

test("resourceTypesFromCrd: one per served version with defaults", () => {
  const rts = resourceTypesFromCrd(crd());
  assert.equal(rts.length, 1);
  assert.deepEqual(
    { ...rts[0]!, schema: undefined },
    localDiskResourceType({
      shortNames: ["ld"],
      categories: ["hwameistor"],
      printerColumns: [
        { name: "NodeMatch", type: "string", jsonPath: ".spec.nodeName" },
        { name: "Capacity", type: "integer", jsonPath: ".spec.capacity", priority: 1, format: "int64", description: "bytes" },
      ],
      selectableFields: ["spec.nodeName"],
      schema: undefined,
    }),
  );
  assert.equal(rts[0]!.schema, schema);
});
