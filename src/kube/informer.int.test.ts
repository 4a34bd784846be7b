// Integration: the informer against the real embedded API server — every change exactly once and in
// order, also across a server restart (reconnect with backoff) and across a 410 (relist diff).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Informer } from "./informer.ts";
import { CONFIG_MAP } from "./resources.ts";
import { loadServer, SERVER_UNAVAILABLE, TestServer, waitFor } from "../../test/helpers/api-server.ts";
import { silentLogger, type KubeObject } from "./types.ts";
import type { ResourceClient } from "./client.ts";

const start = await loadServer();
const skip = start ? false : SERVER_UNAVAILABLE;

type CM = KubeObject & { data?: Record<string, string> };

/** Records informer deliveries as "add a v=1", "update a v=2", "delete a". */
function recorder(inf: Informer<CM>) {
  const log: string[] = [];
  const rvs = new Map<string, string[]>();
  const note = (key: string, rv: string | undefined) => rvs.set(key, [...(rvs.get(key) ?? []), rv ?? ""]);
  inf.addHandlers({
    add: (o) => {
      log.push(`add ${o.metadata?.name} v=${o.data?.v}`);
      note(o.metadata!.name!, o.metadata?.resourceVersion);
    },
    update: (_old, o) => {
      log.push(`update ${o.metadata?.name} v=${o.data?.v}`);
      note(o.metadata!.name!, o.metadata?.resourceVersion);
    },
    delete: (o) => {
      log.push(`delete ${o.metadata?.name}`);
    },
  });
  return { log, rvs };
}

async function setV(cms: ResourceClient<CM>, name: string, v: string) {
  const cur = await cms.get(name, "default");
  if (!cur) return cms.create({ metadata: { name, namespace: "default", labels: { t: "inf" } }, data: { v } });
  return cms.update({ ...cur, data: { v } });
}

let srv: TestServer;
before(async () => {
  if (start) srv = await new TestServer(start, { watch: { bookmarkIntervalMs: 200 } }).up();
});
after(async () => {
  await srv?.dispose();
});

test("informer: exactly once, in order, across a server restart", { skip, timeout: 60_000 }, async () => {
  const cms = srv.client.forKind<CM>(CONFIG_MAP);
  await setV(cms, "pre", "0"); // exists before the informer starts: delivered as an add by the first list
  const inf = new Informer<CM>(srv.newClient().forKind<CM>(CONFIG_MAP), {
    namespace: "default",
    labelSelector: "t=inf",
    backoff: { initialMs: 300, maxMs: 2000 },
    log: silentLogger,
  });
  const { log, rvs } = recorder(inf);
  inf.start();
  try {
    await inf.waitForSync();
    assert.ok(inf.hasSynced());
    assert.deepEqual(log, ["add pre v=0"]);

    await setV(cms, "a", "1");
    await setV(cms, "b", "1");
    await setV(cms, "a", "2");
    await cms.delete("b", "default");
    await setV(cms, "c", "1");
    await cms.create({ metadata: { name: "unlabelled", namespace: "default" }, data: { v: "x" } }); // filtered out
    const expected = ["add pre v=0", "add a v=1", "add b v=1", "update a v=2", "delete b", "add c v=1"];
    await waitFor("watch events", () => log.length >= expected.length);
    assert.deepEqual(log, expected);

    // Restart: the informer sees connection failures, backs off, and resumes from its resourceVersion.
    await srv.down();
    await new Promise((r) => setTimeout(r, 700)); // a few failed reconnects while down
    await srv.up();
    await setV(cms, "c", "2");
    await setV(cms, "d", "1");
    await cms.delete("pre", "default");
    await setV(cms, "a", "3");
    const expected2 = [...expected, "update c v=2", "add d v=1", "delete pre", "update a v=3"];
    await waitFor("events after restart", () => log.length >= expected2.length, 20_000);
    await new Promise((r) => setTimeout(r, 300)); // nothing extra trickles in
    assert.deepEqual(log, expected2);
    assert.ok(inf.stats.failures >= 1, "the outage was noticed");

    for (const [k, list] of rvs) assert.equal(new Set(list).size, list.length, `no duplicate deliveries for ${k}`);
    const listed = await cms.list({ namespace: "default", labelSelector: "t=inf" });
    assert.deepEqual(inf.keys().sort(), listed.items.map((o) => `default/${o.metadata?.name}`).sort(), "cache = server");
  } finally {
    await inf.stop();
  }
});

test("informer: a 410 during an outage relists and delivers only the difference", { skip, timeout: 60_000 }, async () => {
  // A server that keeps only a short event history: the informer's resourceVersion expires while it is away.
  const small = await new TestServer(start!, { eventRetention: 3, watch: { bookmarkIntervalMs: 200 } }).up();
  const inf = new Informer<CM>(small.newClient().forKind<CM>(CONFIG_MAP), {
    namespace: "default",
    labelSelector: "t=inf",
    backoff: { initialMs: 4000, maxMs: 8000, jitter: 0 },
    log: silentLogger,
  });
  try {
    const cms = small.client.forKind<CM>(CONFIG_MAP);
    await setV(cms, "x", "1");
    await setV(cms, "y", "1");
    const { log } = recorder(inf);
    inf.start();
    await inf.waitForSync();
    await small.down();
    await small.up();
    // Many changes before the informer's next reconnect (≥ 4 s away): its resourceVersion falls out
    // (the server compacts its event log every 100 writes down to eventRetention events).
    await setV(cms, "x", "2");
    await setV(cms, "x", "3");
    await cms.delete("y", "default");
    await setV(cms, "z", "1");
    for (let i = 0; i < 12; i++) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => cms.create({ metadata: { name: `noise${i}-${j}`, namespace: "default" } })));
    }
    await waitFor("relist", () => log.length >= 5, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(log.slice(0, 2).sort(), ["add x v=1", "add y v=1"]);
    // x changed twice while away: one update with the latest state; y vanished: one delete; z: one add.
    assert.deepEqual(log.slice(2), ["update x v=3", "add z v=1", "delete y"]);
    assert.ok(inf.stats.expired >= 1, "the resourceVersion expired");
    assert.equal(inf.stats.lists, 2, "relisted once");
  } finally {
    await inf.stop();
    await small.dispose();
  }
});

test("informer: resync re-delivers updates; handlers added late get adds; stop() ends it", { skip, timeout: 30_000 }, async () => {
  const cms = srv.client.forKind<CM>(CONFIG_MAP);
  await setV(cms, "r1", "1");
  const inf = new Informer<CM>(srv.newClient().forKind<CM>(CONFIG_MAP), {
    namespace: "default",
    fieldSelector: "metadata.name=r1",
    resyncPeriodMs: 150,
    log: silentLogger,
  });
  inf.start();
  try {
    await inf.waitForSync();
    const { log } = recorder(inf);
    assert.deepEqual(log, ["add r1 v=1"], "late handler gets the cache as adds");
    await waitFor("two resyncs", () => log.filter((l) => l === "update r1 v=1").length >= 2, 5000);
  } finally {
    await inf.stop();
  }
});
