import { test } from "node:test";
import assert from "node:assert/strict";
import { HwError } from "../api/errors.ts";
import { assertSameCsiName, csiNameOf, objectNameFor } from "./volume-name.ts";

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

test("PV names and other DNS labels are used as they are", () => {
  for (const n of ["pvc-6f1c3e0a-7d2b-4c1e-9f3a-2b8d5e7c9a10", "data1", "a"]) assert.equal(objectNameFor(n), n);
});

test("any other name maps to a valid, short, deterministic object name", () => {
  const names = ["sanity-node-full-1490A85D-F87A7293", "a".repeat(128), "CreateSnapshot-volume-1", "ünïcode ✓", "---", "UPPER", "a".repeat(64), "x.y", ""];
  const ids = new Set<string>();
  for (const n of names.filter(Boolean)) {
    const id = objectNameFor(n);
    assert.match(id, NAME_RE, n);
    assert.ok(id.length <= 57, `${id} is ${id.length} long`);
    assert.equal(objectNameFor(n), id, "deterministic");
    ids.add(id);
  }
  assert.equal(ids.size, names.filter(Boolean).length, "distinct names, distinct ids");
  assert.match(objectNameFor("sanity-node-full-1490A85D-F87A7293"), /^sanity-node-full-1490a85d-f87a7293-[0-9a-f]{16}$/);
  assert.match(objectNameFor("---"), /^vol-[0-9a-f]{16}$/);
  assert.notEqual(objectNameFor("UPPER"), objectNameFor("upper"), "case matters: two CSI names, two volumes");
});

test("csiNameOf requires a name; assertSameCsiName refuses an object made for another name", () => {
  assert.throws(
    () => csiNameOf(""),
    (e: HwError) => e.code === "INVALID_ARGUMENT",
  );
  const o = { metadata: { name: "x-0123456789abcdef", annotations: { "hwameistor.io/csi-name": "X" } } };
  assertSameCsiName(o, "X", "volume");
  assert.throws(
    () => assertSameCsiName(o, "Y", "volume"),
    (e: HwError) => e.code === "ALREADY_EXISTS",
  );
  assertSameCsiName({ metadata: { name: "pvc-1" } }, "pvc-1", "volume"); // made before the annotation existed
});
