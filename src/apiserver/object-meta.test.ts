import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { builtinResourceTypes } from "./builtins.ts";
import { bumpGeneration, generateName, nameCauses } from "./object-meta.ts";

const rt = (kind: string) => builtinResourceTypes.find((t) => t.kind === kind)!;

describe("object metadata rules", () => {
  it("validates names as DNS subdomains (labels for namespaces)", () => {
    assert.deepEqual(nameCauses(rt("ConfigMap"), "a.b-c"), []);
    assert.equal(nameCauses(rt("ConfigMap"), "A")[0]?.reason, "FieldValueInvalid");
    assert.equal(nameCauses(rt("ConfigMap"), "")[0]?.reason, "FieldValueRequired");
    assert.equal(nameCauses(rt("Namespace"), "a.b").length, 1);
    assert.equal(nameCauses(rt("ConfigMap"), "x".repeat(254)).length, 1);
  });

  it("generates names with a 5-character suffix", () => {
    assert.match(generateName("pvc-"), /^pvc-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(generateName("x".repeat(80)).length, 63);
  });

  it("bumps generation only for non-metadata (and non-status) changes", () => {
    const pvc = rt("PersistentVolumeClaim");
    const old = { metadata: { generation: 3, labels: {} }, spec: { a: 1 }, status: { phase: "Bound" } };
    const meta = { ...old, metadata: { generation: 3, labels: { x: "y" } } };
    bumpGeneration(meta, old, pvc);
    assert.equal(meta.metadata.generation, 3);
    const status = { ...old, status: { phase: "Lost" } };
    bumpGeneration(status, old, pvc);
    assert.equal(status.metadata.generation, 3);
    const spec = { ...old, metadata: { ...old.metadata }, spec: { a: 2 } };
    bumpGeneration(spec, old, pvc);
    assert.equal(spec.metadata.generation, 4);
    const cm = { metadata: { generation: 1 }, data: { a: "1" } };
    const cm2 = { metadata: { generation: 1 }, data: { a: "2" } };
    bumpGeneration(cm2, cm, rt("ConfigMap"));
    assert.equal(cm2.metadata.generation, 2);
  });
});
