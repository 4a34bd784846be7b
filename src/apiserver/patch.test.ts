import { test } from "node:test";
import assert from "node:assert/strict";
import { applyPatch, patchTypeFromContentType } from "./patch.ts";
import { HwError, httpStatusOf, toKubeStatus } from "../api/errors.ts";

const status = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HwError, String(e));
    return httpStatusOf(e);
  }
  assert.fail("expected an HwError");
};

test("content types", () => {
  assert.equal(patchTypeFromContentType("application/merge-patch+json"), "merge");
  assert.equal(patchTypeFromContentType("application/json-patch+json"), "json");
  assert.equal(patchTypeFromContentType("application/strategic-merge-patch+json; charset=utf-8"), "strategic");
  assert.equal(patchTypeFromContentType("application/apply-patch+yaml"), "apply");
  for (const ct of [undefined, "application/json", "text/plain"]) {
    try {
      patchTypeFromContentType(ct);
      assert.fail("should throw");
    } catch (e) {
      assert.ok(e instanceof HwError);
      assert.equal(httpStatusOf(e), 415);
      assert.equal(toKubeStatus(e).reason, "UnsupportedMediaType");
    }
  }
});

test("merge patch: RFC 7386 appendix A examples", () => {
  const cases: [any, any, any][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) {
    const t0 = structuredClone(target);
    const p0 = structuredClone(patch);
    assert.deepEqual(applyPatch("merge", target, patch), want, JSON.stringify([target, patch]));
    assert.deepEqual(target, t0, "target not mutated");
    assert.deepEqual(patch, p0, "patch not mutated");
  }
  // RFC 7386 section 3 full example
  const doc = { title: "Goodbye!", author: { givenName: "John", familyName: "Doe" }, tags: ["example", "sample"], content: "This will be unchanged" };
  const patch = { title: "Hello!", phoneNumber: "+01-123-456-7890", author: { familyName: null }, tags: ["example"] };
  assert.deepEqual(applyPatch("merge", doc, patch), {
    title: "Hello!",
    author: { givenName: "John" },
    tags: ["example"],
    content: "This will be unchanged",
    phoneNumber: "+01-123-456-7890",
  });
});

test("merge patch body must be an object (400)", () => {
  assert.equal(
    status(() => applyPatch("merge", {}, ["x"])),
    400,
  );
  assert.equal(
    status(() => applyPatch("merge", {}, "x")),
    400,
  );
});

test("json patch: RFC 6902 appendix A operations", () => {
  assert.deepEqual(applyPatch("json", { foo: "bar" }, [{ op: "add", path: "/baz", value: "qux" }]), { foo: "bar", baz: "qux" });
  assert.deepEqual(applyPatch("json", { foo: ["bar", "baz"] }, [{ op: "add", path: "/foo/1", value: "qux" }]), { foo: ["bar", "qux", "baz"] });
  assert.deepEqual(applyPatch("json", { baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }]), { foo: "bar" });
  assert.deepEqual(applyPatch("json", { foo: ["bar", "qux", "baz"] }, [{ op: "remove", path: "/foo/1" }]), { foo: ["bar", "baz"] });
  assert.deepEqual(applyPatch("json", { baz: "qux", foo: "bar" }, [{ op: "replace", path: "/baz", value: "boo" }]), { baz: "boo", foo: "bar" });
  assert.deepEqual(
    applyPatch("json", { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } }, [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }]),
    { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
  );
  assert.deepEqual(applyPatch("json", { foo: ["all", "grass", "cows", "eat"] }, [{ op: "move", from: "/foo/1", path: "/foo/3" }]), {
    foo: ["all", "cows", "eat", "grass"],
  });
  assert.deepEqual(applyPatch("json", { foo: "bar" }, [{ op: "add", path: "/child", value: { grandchild: {} } }]), { foo: "bar", child: { grandchild: {} } });
  assert.deepEqual(applyPatch("json", { foo: ["bar"] }, [{ op: "add", path: "/foo/-", value: ["abc", "def"] }]), { foo: ["bar", ["abc", "def"]] });
  assert.deepEqual(applyPatch("json", { foo: null }, [{ op: "add", path: "/foo", value: 1 }]), { foo: 1 });
  assert.deepEqual(
    applyPatch("json", { "/": 9, "~1": 10 }, [
      { op: "test", path: "/~01", value: 10 },
      { op: "copy", from: "/~1", path: "/a" },
    ]),
    { "/": 9, "~1": 10, a: 9 },
  );
  assert.deepEqual(
    applyPatch("json", { baz: "qux", foo: ["a", 2, "c"] }, [
      { op: "test", path: "/baz", value: "qux" },
      { op: "test", path: "/foo/1", value: 2 },
    ]),
    {
      baz: "qux",
      foo: ["a", 2, "c"],
    },
  );
  // whole document replace
  assert.deepEqual(applyPatch("json", { a: 1 }, [{ op: "replace", path: "", value: { b: 2 } }]), { b: 2 });
  // kubectl-style label removal with escaped key
  assert.deepEqual(
    applyPatch("json", { metadata: { labels: { "hwameistor.io/x": "1", y: "2" } } }, [{ op: "remove", path: "/metadata/labels/hwameistor.io~1x" }]),
    {
      metadata: { labels: { y: "2" } },
    },
  );
});

test("json patch: failures are 422 naming the op; operations are atomic", () => {
  const target = { baz: "qux", foo: ["a"] };
  const t0 = structuredClone(target);
  const check = (ops: any[], re: RegExp) => {
    try {
      applyPatch("json", target, ops);
      assert.fail("should throw");
    } catch (e) {
      assert.ok(e instanceof HwError);
      assert.equal(httpStatusOf(e), 422);
      assert.equal(toKubeStatus(e).reason, "Invalid");
      assert.match(e.message, re);
    }
  };
  check([{ op: "test", path: "/baz", value: "bar" }], /test.*\/baz/);
  check(
    [
      { op: "add", path: "/x", value: 1 },
      { op: "remove", path: "/missing" },
    ],
    /remove.*missing/,
  );
  check([{ op: "replace", path: "/nope/x", value: 1 }], /replace/);
  check([{ op: "add", path: "/foo/5", value: 1 }], /out of bounds/);
  check([{ op: "add", path: "/foo/01", value: 1 }], /invalid array index/);
  check([{ op: "move", from: "/baz", path: "/baz/x" }], /own child/);
  assert.deepEqual(target, t0);
  // malformed bodies are 400
  assert.equal(
    status(() => applyPatch("json", {}, { op: "add" })),
    400,
  );
  assert.equal(
    status(() => applyPatch("json", {}, [{ op: "frob", path: "/a" }])),
    400,
  );
  assert.equal(
    status(() => applyPatch("json", {}, [{ op: "add", path: "a", value: 1 }])),
    400,
  );
  assert.equal(
    status(() => applyPatch("json", {}, [{ op: "add", path: "/a" }])),
    400,
  );
});

const pod = () => ({
  metadata: { name: "p", finalizers: ["a.io/x"], labels: { app: "web" } },
  spec: {
    containers: [
      { name: "c1", image: "img:1", env: [{ name: "A", value: "1" }], ports: [{ containerPort: 80, name: "http" }] },
      { name: "c2", image: "img:2" },
    ],
    tolerations: [{ key: "k1", operator: "Exists" }],
  },
  status: {
    conditions: [
      { type: "Ready", status: "False" },
      { type: "Scheduled", status: "True" },
    ],
  },
});

test("strategic: lists of objects merge by key", () => {
  const p0 = pod();
  const out = applyPatch("strategic", p0, {
    spec: {
      containers: [
        { name: "c1", image: "img:9", env: [{ name: "B", value: "2" }] },
        { name: "c3", image: "img:3" },
      ],
    },
    status: { conditions: [{ type: "Ready", status: "True" }] },
  });
  assert.deepEqual(out.spec.containers, [
    {
      name: "c1",
      image: "img:9",
      env: [
        { name: "A", value: "1" },
        { name: "B", value: "2" },
      ],
      ports: [{ containerPort: 80, name: "http" }],
    },
    { name: "c2", image: "img:2" },
    { name: "c3", image: "img:3" },
  ]);
  assert.deepEqual(out.status.conditions, [
    { type: "Ready", status: "True" },
    { type: "Scheduled", status: "True" },
  ]);
  assert.deepEqual(p0, pod(), "not mutated");
});

test("strategic: unknown lists and tolerations replace; finalizers merge as a set", () => {
  const out = applyPatch("strategic", pod(), {
    metadata: { finalizers: ["b.io/y", "a.io/x"], labels: { tier: "fe", app: null } },
    spec: { tolerations: [{ key: "k2", operator: "Exists" }] },
  });
  assert.deepEqual(out.metadata.finalizers, ["a.io/x", "b.io/y"]);
  assert.deepEqual(out.metadata.labels, { tier: "fe" });
  assert.deepEqual(out.spec.tolerations, [{ key: "k2", operator: "Exists" }]);
  assert.deepEqual(applyPatch("strategic", { spec: { disks: ["/dev/a"] } }, { spec: { disks: ["/dev/b"] } }), { spec: { disks: ["/dev/b"] } });
});

test("strategic: $patch delete / replace in lists and maps", () => {
  const out = applyPatch("strategic", pod(), {
    spec: { containers: [{ name: "c2", $patch: "delete" }] },
    metadata: { labels: { $patch: "replace", only: "this" } },
    status: { $patch: "delete" },
  });
  assert.deepEqual(
    out.spec.containers.map((c: any) => c.name),
    ["c1"],
  );
  assert.deepEqual(out.metadata.labels, { only: "this" });
  assert.equal("status" in out, false);
  const repl = applyPatch("strategic", pod(), { spec: { containers: [{ $patch: "replace" }, { name: "z", image: "z" }] } });
  assert.deepEqual(repl.spec.containers, [{ name: "z", image: "z" }]);
});

test("strategic: $deleteFromPrimitiveList, $retainKeys, $setElementOrder honoured and never stored", () => {
  const out = applyPatch("strategic", pod(), {
    metadata: { "$deleteFromPrimitiveList/finalizers": ["a.io/x"] },
    spec: {
      "$setElementOrder/containers": [{ name: "c2" }, { name: "c1" }],
      containers: [{ name: "c1", image: "img:5" }],
      strategy: { $retainKeys: ["type"], type: "Recreate" },
    },
  });
  assert.deepEqual(out.metadata.finalizers, []);
  assert.deepEqual(
    out.spec.containers.map((c: any) => [c.name, c.image]),
    [
      ["c2", "img:2"],
      ["c1", "img:5"],
    ],
  );
  assert.deepEqual(out.spec.strategy, { type: "Recreate" });
  const retained = applyPatch(
    "strategic",
    { spec: { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } } },
    { spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } } },
  );
  assert.deepEqual(retained, { spec: { strategy: { type: "Recreate" } } });
  assert.doesNotMatch(JSON.stringify(out), /\$/);
});

test("strategic: service ports merge by port, container ports by containerPort", () => {
  const svc = {
    spec: {
      ports: [
        { port: 80, name: "http" },
        { port: 443, name: "https" },
      ],
    },
  };
  assert.deepEqual(applyPatch("strategic", svc, { spec: { ports: [{ port: 443, targetPort: 8443 }] } }).spec.ports, [
    { port: 80, name: "http" },
    { port: 443, name: "https", targetPort: 8443 },
  ]);
  const out = applyPatch("strategic", pod(), {
    spec: { containers: [{ name: "c1", ports: [{ containerPort: 80, protocol: "TCP" }, { containerPort: 9090 }] }] },
  });
  assert.deepEqual(out.spec.containers[0].ports, [{ containerPort: 80, name: "http", protocol: "TCP" }, { containerPort: 9090 }]);
});

test("strategic: bad bodies are 400", () => {
  assert.equal(
    status(() => applyPatch("strategic", {}, [1])),
    400,
  );
  assert.equal(
    status(() => applyPatch("strategic", pod(), { spec: { containers: [{ image: "no-name" }] } })),
    400,
  );
  assert.equal(
    status(() => applyPatch("strategic", pod(), { spec: { $patch: "frob" } })),
    400,
  );
});

test("strategic: the patch kubectl 1.32 apply sends for a Pod (captured) merges as on a real server", () => {
  const live = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p1", namespace: "default", annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" } },
    spec: { containers: [{ name: "a", image: "i:1" }] },
  };
  const patch = {
    metadata: { annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{new}" } },
    spec: {
      "$setElementOrder/containers": [{ name: "a" }, { name: "b" }],
      containers: [
        { image: "i:2", name: "a" },
        { image: "j:1", name: "b" },
      ],
    },
  };
  assert.deepEqual(applyPatch("strategic", live, patch), {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p1", namespace: "default", annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{new}" } },
    spec: {
      containers: [
        { name: "a", image: "i:2" },
        { name: "b", image: "j:1" },
      ],
    },
  });
});
