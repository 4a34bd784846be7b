// The REST API (docs/rest-api.md) against the real embedded API server: every route of the route table
// with authentication off and on (401 without a token, 200 with it), the login/logout/expiry flow,
// pagination/sorting/filter edge cases, error bodies {errcode, description}, and each action checked on the
// resource it must create or patch (no side door). Over HTTPS with the self-signed certificate, as a browser
// would. No node agents: these tests are about the REST layer; the dashboard test drives a live dev cluster.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { request as httpRequest } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toCrd } from "../../src/api/crd.ts";
import { kindDefinitions } from "../../src/api/kinds/index.ts";
import { startApiServer } from "../../src/apiserver/server.ts";
import { selfSignedCert } from "../../src/host/tls/self-signed.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { hwameistorClients, type HwameistorClients } from "../../src/kube/hwameistor.ts";
import type { KubeObject } from "../../src/kube/types.ts";
import { BASE } from "../../src/rest/route.ts";
import { startRestServer, type RunningRestServer } from "../../src/rest/server.ts";

const GiB = 2 ** 30;
const dir = mkdtempSync(join(tmpdir(), "hw-rest-api-"));
const cert = selfSignedCert([]);
let api: Awaited<ReturnType<typeof startApiServer>>;
let client: KubeClient;
let c: HwameistorClients;
let open: RunningRestServer; // auth off, plain HTTP
let secure: RunningRestServer; // auth on, HTTPS
let clock = Date.now();

interface Res {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

function call(srv: RunningRestServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const u = new URL(
    path.startsWith("/") && !path.startsWith(BASE) && !path.startsWith("/swagger") && !path.startsWith("/healthz") ? BASE + path : path,
    srv.url,
  );
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const h: Record<string, string> = { ...headers };
  if (payload !== undefined) h["content-type"] ??= "application/json";
  const fn = u.protocol === "https:" ? request : httpRequest;
  return new Promise((res, rej) => {
    const req = fn(u, { method, headers: h, ca: cert.certPem }, (r) => {
      let data = "";
      r.on("data", (d) => (data += d));
      r.on("end", () => {
        let parsed: unknown = data;
        try {
          parsed = JSON.parse(data);
        } catch {
          /* not JSON */
        }
        res({ status: r.statusCode ?? 0, body: parsed, headers: r.headers });
      });
    });
    req.on("error", rej);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

async function token(): Promise<string> {
  const r = await call(secure, "POST", "/cluster/auth/auth", { accessId: "admin", secretKey: "s3cret-key" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.token as string;
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createWithStatus<T extends KubeObject>(rc: { create(o: T): Promise<T>; updateStatus(o: T): Promise<T> }, obj: T): Promise<void> {
  const made = await rc.create(obj);
  if (obj.status) await rc.updateStatus({ ...made, status: obj.status } as T);
}

const pool = (node: string, devs: string[], total: number, used: number, volumes: string[]) => ({
  name: "LocalStorage_PoolHDD",
  class: "HDD",
  type: "REGULAR",
  path: "/dev/LocalStorage_PoolHDD",
  totalCapacityBytes: total,
  usedCapacityBytes: used,
  freeCapacityBytes: total - used,
  volumeCapacityBytesLimit: total,
  totalVolumeCount: 1000,
  usedVolumeCount: volumes.length,
  freeVolumeCount: 1000 - volumes.length,
  disks: devs.map((d) => ({ devPath: d, type: "HDD", capacityBytes: total / devs.length, state: "InUse" })),
  volumes,
});

async function fixtures(): Promise<void> {
  const crds = client.forKind({
    group: "apiextensions.k8s.io",
    version: "v1",
    plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition",
    namespaced: false,
  });
  for (const def of kindDefinitions) await crds.create(toCrd(def) as KubeObject);
  await waitFor("CRDs served", async () =>
    c.lv.list().then(
      () => true,
      () => false,
    ),
  );
  for (const n of ["node-1", "node-2", "node-3"]) {
    await c.node.create({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: n },
      status: { conditions: [{ type: "Ready", status: n === "node-3" ? "False" : "True" }] },
    });
    await createWithStatus(c.lsn, {
      metadata: { name: n },
      spec: { hostname: n, storageIP: "10.0.0.1", topogoly: { zone: "default", region: "default" } },
      status: {
        state: n === "node-3" ? "Offline" : "Ready",
        pools: { LocalStorage_PoolHDD: pool(n, [`/dev/${n}-a`], 10 * GiB, n === "node-1" ? 3 * GiB : 1 * GiB, n === "node-1" ? ["vol-a", "vol-c"] : []) },
      },
    } as never);
    await createWithStatus(c.ldn, { metadata: { name: n }, spec: { nodeName: n }, status: { state: "Ready", totalDisk: 2 } } as never);
    for (const [i, dev] of [`/dev/${n}-a`, `/dev/${n}-b`].entries()) {
      await createWithStatus(c.ld, {
        metadata: { name: `localdisk-${n}-${i}` },
        spec: {
          nodeName: n,
          devicePath: dev,
          capacity: 10 * GiB,
          owner: i === 0 ? "local-storage" : "",
          reserved: false,
          state: "Active",
          diskAttributes: { type: "HDD", devType: "disk" },
        },
        status: { claimState: i === 0 ? "Bound" : "Available" },
      } as never);
    }
  }
  const lv = (name: string, node: string, bytes: number, convertible: boolean, t: string) => ({
    metadata: { name, labels: { t } },
    spec: {
      requiredCapacityBytes: bytes,
      poolName: "LocalStorage_PoolHDD",
      replicaNumber: 1,
      convertible,
      accessibility: { nodes: [node], zones: ["default"], regions: ["default"] },
      pvcNamespace: name === "vol-b" ? "team-b" : "default",
      pvcName: `data-${name}`,
      volumegroup: "group-1",
      config: {
        version: 1,
        volumeName: name,
        requiredCapacityBytes: bytes,
        convertible,
        resourceID: -1,
        readyToInitialize: false,
        initialized: false,
        replicas: [{ id: 1, hostname: node, ip: "10.0.0.1", primary: true }],
      },
      delete: false,
    },
    status: {
      state: "Ready",
      allocatedCapacityBytes: bytes,
      usedCapacityBytes: bytes / 4,
      replicas: [`${name}-r1`],
      publishedNode: node,
      fsType: "xfs",
      rawblock: false,
    },
  });
  await createWithStatus(c.lv, lv("vol-a", "node-1", 2 * GiB, false, "1") as never);
  await createWithStatus(c.lv, lv("vol-b", "node-2", 1 * GiB, true, "2") as never);
  await createWithStatus(c.lv, lv("vol-c", "node-1", 3 * GiB, false, "3") as never);
  for (const [v, node, b] of [
    ["vol-a", "node-1", 2 * GiB],
    ["vol-b", "node-2", GiB],
    ["vol-c", "node-1", 3 * GiB],
  ] as const) {
    await createWithStatus(c.lvr, {
      metadata: { name: `${v}-r1` },
      spec: { volumeName: v, poolName: "LocalStorage_PoolHDD", nodeName: node, requiredCapacityBytes: b, delete: false },
      status: { state: "Ready", allocatedCapacityBytes: b, devPath: `/dev/x/${v}`, synced: true },
    } as never);
  }
  await c.lvg.create({
    metadata: { name: "group-1" },
    spec: { volumes: [{ localvolume: "vol-a", pvc: "data-vol-a" }], accessibility: { nodes: ["node-1"] }, pods: [], namespace: "default" },
  } as never);
  await createWithStatus(c.lvs, {
    metadata: { name: "snapcontent-1" },
    spec: { sourceVolume: "vol-a", accessibility: { nodes: ["node-1"] }, requiredCapacityBytes: 2 * GiB, delete: false },
    status: { state: "Ready", allocatedCapacityBytes: 2 * GiB },
  } as never);
  await c.evt.create({
    metadata: { name: "volume-vol-a" },
    spec: {
      resourceType: "Volume",
      resourceName: "vol-a",
      records: [
        { time: "2026-12-01T10:00:00Z", id: "1", action: "Create", actionContent: "{}" },
        { time: "2026-12-01T11:00:00Z", id: "2", action: "Mount", actionContent: "{}" },
      ],
    },
  } as never);
  await c.evt.create({
    metadata: { name: "storagenode-node-1" },
    spec: { resourceType: "StorageNode", resourceName: "node-1", records: [{ time: "2026-12-01T09:00:00Z", id: "3", action: "Add" }] },
  } as never);
  await createWithStatus(c.lvmigrate, {
    metadata: { name: "migrate-vol-c" },
    spec: { volumeName: "vol-c", sourceNode: "node-1", targetNodesSuggested: [], migrateAllVols: true, abort: false },
    status: { state: "Submitted" },
  } as never);
  await createWithStatus(c.lvconvert, {
    metadata: { name: "convert-vol-c" },
    spec: { volumeName: "vol-c", replicaNumber: 2, abort: false },
    status: { state: "Failed", message: "Inconvertible volume: vol-c" },
  } as never);
  await createWithStatus(c.lvexpand, {
    metadata: { name: "vol-c" },
    spec: { volumeName: "vol-c", requiredCapacityBytes: 4 * GiB, abort: false },
    status: { state: "InProgress" },
  } as never);
}

before(async () => {
  api = await startApiServer({ dataDir: join(dir, "api"), port: 0 });
  client = new KubeClient(loadKubeConfig({ kubeconfigPath: api.kubeconfigPath }).kubeConfig);
  c = hwameistorClients(client);
  await fixtures();
  open = await startRestServer({ client, port: 0, auth: { enabled: false }, syncTimeoutMs: 10_000 });
  secure = await startRestServer({
    client,
    port: 0,
    tls: cert,
    auth: { enabled: true, accessId: "admin", secretKey: "s3cret-key", ttlMs: 3600_000 },
    syncTimeoutMs: 10_000,
    now: () => clock,
  });
  assert.deepEqual(open.unsynced, []);
});

after(async () => {
  await open?.close();
  await secure?.close();
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A URL for every GET route, with fixture names in the path. */
const SAMPLE: Record<string, string> = {
  volumeName: "vol-c",
  nodeName: "node-1",
  poolName: "LocalStorage_PoolHDD",
  diskName: "node-1-a",
  vgName: "group-1",
  snapshotName: "snapcontent-1",
  operationName: "vol-c",
  eventName: "volume-vol-a",
};
const urlOf = (path: string) => path.replace(/:(\w+)/g, (_m, p: string) => SAMPLE[p] ?? "x");

describe("every route", () => {
  test("auth off: every GET route answers 200 with JSON; POST routes exist (a bad body is a 400, never 404)", async () => {
    for (const r of open.routes) {
      const res = await call(open, r.method, urlOf(r.path), r.method === "POST" ? { notAField: 1 } : undefined);
      if (r.method === "GET") assert.equal(res.status, 200, `${r.method} ${r.path}: ${JSON.stringify(res.body)}`);
      else if (r.path === "/cluster/auth/logout" || r.path === "/cluster/auth/auth")
        assert.equal(res.status, r.path.endsWith("auth") ? 400 : 401, `${r.path} ${JSON.stringify(res.body)}`);
      else assert.equal(res.status, 400, `${r.method} ${r.path}: ${JSON.stringify(res.body)}`);
      assert.equal(typeof res.body, "object", `${r.path} answers JSON`);
    }
  });

  test("auth on: without a token every route but the three auth routes is 401 {errcode, description}; with one, 200", async () => {
    const t = await token();
    for (const r of secure.routes) {
      const bare = await call(secure, r.method, urlOf(r.path), r.method === "POST" ? {} : undefined);
      if (r.auth === false) {
        assert.notEqual(bare.status, 404, r.path);
        continue;
      }
      assert.equal(bare.status, 401, `${r.method} ${r.path} without token: ${JSON.stringify(bare.body)}`);
      assert.equal(bare.body.errcode, 401);
      assert.match(bare.body.description, /Authorization header/);
      if (r.method === "GET") {
        const ok = await call(secure, "GET", urlOf(r.path), undefined, { Authorization: t });
        assert.equal(ok.status, 200, `${r.path} with token: ${JSON.stringify(ok.body)}`);
      }
    }
  });

  test("the OpenAPI document at the swagger path lists every route", async () => {
    const doc = await call(open, "GET", "/swagger/doc.json");
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, "3.0.3");
    for (const r of open.routes) {
      const p = BASE + r.path.replace(/:(\w+)/g, "{$1}");
      assert.ok(doc.body.paths[p]?.[r.method.toLowerCase()], `${r.method} ${p} documented`);
    }
    const html = await call(open, "GET", "/swagger/index.html");
    assert.equal(html.status, 200);
    assert.match(String(html.body), /cluster\/volumes\/\{volumeName\}\/migrate/);
  });
});

describe("auth flow", () => {
  test("info, wrong credentials, token bare and Bearer, logout, expiry", async () => {
    assert.deepEqual((await call(secure, "GET", "/cluster/auth/info")).body, { enabled: true });
    assert.deepEqual((await call(open, "GET", "/cluster/auth/info")).body, { enabled: false });
    const wrong = await call(secure, "POST", "/cluster/auth/auth", { accessId: "admin", secretKey: "nope" });
    assert.equal(wrong.status, 401);
    assert.deepEqual(Object.keys(wrong.body).sort(), ["description", "errcode"]);
    assert.match(wrong.body.description, /wrong accessId or secretKey/);
    const empty = await call(secure, "POST", "/cluster/auth/auth", { accessId: "", secretKey: "" });
    assert.equal(empty.status, 401);

    const login = await call(secure, "POST", "/cluster/auth/auth", { accessId: "admin", secretKey: "s3cret-key" });
    assert.equal(login.status, 200);
    assert.match(login.body.token, /^[0-9a-f-]{36}$/);
    assert.ok(Math.abs(login.body.expireAt - Math.floor((clock + 3600_000) / 1000)) <= 1);
    const t = login.body.token as string;
    assert.equal((await call(secure, "GET", "/cluster/volumes", undefined, { Authorization: t })).status, 200);
    assert.equal((await call(secure, "GET", "/cluster/volumes", undefined, { Authorization: `Bearer ${t}` })).status, 200);
    assert.equal((await call(secure, "GET", "/cluster/volumes", undefined, { Authorization: "Bearer 00000000-0000-0000-0000-000000000000" })).status, 401);

    // An unauthenticated action changes nothing.
    const denied = await call(secure, "POST", "/cluster/nodes/node-3", { enable: false });
    assert.equal(denied.status, 401);
    assert.equal((await c.node.get("node-3"))?.metadata?.labels?.["lvm.hwameistor.io/enable"], undefined);

    assert.deepEqual((await call(secure, "POST", "/cluster/auth/logout", undefined, { Authorization: t })).body, { success: true });
    assert.equal((await call(secure, "GET", "/cluster/volumes", undefined, { Authorization: t })).status, 401);
    assert.equal((await call(secure, "POST", "/cluster/auth/logout", undefined, { Authorization: t })).status, 401);

    const t2 = await token();
    clock += 3600_000 + 1000; // past the TTL
    const expired = await call(secure, "GET", "/cluster/volumes", undefined, { Authorization: t2 });
    assert.equal(expired.status, 401);
    assert.match(expired.body.description, /unknown or expired/);
  });

  test("tokens are persisted as digests in the Secret hwameistor-auth-tokens, never in clear", async () => {
    const t = await token();
    const secrets = client.forKind<KubeObject & { data?: Record<string, string> }>({
      group: "",
      version: "v1",
      plural: "secrets",
      kind: "Secret",
      namespaced: true,
    });
    await waitFor("secret written", async () => Object.keys((await secrets.get("hwameistor-auth-tokens", "hwameistor"))?.data ?? {}).length > 0);
    const s = await secrets.get("hwameistor-auth-tokens", "hwameistor");
    const keys = Object.keys(s!.data!);
    assert.ok(keys.every((k) => /^[0-9a-f]{64}$/.test(k)));
    assert.ok(!JSON.stringify(s).includes(t));
  });
});

describe("lists", () => {
  const names = (r: Res) => r.body.items.map((x: any) => x.metadata?.name ?? x.eventName ?? x.poolName);

  test("page/pageSize: defaults, pages, beyond the end, -1 for all", async () => {
    const all = await call(open, "GET", "/cluster/volumes");
    assert.deepEqual(names(all), ["vol-a", "vol-b", "vol-c"]);
    assert.deepEqual(all.body.pagination, { total: 3, page: 1, pages: 1, pageSize: -1 });
    const p2 = await call(open, "GET", "/cluster/volumes?page=2&pageSize=2");
    assert.deepEqual(names(p2), ["vol-c"]);
    assert.deepEqual(p2.body.pagination, { total: 3, page: 2, pages: 2, pageSize: 2 });
    const beyond = await call(open, "GET", "/cluster/volumes?page=9&pageSize=2");
    assert.deepEqual(beyond.body.items, []);
    assert.equal(beyond.body.pagination.total, 3);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?page=1&pageSize=-1")), ["vol-a", "vol-b", "vol-c"]);
    const onlyPage = await call(open, "GET", "/cluster/volumes?page=1");
    assert.equal(onlyPage.body.pagination.pageSize, 10);
    const none = await call(open, "GET", "/cluster/volumes?volumeName=zzz&page=1&pageSize=5");
    assert.deepEqual(none.body.pagination, { total: 0, page: 1, pages: 0, pageSize: 5 });
  });

  test("bad page parameters are 400 naming the parameter", async () => {
    for (const [qs, param] of [
      ["page=0&pageSize=1", "page"],
      ["page=1&pageSize=0", "pageSize"],
      ["page=x", "page"],
      ["pageSize=-2", "pageSize"],
      ["pageSize=1.5", "pageSize"],
      ["sortDir=up", "sortDir"],
      ["fuzzy=maybe", "fuzzy"],
    ]) {
      const r = await call(open, "GET", `/cluster/volumes?${qs}`);
      assert.equal(r.status, 400, qs);
      assert.equal(r.body.errcode, 400);
      assert.match(r.body.description, new RegExp(`query parameter ${param}:`), qs);
    }
    const s = await call(open, "GET", "/cluster/volumes?sort=colour");
    assert.equal(s.status, 400);
    assert.match(s.body.description, /one of name, time, capacity, state, namespace/);
  });

  test("sort and sortDir (sortBy alias), stable with paging", async () => {
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?sort=capacity&sortDir=desc")), ["vol-c", "vol-a", "vol-b"]);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?sortBy=capacity&sortDir=ASC")), ["vol-b", "vol-a", "vol-c"]);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?sort=capacity&sortDir=desc&page=2&pageSize=1")), ["vol-a"]);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?sort=namespace")), ["vol-a", "vol-c", "vol-b"]);
  });

  test("filters: fuzzy substring by default, exact with fuzzy=false; state, namespace, group, nodeName", async () => {
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?volumeName=VOL-")), ["vol-a", "vol-b", "vol-c"]);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?volumeName=vol-&fuzzy=false")), []);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?volumeName=vol-b&fuzzy=false")), ["vol-b"]);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?namespace=team-b")), ["vol-b"]);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?nodeName=node-1")), ["vol-a", "vol-c"]);
    assert.deepEqual(names(await call(open, "GET", "/cluster/volumes?state=NotReady")), []);
    const nodes = await call(open, "GET", "/cluster/nodes?nodeState=NotReady");
    assert.deepEqual(
      nodes.body.items.map((n: any) => n.localStorageNode.metadata.name),
      ["node-3"],
    );
    const byDriver = await call(open, "GET", "/cluster/nodes?driverState=Ready&sort=name&sortDir=desc");
    assert.deepEqual(
      byDriver.body.items.map((n: any) => n.localStorageNode.metadata.name),
      ["node-2", "node-1"],
    );
  });

  test("the operation log: newest first, by resource, by action; the volume's own records", async () => {
    const ev = await call(open, "GET", "/cluster/events");
    assert.deepEqual(
      ev.body.items.map((e: any) => e.eventRecord.id),
      ["2", "1", "3"],
    );
    assert.deepEqual(
      (await call(open, "GET", "/cluster/events?sort=time&sortDir=asc")).body.items.map((e: any) => e.eventRecord.id),
      ["3", "1", "2"],
    );
    assert.deepEqual(
      (await call(open, "GET", "/cluster/events?resourceType=StorageNode")).body.items.map((e: any) => e.resourceName),
      ["node-1"],
    );
    assert.deepEqual(
      (await call(open, "GET", "/cluster/volumes/vol-a/events?action=Mount")).body.items.map((e: any) => e.eventRecord.id),
      ["2"],
    );
    assert.equal((await call(open, "GET", "/cluster/events/volume-vol-a")).body.spec.records.length, 2);
  });

  test("views: pools summed across nodes, a node's disks with their pool, status summary, operations with progress", async () => {
    const pools = await call(open, "GET", "/cluster/pools");
    assert.equal(pools.body.items.length, 1);
    assert.equal(pools.body.items[0].totalCapacityBytes, 30 * GiB);
    assert.equal(pools.body.items[0].allocatedCapacityBytes, 5 * GiB);
    assert.deepEqual(pools.body.items[0].nodeNames, ["node-1", "node-2", "node-3"]);
    const disks = await call(open, "GET", "/cluster/nodes/node-1/disks");
    assert.deepEqual(
      disks.body.items.map((d: any) => [d.diskPathShort, d.localStoragePooLName, d.availableCapacityBytes]),
      [
        ["node-1-a", "LocalStorage_PoolHDD", 0],
        ["node-1-b", "", 10 * GiB],
      ],
    );
    const poolDisks = await call(open, "GET", "/cluster/pools/LocalStorage_PoolHDD/nodes/node-1/disks");
    assert.deepEqual(
      poolDisks.body.items.map((d: any) => d.diskPathShort),
      ["node-1-a"],
    );
    const status = await call(open, "GET", "/cluster/status");
    assert.equal(status.body.summary.localVolumeNum, 3);
    assert.equal(status.body.summary.totalNodeNum, 3);
    assert.ok(status.body.modulesStatus.some((m: any) => m.name === "local-storage" && m.state === "NotReady")); // node-3 is Offline
    const op = await call(open, "GET", "/cluster/operations/vol-c");
    assert.equal(op.body.eventType, "LocalVolumeExpand");
    assert.equal(op.body.status, "InProgress");
    assert.equal(op.body.progress, 50); // no replica at 4 GiB yet
    const node = await call(open, "GET", "/cluster/nodes/node-1");
    assert.equal(node.body.k8SNodeState, "Ready");
    assert.equal(node.body.totalDisk, 2);
  });
});

describe("errors", () => {
  test("unknown names are 404 {errcode, description} naming the object", async () => {
    for (const [p, what] of <Array<[string, string]>>[
      ["/cluster/volumes/nope", "volume nope"],
      ["/cluster/nodes/nope", "node nope"],
      ["/cluster/pools/nope", "storage pool nope"],
      ["/cluster/nodes/node-1/disks/sdz", "disk sdz on node node-1"],
      ["/cluster/snapshot/nope/snapshot", "snapshot nope"],
      ["/cluster/volumegroups/nope", "volume group nope"],
      ["/cluster/operations/nope", "operation nope"],
      ["/cluster/volumes/vol-a/migrate", "migration of volume vol-a"],
    ]) {
      const r = await call(open, "GET", p);
      assert.equal(r.status, 404, p);
      assert.deepEqual(Object.keys(r.body).sort(), ["description", "errcode"]);
      assert.equal(r.body.errcode, 404);
      assert.ok(r.body.description.startsWith(`${what} not found`), `${p}: ${r.body.description}`);
    }
    const r = await call(open, "GET", "/cluster/nothing-here");
    assert.equal(r.status, 404);
    assert.equal(r.body.errcode, 404);
  });

  test("malformed bodies are 400 naming the field; nothing is created", async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ["/cluster/volumes/vol-a/migrate", {}, /body field srcNode: is required/],
      ["/cluster/volumes/vol-a/migrate", { srcNode: 7 }, /body field srcNode: must be string/],
      ["/cluster/volumes/vol-a/migrate", { srcNode: "node-1", replicaAffinity: "maybe" }, /body field replicaAffinity: .*"need"/],
      ["/cluster/volumes/vol-a/migrate", { srcNode: "node-1", selectNode: "node-2" }, /body field selectNode: is not a field/],
      ["/cluster/volumes/vol-a/expand", { targetCapacity: "lots" }, /body field targetCapacity: "lots" is not a capacity/],
      ["/cluster/volumes/vol-a/expand", {}, /body field targetCapacity: is required/],
      ["/cluster/nodes/node-1", { enable: "yes" }, /body field enable: must be boolean/],
      ["/cluster/nodes/node-1/disks/node-1-b/owner", { owner: "me" }, /body field owner: .*"local-storage"/],
      ["/cluster/pools/expand", { nodeName: "node-1", diskType: "Floppy" }, /body field diskType/],
      ["/cluster/volumes/vol-a/snapshot", { name: "Bad_Name" }, /body field name: "Bad_Name" is not a valid resource name/],
    ];
    for (const [p, body, re] of cases) {
      const r = await call(open, "POST", p, body);
      assert.equal(r.status, 400, `${p} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.errcode, 400);
      assert.match(r.body.description, re);
    }
    const bad = await call(open, "POST", "/cluster/volumes/vol-a/migrate", "{not json");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errcode, 400);
    const noBody = await call(open, "POST", "/cluster/nodes/node-1");
    assert.equal(noBody.status, 400);
    assert.match(noBody.body.description, /enable: is required/);
    assert.equal(await c.lvmigrate.get("migrate-vol-a"), undefined);
    const wrongType = await call(open, "POST", "/cluster/nodes/node-3", "enable=false", { "content-type": "application/x-www-form-urlencoded" });
    assert.equal(wrongType.status, 415);
    assert.match(wrongType.body.description, /send application\/json/);
    const huge = await call(open, "POST", "/cluster/nodes/node-3", JSON.stringify({ enable: true, pad: "x".repeat(70_000) }));
    assert.equal(huge.status, 413);
    const method = await call(open, "PUT", "/cluster/volumes/vol-a", { x: 1 });
    assert.equal(method.status, 405);
    assert.match(method.body.description, /allowed: GET/);
    assert.equal((await c.node.get("node-3"))?.metadata?.labels?.["lvm.hwameistor.io/enable"], undefined);
    assert.equal((await c.lvs.list()).items.length, 1);
  });
});

describe("actions go through the resources the controllers use", () => {
  test("migrate: srcNode must hold a replica, target must be another storage node; creates migrate-<vol>; a second is 409; abort patches", async () => {
    let r = await call(open, "POST", "/cluster/volumes/vol-a/migrate", { srcNode: "node-2" });
    assert.equal(r.status, 400);
    assert.match(r.body.description, /body field srcNode: volume vol-a has no replica on node node-2 \(replicas on: node-1\)/);
    r = await call(open, "POST", "/cluster/volumes/vol-a/migrate", { srcNode: "node-1", selectedNode: "node-9" });
    assert.match(r.body.description, /node node-9 is not a storage node/);
    r = await call(open, "POST", "/cluster/volumes/vol-a/migrate", { srcNode: "node-1", selectedNode: "node-2", replicaAffinity: "forbid" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { data: { volumeName: "vol-a", srcNode: "node-1", selectedNode: "node-2", replicaAffinity: "forbid" } });
    const m = await c.lvmigrate.get("migrate-vol-a");
    assert.deepEqual(m?.spec, { volumeName: "vol-a", sourceNode: "node-1", targetNodesSuggested: ["node-2"], migrateAllVols: true, abort: false });
    assert.equal(m?.metadata?.annotations?.["hwameistor.io/replica-affinity"], "forbid");
    await waitFor("cache", async () => (await call(open, "GET", "/cluster/volumes/vol-a/migrate")).status === 200);
    r = await call(open, "POST", "/cluster/volumes/vol-a/migrate", { srcNode: "node-1" });
    assert.equal(r.status, 409);
    assert.match(r.body.description, /migration migrate-vol-a is already under way/);
    r = await call(open, "POST", "/cluster/volumes/vol-a/migrate", { srcNode: "node-1", abort: true });
    assert.equal(r.status, 200);
    assert.equal((await c.lvmigrate.get("migrate-vol-a"))?.spec?.abort, true);
    await waitFor("node migrates", async () => (await call(open, "GET", "/cluster/nodes/node-2/migrates")).body.items?.length === 1);
    const ops = await call(open, "GET", "/cluster/volumes/vol-a/operations");
    assert.equal(ops.body.volumeMigrateOperations.length, 1);
  });

  test("convert: refused for a non-convertible volume, creates convert-<vol> with 2 replicas otherwise", async () => {
    let r = await call(open, "POST", "/cluster/volumes/vol-a/convert", {});
    assert.equal(r.status, 409);
    assert.match(r.body.description, /Inconvertible volume: vol-a/);
    r = await call(open, "POST", "/cluster/volumes/vol-b/convert", {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { data: { volumeName: "vol-b", replicaNum: 2 } });
    assert.deepEqual((await c.lvconvert.get("convert-vol-b"))?.spec, { volumeName: "vol-b", replicaNumber: 2, abort: false });
    await waitFor("cache", async () => (await call(open, "GET", "/cluster/volumes/vol-b/convert")).status === 200);
  });

  test("expand: shrink and oversize refused naming sizes and pools; a PVC-less volume gets a LocalVolumeExpand; one under way is 409; abort", async () => {
    let r = await call(open, "POST", "/cluster/volumes/vol-a/expand", { targetCapacity: "1Gi" });
    assert.equal(r.status, 400);
    assert.match(r.body.description, /has 2Gi; shrinking to 1Gi is not supported/);
    r = await call(open, "POST", "/cluster/volumes/vol-a/expand", { targetCapacity: "100Gi" });
    assert.equal(r.status, 409);
    assert.match(r.body.description, /pool LocalStorage_PoolHDD on node node-1 has 7Gi free, the growth needs 98Gi/);
    r = await call(open, "POST", "/cluster/volumes/vol-c/expand", { targetCapacity: "5Gi" });
    assert.equal(r.status, 409);
    assert.match(r.body.description, /being expanded to 4Gi already/);
    r = await call(open, "POST", "/cluster/volumes/vol-a/expand", { targetCapacity: 3 * GiB - 1 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { data: { volumeName: "vol-a", targetCapacityBytes: 3 * GiB, via: "LocalVolumeExpand" } });
    assert.deepEqual((await c.lvexpand.get("vol-a"))?.spec, { volumeName: "vol-a", requiredCapacityBytes: 3 * GiB, abort: false });
    await waitFor("cache", async () => (await call(open, "GET", "/cluster/volumes/vol-a/expand")).status === 200);
    r = await call(open, "POST", "/cluster/volumes/vol-a/expand", { abort: true });
    assert.equal(r.status, 200);
    assert.equal((await c.lvexpand.get("vol-a"))?.spec?.abort, true);
  });

  test("expand with a PVC raises the PVC's request (the resizer's path), as the original", async () => {
    const pvcs = client.forKind({ group: "", version: "v1", plural: "persistentvolumeclaims", kind: "PersistentVolumeClaim", namespaced: true });
    const namespaces = client.forKind({ group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false });
    await namespaces.create({ metadata: { name: "team-b" } });
    await pvcs.create({
      metadata: { name: "data-vol-b", namespace: "team-b" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
    const r = await call(open, "POST", "/cluster/volumes/vol-b/expand", { targetCapacity: "1536Mi" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data.via, "PersistentVolumeClaim");
    assert.equal(((await pvcs.get("data-vol-b", "team-b")) as any).spec.resources.requests.storage, "1536Mi");
    assert.equal(await c.lvexpand.get("vol-b"), undefined);
  });

  test("snapshot: creates a LocalVolumeSnapshot on the volume's node", async () => {
    const r = await call(open, "POST", "/cluster/volumes/vol-c/snapshot", { name: "snap-c1" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const s = await c.lvs.get("snap-c1");
    assert.equal(s?.spec?.sourceVolume, "vol-c");
    assert.deepEqual(s?.spec?.accessibility?.nodes, ["node-1"]);
    assert.equal(s?.spec?.requiredCapacityBytes, 3 * GiB);
    await waitFor("cache", async () => (await call(open, "GET", "/cluster/volumes/vol-c/snapshot")).body.items?.length === 1);
    const dup = await call(open, "POST", "/cluster/volumes/vol-c/snapshot", { name: "snap-c1" });
    assert.equal(dup.status, 409);
    const auto = await call(open, "POST", "/cluster/volumes/vol-c/snapshot", {});
    assert.match(auto.body.data.Name, /^snapcontent-[0-9a-f-]{36}$/);
  });

  test("node enable: disabling a node with replicas is 409 naming them; otherwise the label is set", async () => {
    let r = await call(open, "POST", "/cluster/nodes/node-1", { enable: false });
    assert.equal(r.status, 409);
    assert.match(r.body.description, /node node-1 still holds replicas of 2 volume\(s\): vol-a, vol-c/);
    r = await call(open, "POST", "/cluster/nodes/node-3", { enable: false });
    assert.deepEqual(r.body, { success: true });
    assert.equal((await c.node.get("node-3"))?.metadata?.labels?.["lvm.hwameistor.io/enable"], "false");
    await waitFor("cache", async () => (await call(open, "GET", "/cluster/nodes/node-3")).body.enabled === false);
    r = await call(open, "POST", "/cluster/nodes/node-3", { enable: true });
    assert.equal((await c.node.get("node-3"))?.metadata?.labels?.["lvm.hwameistor.io/enable"], "true");
  });

  test("disk reserve and owner: a disk in a pool cannot be reserved; a free one can; owner set", async () => {
    let r = await call(open, "POST", "/cluster/nodes/node-1/disks/node-1-a", { reserve: true });
    assert.equal(r.status, 409);
    assert.match(r.body.description, /disk node-1-a \(localdisk-node-1-0\) on node node-1 is in use by pool LocalStorage_PoolHDD/);
    r = await call(open, "POST", "/cluster/nodes/node-1/disks/node-1-b", { reserve: true });
    assert.deepEqual(r.body, { data: { diskName: "localdisk-node-1-1", reservedRsp: "Succeed" } });
    assert.equal((await c.ld.get("localdisk-node-1-1"))?.spec?.reserved, true);
    r = await call(open, "POST", `/cluster/nodes/node-1/disks/${encodeURIComponent("/dev/node-1-b")}`, { reserve: false });
    assert.deepEqual(r.body, { data: { diskName: "localdisk-node-1-1", removeReservedRsp: "Succeed" } });
    assert.equal((await c.ld.get("localdisk-node-1-1"))?.spec?.reserved, false);
    r = await call(open, "POST", "/cluster/nodes/node-1/disks/node-1-a/owner", { owner: "system" });
    assert.equal(r.status, 409);
    r = await call(open, "POST", "/cluster/nodes/node-1/disks/node-1-b/owner", { owner: "local-disk-manager" });
    assert.deepEqual(r.body, { data: { diskName: "localdisk-node-1-1", owner: "local-disk-manager" } });
    assert.equal((await c.ld.get("localdisk-node-1-1"))?.spec?.owner, "local-disk-manager");
  });

  test("pool expand: creates a LocalDiskClaim for the node's free disks of the class; none free is 409", async () => {
    let r = await call(open, "POST", "/cluster/pools/expand", { nodeName: "node-2", diskType: "SSD" });
    assert.equal(r.status, 409);
    assert.match(r.body.description, /node node-2 has no free SSD disk/);
    r = await call(open, "POST", "/cluster/pools/expand", { nodeName: "node-2", diskType: "HDD" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const claim = await c.ldc.get(String(r.body.claimName));
    assert.deepEqual(claim?.spec, { nodeName: "node-2", owner: "local-storage", description: { diskType: "HDD" } });
    assert.match(r.body.claimName, /^node-2-hdd-claim-[0-9a-f-]{36}$/);
  });
});

describe("finished operations", () => {
  test("an operation its controller deleted stays listed with its last state and endTime", async () => {
    const cur = await c.lvexpand.get("vol-c");
    await c.lvexpand.updateStatus({ ...cur!, status: { state: "Completed", allocatedCapacityBytes: 4 * GiB } } as never);
    await waitFor("completed in cache", async () => (await call(open, "GET", "/cluster/operations/vol-c")).body.status === "Completed");
    await c.lvexpand.delete("vol-c");
    await waitFor("deleted in cache", async () => (await call(open, "GET", "/cluster/volumes/vol-c/operations")).body.VolumeExpandOperations?.length === 0);
    const op = await call(open, "GET", "/cluster/operations/vol-c");
    assert.equal(op.status, 200);
    assert.equal(op.body.status, "Completed");
    assert.equal(op.body.progress, 100);
    assert.ok(Date.parse(op.body.endTime) > Date.now() - 60_000, JSON.stringify(op.body));
    const list = await call(open, "GET", "/cluster/operations?type=LocalVolumeExpand&state=Completed");
    assert.deepEqual(
      list.body.items.map((o: any) => o.eventName),
      ["vol-c"],
    );
  });
});
