import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { HwError } from "../api/errors.ts";
import { Transport, connectionError, errorFromResponse, isConflict, isExpired } from "./transport.ts";
import { kubeConfigForServer } from "./config.ts";

const status = (code: number, reason: string, message: string, details?: object) =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message, details });

test("errorFromResponse maps status codes and keeps the server's message", () => {
  const nf = errorFromResponse(404, status(404, "NotFound", 'configmaps "x" not found'), "GET /x");
  assert.equal(nf.code, "NOT_FOUND");
  assert.equal(nf.message, 'configmaps "x" not found');

  const ae = errorFromResponse(409, status(409, "AlreadyExists", 'configmaps "x" already exists'), "POST");
  assert.equal(ae.code, "ALREADY_EXISTS");

  const cf = errorFromResponse(409, status(409, "Conflict", "the object has been modified"), "PUT");
  assert.equal(cf.code, "ABORTED");
  assert.equal(cf.reason, "Conflict");
  assert.ok(isConflict(cf));

  const inv = errorFromResponse(
    422,
    status(422, "Invalid", 'LocalVolume.hwameistor.io "v" is invalid', {
      causes: [{ field: "spec.poolName", reason: "FieldValueRequired", message: "Required value" }],
    }),
    "POST",
  );
  assert.equal(inv.code, "INVALID_ARGUMENT");
  assert.deepEqual(inv.causes, [{ field: "spec.poolName", reason: "FieldValueRequired", message: "Required value" }]);

  const gone = errorFromResponse(410, status(410, "Expired", "too old resource version: 1 (50)"), "GET");
  assert.equal(gone.reason, "Expired");
  assert.ok(isExpired(gone));
  assert.equal(gone.httpStatusOverride, 410);

  for (const c of [500, 502, 503, 504]) assert.equal(errorFromResponse(c, "oops", "GET").code, "UNAVAILABLE");
  assert.equal(errorFromResponse(503, "oops", "GET").message, "oops", "non-Status body kept as message");
  // Every mapping, with and without a Status reason from the server (the reason is kept as statusReason).
  const table: Array<[number, string, string]> = [
    [400, "INVALID_ARGUMENT", "BadRequest"],
    [401, "UNAUTHENTICATED", "Unauthorized"],
    [403, "PERMISSION_DENIED", "Forbidden"],
    [404, "NOT_FOUND", "NotFound"],
    [405, "UNIMPLEMENTED", "MethodNotAllowed"],
    [409, "ABORTED", "Conflict"],
    [410, "OUT_OF_RANGE", "Expired"],
    [412, "FAILED_PRECONDITION", "PreconditionFailed"],
    [415, "INVALID_ARGUMENT", "UnsupportedMediaType"],
    [422, "INVALID_ARGUMENT", "Invalid"],
    [429, "UNAVAILABLE", "TooManyRequests"],
    [500, "UNAVAILABLE", "ServiceUnavailable"],
    [418, "UNKNOWN", "HTTP418"],
  ];
  for (const [c, code, reason] of table) {
    const e = errorFromResponse(c, "", "GET");
    assert.deepEqual([e.code, e.reason, e.statusReason, e.httpStatusOverride], [code, reason, reason, c], `HTTP ${c}`);
  }
  const gr = errorFromResponse(410, status(410, "Gone", "gone"), "GET");
  assert.deepEqual([gr.code, gr.reason], ["OUT_OF_RANGE", "Gone"]);
  const br = errorFromResponse(400, status(400, "BadRequest", "invalid resource version"), "GET");
  assert.deepEqual([br.reason, br.statusReason], ["BadRequest", "BadRequest"]);
  const fb = errorFromResponse(403, status(403, "Forbidden", "no"), "GET");
  assert.deepEqual([fb.reason, fb.statusReason, fb.message], ["Forbidden", "Forbidden", "no"]);
});

test("connectionError: refused → UNAVAILABLE; aborted → CANCELLED", () => {
  const e = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
  const u = connectionError(e, "GET /api");
  assert.ok(u instanceof HwError);
  assert.equal(u.code, "UNAVAILABLE");
  assert.match(u.message, /ECONNREFUSED/);
  const ac = new AbortController();
  ac.abort();
  assert.equal(connectionError(new Error("x"), "GET", ac.signal).code, "CANCELLED");
});

test("Transport sends the bearer token over plain http and streams newline-delimited JSON", async () => {
  const seen: Array<{ auth?: string; url?: string; ct?: string }> = [];
  const srv = http.createServer((req, res) => {
    seen.push({ auth: req.headers.authorization, url: req.url, ct: req.headers["content-type"] });
    if (req.url?.includes("watch=true")) {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"BOO');
      setTimeout(() => res.end('KMARK","object":{"metadata":{"resourceVersion":"9"}}}\n'), 20);
      return;
    }
    if (req.url?.startsWith("/missing")) {
      res.writeHead(404, { "Content-Type": "application/json" });
      return res.end(status(404, "NotFound", "nope"));
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const port = (srv.address() as AddressInfo).port;
    const t = new Transport(kubeConfigForServer(`http://127.0.0.1:${port}`, "s3cret"));
    assert.deepEqual(await t.request({ method: "PATCH", path: "/x", body: { a: 1 }, contentType: "application/merge-patch+json" }), { ok: true });
    assert.equal(seen[0]!.auth, "Bearer s3cret");
    assert.equal(seen[0]!.ct, "application/merge-patch+json");
    await assert.rejects(t.request({ method: "GET", path: "/missing" }), (e: HwError) => e.code === "NOT_FOUND" && e.message === "nope");
    const lines: unknown[] = [];
    await t.stream({ method: "GET", path: "/w", query: { watch: "true" } }, (v) => lines.push(v));
    assert.equal(lines.length, 2);
    assert.deepEqual((lines[1] as { type: string }).type, "BOOKMARK");
  } finally {
    await new Promise((r) => srv.close(r));
  }
});

test("Transport against a closed port fails UNAVAILABLE", async () => {
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  const t = new Transport(kubeConfigForServer(`http://127.0.0.1:${port}`));
  await assert.rejects(t.request({ method: "GET", path: "/api" }), (e: HwError) => e.code === "UNAVAILABLE");
});

test("a silent server: requests hit the deadline, watches the response-header timeout", async () => {
  const srv = http.createServer(() => {
    /* never answers */
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const port = (srv.address() as AddressInfo).port;
    const t = new Transport(kubeConfigForServer(`http://127.0.0.1:${port}`), { timeoutMs: 150 });
    await assert.rejects(t.request({ method: "GET", path: "/api" }), (e: HwError) => e.code === "DEADLINE_EXCEEDED");
    await assert.rejects(
      t.stream({ method: "GET", path: "/api/v1/pods", query: { watch: "true" } }, () => {}),
      (e: HwError) => e.code === "UNAVAILABLE" && /response headers/.test(e.message),
    );
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test("a kept-alive connection found closed is retried once more on a new one for GET, not for POST", async () => {
  // The server answers the first request of each connection and drops the connection at the second, as a
  // server that closed it while idle does: the client's request on the reused connection gets no answer.
  const perSocket = new WeakMap<object, number>();
  let connections = 0;
  const srv = http.createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1) return req.socket.destroy();
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end('{"ok":true}');
  });
  srv.on("connection", () => connections++);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const t = new Transport(kubeConfigForServer(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`));
    assert.deepEqual(await t.request({ method: "GET", path: "/a" }), { ok: true });
    assert.deepEqual(await t.request({ method: "GET", path: "/b" }), { ok: true }, "the GET went out again on a new connection");
    assert.equal(connections, 2);
    await assert.rejects(t.request({ method: "POST", path: "/c", body: {} }), (e: HwError) => e.code === "UNAVAILABLE", "a POST is not sent twice");
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});
