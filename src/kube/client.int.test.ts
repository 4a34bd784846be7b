// Integration: the resource client against the real embedded API server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import tls from "node:tls";
import { HwError } from "../api/errors.ts";
import { KubeClient } from "./client.ts";
import { loadKubeConfig } from "./config.ts";
import { CONFIG_MAP, NODE } from "./resources.ts";
import { withTestServer, TestServer } from "../../test/helpers/api-server.ts";
import type { KubeObject } from "./types.ts";

let srv: TestServer;
const skip = await withTestServer((s) => (srv = s));

type CM = KubeObject & { data?: Record<string, string> };

test("CRUD, patches, status, finalizers and error mapping through the client", { skip }, async () => {
  const cms = srv.client.forKind<CM>(CONFIG_MAP);
  const created = await cms.create({ metadata: { name: "a", namespace: "default", labels: { app: "x" } }, data: { k: "1" } });
  assert.equal(created.metadata?.name, "a");
  assert.ok(created.metadata?.resourceVersion);
  assert.equal((await cms.get("a", "default"))?.data?.k, "1");
  assert.equal(await cms.get("missing", "default"), undefined, "404 → undefined");

  await assert.rejects(cms.create({ metadata: { name: "a", namespace: "default" } }), (e: HwError) => {
    assert.equal(e.code, "ALREADY_EXISTS");
    assert.match(e.message, /"a"/);
    return true;
  });

  const upd = await cms.update({ ...created, data: { k: "2" } });
  assert.equal(upd.data?.k, "2");
  // A stale resourceVersion: 409 Conflict → ABORTED/Conflict.
  await assert.rejects(cms.update({ ...created, data: { k: "3" } }), (e: HwError) => e.code === "ABORTED" && e.reason === "Conflict");

  const merged = await cms.patch("a", { data: { m: "x" } }, { namespace: "default" });
  assert.deepEqual(merged.data, { k: "2", m: "x" });
  const jsonPatched = await cms.patch("a", [{ op: "replace", path: "/data/k", value: "j" }], { namespace: "default" });
  assert.equal(jsonPatched.data?.k, "j");
  await assert.rejects(cms.patch("nope", { data: {} }, { namespace: "default" }), (e: HwError) => e.code === "NOT_FOUND");

  // Finalizers: add twice is idempotent; delete then leaves a terminating object until removal.
  await cms.addFinalizer("a", "hwameistor.io/test", "default");
  const withF = await cms.addFinalizer("a", "hwameistor.io/test", "default");
  assert.deepEqual(withF?.metadata?.finalizers, ["hwameistor.io/test"]);
  assert.equal(await cms.delete("a", "default"), true);
  const terminating = await cms.get("a", "default");
  assert.ok(terminating?.metadata?.deletionTimestamp, "finalizer keeps it, marked for deletion");
  await cms.removeFinalizer("a", "hwameistor.io/test", "default");
  assert.equal(await cms.get("a", "default"), undefined);
  assert.equal(await cms.delete("a", "default"), false, "404 on delete is ok");
  assert.equal(await cms.removeFinalizer("a", "hwameistor.io/test", "default"), undefined);

  // Status subresource of a built-in (Node): the main endpoint ignores status, /status takes it.
  const nodes = srv.client.forKind<KubeObject & { status?: { phase?: string; capacity?: Record<string, string> } }>(NODE);
  const n = await nodes.create({ metadata: { name: "n1" }, spec: {} });
  const withStatus = await nodes.updateStatus({ ...n, status: { capacity: { cpu: "2" } } });
  assert.equal(withStatus.status?.capacity?.cpu, "2");
  const patched = await nodes.patchStatus("n1", { status: { capacity: { cpu: "4" } } });
  assert.equal(patched.status?.capacity?.cpu, "4");
  await nodes.delete("n1");

  // 422 with causes.
  await assert.rejects(cms.create({ metadata: { name: "Bad_Name!", namespace: "default" } }), (e: HwError) => {
    assert.equal(e.code, "INVALID_ARGUMENT");
    return true;
  });
});

test("list follows continue across pages and applies label/field selectors", { skip }, async () => {
  const cms = srv.client.forKind<CM>(CONFIG_MAP);
  for (let i = 0; i < 25; i++) {
    await cms
      .create({ metadata: { name: `p${String(i).padStart(2, "0")}`, namespace: "paging", labels: { parity: i % 2 ? "odd" : "even" } } })
      .catch(async (e) => {
        if ((e as HwError).code !== "NOT_FOUND") throw e;
        // namespace may have to exist first
        await srv.client
          .forKind({ group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false })
          .create({ metadata: { name: "paging" } });
        await cms.create({ metadata: { name: `p${String(i).padStart(2, "0")}`, namespace: "paging", labels: { parity: i % 2 ? "odd" : "even" } } });
      });
  }
  const all = await cms.list({ namespace: "paging", pageSize: 7 });
  assert.equal(all.items.length, 25);
  assert.equal(new Set(all.items.map((o) => o.metadata?.name)).size, 25);
  assert.ok(all.resourceVersion);
  assert.equal(all.items[0]!.kind, "ConfigMap", "items carry apiVersion/kind");
  const odd = await cms.list({ namespace: "paging", labelSelector: "parity=odd", pageSize: 5 });
  assert.equal(odd.items.length, 12);
  const one = await cms.list({ namespace: "paging", fieldSelector: "metadata.name=p03" });
  assert.deepEqual(
    one.items.map((o) => o.metadata?.name),
    ["p03"],
  );
  const everywhere = await cms.list({ labelSelector: "parity" });
  assert.ok(everywhere.items.length >= 25, "no namespace = all namespaces");
});

test("a stopped server maps to UNAVAILABLE", { skip }, async () => {
  const other = await srv.another();
  const c = other.client.forKind(CONFIG_MAP);
  await other.dispose();
  await assert.rejects(c.get("x", "default"), (e: HwError) => e.code === "UNAVAILABLE");
});

test("the client keeps its TLS connections: 40 requests over https open one connection per request in flight, not one each", { skip }, async () => {
  // A TCP relay in front of the server counts the connections the client opens.
  let opened = 0;
  const sockets = new Set<Socket>();
  const relay = createServer((inbound) => {
    opened++;
    const outbound = createConnection(srv.port, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
  try {
    const kubeconfig = join(srv.dir, "relay.kubeconfig");
    const text = readFileSync(srv.kubeconfigPath, "utf8");
    assert.match(text, new RegExp(`https://127\\.0\\.0\\.1:${srv.port}`), "the server's kubeconfig is https");
    writeFileSync(kubeconfig, text.replace(`:${srv.port}`, `:${(relay.address() as AddressInfo).port}`));
    const cms = new KubeClient(loadKubeConfig({ kubeconfigPath: kubeconfig }).kubeConfig).forKind(CONFIG_MAP);
    for (let i = 0; i < 20; i++) assert.equal(await cms.get(`absent-${i}`, "default"), undefined);
    assert.equal(opened, 1, "20 requests one after another share one keep-alive connection");
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 5; i++) await cms.get(`absent-${w}-${i}`, "default");
      }),
    );
    assert.ok(opened <= 4, `4 requests in flight at most: ${opened} connections`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => relay.close(r));
  }
});

test("the client's TLS connections share one OpenSSL context: 8 requests at once create it once, not once per connection", { skip }, async () => {
  // tls.connect builds a context from the CA and certificates for every connection unless it is given one.
  const create = tls.createSecureContext;
  let made = 0;
  tls.createSecureContext = (o) => (made++, create(o));
  try {
    const cms = new KubeClient(loadKubeConfig({ kubeconfigPath: srv.kubeconfigPath }).kubeConfig).forKind(CONFIG_MAP);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => cms.get(`absent-ctx-${i}`, "default")));
    assert.deepEqual(answers, Array(8).fill(undefined));
    assert.equal(made, 1, "one context for the client's connections");
  } finally {
    tls.createSecureContext = create;
  }
});
