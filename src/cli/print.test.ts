import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseOutputFormat, render, type View } from "./print.ts";
import { exitCodeOf } from "../api/errors.ts";

const view: View = {
  sections: [
    {
      columns: [
        { header: "name", value: (r: any) => r.name },
        { header: "size", value: (r: any) => r.size },
        { header: "path", value: (r: any) => r.path, wide: true },
      ],
      rows: [
        { name: "a", size: "1Gi", path: "/x" },
        { name: "longer-name", size: "", path: "/y" },
      ],
    },
  ],
  data: { items: [{ name: "a" }] },
};

test("tables pad columns and hide wide ones", () => {
  assert.equal(render(view, "table"), "NAME          SIZE\na             1Gi\nlonger-name");
  assert.equal(render(view, "wide"), "NAME          SIZE   PATH\na             1Gi    /x\nlonger-name          /y");
});

test("json and yaml print the data", () => {
  assert.deepEqual(JSON.parse(render(view, "json")), view.data);
  assert.deepEqual(parse(render(view, "yaml")), view.data);
});

test("empty tables and bad formats", () => {
  assert.equal(render({ sections: [{ columns: [], rows: [], empty: "no volumes" }], data: [] }, "table"), "no volumes");
  assert.throws(
    () => parseOutputFormat("xml"),
    (e: any) => /json, yaml/.test(e.hint) && exitCodeOf(e) === 2,
  );
});
