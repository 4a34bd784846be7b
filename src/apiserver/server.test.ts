import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openWatch, startTestServer, type TestServer } from "./testing/harness.ts";

const CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.test.hwameistor.io" },
  spec: {
    group: "test.hwameistor.io",
    scope: "Cluster",
    names: { plural: "widgets", singular: "widget", kind: "Widget", shortNames: ["wd"] },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: "Size", type: "integer", jsonPath: ".spec.size" },
          { name: "Phase", type: "string", jsonPath: ".status.phase" },
          { name: "Color", type: "string", jsonPath: ".spec.color", priority: 1 },
        ],
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                required: ["size"],
                properties: {
                  size: { type: "integer", minimum: 1 },
                  color: { type: "string", default: "blue", enum: ["blue", "red"] },
                },
              },
              status: { type: "object", properties: { phase: { type: "string" } } },
            },
          },
        },
      },
    ],
  },
};

describe("embedded API server over HTTP", () => {
  let s: TestServer;
  let hub: { size: number } = { size: -1 };
  before(async () => {
    s = await startTestServer(undefined, { eventRetention: 200, watch: { bookmarkIntervalMs: 100 }, inspect: (i) => (hub = i.hub) });
  });
  after(async () => {
    await s.dispose();
  });

  it("needs a bearer token, except for health", async () => {
    const r = await fetch(s.url + "/api/v1/namespaces");
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as any).reason, "Unauthorized");
    const h = await fetch(s.url + "/healthz");
    assert.equal(h.status, 200);
    const bad = await fetch(s.url + "/api", { headers: { Authorization: "Bearer nope" } });
    assert.equal(bad.status, 401);
  });

  it("serves version and discovery", async () => {
    const v = await s.req("GET", "/version");
    assert.equal(v.body.gitVersion, "v1.32.0-hwameistor");
    const api = await s.req("GET", "/api");
    assert.equal(api.status, 200);
    const core = await s.req("GET", "/api/v1");
    assert.ok(core.body.resources.some((r: any) => r.name === "pods"));
    const groups = await s.req("GET", "/apis");
    assert.ok(groups.body.groups.some((g: any) => g.name === "storage.k8s.io"));
    const agg = await s.req("GET", "/apis", undefined, { Accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json" });
    assert.match(agg.headers.get("content-type") ?? "", /as=APIGroupDiscoveryList/);
    assert.equal(agg.body.kind, "APIGroupDiscoveryList");
    assert.equal((await s.req("GET", "/apis/nope.io")).status, 404);
    assert.equal((await s.req("GET", "/apis/storage.k8s.io/v9")).status, 404);
  });

  it("creates default namespaces", async () => {
    const r = await s.req("GET", "/api/v1/namespaces");
    const names = r.body.items.map((n: any) => n.metadata.name);
    for (const n of ["default", "kube-system", "kube-public", "kube-node-lease", "hwameistor"]) assert.ok(names.includes(n), n);
    assert.equal(r.body.items[0].status.phase, "Active");
    const d = await s.req("DELETE", "/api/v1/namespaces/kube-system");
    assert.equal(d.status, 403);
  });

  it("does CRUD with system metadata, 404/409/422/400", async () => {
    const c = await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "a", labels: { x: "1" } }, data: { k: "v" } });
    assert.equal(c.status, 201);
    assert.equal(c.body.kind, "ConfigMap");
    assert.equal(c.body.metadata.generation, 1);
    assert.match(c.body.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(c.body.metadata.resourceVersion, /^\d+$/);
    assert.ok(c.body.metadata.creationTimestamp);
    const dup = await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "a" } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.reason, "AlreadyExists");
    assert.equal((await s.req("GET", "/api/v1/namespaces/default/configmaps/nope")).status, 404);
    const noNs = await s.req("POST", "/api/v1/namespaces/missing/configmaps", { metadata: { name: "a" } });
    assert.equal(noNs.status, 404);
    assert.match(noNs.body.message, /namespaces "missing" not found/);
    const badName = await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "Bad_Name" } });
    assert.equal(badName.status, 422);
    assert.equal(badName.body.details.causes[0].field, "metadata.name");
    const malformed = await s.req("POST", "/api/v1/namespaces/default/configmaps", "{not json");
    assert.equal(malformed.status, 400);
    assert.equal((await s.req("GET", "/api/v1/nothings")).status, 404);
    const yaml = await s.req("POST", "/api/v1/namespaces/default/configmaps", "metadata:\n  name: fromyaml\ndata:\n  a: b\n", {
      "Content-Type": "application/yaml",
    });
    assert.equal(yaml.status, 201);

    // update: unconditional, then stale rv → 409
    const u = await s.req("PUT", "/api/v1/namespaces/default/configmaps/a", { metadata: { name: "a" }, data: { k: "v2" } });
    assert.equal(u.status, 200);
    assert.equal(u.body.data.k, "v2");
    assert.equal(u.body.metadata.uid, c.body.metadata.uid);
    assert.ok(Number(u.body.metadata.resourceVersion) > Number(c.body.metadata.resourceVersion));
    assert.equal(u.body.metadata.generation, 2);
    const stale = await s.req("PUT", "/api/v1/namespaces/default/configmaps/a", {
      metadata: { name: "a", resourceVersion: c.body.metadata.resourceVersion },
      data: {},
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, "Conflict");
    // a no-op update keeps the resourceVersion
    const same = await s.req("PUT", "/api/v1/namespaces/default/configmaps/a", u.body);
    assert.equal(same.body.metadata.resourceVersion, u.body.metadata.resourceVersion);

    const d = await s.req("DELETE", "/api/v1/namespaces/default/configmaps/a");
    assert.equal(d.status, 200);
    assert.equal((await s.req("GET", "/api/v1/namespaces/default/configmaps/a")).status, 404);
  });

  it("generates names", async () => {
    const r = await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { generateName: "gen-" } });
    assert.equal(r.status, 201);
    assert.match(r.body.metadata.name, /^gen-[a-z0-9]{5}$/);
  });

  it("keeps an object with finalizers until the last one goes", async () => {
    await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "fin", finalizers: ["test/f"] } });
    const d = await s.req("DELETE", "/api/v1/namespaces/default/configmaps/fin");
    assert.equal(d.status, 202);
    assert.ok(d.body.metadata.deletionTimestamp);
    assert.equal(d.body.metadata.deletionGracePeriodSeconds, 0);
    const g = await s.req("GET", "/api/v1/namespaces/default/configmaps/fin");
    assert.ok(g.body.metadata.deletionTimestamp);
    const add = await s.req(
      "PATCH",
      "/api/v1/namespaces/default/configmaps/fin",
      { metadata: { finalizers: ["test/f", "test/g"] } },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(add.status, 422);
    const p = await s.req(
      "PATCH",
      "/api/v1/namespaces/default/configmaps/fin",
      { metadata: { finalizers: null } },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(p.status, 200);
    assert.equal((await s.req("GET", "/api/v1/namespaces/default/configmaps/fin")).status, 404);
  });

  it("applies merge, JSON and strategic patches; 415 for apply and unknown types", async () => {
    await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "p" }, data: { a: "1" } });
    const m = await s.req("PATCH", "/api/v1/namespaces/default/configmaps/p", { data: { b: "2" } }, { "Content-Type": "application/merge-patch+json" });
    assert.deepEqual(m.body.data, { a: "1", b: "2" });
    const j = await s.req("PATCH", "/api/v1/namespaces/default/configmaps/p", [{ op: "remove", path: "/data/a" }], {
      "Content-Type": "application/json-patch+json",
    });
    assert.deepEqual(j.body.data, { b: "2" });
    const sm = await s.req(
      "PATCH",
      "/api/v1/namespaces/default/configmaps/p",
      { metadata: { labels: { l: "1" } } },
      { "Content-Type": "application/strategic-merge-patch+json" },
    );
    assert.equal(sm.body.metadata.labels.l, "1");
    const ap = await s.req("PATCH", "/api/v1/namespaces/default/configmaps/p", "{}", { "Content-Type": "application/apply-patch+yaml" });
    assert.equal(ap.status, 400); // fieldManager is required
    const ssa = await s.req(
      "PATCH",
      "/api/v1/namespaces/default/configmaps/ssa?fieldManager=t",
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n",
      { "Content-Type": "application/apply-patch+yaml" },
    );
    assert.equal(ssa.status, 201);
    const ssa2 = await s.req(
      "PATCH",
      "/api/v1/namespaces/default/configmaps/ssa?fieldManager=t",
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  b: '2'\n",
      { "Content-Type": "application/apply-patch+yaml" },
    );
    assert.equal(ssa2.status, 200);
    assert.deepEqual(ssa2.body.data, { a: "1", b: "2" });
    const bad = await s.req("PATCH", "/api/v1/namespaces/default/configmaps/p", "{}", { "Content-Type": "text/plain" });
    assert.equal(bad.status, 415);
    const stale = await s.req(
      "PATCH",
      "/api/v1/namespaces/default/configmaps/p",
      { metadata: { resourceVersion: "1" }, data: { c: "3" } },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(stale.status, 409);
  });

  it("honours dryRun=All", async () => {
    const r = await s.req("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", { metadata: { name: "dry" } });
    assert.equal(r.status, 201);
    assert.equal((await s.req("GET", "/api/v1/namespaces/default/configmaps/dry")).status, 404);
    assert.equal((await s.req("POST", "/api/v1/namespaces/default/configmaps?dryRun=Some", { metadata: { name: "dry" } })).status, 400);
  });

  it("filters lists by label and field selectors and pages them", async () => {
    for (let i = 0; i < 7; i++) {
      await s.req("POST", "/api/v1/namespaces/kube-public/pods", {
        metadata: { name: `pod-${i}`, labels: { app: i % 2 ? "odd" : "even" } },
        spec: { nodeName: `n${i % 3}` },
      });
    }
    const odd = await s.req("GET", "/api/v1/namespaces/kube-public/pods?labelSelector=app%3Dodd");
    assert.deepEqual(
      odd.body.items.map((p: any) => p.metadata.name),
      ["pod-1", "pod-3", "pod-5"],
    );
    const n0 = await s.req("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn0");
    assert.deepEqual(
      n0.body.items.map((p: any) => p.metadata.name),
      ["pod-0", "pod-3", "pod-6"],
    );
    assert.equal((await s.req("GET", "/api/v1/pods?labelSelector=%3D%3D%3D")).status, 400);
    assert.equal((await s.req("GET", "/api/v1/pods?fieldSelector=spec.bogus%3D1")).status, 400);
    // status.phase is Pending after create (kube resets the status of a new Pod)
    const pend = await s.req("GET", "/api/v1/namespaces/kube-public/pods?fieldSelector=status.phase%3DPending");
    assert.equal(pend.body.items.length, 7);

    const names: string[] = [];
    let cont = "";
    let pages = 0;
    let first: any;
    do {
      const r = await s.req("GET", `/api/v1/namespaces/kube-public/pods?limit=3${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`);
      first ??= r.body;
      names.push(...r.body.items.map((p: any) => p.metadata.name));
      cont = r.body.metadata.continue ?? "";
      pages++;
    } while (cont);
    assert.equal(pages, 3);
    assert.equal(names.length, 7);
    assert.equal(first.metadata.remainingItemCount, 4);
    const filteredPage = await s.req("GET", "/api/v1/namespaces/kube-public/pods?limit=2&labelSelector=app%3Deven");
    assert.equal(filteredPage.body.items.length, 2);
    assert.ok(filteredPage.body.metadata.continue);
    assert.equal((await s.req("GET", "/api/v1/pods?continue=garbage")).status, 400);
  });

  it("answers server-side Tables", async () => {
    const r = await s.req("GET", "/apis/storage.k8s.io/v1/storageclasses", undefined, {
      Accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    });
    assert.equal(r.body.kind, "Table");
    assert.deepEqual(
      r.body.columnDefinitions.map((c: any) => c.name),
      ["Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"],
    );
  });

  it("separates the status subresource from the main resource", async () => {
    await s.req("POST", "/api/v1/namespaces/default/persistentvolumeclaims", {
      metadata: { name: "c1" },
      spec: { resources: { requests: { storage: "1Gi" } } },
      status: { phase: "Bound" },
    });
    const g = await s.req("GET", "/api/v1/namespaces/default/persistentvolumeclaims/c1");
    assert.equal(g.body.status.phase, "Pending");
    const st = await s.req(
      "PATCH",
      "/api/v1/namespaces/default/persistentvolumeclaims/c1/status",
      { status: { phase: "Bound" }, spec: { volumeName: "ignored" } },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(st.status, 200);
    assert.equal(st.body.status.phase, "Bound");
    assert.equal(st.body.spec.volumeName, undefined);
    const main = await s.req(
      "PATCH",
      "/api/v1/namespaces/default/persistentvolumeclaims/c1",
      { status: { phase: "Lost" }, spec: { volumeName: "pv1" } },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(main.body.status.phase, "Bound");
    assert.equal(main.body.spec.volumeName, "pv1");
    assert.equal((await s.req("GET", "/api/v1/namespaces/default/configmaps/x/status")).status, 404);
  });

  it("registers a CRD live and validates, defaults and prunes its objects", async () => {
    const c = await s.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD);
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const conds = Object.fromEntries(c.body.status.conditions.map((x: any) => [x.type, x.status]));
    assert.deepEqual(conds, { NamesAccepted: "True", Established: "True" });
    assert.equal(c.body.status.acceptedNames.kind, "Widget");
    const disc = await s.req("GET", "/apis/test.hwameistor.io/v1");
    assert.equal(disc.body.resources.find((r: any) => r.name === "widgets")?.kind, "Widget");

    const w = await s.req("POST", "/apis/test.hwameistor.io/v1/widgets", {
      apiVersion: "test.hwameistor.io/v1",
      kind: "Widget",
      metadata: { name: "w1" },
      spec: { size: 2, extra: 1 },
      status: { phase: "X" },
    });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    assert.equal(w.body.spec.color, "blue");
    assert.equal(w.body.spec.extra, undefined);
    assert.equal(w.body.status, undefined);
    assert.match(w.headers.get("warning") ?? "", /unknown field \\"spec.extra\\"/);
    const strict = await s.req("POST", "/apis/test.hwameistor.io/v1/widgets?fieldValidation=Strict", { metadata: { name: "w2" }, spec: { size: 2, extra: 1 } });
    assert.equal(strict.status, 422);
    assert.match(strict.body.message, /strict decoding error: unknown field "spec.extra"/);
    const bad = await s.req("POST", "/apis/test.hwameistor.io/v1/widgets", { metadata: { name: "w3" }, spec: { size: 0, color: "green" } });
    assert.equal(bad.status, 422);
    const fields = bad.body.details.causes.map((x: any) => x.field).sort();
    assert.deepEqual(fields, ["spec.color", "spec.size"]);
    assert.equal((await s.req("GET", "/apis/test.hwameistor.io/v1/widgets/w3")).status, 404);
    // generation: spec change +1, status change none
    const st = await s.req("PUT", "/apis/test.hwameistor.io/v1/widgets/w1/status", { ...w.body, status: { phase: "Ready" } });
    assert.equal(st.body.status.phase, "Ready");
    assert.equal(st.body.metadata.generation, 1);
    const sp = await s.req("PATCH", "/apis/test.hwameistor.io/v1/widgets/w1", { spec: { size: 5 } }, { "Content-Type": "application/merge-patch+json" });
    assert.equal(sp.body.metadata.generation, 2);
    assert.equal(sp.body.status.phase, "Ready");
    const sm = await s.req(
      "PATCH",
      "/apis/test.hwameistor.io/v1/widgets/w1",
      { spec: { size: 6 } },
      { "Content-Type": "application/strategic-merge-patch+json" },
    );
    assert.equal(sm.status, 415);
    const t = await s.req("GET", "/apis/test.hwameistor.io/v1/widgets", undefined, { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" });
    assert.deepEqual(
      t.body.columnDefinitions.map((x: any) => x.name),
      ["Name", "Size", "Phase", "Color"],
    );
    assert.deepEqual(t.body.rows[0].cells.slice(0, 3), ["w1", 5, "Ready"]);

    const badCrd = await s.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", { ...CRD, metadata: { name: "wrong.name" } });
    assert.equal(badCrd.status, 422);

    const del = await s.req("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.test.hwameistor.io");
    assert.equal(del.status, 200);
    assert.equal((await s.req("GET", "/apis/test.hwameistor.io/v1/widgets")).status, 404);
  });

  it("watches in commit order with selectors, bookmarks and 410 on expired versions", async () => {
    const base = await s.req("GET", "/api/v1/namespaces/default/configmaps");
    const rv = base.body.metadata.resourceVersion;
    const w = await openWatch(s, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&labelSelector=w%3D1`);
    assert.equal(w.status, 200);
    await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "w-a", labels: { w: "1" } } });
    await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "w-b" } });
    await s.req("PATCH", "/api/v1/namespaces/default/configmaps/w-a", { data: { x: "y" } }, { "Content-Type": "application/merge-patch+json" });
    await s.req("PATCH", "/api/v1/namespaces/default/configmaps/w-b", { metadata: { labels: { w: "1" } } }, { "Content-Type": "application/merge-patch+json" });
    await s.req("PATCH", "/api/v1/namespaces/default/configmaps/w-a", { metadata: { labels: { w: "2" } } }, { "Content-Type": "application/merge-patch+json" });
    await s.req("DELETE", "/api/v1/namespaces/default/configmaps/w-b");
    const seen: string[] = [];
    let lastRv = 0;
    for (let i = 0; i < 5; i++) {
      const e = await w.next();
      seen.push(`${e.type}:${e.object.metadata.name}`);
      const r = Number(e.object.metadata.resourceVersion);
      assert.ok(r > lastRv);
      lastRv = r;
    }
    assert.deepEqual(seen, ["ADDED:w-a", "MODIFIED:w-a", "ADDED:w-b", "DELETED:w-a", "DELETED:w-b"]);
    w.close();

    // replay from the rv: the same history
    const r2 = await openWatch(s, `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&labelSelector=w%3D1`);
    assert.equal((await r2.next()).type, "ADDED");
    r2.close();

    // initial events + bookmark
    const ini = await openWatch(
      s,
      `/api/v1/namespaces/kube-public/pods?watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan`,
    );
    const types: string[] = [];
    for (;;) {
      const e = await ini.next();
      types.push(e.type);
      if (e.type === "BOOKMARK") {
        assert.equal(e.object.metadata.annotations["k8s.io/initial-events-end"], "true");
        break;
      }
    }
    assert.equal(types.filter((t) => t === "ADDED").length, 7);
    const periodic = await ini.next(2000);
    assert.equal(periodic.type, "BOOKMARK");
    ini.close();

    // expire the log: retention is 200 events
    for (let i = 0; i < 450; i++) await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { generateName: "churn-" } });
    const old = await openWatch(s, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}`);
    const err = await old.next();
    assert.equal(err.type, "ERROR");
    assert.equal(err.object.code, 410);
    assert.equal(err.object.reason, "Expired");
    old.close();
  });

  it("ends a watch at timeoutSeconds and forgets disconnected watchers", async () => {
    const w = await openWatch(s, "/api/v1/namespaces?watch=true&timeoutSeconds=1");
    for (let i = 0; i < 5; i++) await w.next();
    const t0 = Date.now();
    while (!w.ended && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(w.ended);
    for (let i = 0; i < 20; i++) {
      const x = await openWatch(s, "/api/v1/pods?watch=true");
      x.close();
    }
    const ok = await s.req("GET", "/api/v1/namespaces");
    assert.equal(ok.status, 200);
    const t1 = Date.now();
    while (hub.size !== 0 && Date.now() - t1 < 3000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(hub.size, 0, "a closed watch left its watcher behind");
  });

  it("watches as Table rows (kubectl get -w)", async () => {
    const w = await openWatch(s, "/apis/storage.k8s.io/v1/storageclasses?watch=true&resourceVersion=0", {
      Accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
    });
    await s.req("POST", "/apis/storage.k8s.io/v1/storageclasses", { metadata: { name: "sc-w" }, provisioner: "lvm.hwameistor.io" });
    await s.req("DELETE", "/apis/storage.k8s.io/v1/storageclasses/sc-w");
    const a = await w.next();
    assert.equal(a.type, "ADDED");
    assert.equal(a.object.kind, "Table");
    assert.equal(a.object.rows.length, 1);
    assert.ok(a.object.columnDefinitions.length > 0);
    assert.deepEqual(a.object.rows[0].cells.slice(0, 2), ["sc-w", "lvm.hwameistor.io"]);
    const d = await w.next();
    assert.equal(d.type, "DELETED");
    assert.equal(d.object.columnDefinitions.length, 0);
    w.close();
  });

  it("deletes a namespace with its content, and collections by selector", async () => {
    await s.req("POST", "/api/v1/namespaces", { metadata: { name: "tmp-ns" } });
    await s.req("POST", "/api/v1/namespaces/tmp-ns/configmaps", { metadata: { name: "c", labels: { k: "v" } } });
    await s.req("POST", "/api/v1/namespaces/tmp-ns/configmaps", { metadata: { name: "held", finalizers: ["x/y"] } });
    const d = await s.req("DELETE", "/api/v1/namespaces/tmp-ns");
    assert.equal(d.status, 202);
    assert.equal(d.body.status.phase, "Terminating");
    assert.equal((await s.req("POST", "/api/v1/namespaces/tmp-ns/configmaps", { metadata: { name: "late" } })).status, 403);
    assert.equal((await s.req("GET", "/api/v1/namespaces/tmp-ns/configmaps/c")).status, 404);
    await s.req("PATCH", "/api/v1/namespaces/tmp-ns/configmaps/held", { metadata: { finalizers: [] } }, { "Content-Type": "application/merge-patch+json" });
    assert.equal((await s.req("GET", "/api/v1/namespaces/tmp-ns")).status, 404);

    await s.req("POST", "/api/v1/namespaces/kube-public/configmaps", { metadata: { name: "dc1", labels: { dc: "y" } } });
    await s.req("POST", "/api/v1/namespaces/kube-public/configmaps", { metadata: { name: "dc2", labels: { dc: "y" } } });
    await s.req("POST", "/api/v1/namespaces/kube-public/configmaps", { metadata: { name: "dc3" } });
    const dc = await s.req("DELETE", "/api/v1/namespaces/kube-public/configmaps?labelSelector=dc%3Dy");
    assert.equal(dc.status, 200);
    assert.equal(dc.body.items.length, 2);
    const left = await s.req("GET", "/api/v1/namespaces/kube-public/configmaps");
    assert.deepEqual(
      left.body.items.map((c: any) => c.metadata.name),
      ["dc3"],
    );
  });

  it("rejects oversized bodies and survives garbage", async () => {
    const big = await s.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "big" }, data: { x: "a".repeat(4 * 1024 * 1024) } });
    assert.equal(big.status, 413);
    const net = await import("node:net");
    await new Promise<void>((resolve) => {
      const sock = net.connect(Number(new URL(s.url).port), "127.0.0.1", () => {
        sock.write("GARBAGE\r\n\r\n");
        sock.on("data", () => {});
        sock.on("close", () => resolve());
        sock.on("error", () => resolve());
      });
    });
    assert.equal((await s.req("GET", "/api/v1/namespaces")).status, 200);
    // a client that disconnects mid-body
    await new Promise<void>((resolve) => {
      const sock = net.connect(Number(new URL(s.url).port), "127.0.0.1", () => {
        sock.write(
          `POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"metadata":`,
        );
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 50);
      });
    });
    assert.equal((await s.req("GET", "/api/v1/namespaces")).status, 200);
  });
});

describe("restart persistence", () => {
  it("keeps objects and keeps resourceVersions increasing", async () => {
    const s1 = await startTestServer();
    try {
      await s1.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "persist" }, data: { a: "1" } });
      await s1.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD);
      await s1.req("POST", "/apis/test.hwameistor.io/v1/widgets", { metadata: { name: "w" }, spec: { size: 1 } });
      const before = Number((await s1.req("GET", "/api/v1/namespaces")).body.metadata.resourceVersion);
      await s1.stop();
      const s2 = await startTestServer(s1.dataDir);
      try {
        assert.equal(s2.token, s1.token);
        assert.equal((await s2.req("GET", "/api/v1/namespaces/default/configmaps/persist")).body.data.a, "1");
        assert.equal((await s2.req("GET", "/apis/test.hwameistor.io/v1/widgets/w")).body.spec.color, "blue");
        const c = await s2.req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "after" } });
        assert.ok(Number(c.body.metadata.resourceVersion) > before);
      } finally {
        await s2.stop();
      }
    } finally {
      await s1.dispose();
    }
  });
});

describe("CRD guards", () => {
  it("refuses a CRD that would shadow a built-in resource", async () => {
    const s = await startTestServer();
    try {
      const crd = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "storageclasses.storage.k8s.io" },
        spec: {
          group: "storage.k8s.io",
          scope: "Cluster",
          names: { plural: "storageclasses", singular: "storageclass", kind: "StorageClass" },
          versions: [
            { name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } },
          ],
        },
      };
      const r = await s.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
      assert.equal(r.status, 422);
      const sc = await s.req("POST", "/apis/storage.k8s.io/v1/storageclasses", { metadata: { name: "x" }, provisioner: "p" });
      assert.equal(sc.status, 201);
    } finally {
      await s.dispose();
    }
  });
});
