// Integration: shared informers against the real embedded API server — many consumers of one kind cost one
// list + one watch (counted by the server's /metrics), each consumer keeps its own handlers and resync, and
// the watch ends only when the last started consumer stops.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { InformerFactory } from "./informer-factory.ts";
import { CONFIG_MAP, SECRET } from "./resources.ts";
import { loadServer, SERVER_UNAVAILABLE, TestServer, waitFor } from "../../test/helpers/api-server.ts";
import { watchCounts } from "./watch-counts.ts";
import { silentLogger, type KubeObject } from "./types.ts";

const start = await loadServer();
const skip = start ? false : SERVER_UNAVAILABLE;

type CM = KubeObject & { data?: Record<string, string> };

let srv: TestServer;
before(async () => {
  if (start) srv = await new TestServer(start).up();
});
after(async () => {
  await srv?.dispose();
});

test("informer factory: consumers share one list + watch per kind; stop() detaches one consumer", { skip, timeout: 60_000 }, async () => {
  const client = srv.newClient();
  const f = new InformerFactory(client, { log: silentLogger });
  const cms = client.forKind<CM>(CONFIG_MAP);
  const watching = async () => (await watchCounts(srv.client)).get("/configmaps") ?? 0;
  const before = await watching();
  await cms.create({ metadata: { name: "pre", namespace: "default" }, data: { v: "0" } });

  const a = f.consumer(cms);
  const b = f.consumer(cms, { resyncPeriodMs: 150 });
  const other = f.consumer(client.forKind(SECRET));
  const seenA: string[] = [];
  const seenB: string[] = [];
  a.addHandlers({ add: (o) => void seenA.push(`add ${o.metadata?.name}`), update: (_o, o) => void seenA.push(`update ${o.metadata?.name}`) });
  b.addHandlers({ add: (o) => void seenB.push(`add ${o.metadata?.name}`), update: (_o, o) => void seenB.push(`update ${o.metadata?.name}`) });
  try {
    a.start();
    b.start();
    other.start();
    await Promise.all([a.waitForSync(), b.waitForSync(), other.waitForSync()]);
    await waitFor("the watches", async () => (await watching()) === before + 1);
    assert.equal(a.stats.lists, 1, "one list for both consumers");
    assert.equal((await watchCounts(srv.client)).get("/secrets"), 1, "another kind: its own watch");
    assert.ok(a.getByName("pre", "default") && b.getByName("pre", "default"), "one cache, both read it");

    // b's resync re-delivers to b alone.
    await waitFor("b's resync", () => seenB.filter((x) => x === "update pre").length >= 2);
    assert.deepEqual(seenA, ["add pre"], "a has no resync");

    // b stops: its handlers are gone, a still gets events over the same watch.
    await b.stop();
    const nB = seenB.length;
    await cms.create({ metadata: { name: "later", namespace: "default" }, data: { v: "1" } });
    await waitFor("a sees the new object", () => seenA.includes("add later"));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(seenB.length, nB, "a stopped consumer gets nothing more");
    assert.equal(await watching(), before + 1, "the shared watch runs on for a");

    // The last started consumer stops: the watch ends; a consumer started afterwards waits for a fresh list.
    await a.stop();
    await waitFor("the watch ended", async () => (await watching()) === before);
    const c = f.consumer(cms);
    c.start();
    assert.equal(c.hasSynced(), false, "not synced on the old cache");
    await c.waitForSync();
    assert.equal(c.stats.lists, 2, "listed afresh");
    assert.ok(c.getByName("later", "default"));
    await c.stop();
  } finally {
    await Promise.all([a.stop(), b.stop(), other.stop()]);
    await f.stop();
    await cms.delete("pre", "default").catch(() => {});
    await cms.delete("later", "default").catch(() => {});
  }
});
