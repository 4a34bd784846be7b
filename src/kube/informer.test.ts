// Informer restart behaviour against a scripted fake server: HTTP 500, a socket reset mid-stream, an ERROR
// event with 410, and a normal end — every change still delivered exactly once, in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeClient } from "./client.ts";
import { kubeConfigForServer } from "./config.ts";
import { Informer } from "./informer.ts";
import { CONFIG_MAP } from "./resources.ts";
import { silentLogger, type KubeObject } from "./types.ts";

const cm = (name: string, rv: number, v: string) => ({ metadata: { name, namespace: "ns", resourceVersion: String(rv) }, data: { v } });
const line = (type: string, object: unknown) => JSON.stringify({ type, object }) + "\n";

test("informer restarts after 500, socket reset and 410, resuming from the last resourceVersion", { timeout: 20_000 }, async () => {
  const requests: string[] = [];
  let watchNo = 0;
  let listNo = 0;
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url!, "http://x");
    const rv = u.searchParams.get("resourceVersion") ?? "";
    if (u.searchParams.get("watch") !== "true") {
      listNo++;
      requests.push(`list`);
      res.writeHead(200, { "Content-Type": "application/json" });
      // Second list (after the 410): a changed, b gone, c new.
      const items = listNo === 1 ? [cm("a", 1, "1"), cm("b", 2, "1")] : [cm("a", 5, "3"), cm("c", 6, "1")];
      return res.end(JSON.stringify({ kind: "ConfigMapList", metadata: { resourceVersion: listNo === 1 ? "2" : "6" }, items }));
    }
    watchNo++;
    requests.push(`watch#${watchNo} from ${rv} bookmarks=${u.searchParams.get("allowWatchBookmarks")}`);
    switch (watchNo) {
      case 1: // server error
        res.writeHead(500, { "Content-Type": "application/json" });
        return res.end(JSON.stringify({ kind: "Status", code: 500, reason: "InternalError", message: "boom" }));
      case 2: // one event, a bookmark, then the connection dies
        res.writeHead(200, { "Content-Type": "application/json" });
        res.write(line("MODIFIED", cm("a", 3, "2")));
        res.write(line("BOOKMARK", { metadata: { resourceVersion: "4" } }));
        return setTimeout(() => res.socket?.destroy(), 50);
      case 3: // resumed from the bookmark; now the history is gone
        res.writeHead(200, { "Content-Type": "application/json" });
        return res.end(line("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" }));
      default: // after the relist: a live event, then hold the stream open
        res.writeHead(200, { "Content-Type": "application/json" });
        res.write(line("DELETED", cm("c", 7, "1")));
        return; // left open until the informer stops
    }
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  const inf = new Informer<KubeObject & { data?: { v: string } }>(new KubeClient(kubeConfigForServer(`http://127.0.0.1:${port}`)).forKind(CONFIG_MAP), {
    namespace: "ns",
    backoff: { initialMs: 20, maxMs: 100 },
    log: silentLogger,
  });
  const log: string[] = [];
  inf.addHandlers({
    add: (o) => void log.push(`add ${o.metadata?.name} ${o.data?.v}`),
    update: (_, o) => void log.push(`update ${o.metadata?.name} ${o.data?.v}`),
    delete: (o) => void log.push(`delete ${o.metadata?.name}`),
  });
  inf.start();
  try {
    const deadline = Date.now() + 10_000;
    while (log.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(log, ["add a 1", "add b 1", "update a 2", "update a 3", "add c 1", "delete b", "delete c"].slice(0, log.length));
    while (log.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(log, ["add a 1", "add b 1", "update a 2", "update a 3", "add c 1", "delete b", "delete c"]);
    assert.deepEqual(requests.slice(0, 6), [
      "list",
      "watch#1 from 2 bookmarks=true",
      "watch#2 from 2 bookmarks=true",
      "watch#3 from 4 bookmarks=true",
      "list",
      "watch#4 from 6 bookmarks=true",
    ]);
    assert.equal(inf.stats.failures, 2);
    assert.equal(inf.stats.expired, 1);
    assert.deepEqual(inf.keys(), ["ns/a"]);
  } finally {
    await inf.stop();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});
