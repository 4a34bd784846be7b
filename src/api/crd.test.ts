import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderCrdFiles } from "./crd-files.ts";
import { ALLOWED_KEYWORDS, toCrd, type JSONSchemaProps } from "./crd.ts";
import { kindDefinitions } from "./kinds/index.ts";
import { GROUP, KindNamesTable, VERSION } from "./names.ts";

const crdDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "deploy", "crds");

test("committed deploy/crds are exactly what the generator produces", () => {
  const files = renderCrdFiles();
  const committed = readdirSync(crdDir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();
  assert.deepEqual(committed, Object.keys(files).sort(), "stale CRDs: run npm run gen");
  for (const [name, text] of Object.entries(files)) {
    assert.equal(readFileSync(join(crdDir, name), "utf8"), text, `stale CRDs: run npm run gen (${name} differs)`);
  }
});

test("one CRD per kind of §1, 20 in all", () => {
  assert.equal(kindDefinitions.length, 20);
  assert.deepEqual(kindDefinitions.map((d) => d.kind).sort(), Object.keys(KindNamesTable).sort());
});

// What the generator emits: the CRD keywords (crd.ts) less the combinators and documentation-only ones, which a
// structural schema restricts and ours never need.
const NOT_EMITTED = new Set(["allOf", "oneOf", "anyOf", "not", "example", "externalDocs"]);
const ALLOWED = new Set([...ALLOWED_KEYWORDS].filter((k) => !NOT_EMITTED.has(k)));

/** Every node has a type (or is int-or-string / preserve-unknown-fields) and only CRD keywords. */
function checkStructural(node: JSONSchemaProps, path: string): void {
  assert.ok(
    typeof node.type === "string" || node["x-kubernetes-int-or-string"] === true || node["x-kubernetes-preserve-unknown-fields"] === true,
    `${path}: schema node without type`,
  );
  for (const key of Object.keys(node)) {
    assert.ok(ALLOWED.has(key) || key.startsWith("x-kubernetes-"), `${path}: keyword ${key} is not allowed in a CRD schema`);
  }
  assert.equal(Object.getOwnPropertySymbols(node).length, 0, `${path}: symbol keys`);
  if (node.required) {
    assert.ok(node.required.length > 0, `${path}: empty required`);
    for (const r of node.required) assert.ok(node.properties?.[r], `${path}: required ${r} is not a property`);
  }
  if (node.enum && node.type === "string") for (const v of node.enum) assert.equal(typeof v, "string", `${path}: enum value type`);
  for (const [k, sub] of Object.entries<JSONSchemaProps>(node.properties ?? {})) checkStructural(sub, `${path}.${k}`);
  if (node.items) checkStructural(node.items, `${path}[]`);
  if (typeof node.additionalProperties === "object") checkStructural(node.additionalProperties, `${path}{}`);
}

/** Walk a printer column jsonPath (`.a.b[0].c`) through the schema; map keys go through additionalProperties. */
function schemaAt(schema: JSONSchemaProps, jsonPath: string): JSONSchemaProps | undefined {
  const segments = jsonPath
    .replace(/\[\d+\]/g, ".[]")
    .split(".")
    .filter(Boolean);
  let node: JSONSchemaProps | undefined = schema;
  for (const seg of segments) {
    if (!node) return undefined;
    if (seg === "[]") node = node.type === "array" ? node.items : undefined;
    else if (node.properties?.[seg]) node = node.properties[seg];
    else if (typeof node.additionalProperties === "object") node = node.additionalProperties;
    else return undefined;
  }
  return node;
}

for (const def of kindDefinitions) {
  test(`CRD ${def.plural} is structural and consistent`, () => {
    const crd = toCrd(def);
    assert.equal(crd.apiVersion, "apiextensions.k8s.io/v1");
    assert.equal(crd.kind, "CustomResourceDefinition");
    assert.equal(crd.metadata.name, `${crd.spec.names.plural}.${crd.spec.group}`);
    assert.equal(crd.spec.group, GROUP);
    assert.equal(crd.spec.scope, "Cluster");
    assert.equal(crd.spec.names.kind, def.kind);
    assert.equal(crd.spec.names.listKind, `${def.kind}List`);
    assert.equal(crd.spec.names.singular, def.kind.toLowerCase());
    assert.deepEqual(crd.spec.names.shortNames ?? [], KindNamesTable[def.kind].shortNames);
    assert.equal(crd.spec.versions.length, 1);
    const v = crd.spec.versions[0];
    assert.equal(v.name, VERSION);
    assert.equal(v.served, true);
    assert.equal(v.storage, true);
    assert.deepEqual(v.subresources, { status: {} });
    const schema: JSONSchemaProps = v.schema.openAPIV3Schema;
    assert.equal(schema.type, "object");
    assert.deepEqual(schema.properties.metadata, { type: "object" });
    assert.equal(schema.properties.spec.type, "object");
    assert.equal(schema.properties.status.type, "object");
    checkStructural(schema, def.kind);
    assert.equal(JSON.stringify(schema).includes("patternProperties"), false);
    for (const c of v.additionalPrinterColumns ?? []) {
      const target = schemaAt(schema, c.jsonPath);
      if (c.jsonPath === ".metadata.creationTimestamp") continue;
      assert.ok(target, `${def.kind} column ${c.name}: ${c.jsonPath} is not in the schema`);
      assert.ok(["string", "integer", "number", "boolean", "date"].includes(c.type));
    }
  });
}

test("short names match §1.1", () => {
  const expected: Record<string, string[]> = {
    localdisks: ["ld"],
    localdisknodes: ["ldn"],
    localdiskclaims: ["ldc"],
    localdiskvolumes: ["ldv"],
    localdiskactions: ["lda"],
    localstoragenodes: ["lsn"],
    localvolumes: ["lv"],
    localvolumereplicas: ["lvr"],
    localvolumegroups: ["lvg"],
    localvolumemigrates: ["lvmigrate"],
    localvolumeconverts: ["lvconvert"],
    localvolumeexpands: ["lvexpand"],
    localvolumesnapshots: ["lvs"],
    localvolumereplicasnapshots: ["lvrs"],
    localvolumesnapshotrestores: ["lvsrestore", "lvsnaprestore"],
    localvolumereplicasnapshotrestores: ["lvrsrestore", "lvrsnaprestore"],
    thinpoolclaims: ["tpc"],
    resizepolicies: [],
    events: ["evt"],
    clusters: ["hmcluster"],
  };
  for (const def of kindDefinitions) assert.deepEqual(def.shortNames, expected[def.plural], def.plural);
  assert.equal(Object.keys(expected).length, kindDefinitions.length);
});

test("CRD schema keeps the original's misspelt keys and enums", () => {
  const schemaOf = (plural: string) => toCrd(kindDefinitions.find((d) => d.plural === plural)!).spec.versions[0].schema.openAPIV3Schema;
  assert.ok(schemaOf("localstoragenodes").properties.spec.properties.topogoly);
  assert.ok(schemaOf("localdiskvolumes").properties.status.properties.mountPoints.items.properties.fsTye);
  assert.ok(schemaOf("localvolumereplicasnapshots").properties.status.properties.reason);
  const lv = schemaOf("localvolumes");
  assert.deepEqual(lv.properties.status.required, ["rawblock"]);
  assert.equal(lv.properties.spec.properties.requiredCapacityBytes.format, "int64");
  assert.equal(lv.properties.spec.properties.requiredCapacityBytes.minimum, 4194304);
  assert.deepEqual(lv.properties.spec.properties.accessibility.properties.zones.default, ["default"]);
  assert.deepEqual(schemaOf("localvolumereplicasnapshots").properties.spec.properties.poolName.enum, [
    "LocalStorage_PoolHDD",
    "LocalStorage_PoolSSD",
    "LocalStorage_PoolNVMe",
  ]);
  const cluster = schemaOf("clusters").properties.spec.properties;
  assert.equal(cluster.localStorage["x-kubernetes-preserve-unknown-fields"], true);
  assert.equal(cluster.scheduler.properties.common.properties.tolerations.items["x-kubernetes-preserve-unknown-fields"], true);
});
