import { test } from "node:test";
import assert from "node:assert/strict";
import { formatLabelSelector, labelSelectorMatcher, parseLabelSelector } from "./label-selector.ts";
import { HwError, httpStatusOf, toKubeStatus } from "./errors.ts";

const L = { app: "web", tier: "frontend", "hwameistor.io/pool": "LocalStorage_PoolHDD", n: "5" };

test("empty selector matches everything, including objects without labels", () => {
  const m = parseLabelSelector("");
  assert.equal(m(L), true);
  assert.equal(m(undefined), true);
  assert.equal(parseLabelSelector("   ")({}), true);
});

test("equality, double equals and inequality", () => {
  assert.equal(parseLabelSelector("app=web")(L), true);
  assert.equal(parseLabelSelector("app==web")(L), true);
  assert.equal(parseLabelSelector("app = web")(L), true);
  assert.equal(parseLabelSelector("app=db")(L), false);
  assert.equal(parseLabelSelector("app!=db")(L), true);
  assert.equal(parseLabelSelector("app!=web")(L), false);
  // != matches objects that lack the label (apimachinery semantics)
  assert.equal(parseLabelSelector("missing!=x")(L), true);
  assert.equal(parseLabelSelector("app=web")(undefined), false);
});

test("empty value: a= matches a label with empty value only", () => {
  assert.equal(parseLabelSelector("e=")({ e: "" }), true);
  assert.equal(parseLabelSelector("e=")({ e: "x" }), false);
  assert.equal(parseLabelSelector("e=")({}), false);
});

test("set-based: in, notin, exists, !exists, AND by comma", () => {
  assert.equal(parseLabelSelector("tier in (frontend, backend)")(L), true);
  assert.equal(parseLabelSelector("tier in (backend)")(L), false);
  assert.equal(parseLabelSelector("tier notin (backend)")(L), true);
  assert.equal(parseLabelSelector("tier notin (frontend,backend)")(L), false);
  assert.equal(parseLabelSelector("missing notin (x)")(L), true);
  assert.equal(parseLabelSelector("missing in (x)")(L), false);
  assert.equal(parseLabelSelector("app")(L), true);
  assert.equal(parseLabelSelector("!app")(L), false);
  assert.equal(parseLabelSelector("!missing")(L), true);
  assert.equal(parseLabelSelector("app=web,tier in (frontend),!missing,hwameistor.io/pool")(L), true);
  assert.equal(parseLabelSelector("app=web,tier=backend")(L), false);
  assert.equal(parseLabelSelector("hwameistor.io/pool=LocalStorage_PoolHDD")(L), true);
});

test("gt / lt on integer values", () => {
  assert.equal(parseLabelSelector("n>3")(L), true);
  assert.equal(parseLabelSelector("n<3")(L), false);
  assert.equal(parseLabelSelector("app>3")(L), false);
});

test("bad syntax is a 400 BadRequest naming the bad part", () => {
  const bad = ["app in (x", "app in x", "a b", "=x", "app=web,", ",app", "app in ()", "a=b=c", "bad key!=x", "-a=b", "a=-b-", "a/b/c=x", "!a=b"];
  for (const s of bad) {
    assert.throws(
      () => parseLabelSelector(s),
      (e: unknown) => {
        assert.ok(e instanceof HwError, s);
        assert.equal(httpStatusOf(e), 400, s);
        assert.equal(toKubeStatus(e).reason, "BadRequest", s);
        assert.match(e.message, /unable to parse requirement/, s);
        return true;
      },
      s,
    );
  }
  assert.throws(() => parseLabelSelector("app in (x"), /end of string/);
  assert.throws(() => parseLabelSelector("a/b/c=x"), /a\/b\/c/);
});

test("labelSelectorMatcher: null matches nothing, {} everything", () => {
  assert.equal(labelSelectorMatcher(null)(L), false);
  assert.equal(labelSelectorMatcher(undefined)({}), false);
  assert.equal(labelSelectorMatcher({})(L), true);
  assert.equal(labelSelectorMatcher({})(undefined), true);
  assert.equal(labelSelectorMatcher({ matchLabels: {}, matchExpressions: [] })(undefined), true);
});

test("labelSelectorMatcher: matchLabels AND matchExpressions", () => {
  const m = labelSelectorMatcher({
    matchLabels: { app: "web" },
    matchExpressions: [
      { key: "tier", operator: "In", values: ["frontend", "x"] },
      { key: "gone", operator: "DoesNotExist" },
      { key: "n", operator: "Exists" },
      { key: "app", operator: "NotIn", values: ["db"] },
    ],
  });
  assert.equal(m(L), true);
  assert.equal(m({ ...L, gone: "1" }), false);
  assert.equal(m({ app: "web", tier: "frontend" }), false);
});

test("labelSelectorMatcher rejects invalid expressions", () => {
  assert.throws(() => labelSelectorMatcher({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }), HwError);
  assert.throws(() => labelSelectorMatcher({ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }), HwError);
  assert.throws(() => labelSelectorMatcher({ matchExpressions: [{ key: "a", operator: "Bogus" as "In", values: ["x"] }] }), HwError);
});

test("formatLabelSelector sorts by key like metav1.FormatLabelSelector", () => {
  assert.equal(formatLabelSelector({}), "<none>");
  assert.equal(formatLabelSelector({ matchLabels: { b: "2", a: "1" } }), "a=1,b=2");
  assert.equal(
    formatLabelSelector({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "tier", operator: "NotIn", values: ["z", "a"] },
        { key: "env", operator: "Exists" },
        { key: "x", operator: "DoesNotExist" },
      ],
    }),
    "app=web,env,tier notin (a,z),!x",
  );
  assert.equal(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }), "<error>");
  // round trip
  const s = formatLabelSelector({ matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["frontend"] }] });
  assert.equal(parseLabelSelector(s)(L), true);
});
