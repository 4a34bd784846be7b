import { test } from "node:test";
import assert from "node:assert/strict";
import { parseFieldSelector } from "./field-selector.ts";
import type { ResourceType } from "./resource-type.ts";
import { HwError, httpStatusOf, toKubeStatus } from "../api/errors.ts";

const pods: ResourceType = {
  group: "",
  version: "v1",
  kind: "Pod",
  listKind: "PodList",
  plural: "pods",
  singular: "pod",
  shortNames: ["po"],
  categories: ["all"],
  namespaced: true,
  hasStatus: true,
  printerColumns: [],
  selectableFields: ["spec.nodeName", "status.phase", ".spec.replicas"],
  builtin: true,
};
const pod = { metadata: { name: "p1", namespace: "default" }, spec: { nodeName: "node-a", replicas: 2 }, status: { phase: "Running" } };

test("empty selector matches all", () => {
  assert.equal(parseFieldSelector("", pods)(pod), true);
});

test("=, ==, != and AND", () => {
  assert.equal(parseFieldSelector("metadata.name=p1", pods)(pod), true);
  assert.equal(parseFieldSelector("metadata.name==p1", pods)(pod), true);
  assert.equal(parseFieldSelector("metadata.name!=p1", pods)(pod), false);
  assert.equal(parseFieldSelector("metadata.namespace=default,spec.nodeName=node-a", pods)(pod), true);
  assert.equal(parseFieldSelector("metadata.namespace=default,spec.nodeName=node-b", pods)(pod), false);
  assert.equal(parseFieldSelector("status.phase!=Pending", pods)(pod), true);
  assert.equal(parseFieldSelector("spec.replicas=2", pods)(pod), true, "numbers compare by their string form; leading dot of selectableFields stripped");
});

test("missing field equals the empty string (spec.nodeName= selects unscheduled pods)", () => {
  const unscheduled = { metadata: { name: "p2", namespace: "default" }, spec: {} };
  assert.equal(parseFieldSelector("spec.nodeName=", pods)(unscheduled), true);
  assert.equal(parseFieldSelector("spec.nodeName!=", pods)(unscheduled), false);
  assert.equal(parseFieldSelector("spec.nodeName!=", pods)(pod), true);
});

test("escaped values", () => {
  const o = { metadata: { name: "a,b=c", namespace: "x" } };
  assert.equal(parseFieldSelector("metadata.name=a\\,b\\=c", pods)(o), true);
});

test("unsupported field is 400 BadRequest 'field label not supported: X'", () => {
  assert.throws(
    () => parseFieldSelector("spec.foo=bar", pods),
    (e: unknown) => {
      assert.ok(e instanceof HwError);
      assert.equal(e.message, "field label not supported: spec.foo");
      assert.equal(httpStatusOf(e), 400);
      assert.equal(toKubeStatus(e).reason, "BadRequest");
      return true;
    },
  );
});

test("syntax errors are 400", () => {
  for (const s of ["metadata.name", "=x", "metadata.name=p1,", "metadata.name=a=b"]) {
    assert.throws(
      () => parseFieldSelector(s, pods),
      (e: unknown) => e instanceof HwError && httpStatusOf(e) === 400,
      s,
    );
  }
});
