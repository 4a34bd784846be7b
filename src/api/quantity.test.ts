import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, isQuantity, parseQuantity, parseSize, quantityOrUndefined, toBinarySI } from "./quantity.ts";
import { exitCodeOf } from "./errors.ts";

test("parseQuantity reads the Kubernetes quantity grammar, rounding up to a whole number", () => {
  const cases: [string, number][] = [
    ["2Gi", 2 * 2 ** 30],
    ["512Mi", 512 * 2 ** 20],
    ["1G", 1e9],
    ["4096", 4096],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["1.5k", 1500],
    ["1e3", 1000],
    ["1E3", 1000],
    ["1e+3", 1000],
    ["5e-1", 1],
    ["500m", 1],
    ["100u", 1],
    ["1n", 1],
    ["+10Mi", 10 * 2 ** 20],
    [".5Ki", 512],
    ["1.", 1],
    [" 3Ti ", 3 * 2 ** 40],
    ["0", 0],
    ["-0", 0],
    ["4Pi", 4 * 2 ** 50],
  ];
  for (const [text, want] of cases) assert.equal(parseQuantity(text, "q"), want, text);
});

test("parseQuantity refuses what is not a quantity, is negative or too large, naming the field (exit code 2)", () => {
  for (const bad of ["2GB", "two", "", "-1Gi", "2 Gix", "1Ki2", "Gi", "1e", "1.2.3", "1Ei"]) {
    assert.throws(
      () => parseQuantity(bad, "spec.x"),
      (e: any) => e.reason === "InvalidQuantity" && /spec\.x/.test(e.message) && typeof e.hint === "string" && exitCodeOf(e) === 2,
      bad,
    );
  }
  assert.equal(isQuantity("10Mi"), true);
  assert.equal(isQuantity("-10Mi"), true); // the grammar allows a sign; parseQuantity refuses negatives
  assert.equal(isQuantity("10MB"), false);
});

test("parseSize is a quantity above zero", () => {
  assert.equal(parseSize("1Gi", "--size"), 2 ** 30);
  for (const bad of ["0", "-1Gi", "x"])
    assert.throws(
      () => parseSize(bad, "--size"),
      (e: any) => /--size/.test(e.message) && exitCodeOf(e) === 2,
      bad,
    );
});

test("formatBytes prints as kubectl shows quantities", () => {
  assert.equal(formatBytes(2 * 2 ** 30), "2Gi");
  assert.equal(formatBytes(1.5 * 2 ** 30), "1.5Gi");
  assert.equal(formatBytes(1000), "1000");
  assert.equal(formatBytes(0), "0");
  assert.equal(formatBytes(undefined), "");
});

test("toBinarySI is exact", () => {
  assert.equal(toBinarySI(2 ** 30), "1Gi");
  assert.equal(toBinarySI(1284 * 2 ** 20), "1284Mi");
  assert.equal(toBinarySI(1.5 * 2 ** 30), "1536Mi");
  assert.equal(toBinarySI(1000), "1000");
  assert.equal(toBinarySI(0), "0");
});

test("quantityOrUndefined reads what others wrote: bytes, or undefined when missing or malformed", () => {
  assert.equal(quantityOrUndefined("1528Mi"), 1528 * 2 ** 20);
  assert.equal(quantityOrUndefined("2G"), 2e9);
  assert.equal(quantityOrUndefined("lots"), undefined);
  assert.equal(quantityOrUndefined(undefined), undefined);
});
