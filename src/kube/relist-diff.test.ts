import { test } from "node:test";
import assert from "node:assert/strict";
import { compareIntStrings, relistDiff } from "./relist-diff.ts";
import type { KubeObject } from "./types.ts";

const o = (name: string, rv: string, ns = "d"): KubeObject => ({ metadata: { name, namespace: ns, resourceVersion: rv } });

test("relist diff: adds, updates for changed RVs, deletes for vanished keys; unchanged emit nothing", () => {
  const cache = new Map<string, KubeObject>([
    ["d/same", o("same", "5")],
    ["d/changed", o("changed", "6")],
    ["d/gone", o("gone", "7")],
  ]);
  const ev = relistDiff(cache, [o("same", "5"), o("changed", "12"), o("new", "11")]);
  assert.deepEqual(
    ev.map((e) => [e.type, e.key]),
    [
      ["add", "d/new"], // rv 11 before rv 12: modification order
      ["update", "d/changed"],
      ["delete", "d/gone"],
    ],
  );
  const upd = ev[1]!;
  assert.equal(upd.type === "update" && upd.old.metadata?.resourceVersion, "6");
  const del = ev[2]!;
  assert.equal(del.object.metadata?.resourceVersion, "7", "delete carries the last known state");
});

test("relist diff keeps list order when resourceVersions are not integers", () => {
  const ev = relistDiff(new Map(), [o("b", "zz"), o("a", "aa")]);
  assert.deepEqual(
    ev.map((e) => e.key),
    ["d/b", "d/a"],
  );
});

test("relist diff on an empty list deletes everything; on identical state emits nothing", () => {
  const cache = new Map<string, KubeObject>([["d/x", o("x", "1")]]);
  assert.deepEqual(
    relistDiff(cache, []).map((e) => e.type),
    ["delete"],
  );
  assert.deepEqual(relistDiff(cache, [o("x", "1")]), []);
});

test("compareIntStrings compares big integers as numbers", () => {
  assert.ok(compareIntStrings("9", "10") < 0);
  assert.ok(compareIntStrings("123456789012345678901", "123456789012345678900") > 0);
  assert.equal(compareIntStrings("007", "7"), 0);
});
