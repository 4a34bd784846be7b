import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, parseSize } from "./size.ts";
import { exitCodeOf } from "../api/errors.ts";

test("parseSize reads Kubernetes quantities", () => {
  assert.equal(parseSize("2Gi"), 2 * 2 ** 30);
  assert.equal(parseSize("512Mi"), 512 * 2 ** 20);
  assert.equal(parseSize("1G"), 1e9);
  assert.equal(parseSize("4096"), 4096);
  assert.equal(parseSize("1.5Gi"), 1.5 * 2 ** 30);
});

test("parseSize explains the format on bad input (exit code 2)", () => {
  for (const bad of ["2GB", "two", "", "-1Gi", "0", "2 Gix"]) {
    assert.throws(() => parseSize(bad, "--size"), (e: any) => /--size .* is not a size/.test(e.message) && /2Gi/.test(e.hint) && exitCodeOf(e) === 2, bad);
  }
});

test("formatBytes", () => {
  assert.equal(formatBytes(2 * 2 ** 30), "2Gi");
  assert.equal(formatBytes(1.5 * 2 ** 30), "1.5Gi");
  assert.equal(formatBytes(1000), "1000");
  assert.equal(formatBytes(0), "0");
  assert.equal(formatBytes(undefined), "");
});
