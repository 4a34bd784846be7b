// The scheduler extender as kube-scheduler meets it: real HTTPS, ExtenderArgs in Kubernetes' JSON shape
// (with `nodes` as a NodeList, and with `nodenames`), src/scheduler's filter and score over objects stored in
// the embedded API server (fact sheet §4.1), the filter's PVC annotations written, bind refused. The decisions
// of §4.1 each over HTTPS: new lvm volumes (room, LocalStorageNode), provisioned ones (replica node, published
// node, migration), disk volumes (LocalDiskNode Ready, disks that fit, count), claims of other provisioners
// ignored, a claim neither Bound nor Pending refused.
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { loadServer, TestServer } from "../../test/helpers/api-server.ts";
import { localDiskNodeKind } from "../api/kinds/local-disk-node.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import { localVolumeKind } from "../api/kinds/local-volume.ts";
import { Annotations } from "../api/names.ts";
import { startExtenderServer, type RunningExtender } from "../extender/server.ts";
import { NODE, PV, PVC, STORAGE_CLASS } from "../kube/resources.ts";
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

/** Fixtures in namespace "apps": provisioned lvm volumes, disk claims, other provisioners, a Lost claim. */
async function provisionedFixtures(): Promise<void> {
  const c = srv.client;
  const sc = (name: string, provisioner: string, parameters: Record<string, string>) =>
    c.forKind(STORAGE_CLASS).create({ apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name }, provisioner, parameters } as KubeObject);
  await sc("disk-hdd", "disk.hwameistor.io", { diskType: "HDD" });
  await sc("nfs", "example.com/nfs", {});
  const lvs = c.forKind(localVolumeKind);
  for (const [name, replicas, published, migrating] of [
    ["pvc-on-n1", ["n1"], "", false],
    ["pvc-published-n2", ["n1", "n2"], "n2", false],
    ["pvc-migrating", ["n1"], "", true],
  ] as const) {
    await lvs.create({
      apiVersion: "hwameistor.io/v1alpha1",
      kind: "LocalVolume",
      metadata: { name, ...(migrating ? { annotations: { [Annotations.VolumeMigrateState]: "migrateStarted" } } : {}) },
      spec: {
        poolName: "LocalStorage_PoolHDD",
        requiredCapacityBytes: GiB,
        replicaNumber: replicas.length,
        accessibility: { nodes: [...replicas] },
        config: {
          version: 1,
          volumeName: name,
          requiredCapacityBytes: GiB,
          convertible: replicas.length > 1,
          resourceID: -1,
          readyToInitialize: true,
          initialized: true,
          replicas: replicas.map((h, i) => ({ id: i + 1, hostname: h, ip: "10.0.0.1", primary: i === 0 })),
        },
      },
    } as KubeObject);
    if (published) await lvs.patchStatus(name, { status: { state: "Ready", publishedNode: published } }, { type: "merge" });
  }
  const pvcs = c.forKind(PVC);
  const claim = async (name: string, cls: string, size: string, phase: "Pending" | "Bound" | "Lost", volumeName?: string) => {
    if (volumeName)
      await c.forKind(PV).create({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: volumeName },
        spec: {
          capacity: { storage: size },
          accessModes: ["ReadWriteOnce"],
          storageClassName: cls,
          csi: { driver: "lvm.hwameistor.io", volumeHandle: volumeName },
        },
      } as KubeObject);
    await pvcs.create(
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name, namespace: "apps" },
        spec: { storageClassName: cls, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } }, ...(volumeName ? { volumeName } : {}) },
      } as KubeObject,
      "apps",
    );
    if (phase !== "Pending") await pvcs.patchStatus(name, { status: { phase } }, { namespace: "apps", type: "merge" });
  };
  await claim("on-n1", "hdd", "1Gi", "Bound", "pvc-on-n1");
  await claim("published-n2", "hdd", "1Gi", "Bound", "pvc-published-n2");
  await claim("migrating", "hdd", "1Gi", "Bound", "pvc-migrating");
  await claim("lost", "hdd", "1Gi", "Lost");
  await claim("disk-a", "disk-hdd", "10Gi", "Pending");
  await claim("disk-b", "disk-hdd", "10Gi", "Pending");
  await claim("shared", "nfs", "1Gi", "Pending");
  // LocalDiskNodes: n1 Ready with one free 20Gi HDD disk, n2 not Ready
  const ldns = c.forKind(localDiskNodeKind);
  for (const [n, state] of [
    ["n1", "Ready"],
    ["n2", "Offline"],
  ] as const) {
    await ldns.create({ apiVersion: "hwameistor.io/v1alpha1", kind: "LocalDiskNode", metadata: { name: n }, spec: { nodeName: n } } as KubeObject);
    await ldns.patchStatus(
      n,
      {
        status: {
          state,
          pools: {
            LocalDisk_PoolHDD: { name: "LocalDisk_PoolHDD", class: "HDD", disks: [{ devPath: "/dev/sdb", capacityBytes: 20 * GiB, state: "Available" }] },
          },
        },
      },
      { type: "merge" },
    );
  }
}

const appPod = (claims: string[]) => ({ ...pod(claims), metadata: { name: "app-1", namespace: "apps", uid: "7f00" } });

test("§4.1 over HTTPS: provisioned lvm volumes, disk volumes, other provisioners, a Lost claim", async () => {
  await srv.client
    .forKind({ group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false })
    .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "apps" } } as KubeObject)
    .catch(() => undefined);
  await provisionedFixtures();
  const filter = async (claims: string[], nodes = ["n1", "n2", "n3"]) => {
    const r = await call("/filter", { pod: appPod(claims), nodenames: nodes });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { nodenames: string[]; failedNodes: Record<string, string>; error: string };
  };
  // a Bound lvm volume: only the node holding its replica
  let f = await filter(["on-n1"]);
  assert.deepEqual(f.nodenames, ["n1"]);
  assert.match(f.failedNodes.n2!, /no replica of volume pvc-on-n1 .*replicas on n1/);
  // published on n2: n1 holds a replica too, but the volume is in use on n2
  f = await filter(["published-n2"]);
  assert.deepEqual(f.nodenames, ["n2"]);
  assert.match(f.failedNodes.n1!, /published on node n2/);
  // annotation hwameistor.io/volume-migrate-state=migrateStarted: nowhere until the migration ends
  f = await filter(["migrating"]);
  assert.deepEqual(f.nodenames, []);
  assert.match(f.failedNodes.n1!, /being migrated/);
  // a claim neither Bound nor Pending: every node refused, naming it
  f = await filter(["lost"]);
  assert.deepEqual(f.nodenames, []);
  assert.match(f.failedNodes.n1!, /persistentvolumeclaim "lost" is Lost/);
  // a new disk volume: the LocalDiskNode must be Ready with a free disk of that type that fits
  f = await filter(["disk-a"], ["n1", "n2"]);
  assert.deepEqual(f.nodenames, ["n1"]);
  assert.match(f.failedNodes.n2!, /LocalDiskNode n2 is Offline, not Ready/);
  // two of them: n1 has one free HDD disk
  f = await filter(["disk-a", "disk-b"], ["n1"]);
  assert.deepEqual(f.nodenames, []);
  assert.match(f.failedNodes.n1!, /1 Available HDD disk\(s\), the pod needs 2/);
  // a claim of another provisioner is not ours: ignored, the rest decides
  f = await filter(["shared", "on-n1"]);
  assert.deepEqual(f.nodenames, ["n1"]);
  f = await filter(["shared"]);
  assert.deepEqual(f.nodenames, ["n1", "n2", "n3"]);
  // prioritize: provisioned and disk volumes score 0 (the score is about new lvm volumes' pool room)
  const p = await call("/prioritize", { pod: appPod(["on-n1"]), nodenames: ["n1"] });
  assert.deepEqual(p.body, [{ host: "n1", score: 0 }]);
});
