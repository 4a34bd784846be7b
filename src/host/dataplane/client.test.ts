// The control-socket client's framing and error mapping, against an in-test unix socket server that answers
// like the data plane (docs/proposals/0002-data-plane.md). This is a parser/framing test only; the client
// against the real `hwameistor-dataplane` is exercised in src/node/dataplane/dataplane.int.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataplaneClient } from "./client.ts";
import { LineSplitter, parseLine } from "./protocol.ts";
import { isHwError } from "../../api/errors.ts";

type Handler = (req: Record<string, unknown>, s: Socket) => void;

async function server(handler: Handler): Promise<{ path: string; srv: Server; close: () => void; conns: Socket[] }> {
  const dir = mkdtempSync(join(tmpdir(), "hw-dp-client-"));
  const path = join(dir, "control.sock");
  const conns: Socket[] = [];
  const srv = createServer((s) => {
    conns.push(s);
    s.setEncoding("utf8");
    let buf = "";
    s.on("data", (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        handler(JSON.parse(line), s);
      }
    });
    s.on("error", () => {});
  });
  await new Promise<void>((r) => srv.listen(path, r));
  return {
    path,
    srv,
    conns,
    close: () => {
      for (const c of conns) c.destroy();
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const answer = (s: Socket, o: object) => s.write(`${JSON.stringify(o)}\n`);

test("framing: lines split across chunks, several per chunk, blank lines skipped", () => {
  const sp = new LineSplitter();
  assert.deepEqual(sp.push('{"id":1,"ok":tr', "x"), []);
  assert.deepEqual(sp.push('ue}\n\n{"id":2,"ok":true}\n{"ev', "x"), ['{"id":1,"ok":true}', '{"id":2,"ok":true}']);
  assert.deepEqual(sp.push('ent":"state"}\n', "x"), ['{"event":"state"}']);
  const a = parseLine('{"id":7,"ok":true,"path":"/f/v"}', "dp");
  assert.deepEqual(a, { kind: "answer", id: 7, ok: true, body: { path: "/f/v" } });
  assert.equal(parseLine('{"event":"peer","volume":"v"}', "dp").kind, "event");
  for (const bad of ["nope", "[1]", '{"ok":true}', '{"id":1}']) {
    assert.throws(
      () => parseLine(bad, "dp"),
      (e: unknown) => isHwError(e) && e.reason === "DataplaneProtocolError",
    );
  }
  const e = parseLine('{"id":3,"ok":false,"error":{"code":"FAILED_PRECONDITION","reason":"StaleEpoch","message":"epoch 2 < 3"}}', "dp of n1");
  assert.ok(e.kind === "answer" && !e.ok);
  assert.equal(e.error.code, "FAILED_PRECONDITION");
  assert.equal(e.error.reason, "StaleEpoch");
  assert.match(e.error.message, /dp of n1: epoch 2 < 3/);
  // an unknown code or a malformed reason does not pass through as is
  const u = parseLine('{"id":4,"ok":false,"error":{"code":"WEIRD","reason":"not pascal","message":"m"}}', "dp");
  assert.ok(u.kind === "answer" && !u.ok && u.error.code === "UNKNOWN" && u.error.reason === "DataplaneError");
});

test("requests carry ids; answers out of order settle the right request; errors keep code and reason", async () => {
  const held: Array<{ id: unknown; s: Socket }> = [];
  const srv = await server((req, s) => {
    if (req.op === "hello") answer(s, { id: req.id, ok: true, version: "0.1", protocolVersion: 1, node: "n1", frontends: ["fuse"], listen: "10.0.0.1:43000" });
    else if (req.op === "status") held.push({ id: req.id, s });
    else if (req.op === "configure")
      answer(s, { id: req.id, ok: false, error: { code: "FAILED_PRECONDITION", reason: "StaleEpoch", message: `volume ${req.volume}: epoch 1 < 2` } });
    else if (req.op === "expose") {
      // answer the held status after this one: out of order
      answer(s, { id: req.id, ok: true, path: "/fuse/v1" });
      for (const h of held)
        answer(h.s, { id: h.id, ok: true, volumes: [{ volume: "v1", role: "primary", epoch: 2, localState: "UpToDate", peers: [], sizeBytes: 1 }] });
    }
  });
  const c = new DataplaneClient(srv.path, { node: "n1" });
  try {
    const h = await c.hello();
    assert.deepEqual(h.frontends, ["fuse"]);
    const st = c.status();
    assert.equal(await c.expose("v1"), "/fuse/v1");
    assert.equal((await st)[0]!.role, "primary");
    await assert.rejects(c.configure("v1", 1, "primary", []), (e: unknown) => {
      assert.ok(isHwError(e));
      assert.equal(e.code, "FAILED_PRECONDITION");
      assert.equal(e.reason, "StaleEpoch");
      assert.match(e.message, /data plane of node n1 at .*: configure: volume v1: epoch 1 < 2/);
      return true;
    });
  } finally {
    c.close();
    srv.close();
  }
});

test("unreachable socket is UNAVAILABLE naming the socket; a broken connection is retried once; a silent one times out", async () => {
  const c0 = new DataplaneClient("/nonexistent/hw-dp.sock", { node: "n9" });
  await assert.rejects(
    c0.hello(),
    (e: unknown) => isHwError(e) && e.code === "UNAVAILABLE" && e.reason === "DataplaneUnavailable" && /n9.*hw-dp\.sock/.test(e.message),
  );
  c0.close();

  let calls = 0;
  const srv = await server((req, s) => {
    calls++;
    if (calls === 1)
      s.destroy(); // the first connection dies with the request unanswered
    else if (req.op !== "verify") answer(s, { id: req.id, ok: true, volumes: [] });
  });
  const c = new DataplaneClient(srv.path, { timeoutMs: 300 });
  try {
    assert.deepEqual(await c.status(), []);
    assert.equal(calls, 2);
    await assert.rejects(c.call("verify", { volume: "v" }, 200), (e: unknown) => isHwError(e) && e.reason === "DataplaneTimeout");
  } finally {
    c.close();
    srv.close();
  }
});

test("garbage on the socket fails requests in flight with DataplaneProtocolError", async () => {
  const srv = await server((_req, s) => s.write("this is not json\n"));
  const c = new DataplaneClient(srv.path);
  try {
    await assert.rejects(c.hello(), (e: unknown) => isHwError(e) && e.reason === "DataplaneProtocolError");
  } finally {
    c.close();
    srv.close();
  }
});

test("subscribe: connected after the subscribe answer, events delivered, reconnects after the server drops it", async () => {
  const srv = await server((req, s) => {
    if (req.op === "subscribe") {
      answer(s, { id: req.id, ok: true });
      answer(s, { event: "peer", volume: "v1", peer: "n2", state: "Disconnected" });
    }
  });
  const c = new DataplaneClient(srv.path);
  const seen: string[] = [];
  const sub = c.subscribe((e) => seen.push(`${e.event}${e.volume ? `:${e.volume}` : ""}`));
  try {
    const until = async (n: number) => {
      for (let i = 0; i < 100 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    };
    await until(2);
    assert.deepEqual(seen.slice(0, 2), ["connected", "peer:v1"]);
    for (const s of srv.conns) s.destroy();
    await until(5);
    assert.deepEqual(seen.slice(2, 5), ["disconnected", "connected", "peer:v1"]);
  } finally {
    sub.close();
    c.close();
    srv.close();
  }
});
