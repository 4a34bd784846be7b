import { test } from "node:test";
import assert from "node:assert/strict";
import { quantityBytes } from "./reconciler.ts";

test("resize-policy: PVC request quantities", () => {
  assert.equal(quantityBytes("1Gi"), 2 ** 30);
  assert.equal(quantityBytes("1528Mi"), 1528 * 2 ** 20);
  assert.equal(quantityBytes("2G"), 2e9);
  assert.ok(Number.isNaN(quantityBytes("lots")));
  assert.ok(Number.isNaN(quantityBytes(undefined)));
});
