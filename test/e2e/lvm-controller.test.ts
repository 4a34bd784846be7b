// lvm.hwameistor.io controller side against the REAL embedded API server with the generated CRDs: the
// `hwameistor controller` (leader-elected reconcilers + CSI controller on lvm.sock) driven through our CSI
// client the way external-provisioner and external-attacher would. This test plays the node agents: it
// writes LocalStorageNodes and answers LocalVolumeReplicas by setting their status (a test of the
// controller against the API server; the e2e with real node agents belongs to the node side).
// No root needed: nothing touches the kernel. The API server, sockets and temp dir are removed in `after`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import type { HwError } from "../../src/api/errors.ts";
import { Drivers, Finalizers, PublishContextKeys, ScParams, StoragePools, TopologyKeys } from "../../src/api/names.ts";
import { startApiServer, type RunningApiServer } from "../../src/apiserver/server.ts";
import { hwameistorClients, type HwameistorClients, type Lsn, type Lvr } from "../../src/kube/hwameistor.ts";
import { POD } from "../../src/kube/resources.ts";
import { startController, type RunningController } from "../../src/controller/index.ts";
import { connectCsi, type CsiClient } from "../../src/csi/client.ts";
import type { CreateVolumeRequest, VolumeCapability } from "../../src/csi/types.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { isConflict } from "../../src/kube/transport.ts";
import { NAMESPACE } from "../../src/kube/resources.ts";
import { silentLogger } from "../../src/kube/types.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const G = 1024 ** 3;
const MiB = 1024 * 1024;
const HDD = StoragePools.HDD;
const SSD = StoragePools.SSD;
const NVME = StoragePools.NVMe;

let dir = "";
let server: RunningApiServer | undefined;
let client: KubeClient;
let c: HwameistorClients;
let controller: RunningController | undefined;
let csi: CsiClient | undefined;
let agentTimer: NodeJS.Timeout | undefined;

const mountCap: VolumeCapability = { mount: { fs_type: "", mount_flags: [] }, access_mode: { mode: "SINGLE_NODE_WRITER" } };
const blockCap: VolumeCapability = { block: {}, access_mode: { mode: "SINGLE_NODE_WRITER" } };
const seg = (n: string) => ({ segments: { [TopologyKeys.LvmNode]: n } });
const req = (name: string, cls: string, bytes: number, o: Partial<CreateVolumeRequest> = {}, params: Record<string, string> = {}): CreateVolumeRequest => ({
  name,
  capacity_range: { required_bytes: String(bytes) },
  volume_capabilities: [mountCap],
  parameters: { [ScParams.PoolClass]: cls, [ScParams.ReplicaNumber]: "1", ...params },
  ...o,
});
const code = (c: string, re?: RegExp) => (e: HwError) => {
  assert.equal(e.code, c, e.message);
  if (re) assert.match(e.fullMessage, re);
  return true;
};
async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ------------------------------------------------------------------ the fake node agents

/** Nodes the fake agent answers for, and how it removes deleted replicas (object delete vs state Deleted). */
const agent = {
  nodes: new Set(["n1", "n2", "n3"]),
  deletedStateNodes: new Set(["n2"]),
  /** Volumes whose replica the node refuses with "insufficient free space". */
  refuse: new Set<string>(),
  busy: false,
};
const POOLS: Record<string, Record<string, number>> = {
  n1: { [HDD]: 20 * G, [SSD]: 6 * G },
  n2: { [HDD]: 12 * G, [SSD]: 10 * G },
  n3: { [HDD]: 8 * G },
  manual: { [NVME]: 10 * G },
};

async function writeLsn(node: string, mutate: (pools: NonNullable<NonNullable<Lsn["status"]>["pools"]>) => void): Promise<void> {
  for (;;) {
    const lsn = (await c.lsn.get(node))!;
    const pools = structuredClone(lsn.status?.pools ?? {});
    mutate(pools);
    try {
      await c.lsn.updateStatus({ ...lsn, status: { ...lsn.status, pools } });
      return;
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }
}

async function setReplicaStatus(r: Lvr, status: NonNullable<Lvr["status"]>): Promise<void> {
  const cur = (await c.lvr.get(r.metadata!.name!))!;
  await c.lvr.updateStatus({ ...cur, status });
}

const cond = (type: string, ok: boolean, message = "") => ({
  type,
  status: (ok ? "True" : "False") as "True" | "False",
  reason: type,
  message,
  lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
});

/** One pass of every fake node agent. */
async function agentPass(): Promise<void> {
  for (const r of (await c.lvr.list()).items) {
    const node = r.spec?.nodeName ?? "";
    if (!agent.nodes.has(node)) continue;
    const vol = r.spec!.volumeName!;
    const pool = r.spec!.poolName!;
    const bytes = r.spec!.requiredCapacityBytes!;
    if (r.spec?.delete) {
      if (r.status?.state === "Deleted") continue;
      if (r.status?.state === "Ready") {
        await writeLsn(node, (p) => {
          const x = p[pool]!;
          x.usedCapacityBytes! -= bytes;
          x.freeCapacityBytes! += bytes;
          x.usedVolumeCount! -= 1;
          x.freeVolumeCount! += 1;
          x.volumes = x.volumes!.filter((v) => v !== vol);
        });
      }
      if (agent.deletedStateNodes.has(node)) await setReplicaStatus(r, { ...r.status, state: "Deleted" });
      else await c.lvr.delete(r.metadata!.name!);
      continue;
    }
    if (r.status?.state) continue;
    if (agent.refuse.has(vol)) {
      if (!r.status?.conditions?.length) {
        // What the node agent writes (src/node/storage/replica/reconciler.ts): the condition carries the reason,
        // status.error the error as raised; the controller decides by its code, never by the text.
        const message = `insufficient free space in ${pool} on ${node}`;
        await setReplicaStatus(r, {
          state: "",
          conditions: [{ ...cond("Create", false, message), reason: "InsufficientCapacity" }],
          error: { code: "RESOURCE_EXHAUSTED", reason: "InsufficientCapacity", message, hint: "add a disk" },
        });
      }
      continue;
    }
    await writeLsn(node, (p) => {
      const x = p[pool]!;
      x.usedCapacityBytes! += bytes;
      x.freeCapacityBytes! -= bytes;
      x.usedVolumeCount! += 1;
      x.freeVolumeCount! -= 1;
      x.volumes = [...x.volumes!, vol];
    });
    await setReplicaStatus(r, readyStatus(r));
  }
}
const readyStatus = (r: Lvr): NonNullable<Lvr["status"]> => ({
  state: "Ready",
  storagePath: `/dev/${r.spec!.poolName}/${r.spec!.volumeName}`,
  devPath: `/dev/${r.spec!.poolName}/${r.spec!.volumeName}`,
  allocatedCapacityBytes: r.spec!.requiredCapacityBytes!,
  synced: true,
  conditions: [cond("Create", true), cond("Ready", true)],
});

function startAgent(): void {
  agentTimer = setInterval(() => {
    if (agent.busy) return;
    agent.busy = true;
    agentPass()
      .catch(() => {})
      .finally(() => (agent.busy = false));
  }, 40);
}

async function freeOf(node: string, pool: string): Promise<number> {
  return (await c.lsn.get(node))!.status!.pools![pool]!.freeCapacityBytes!;
}

// ------------------------------------------------------------------ setup

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hw-lvm-ctl-"));
  server = await startApiServer({ dataDir: path.join(dir, "api"), port: 0 });
  client = new KubeClient(loadKubeConfig({ kubeconfigPath: server.kubeconfigPath }).kubeConfig);
  const crds = client.forKind({
    group: "apiextensions.k8s.io",
    version: "v1",
    plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition",
    namespaced: false,
  });
  for (const f of fs.readdirSync(path.join(repo, "deploy/crds"))) await crds.create(parse(fs.readFileSync(path.join(repo, "deploy/crds", f), "utf8")));
  c = hwameistorClients(client);
  await waitFor("CRDs served", async () => {
    try {
      await Promise.all([c.lv.list(), c.lvr.list(), c.lvg.list(), c.lsn.list()]);
      return true;
    } catch {
      return false;
    }
  });
  for (const [node, pools] of Object.entries(POOLS)) {
    await c.lsn.create({ metadata: { name: node }, spec: { hostname: node, storageIP: `10.1.0.${node.length}` } } as Lsn);
    const lsn = (await c.lsn.get(node))!;
    const st: NonNullable<Lsn["status"]> = { state: "Ready", pools: {} };
    for (const [pool, total] of Object.entries(pools)) {
      st.pools![pool] = {
        name: pool,
        class: pool.replace("LocalStorage_Pool", ""),
        type: "REGULAR",
        totalCapacityBytes: total,
        usedCapacityBytes: 0,
        freeCapacityBytes: total,
        volumeCapacityBytesLimit: total,
        totalVolumeCount: 1000,
        usedVolumeCount: 0,
        freeVolumeCount: 1000,
        disks: [],
        volumes: [],
      };
    }
    await c.lsn.updateStatus({ ...lsn, status: st });
  }
  controller = await startController({
    client,
    csiSocketDir: path.join(dir, "controller"),
    log: silentLogger,
    // Generous: these machines are shared, and a loaded API server answers in hundreds of ms.
    maxWaitMs: 90_000,
    identity: "test-controller",
    leaseDurationSeconds: 3,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 500,
  });
  csi = await connectCsi(controller.lvmSocketPath, { callTimeoutMs: 120_000 });
  startAgent();
  await waitFor("leadership", async () => controller!.isLeader());
});

after(async () => {
  clearInterval(agentTimer);
  csi?.close();
  await controller?.stop().catch(() => {});
  await server?.close().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ tests

test("identity and capabilities on lvm.sock; the Lease is held", async () => {
  const info = await csi!.getPluginInfo();
  assert.equal(info.name, Drivers.Lvm);
  assert.equal(info.vendor_version, "1.0");
  assert.equal((await csi!.probe()).ready?.value, true);
  const caps = (await csi!.controllerGetCapabilities()).capabilities.map((x) => x.rpc?.type).sort();
  assert.deepEqual(caps, [
    "CLONE_VOLUME",
    "CREATE_DELETE_SNAPSHOT",
    "CREATE_DELETE_VOLUME",
    "EXPAND_VOLUME",
    "GET_CAPACITY",
    "GET_VOLUME",
    "LIST_SNAPSHOTS",
    "LIST_VOLUMES",
    "PUBLISH_UNPUBLISH_VOLUME",
    "VOLUME_CONDITION",
  ]);
  const lease = await client
    .forKind({ group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true })
    .get("hwameistor-local-storage-master", "hwameistor");
  assert.equal((lease as { spec?: { holderIdentity?: string } }).spec?.holderIdentity, "test-controller");
});

test("bad input: INVALID_ARGUMENT naming the parameter, nothing created", async () => {
  const before = (await c.lvg.list()).items.length;
  await assert.rejects(csi!.createVolume(req("pvc-bad1", "Floppy", G)), code("INVALID_ARGUMENT", /poolClass "Floppy" is not one of HDD, SSD, NVMe/));
  await assert.rejects(
    csi!.createVolume(req("pvc-bad2", "HDD", G, {}, { [ScParams.ReplicaNumber]: "2" })),
    code("INVALID_ARGUMENT", /replicaNumber "2" \(poolClass HDD\) need 2 nodes that replicate; 0 can/),
  );
  await assert.rejects(
    csi!.createVolume(req("pvc-bad3", "HDD", 256 * MiB, { capacity_range: { required_bytes: String(256 * MiB), limit_bytes: String(256 * MiB) } })),
    code("OUT_OF_RANGE", /xfs filesystem needs at least 300 MiB/),
  );
  await assert.rejects(csi!.createVolume(req("pvc-bad4", "HDD", G, {}, { [ScParams.ReplicaNumber]: "x" })), code("INVALID_ARGUMENT", /replicaNumber "x"/));
  await assert.rejects(
    csi!.createVolume(req("pvc-bad6", "HDD", G, {}, { [ScParams.ProvisionThroughputOnCreation]: "$(reboot)" })),
    code("INVALID_ARGUMENT", /provision-throughput-on-creation/),
  );
  await assert.rejects(
    csi!.createVolume(req("pvc-bad7", "HDD", G, {}, { [ScParams.Thin]: "true" })),
    code("FAILED_PRECONDITION", /cannot serve a thin volume/),
  );
  await assert.rejects(
    csi!.createVolume(req("pvc-bad8", "HDD", G, { volume_capabilities: [{ ...mountCap, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } }] })),
    code("INVALID_ARGUMENT", /access mode/),
  );
  for (const n of ["pvc-bad1", "pvc-bad2", "pvc-bad3", "pvc-bad4", "pvc-bad5", "pvc-bad6", "pvc-bad7", "pvc-bad8"])
    assert.equal(await c.lv.get(n), undefined, n);
  assert.equal((await c.lvg.list()).items.length, before);
  assert.equal((await c.lvr.list()).items.length, 0);
  await assert.rejects(csi!.controllerGetVolume({ volume_id: "pvc-nope" }), code("NOT_FOUND"));
});

test("CreateVolume → LV, LVG and LVR created → the node reports Ready → Ready with allocated capacity; idempotent; concurrent same name ABORTED", async () => {
  const name = "pvc-manual";
  const r = req(
    name,
    "NVMe",
    1000 * MiB,
    { accessibility_requirements: { requisite: [seg("manual")], preferred: [seg("manual")] } },
    { [ScParams.ProvisionIopsOnCreation]: "100", [ScParams.PvcName]: "data", [ScParams.PvcNamespace]: "ns-a" },
  );
  const pending = csi!.createVolume(r);
  let lvr: Lvr | undefined;
  await waitFor("the replica", async () => {
    lvr = (await c.lvr.list()).items.find((x) => x.spec?.volumeName === name);
    return !!lvr;
  });
  // A second call while the first one waits: ABORTED, as the original's per-name lock.
  await assert.rejects(csi!.createVolume(r), code("ABORTED", /already in progress/));

  const lv = (await c.lv.get(name))!;
  assert.equal(lv.spec?.poolName, NVME);
  assert.equal(lv.spec?.requiredCapacityBytes, 1000 * MiB);
  assert.equal(lv.spec?.replicaNumber, 1);
  assert.equal(lv.spec?.convertible, false);
  assert.deepEqual(lv.spec?.volumeQoS, { iops: "100" });
  assert.deepEqual([lv.spec?.pvcNamespace, lv.spec?.pvcName], ["ns-a", "data"]);
  assert.deepEqual(lv.spec?.accessibility?.nodes, ["manual"]);
  const cfg = lv.spec!.config!;
  assert.equal(cfg.version, 1);
  assert.equal(cfg.resourceID, -1);
  assert.deepEqual(cfg.replicas, [{ id: 1, hostname: "manual", ip: "10.1.0.6", primary: true }]);
  assert.equal(lv.status?.state, "NotReady");
  const lvg = (await c.lvg.get(lv.spec!.volumegroup!))!;
  assert.deepEqual(lvg.spec?.volumes, [{ pvc: "data", localvolume: name }]);
  assert.equal(lvg.spec?.namespace, "ns-a");
  assert.deepEqual(lvg.spec?.accessibility?.nodes, ["manual"]);
  await waitFor(
    "the group finalizer",
    async () => !!(await c.lvg.get(lvg.metadata!.name!))?.metadata?.finalizers?.includes(Finalizers.LocalVolumeGroupProtection),
  );
  assert.match(lvr!.metadata!.name!, /^pvc-manual-[a-z0-9]{6}$/);
  assert.deepEqual(lvr!.spec, {
    volumeName: name,
    poolName: NVME,
    nodeName: "manual",
    requiredCapacityBytes: 1000 * MiB,
    volumeQoS: { iops: "100" },
    delete: false,
  });

  // Playing the node agent of "manual": the replica is Ready, a little bigger (extent rounding on the node).
  await setReplicaStatus(lvr!, { ...readyStatus(lvr!), allocatedCapacityBytes: 1004 * MiB });
  const res = await pending;
  assert.equal(res.volume.volume_id, name);
  assert.equal(res.volume.capacity_bytes, String(1004 * MiB));
  assert.deepEqual(res.volume.accessible_topology, [seg("manual")]);
  const ready = (await c.lv.get(name))!;
  assert.equal(ready.status?.state, "Ready");
  assert.equal(ready.status?.allocatedCapacityBytes, 1004 * MiB);
  assert.deepEqual(ready.status?.replicas, [lvr!.metadata!.name]);
  assert.equal(ready.status?.rawblock, false);

  // Idempotent by name: the same answer, no second LVR.
  const again = await csi!.createVolume(r);
  assert.deepEqual(again.volume, res.volume);
  assert.equal((await c.lvr.list()).items.filter((x) => x.spec?.volumeName === name).length, 1);
  // Same name, incompatible request.
  await assert.rejects(csi!.createVolume({ ...r, capacity_range: { required_bytes: String(2 * G) } }), code("ALREADY_EXISTS"));
  const got = await csi!.controllerGetVolume({ volume_id: name });
  assert.equal(got.status?.volume_condition?.abnormal, false);
});

test("RESOURCE_EXHAUSTED when no node fits, saying what was free, leaving nothing behind", async () => {
  const lvgs = (await c.lvg.list()).items.length;
  await assert.rejects(
    csi!.createVolume(req("pvc-huge", "HDD", 1024 * G)),
    code(
      "RESOURCE_EXHAUSTED",
      /no node can hold volume pvc-huge: 1 replica\(s\) of 1Ti in LocalStorage_PoolHDD \(.*n1: LocalStorage_PoolHDD has 20Gi free, needs 1Ti; n2: LocalStorage_PoolHDD has 12Gi free/,
    ),
  );
  await assert.rejects(
    csi!.createVolume(req("pvc-nvme-n1", "NVMe", G, { accessibility_requirements: { requisite: [seg("n1")], preferred: [seg("n1")] } })),
    code("RESOURCE_EXHAUSTED", /no node on n1 can hold.*n1: no LocalStorage_PoolNVMe pool/),
  );
  assert.equal(await c.lv.get("pvc-huge"), undefined);
  assert.equal(await c.lv.get("pvc-nvme-n1"), undefined);
  assert.equal((await c.lvg.list()).items.length, lvgs);
  assert.equal((await c.lvr.list()).items.filter((x) => x.spec?.volumeName === "pvc-huge").length, 0);
});

test("a node that refuses a replica for space: RESOURCE_EXHAUSTED, and the volume's objects are removed", async () => {
  agent.refuse.add("pvc-refused");
  await assert.rejects(
    csi!.createVolume(req("pvc-refused", "SSD", G, { accessibility_requirements: { requisite: [seg("n2")], preferred: [seg("n2")] } })),
    (e: HwError) => {
      assert.equal(e.code, "RESOURCE_EXHAUSTED");
      assert.equal(e.reason, "InsufficientCapacity", "the node's reason, not a re-derived one");
      assert.match(e.message, /node n2 cannot create replica pvc-refused-[a-z0-9]{6} of volume pvc-refused: insufficient free space/);
      assert.match(e.hint ?? "", /add a disk/);
      return true;
    },
  );
  await waitFor(
    "the refused volume to be gone",
    async () => !(await c.lv.get("pvc-refused")) && !(await c.lvr.list()).items.some((r) => r.spec?.volumeName === "pvc-refused"),
  );
  await waitFor("its group to be gone", async () => !(await c.lvg.list()).items.some((g) => g.spec?.volumes?.some((v) => v.localvolume === "pvc-refused")));
  agent.refuse.delete("pvc-refused");
});

test("20 concurrent CreateVolumes across 3 nodes and 2 pool classes, placed by score", async () => {
  const names = Array.from({ length: 20 }, (_, i) => `pvc-many-${String(i).padStart(2, "0")}`);
  const free0: Record<string, Record<string, number>> = {};
  for (const n of ["n1", "n2", "n3"]) for (const p of [HDD, SSD]) (free0[n] ??= {})[p] = POOLS[n]![p] === undefined ? -1 : await freeOf(n, p);
  const res = await Promise.all(names.map((n, i) => csi!.createVolume(req(n, i % 2 ? "SSD" : "HDD", G))));
  // The expected placement: score (1 − required/free) × 100 is highest where free is largest; ties by name.
  const expect: Record<string, string[]> = {};
  for (const [cls, pool] of [
    ["HDD", HDD],
    ["SSD", SSD],
  ] as const) {
    const free = Object.fromEntries(["n1", "n2", "n3"].filter((n) => free0[n]![pool]! >= 0).map((n) => [n, free0[n]![pool]!]));
    for (let i = 0; i < 10; i++) {
      const best = Object.keys(free).sort((a, b) => free[b]! - free[a]! || a.localeCompare(b))[0]!;
      free[best]! -= G;
      (expect[cls] ??= []).push(best);
    }
  }
  const placed: Record<string, string[]> = { HDD: [], SSD: [] };
  for (const [i, r] of res.entries()) {
    assert.equal(r.volume.capacity_bytes, String(G));
    const node = r.volume.accessible_topology![0]!.segments![TopologyKeys.LvmNode]!;
    placed[i % 2 ? "SSD" : "HDD"]!.push(node);
    const lv = (await c.lv.get(names[i]!))!;
    assert.equal(lv.status?.state, "Ready");
  }
  for (const cls of ["HDD", "SSD"]) assert.deepEqual(placed[cls]!.sort(), expect[cls]!.sort(), cls);
  // One LVR per volume, on the chosen node; the pools report every volume.
  const lvrs = (await c.lvr.list()).items.filter((r) => names.includes(r.spec!.volumeName!));
  assert.equal(lvrs.length, 20);
  for (const r of lvrs) {
    const lsn = (await c.lsn.get(r.spec!.nodeName!))!;
    assert.ok(lsn.status!.pools![r.spec!.poolName!]!.volumes!.includes(r.spec!.volumeName!));
  }
});

test("concurrent creates that fill the SSD pools exactly: all succeed, the next is RESOURCE_EXHAUSTED, no pool over-committed", async () => {
  const nodes = ["n1", "n2"];
  const free0 = Object.fromEntries(await Promise.all(nodes.map(async (n) => [n, await freeOf(n, SSD)] as const)));
  // About 12 volumes whatever the earlier tests left: enough to race, few enough for a loaded CI machine.
  const size = Math.ceil((free0.n1! + free0.n2!) / 12 / (4 * MiB)) * 4 * MiB;
  const fits = nodes.reduce((sum, n) => sum + Math.floor(free0[n]! / size), 0);
  assert.ok(fits >= 10, `the SSD pools should hold at least 10 volumes of ${size} bytes (free ${JSON.stringify(free0)})`);
  const names = Array.from({ length: fits }, (_, i) => `pvc-fill-${String(i).padStart(3, "0")}`);
  try {
    const res = await Promise.all(names.map((n) => csi!.createVolume(req(n, "SSD", size))));
    const perNode: Record<string, number> = {};
    for (const r of res) {
      const node = r.volume.accessible_topology![0]!.segments![TopologyKeys.LvmNode]!;
      perNode[node] = (perNode[node] ?? 0) + size;
    }
    for (const n of nodes) assert.ok((perNode[n] ?? 0) <= free0[n]!, `${n}: ${perNode[n]} promised > ${free0[n]} free`);
    await assert.rejects(csi!.createVolume(req("pvc-fill-one-more", "SSD", size)), code("RESOURCE_EXHAUSTED"));
  } finally {
    // As the provisioner does: DeleteVolume again while it answers "still in progress".
    await Promise.all(
      names.map((n) =>
        waitFor(
          `DeleteVolume ${n}`,
          () =>
            csi!.deleteVolume({ volume_id: n }).then(
              () => true,
              () => false,
            ),
          60_000,
        ),
      ),
    );
  }
  for (const n of nodes) await waitFor(`${n} SSD free again`, async () => (await freeOf(n, SSD)) === free0[n]);
});

test("two PVCs of one pod share one volume group (every PVC appended) and its node", async () => {
  await client.forKind(NAMESPACE).create({ metadata: { name: "ns-pod" } });
  await client.forKind(POD).create(
    {
      metadata: { name: "db-0", namespace: "ns-pod" },
      spec: {
        containers: [{ name: "c", image: "x" }],
        volumes: [
          { name: "d", persistentVolumeClaim: { claimName: "data" } },
          { name: "l", persistentVolumeClaim: { claimName: "log" } },
        ],
      },
    },
    "ns-pod",
  );
  const p = (pvc: string) => ({ [ScParams.PvcName]: pvc, [ScParams.PvcNamespace]: "ns-pod" });
  const a = await csi!.createVolume(req("pvc-pod-data", "HDD", G, {}, p("data")));
  // The second asks to prefer another node, but the group's node binds it.
  const nodeA = a.volume.accessible_topology![0]!.segments![TopologyKeys.LvmNode]!;
  const other = ["n1", "n2", "n3"].find((n) => n !== nodeA)!;
  const b = await csi!.createVolume(
    req("pvc-pod-log", "HDD", G, { accessibility_requirements: { requisite: [seg(nodeA), seg(other)], preferred: [seg(other)] } }, p("log")),
  );
  assert.deepEqual(b.volume.accessible_topology, a.volume.accessible_topology);
  const lvA = (await c.lv.get("pvc-pod-data"))!;
  const lvB = (await c.lv.get("pvc-pod-log"))!;
  assert.equal(lvA.spec?.volumegroup, lvB.spec?.volumegroup);
  const g = (await c.lvg.get(lvA.spec!.volumegroup!))!;
  assert.deepEqual(g.spec?.volumes, [
    { pvc: "data", localvolume: "pvc-pod-data" },
    { pvc: "log", localvolume: "pvc-pod-log" },
  ]);
  assert.deepEqual(g.spec?.pods, ["db-0"]);
  assert.deepEqual(g.spec?.accessibility?.nodes, [nodeA]);
});

async function setLsnStatus(node: string, mutate: (st: NonNullable<Lsn["status"]>) => void): Promise<void> {
  for (;;) {
    const lsn = (await c.lsn.get(node))!;
    const st = structuredClone(lsn.status ?? {});
    mutate(st);
    try {
      await c.lsn.updateStatus({ ...lsn, status: st });
      return;
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }
}

test("thin and LUKS: refused at CreateVolume where the node lacks them or the Secret is bad, nothing created; accepted where it has them", async () => {
  const on = (n: string) => ({ accessibility_requirements: { requisite: [seg(n)], preferred: [seg(n)] } });
  const enc = { [ScParams.EncryptType]: "LUKS", [ScParams.EncryptSecret]: "kube-system/vol-key" };
  const noDm = "device-mapper unavailable: open /dev/mapper/control: ENODEV";
  await setLsnStatus("n3", (st) => {
    st.engine = {
      kind: "file",
      reason: `auto: ${noDm} → file`,
      features: { thin: { supported: false, reason: noDm }, encryption: { supported: false, reason: noDm } },
    };
  });
  const lvrs = (await c.lvr.list()).items.length;
  await assert.rejects(
    csi!.createVolume(req("pvc-thin-n3", "HDD", G, on("n3"), { [ScParams.Thin]: "true" })),
    code("FAILED_PRECONDITION", /volume pvc-thin-n3: node n3 cannot serve a thin volume .*: device-mapper unavailable/),
  );
  await assert.rejects(
    csi!.createVolume(req("pvc-luks-n3", "HDD", G, on("n3"), enc)),
    code("FAILED_PRECONDITION", /node n3 cannot serve LUKS encryption .*: device-mapper unavailable/),
  );

  // "manual" reports device-mapper features and a 2 GiB thin pool at ratio 2.0 with 3 GiB provisioned.
  await setLsnStatus("manual", (st) => {
    st.engine = { kind: "lvm", reason: "auto", features: { thin: { supported: true }, encryption: { supported: true } } };
    st.pools![NVME]!.thinPool = {
      name: "LocalStorage_ThinPool",
      size: 2 * G,
      metadataSize: G,
      totalProvisionedSize: 3 * G,
      overProvisionRatio: "2.0",
      currentProvisionRatio: "1.50",
    };
  });
  await assert.rejects(
    csi!.createVolume(req("pvc-thin-big", "NVMe", 2 * G, on("manual"), { [ScParams.Thin]: "true" })),
    code(
      "RESOURCE_EXHAUSTED",
      /insufficient free space in thin pool LocalStorage_PoolNVMe on node manual for volume pvc-thin-big: requested 2147483648 bytes, provisioned 3221225472 of 4294967296 bytes/,
    ),
  );
  await assert.rejects(
    csi!.createVolume(req("pvc-luks", "NVMe", G, on("manual"), enc)),
    code("NOT_FOUND", /volume pvc-luks: encryption Secret kube-system\/vol-key does not exist/),
  );
  const ns = client.forKind(NAMESPACE);
  if (!(await ns.get("kube-system"))) await ns.create({ metadata: { name: "kube-system" } });
  const secrets = client.forKind({ group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true });
  await secrets.create({ metadata: { name: "vol-key", namespace: "kube-system" }, data: { passphrase: Buffer.from("x").toString("base64") } } as never);
  await assert.rejects(
    csi!.createVolume(req("pvc-luks", "NVMe", G, on("manual"), enc)),
    code("FAILED_PRECONDITION", /Secret kube-system\/vol-key has no data key "key" \(it has: passphrase\)/),
  );
  for (const n of ["pvc-thin-n3", "pvc-luks-n3", "pvc-thin-big", "pvc-luks"]) assert.equal(await c.lv.get(n), undefined, n);
  assert.equal((await c.lvr.list()).items.length, lvrs, "no replica was created");

  const sec = (await secrets.get("vol-key", "kube-system")) as { data?: Record<string, string> };
  await secrets.update({ ...sec, data: { key: Buffer.from("s3cret").toString("base64") } } as never);
  // "manual" is answered by hand (the fake agent serves n1–n3): the replica must carry encryption / thin (§5.2).
  const createOnManual = async (name: string, params: Record<string, string>) => {
    const pending = csi!.createVolume(req(name, "NVMe", G, on("manual"), params));
    let r: Lvr | undefined;
    await waitFor(`the replica of ${name}`, async () => !!(r = (await c.lvr.list()).items.find((x) => x.spec?.volumeName === name)));
    await setReplicaStatus(r!, readyStatus(r!));
    return { res: await pending, lvr: r! };
  };
  const luks = await createOnManual("pvc-luks", enc);
  assert.equal(luks.res.volume.volume_id, "pvc-luks");
  assert.deepEqual((await c.lv.get("pvc-luks"))!.spec?.volumeEncrypt, { enable: true, type: "LUKS", secret: "kube-system/vol-key" });
  assert.deepEqual(luks.lvr.spec?.volumeEncrypt, { enable: true, type: "LUKS", secret: "kube-system/vol-key" });
  const pub = await csi!.controllerPublishVolume({ volume_id: "pvc-luks", node_id: "manual", volume_capability: mountCap });
  assert.equal(pub.publish_context?.[PublishContextKeys.VolumeEncryptSecret], "kube-system/vol-key");
  assert.equal(pub.publish_context?.[PublishContextKeys.VolumeEncryptType], "LUKS");
  await csi!.controllerUnpublishVolume({ volume_id: "pvc-luks", node_id: "manual" });
  const thin = await createOnManual("pvc-thin-ok", { [ScParams.Thin]: "true" });
  assert.equal((await c.lv.get("pvc-thin-ok"))!.spec?.thin, true);
  assert.equal(thin.lvr.spec?.thin, true);
  // Leave "manual" as the other tests expect it: replicas gone, no features.
  for (const v of ["pvc-luks", "pvc-thin-ok"]) {
    await c.lv.patch(v, { spec: { delete: true } });
    for (const r of (await c.lvr.list()).items.filter((x) => x.spec?.volumeName === v)) await c.lvr.delete(r.metadata!.name!).catch(() => {});
    await waitFor(`${v} gone`, async () => !(await c.lv.get(v)));
  }
  await setLsnStatus("manual", (st) => {
    delete st.engine;
    delete st.pools![NVME]!.thinPool;
  });
});

test("ControllerPublish / Unpublish", async () => {
  const name = "pvc-many-00";
  const lv = (await c.lv.get(name))!;
  const node = lv.spec!.accessibility!.nodes![0]!;
  const other = ["n1", "n2", "n3"].find((n) => n !== node)!;
  const lvr = (await c.lvr.list()).items.find((r) => r.spec?.volumeName === name)!;
  await assert.rejects(csi!.controllerPublishVolume({ volume_id: "pvc-nope", node_id: node, volume_capability: mountCap }), code("NOT_FOUND"));
  await assert.rejects(
    csi!.controllerPublishVolume({ volume_id: name, node_id: other, volume_capability: mountCap }),
    code("FAILED_PRECONDITION", new RegExp(`no replica on node ${other}`)),
  );

  const res = await csi!.controllerPublishVolume({ volume_id: name, node_id: node, volume_capability: mountCap });
  assert.deepEqual(res.publish_context, {
    [PublishContextKeys.VolumeReplicaDevicePath]: `/dev/${HDD}/${name}`,
    [PublishContextKeys.VolumeReplicaName]: lvr.metadata!.name,
  });
  let st = (await c.lv.get(name))!.status!;
  assert.deepEqual([st.publishedNode, st.fsType, st.rawblock], [node, "xfs", false]);
  // Again: idempotent. To another node: FAILED_PRECONDITION.
  await csi!.controllerPublishVolume({ volume_id: name, node_id: node, volume_capability: mountCap });
  await assert.rejects(
    csi!.controllerPublishVolume({ volume_id: name, node_id: other, volume_capability: mountCap }),
    code("FAILED_PRECONDITION", /published on node/),
  );
  // Unpublish from a node it is not published on: OK, nothing changes.
  await csi!.controllerUnpublishVolume({ volume_id: name, node_id: other });
  assert.equal((await c.lv.get(name))!.status?.publishedNode, node);
  await csi!.controllerUnpublishVolume({ volume_id: name, node_id: node });
  await csi!.controllerUnpublishVolume({ volume_id: name, node_id: node });
  await csi!.controllerUnpublishVolume({ volume_id: "pvc-nope", node_id: node });
  st = (await c.lv.get(name))!.status!;
  assert.equal(st.publishedNode, "");
  assert.equal(st.state, "Ready", "the reconciler keeps the CSI's status fields");

  // Block, and an explicit ext4 filesystem.
  await csi!.controllerPublishVolume({
    volume_id: "pvc-many-01",
    node_id: (await c.lv.get("pvc-many-01"))!.spec!.accessibility!.nodes![0]!,
    volume_capability: blockCap,
  });
  assert.equal((await c.lv.get("pvc-many-01"))!.status?.rawblock, true);
  const n2 = (await c.lv.get("pvc-many-02"))!.spec!.accessibility!.nodes![0]!;
  await csi!.controllerPublishVolume({ volume_id: "pvc-many-02", node_id: n2, volume_capability: { ...mountCap, mount: { fs_type: "ext4" } } });
  assert.equal((await c.lv.get("pvc-many-02"))!.status?.fsType, "ext4");

  const v = await csi!.validateVolumeCapabilities({ volume_id: name, volume_capabilities: [mountCap] });
  assert.ok(v.confirmed);
  const bad = await csi!.validateVolumeCapabilities({
    volume_id: name,
    volume_capabilities: [{ ...mountCap, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } }],
  });
  assert.match(bad.message ?? "", /access mode/);
});

test("ListVolumes pages through every volume", async () => {
  const all = (await c.lv.list()).items.map((x) => x.metadata!.name!).sort();
  const seen: string[] = [];
  let token = "";
  let pages = 0;
  do {
    const page = await csi!.listVolumes({ max_entries: 7, starting_token: token });
    assert.ok(page.entries.length <= 7);
    for (const e of page.entries) {
      seen.push(e.volume.volume_id);
      assert.equal(e.volume.accessible_topology?.length, 1);
      assert.ok(e.status?.volume_condition);
    }
    token = page.next_token;
    pages++;
  } while (token);
  assert.deepEqual(seen, all);
  assert.equal(pages, Math.ceil(all.length / 7));
  await assert.rejects(csi!.listVolumes({ starting_token: "banana" }), code("ABORTED"));
});

test("GetCapacity: a node's pool, or the best over nodes", async () => {
  const capFor = async (cls: string, node?: string) =>
    Number((await csi!.getCapacity({ parameters: { [ScParams.PoolClass]: cls }, ...(node ? { accessible_topology: seg(node) } : {}) })).available_capacity);
  assert.equal(await capFor("HDD", "n3"), await freeOf("n3", HDD));
  assert.equal(await capFor("SSD", "n3"), 0);
  const best = Math.max(...(await Promise.all(["n1", "n2", "n3"].map((n) => freeOf(n, HDD)))));
  assert.equal(await capFor("HDD"), best);
  const r = await csi!.getCapacity({ parameters: { [ScParams.PoolClass]: "HDD" } });
  assert.equal(r.maximum_volume_size?.value, String(best));
  await assert.rejects(csi!.getCapacity({ parameters: { [ScParams.PoolClass]: "Tape" } }), code("INVALID_ARGUMENT", /poolClass/));
});

async function setReplication(node: string, available: boolean): Promise<void> {
  const lsn = (await c.lsn.get(node))!; // nothing else writes this node's status while the test runs
  await c.lsn.updateStatus({
    ...lsn,
    status: { ...lsn.status, replication: available ? { available, address: `10.1.0.${node.length}:43000` } : { available } },
  });
}

test("replicaNumber 2: refused naming the nodes while fewer than 2 nodes replicate; placed on 2 replicating nodes when they do", async () => {
  const topo = { accessibility_requirements: { requisite: [seg("n1")], preferred: [seg("n1")] } };
  const two = () => csi!.createVolume(req("pvc-two", "SSD", G, topo, { [ScParams.ReplicaNumber]: "2" }));
  await setReplication("n1", true);
  await assert.rejects(
    two(),
    code("INVALID_ARGUMENT", /replicaNumber "2" \(poolClass SSD\) need 2 nodes that replicate; 1 can \(n1\);.*n2: its node agent reports no data plane/),
  );
  assert.equal(await c.lv.get("pvc-two"), undefined, "nothing written");
  await setReplication("n2", true);
  const r = await two();
  const lv = (await c.lv.get("pvc-two"))!;
  assert.equal(lv.spec?.convertible, true, "replicaNumber ≥ 2 forces convertible");
  assert.deepEqual(lv.spec?.accessibility?.nodes, ["n1", "n2"]);
  assert.equal(lv.spec?.config?.resourceID, 0);
  assert.equal(JSON.stringify(lv.spec?.config?.replicas.map((x) => [x.id, x.hostname, x.primary])), '[[1,"n1",true],[2,"n2",false]]');
  assert.deepEqual(r.volume.accessible_topology, [seg("n1"), seg("n2")]);
  assert.equal(lv.status?.replicas?.length, 2);
  const lvrs = (await c.lvr.list()).items.filter((x) => x.spec?.volumeName === "pvc-two");
  assert.deepEqual(lvrs.map((x) => x.spec?.nodeName).sort(), ["n1", "n2"]);
  await csi!.deleteVolume({ volume_id: "pvc-two" });
  await waitFor("both replicas gone", async () => !(await c.lvr.list()).items.some((x) => x.spec?.volumeName === "pvc-two"));
  for (const n of ["n1", "n2"]) await setReplication(n, false);
});

test("a second controller replica serves CSI but does not run the reconcilers", async () => {
  const second = await startController({
    client,
    csiSocketDir: path.join(dir, "controller-2"),
    log: silentLogger,
    identity: "second",
    leaseDurationSeconds: 3,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 500,
  });
  try {
    const csi2 = await connectCsi(second.lvmSocketPath);
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(second.isLeader(), false);
      assert.equal(controller!.isLeader(), true);
      // Its CSI service works (reads and writes through the API server; the leader reconciles).
      const res = await csi2.createVolume(req("pvc-via-second", "HDD", 8 * MiB, { volume_capabilities: [blockCap] }));
      assert.equal(res.volume.capacity_bytes, String(8 * MiB));
      await csi2.deleteVolume({ volume_id: "pvc-via-second" });
    } finally {
      csi2.close();
    }
  } finally {
    await second.stop();
  }
});

test("DeleteVolume removes LV, LVR and LVG and returns the space; replicas deleted by object or by state Deleted", async () => {
  for (const name of ["pvc-many-00", "pvc-many-03"]) {
    const lv = (await c.lv.get(name))!;
    const node = lv.spec!.accessibility!.nodes![0]!;
    const pool = lv.spec!.poolName!;
    const group = lv.spec!.volumegroup!;
    const free = await freeOf(node, pool);
    await csi!.deleteVolume({ volume_id: name });
    assert.equal(await c.lv.get(name), undefined, name);
    await waitFor(`${name}: replica gone`, async () => !(await c.lvr.list()).items.some((r) => r.spec?.volumeName === name));
    await waitFor(`${name}: group gone`, async () => !(await c.lvg.get(group)));
    assert.equal(await freeOf(node, pool), free + G);
  }
  // n2 answers with state Deleted instead of removing the object: the controller removes it.
  const onN2 = (await c.lv.list()).items.find((x) => x.spec?.accessibility?.nodes?.[0] === "n2" && x.metadata!.name!.startsWith("pvc-many"))!;
  await csi!.deleteVolume({ volume_id: onN2.metadata!.name! });
  await waitFor("n2 replica object removed", async () => !(await c.lvr.list()).items.some((r) => r.spec?.volumeName === onN2.metadata!.name));
  // Unknown and repeated deletes are OK.
  await csi!.deleteVolume({ volume_id: "pvc-many-00" });
  await csi!.deleteVolume({ volume_id: "pvc-never" });
  // A group with two volumes keeps living while one is left.
  await csi!.deleteVolume({ volume_id: "pvc-pod-data" });
  const lvB = (await c.lv.get("pvc-pod-log"))!;
  await waitFor("the group lost one entry", async () => (await c.lvg.get(lvB.spec!.volumegroup!))?.spec?.volumes?.length === 1);
});

test("a LocalVolume deleted behind the controller's back (kubectl delete lv) does not leave its replica", async () => {
  await csi!.createVolume(req("pvc-orphan", "HDD", 8 * MiB));
  assert.ok((await c.lvr.list()).items.some((r) => r.spec?.volumeName === "pvc-orphan"));
  await c.lv.delete("pvc-orphan");
  await waitFor("the orphaned replica removed", async () => !(await c.lvr.list()).items.some((r) => r.spec?.volumeName === "pvc-orphan"));
});

test("leader hand-over: the first controller stops, the second takes the Lease and reconciles", async () => {
  const second = await startController({
    client,
    csiSocketDir: path.join(dir, "controller-3"),
    log: silentLogger,
    maxWaitMs: 90_000,
    identity: "successor",
    leaseDurationSeconds: 3,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 500,
  });
  const csi2 = await connectCsi(second.lvmSocketPath, { callTimeoutMs: 120_000 });
  try {
    assert.equal(second.isLeader(), false);
    csi!.close();
    await controller!.stop(); // releases the Lease
    controller = undefined;
    await waitFor("the successor leads", async () => second.isLeader(), 15_000);
    const res = await csi2.createVolume(req("pvc-after-handover", "SSD", 16 * MiB, { volume_capabilities: [blockCap] }));
    assert.equal(res.volume.capacity_bytes, String(16 * MiB));
    assert.equal((await c.lv.get("pvc-after-handover"))!.status?.state, "Ready");
    await csi2.deleteVolume({ volume_id: "pvc-after-handover" });
  } finally {
    csi2.close();
    await second.stop();
  }
});
