import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HwError } from "../api/errors.ts";
import { nameMatches, pageOf, parseListQuery, type ListSpec } from "./query.ts";
import { parseCapacity, roundUpExtent } from "./quantity.ts";

const spec: ListSpec<{ n: string; size: number }> = {
  filters: ["name"],
  sorts: { name: (x) => x.n, size: (x) => x.size },
  defaultSort: { key: "name", dir: "asc" },
};
const items = [
  { n: "b", size: 2 },
  { n: "a10", size: 1 },
  { n: "a2", size: 3 },
];
const names = (r: { items: Array<{ n: string }> }) => r.items.map((x) => x.n);

describe("list queries", () => {
  it("defaults to everything sorted by the default key; natural order for numbers in names", () => {
    const q = parseListQuery({}, spec);
    assert.deepEqual([q.page, q.pageSize, q.sort, q.sortDir, q.fuzzy], [1, -1, "name", "asc", true]);
    assert.deepEqual(names(pageOf(items, q, spec)), ["a2", "a10", "b"]);
  });

  it("pages: last partial page, beyond the end, exact multiple", () => {
    const p = (page: number, pageSize: number) => pageOf(items, parseListQuery({ page: String(page), pageSize: String(pageSize) }, spec), spec);
    assert.deepEqual(names(p(2, 2)), ["b"]);
    assert.deepEqual(p(2, 2).pagination, { total: 3, page: 2, pages: 2, pageSize: 2 });
    assert.deepEqual(names(p(3, 2)), []);
    assert.equal(p(1, 3).pagination.pages, 1);
    assert.deepEqual(pageOf([], parseListQuery({ page: "1", pageSize: "5" }, spec), spec).pagination, { total: 0, page: 1, pages: 0, pageSize: 5 });
  });

  it("sorts by a number descending, and takes repeated parameters' first value", () => {
    assert.deepEqual(names(pageOf(items, parseListQuery({ sort: "size", sortDir: "DESC" }, spec), spec)), ["a2", "b", "a10"]);
    assert.deepEqual(names(pageOf(items, parseListQuery({ sort: ["size", "name"] }, spec), spec)), ["a10", "b", "a2"]);
  });

  it("refuses bad values naming the parameter", () => {
    for (const [q, param] of [
      [{ page: "0" }, "page"],
      [{ pageSize: "0" }, "pageSize"],
      [{ pageSize: "10001" }, "pageSize"],
      [{ page: "1e3" }, "page"],
      [{ sort: "colour" }, "sort"],
      [{ sortDir: "sideways" }, "sortDir"],
      [{ fuzzy: "1" }, "fuzzy"],
    ] as const) {
      assert.throws(
        () => parseListQuery(q, spec),
        (e: unknown) => e instanceof HwError && e.code === "INVALID_ARGUMENT" && e.message.startsWith(`query parameter ${param}:`),
      );
    }
  });

  it("fuzzy name filters are case-insensitive substrings; exact otherwise; an absent filter matches", () => {
    assert.ok(nameMatches("pvc-ABC", "abc", true));
    assert.ok(!nameMatches("pvc-ABC", "abc", false));
    assert.ok(nameMatches("pvc-ABC", "pvc-ABC", false));
    assert.ok(nameMatches(undefined, undefined, false));
  });
});

describe("capacities", () => {
  it("parses quantities and bytes, rounds to 4 MiB", () => {
    assert.equal(parseCapacity("2Gi", "x"), 2 ** 31);
    assert.equal(parseCapacity("1.5Gi", "x"), 1.5 * 2 ** 30);
    assert.equal(parseCapacity("1G", "x"), 1e9);
    assert.equal(parseCapacity(4096, "x"), 4096);
    assert.equal(roundUpExtent(1), 4 * 2 ** 20);
    assert.equal(roundUpExtent(4 * 2 ** 20 + 1), 8 * 2 ** 20);
    for (const bad of ["", "-1Gi", "2 pebibytes", 0, -5, 1.5, null, true]) {
      assert.throws(() => parseCapacity(bad, "targetCapacity"), /body field targetCapacity/);
    }
  });
});
