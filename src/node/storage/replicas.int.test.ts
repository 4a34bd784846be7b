// Integration: a node agent caches only its own LocalVolumeReplicas (field selector spec.nodeName, the CRD's
// selectableFields) against the real embedded API server — replicas written before the agent started included
// (nothing to relabel on upgrade) — while a volume's peers on other nodes are still read (the HA primary), and a
// lookup of this node's replica that the cache cannot answer yet is read live.
// With a CRD that predates selectableFields (what `helm upgrade` leaves in place) it falls back to caching all.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../kube/events.ts";
import { InformerFactory } from "../../kube/informer-factory.ts";
import { hwameistorClients, nameOf, type Lvr } from "../../kube/hwameistor.ts";
import { CRD } from "../../kube/resources.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";
import { watchCounts } from "../../kube/watch-counts.ts";
import { toCrd } from "../../api/crd.ts";
import { localVolumeReplicaKind } from "../../api/kinds/local-volume-replica.ts";
import { startServerWithCrds, waitFor, type TestServer } from "../../../test/helpers/api-server.ts";
import type { NodeContext } from "../context.ts";
import { nodeReplicas } from "./replicas.ts";

let srv: TestServer;
before(async () => {
  srv = await startServerWithCrds();
});
after(async () => {
  await srv?.dispose();
});

const ctxOf = (nodeName: string, signal: AbortSignal): NodeContext => ({
  nodeName,
  client: srv.client,
  recorder: new EventRecorder(srv.client, { component: "test", log: silentLogger }),
  log: silentLogger,
  stateDir: "/nonexistent",
  csiSocketDir: "/nonexistent",
  signal,
});

const lvr = (volume: string, node: string) =>
  ({
    metadata: { name: `${volume}-${node}` },
    spec: { volumeName: volume, nodeName: node, poolName: "LocalStorage_PoolHDD", requiredCapacityBytes: 4 << 20 },
  }) as Lvr;

test("node replicas: the cache holds this node's replicas only; a volume's peers are read live; old CRD → cache all", { timeout: 60_000 }, async () => {
  const c = hwameistorClients(srv.client);
  // Written before the agent starts, as an upgraded cluster has them: no label, only spec.nodeName.
  for (const [v, n] of [
    ["v1", "n1"],
    ["v1", "n2"],
    ["v2", "n2"],
    ["v3", "n3"],
  ])
    await c.lvr.create(lvr(v!, n!));
  const stop = new AbortController();
  const f = new InformerFactory(srv.client, { log: silentLogger });
  try {
    const r = await nodeReplicas(ctxOf("n1", stop.signal), c, f);
    assert.equal(r.selector, "spec.nodeName=n1");
    const a = r.informer();
    const b = r.informer(60_000);
    a.start();
    b.start();
    await a.waitForSync();
    assert.deepEqual(a.keys().sort(), ["v1-n1"], "only n1's replica is cached");
    await c.lvr.create(lvr("v4", "n1"));
    await c.lvr.create(lvr("v4", "n3"));
    await waitFor("n1's new replica", () => a.keys().includes("v4-n1"));
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(a.keys().sort(), ["v1-n1", "v4-n1"], "another node's new replica never enters the cache");
    assert.equal((await watchCounts(srv.client)).get("hwameistor.io/localvolumereplicas"), 1, "two consumers, one watch");
    // The HA primary's peers: every replica of the volume, whichever node.
    assert.deepEqual((await r.ofVolume("v1")).map(nameOf).sort(), ["v1-n1", "v1-n2"]);
    // This node's replica of a volume (node CSI, migration): from the cache; what the cache has not seen is read live.
    assert.equal((await r.mine("v1"))?.metadata?.name, "v1-n1");
    assert.equal(await r.mine("v2"), undefined, "another node's replica is never this node's");
    await Promise.all([a.stop(), b.stop()]);
    await c.lvr.create(lvr("v5", "n1"));
    assert.equal((await r.mine("v5"))?.metadata?.name, "v5-n1", "created after the cache stopped: read live");
    const v1 = (await c.lvr.get("v1-n1"))!;
    await c.lvr.updateStatus({ ...v1, status: { devPath: "/dev/LocalStorage_PoolHDD/v1" } });
    const withDev = await r.mine("v1", (x) => !!x.status?.devPath);
    assert.equal(withDev?.status?.devPath, "/dev/LocalStorage_PoolHDD/v1", "a state the cache has not seen: read live");
    assert.equal(await r.mine("v1", () => false), undefined);

    // A CRD applied before selectableFields: the agent caches every replica (and says how to fix it).
    const crds = srv.client.forKind(CRD);
    const cur = (await crds.get(toCrd(localVolumeReplicaKind).metadata.name)) as KubeObject & { spec: { versions: Array<Record<string, unknown>> } };
    for (const v of cur.spec.versions) delete v.selectableFields;
    await crds.update(cur);
    await waitFor("the old CRD served", async () =>
      c.lvr.list({ fieldSelector: "spec.nodeName=n1" }).then(
        () => false,
        () => true,
      ),
    );
    const old = await nodeReplicas(ctxOf("n1", stop.signal), c, new InformerFactory(srv.client, { log: silentLogger }));
    assert.equal(old.selector, undefined);
    const all = old.informer();
    all.start();
    await all.waitForSync();
    assert.equal(all.keys().length, 7, "every replica of the cluster");
    assert.deepEqual((await old.ofVolume("v4")).map(nameOf).sort(), ["v4-n1", "v4-n3"]);
    await all.stop();
  } finally {
    stop.abort();
    await f.stop();
  }
});
