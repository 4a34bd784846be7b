// The scheduler extender as kube-scheduler meets it: real HTTPS, ExtenderArgs in Kubernetes' JSON shape
// (with `nodes` as a NodeList, and with `nodenames`), src/scheduler's filter and score over objects stored in
// the embedded API server (fact sheet §4.1), the filter's PVC annotations written, bind refused.
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { loadServer, TestServer } from "../../test/helpers/api-server.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import { Annotations } from "../api/names.ts";
import { startExtenderServer, type RunningExtender } from "../extender/server.ts";
import { NODE, PVC, STORAGE_CLASS } from "../kube/resources.ts";
import { silentLogger, type KubeObject } from "../kube/types.ts";
import { clusterDecider } from "./scheduler-extender.ts";
import { applyCrds } from "../devcluster/bootstrap.ts";

const GiB = 2 ** 30;
let srv: TestServer;
let ext: RunningExtender;

before(async () => {
  srv = await new TestServer((await loadServer())!).up();
  const c = srv.client;
  await applyCrds(c);
  for (const n of ["n1", "n2", "n3"])
    await c.forKind(NODE).create({ apiVersion: "v1", kind: "Node", metadata: { name: n, labels: { "kubernetes.io/hostname": n } } } as KubeObject);
  const lsns = c.forKind(localStorageNodeKind);
  for (const [name, total, used] of [
    ["n1", 10, 0],
    ["n2", 10, 8],
  ] as const) {
    await lsns.create({
      apiVersion: "hwameistor.io/v1alpha1",
      kind: "LocalStorageNode",
      metadata: { name },
      spec: { hostname: name, storageIP: "10.0.0.1" },
    } as KubeObject);
    await lsns.patchStatus(
      name,
      {
        status: {
          state: "Ready",
          pools: {
            LocalStorage_PoolHDD: {
              name: "LocalStorage_PoolHDD",
              class: "HDD",
              type: "REGULAR",
              totalCapacityBytes: total * GiB,
              usedCapacityBytes: used * GiB,
              freeCapacityBytes: (total - used) * GiB,
              volumeCapacityBytesLimit: total * GiB,
              totalVolumeCount: 1000,
              usedVolumeCount: 0,
              freeVolumeCount: 1000,
              volumes: [],
            },
          },
        },
      },
      { type: "merge" },
    );
  }
  await c.forKind(STORAGE_CLASS).create({
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: "hdd" },
    provisioner: "lvm.hwameistor.io",
    volumeBindingMode: "WaitForFirstConsumer",
    parameters: { poolClass: "HDD", replicaNumber: "1" },
  } as KubeObject);
  await c.forKind(PVC).create(
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data", namespace: "default" },
      spec: { storageClassName: "hdd", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "4Gi" } } },
    } as KubeObject,
    "default",
  );
  ext = await startExtenderServer({ host: "127.0.0.1", port: 0, decider: clusterDecider(srv.client), log: silentLogger });
});
after(async () => {
  await ext?.stop();
  await srv?.dispose();
});

function call(path: string, body: unknown, method = "POST"): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    // kube-scheduler with tlsConfig.insecure=false would pin this CA; the test does
    const req = request({ host: "127.0.0.1", port: ext.port, path, method, ca: ext.certPem, headers: { "Content-Type": "application/json" } }, (res) => {
      let t = "";
      res.on("data", (d) => (t += d));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode!, body: JSON.parse(t) });
        } catch {
          resolve({ status: res.statusCode!, body: t });
        }
      });
    });
    req.on("error", reject);
    req.end(typeof body === "string" ? body : JSON.stringify(body));
  });
}

const pod = (claims: string[], extra: object = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "app-0", namespace: "default", uid: "9b1c", labels: { app: "db" } },
  spec: {
    schedulerName: "hwameistor-scheduler",
    containers: [{ name: "c", image: "busybox" }],
    volumes: claims.map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } })),
    ...extra,
  },
});
const nodeList = (names: string[]) => ({
  apiVersion: "v1",
  kind: "NodeList",
  metadata: {},
  items: names.map((n) => ({ metadata: { name: n, labels: { "kubernetes.io/hostname": n } }, status: {} })),
});

test("filter (NodeList form): nodes without room or without a LocalStorageNode fail, with reasons", async () => {
  const r = await call("/filter", { pod: pod(["data"], { tolerations: [{ key: "k", operator: "Exists" }] }), nodes: nodeList(["n1", "n2", "n3"]) });
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.body.nodes.items.map((n: any) => n.metadata.name),
    ["n1"],
  );
  assert.deepEqual(Object.keys(r.body.failedNodes).sort(), ["n2", "n3"]);
  assert.match(r.body.failedNodes.n2, /data|LocalStorage_PoolHDD|free/i);
  assert.equal(r.body.error, "");
  // step 1 of the filter: the pod's tolerations are written onto its new lvm PVC
  const pvc = (await srv.client.forKind(PVC).get("data", "default")) as any;
  assert.deepEqual(JSON.parse(pvc.metadata.annotations[Annotations.TolerationsAnnotations]), [{ key: "k", operator: "Exists" }]);
});

test("filter (nodenames form) and prioritize: the same decisions, scores scaled to 0..10", async () => {
  const f = await call("/filter", { pod: pod(["data"]), nodenames: ["n1", "n2", "n3"] });
  assert.deepEqual(f.body.nodenames, ["n1"]);
  const p = await call("/prioritize", { pod: pod(["data"]), nodenames: ["n1", "n2"] });
  assert.equal(p.status, 200);
  // n1: (10Gi free − 4Gi) / 10Gi → 60 → 6 of 10; n2 does not fit → 0
  assert.deepEqual(p.body, [
    { host: "n1", score: 6 },
    { host: "n2", score: 0 },
  ]);
});

test("a pod without HwameiStor volumes passes every node; one whose PVC is missing passes none, saying why", async () => {
  const free = await call("/filter", { pod: pod([]), nodes: nodeList(["n1", "n2", "n3"]) });
  assert.deepEqual(
    free.body.nodes.items.map((n: any) => n.metadata.name),
    ["n1", "n2", "n3"],
  );
  const missing = await call("/filter", { pod: pod(["nope"]), nodenames: ["n1"] });
  assert.deepEqual(missing.body.nodenames, []);
  assert.match(missing.body.failedNodes.n1, /nope.*not found/);
});

test("malformed requests: 400 naming the problem; bind is not served; health answers", async () => {
  for (const [body, msg] of [
    ["{", /not JSON/],
    [{ nodes: nodeList(["n1"]) }, /pod is missing/],
    [{ pod: pod([]) }, /neither nodes nor nodenames/],
    [{ pod: pod([]), nodes: { items: [{}] } }, /items\[0\] has no metadata\.name/],
  ] as const) {
    const r = await call("/filter", body);
    assert.equal(r.status, 400);
    assert.match(r.body.error, msg);
  }
  assert.equal((await call("/bind", { podName: "app-0", podNamespace: "default", podUID: "9b1c", node: "n1" })).status, 404);
  assert.equal((await call("/filter", "", "GET")).status, 405);
  const h = await call("/healthz", "", "GET");
  assert.equal(h.body, "ok");
});
