// disk.hwameistor.io end to end (issue 3, item 9): the REAL embedded API server with the generated CRDs,
// real loop devices described as LocalDisks and a LocalDiskNode this test writes (playing the disk
// manager), the controller service and the node service on real unix sockets, driven through our CSI client
// the way external-provisioner and kubelet would. Needs root, mkfs.xfs and mkfs.ext4.
// Everything it makes (loop devices, mounts, sockets, temp dirs, the API server) is removed in `after`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import type { HwError } from "../../src/api/errors.ts";
import { DeviceStates, Drivers, ScParams, TopologyKeys, diskPoolName, type PoolClass } from "../../src/api/names.ts";
import { startApiServer, type RunningApiServer } from "../../src/apiserver/server.ts";
import { startController, type RunningController } from "../../src/controller/index.ts";
import { connectCsi, type CsiClient } from "../../src/csi/client.ts";
import { hwameistorClients as diskClients, type Ld, type Ldn } from "../../src/kube/hwameistor.ts";
import type { CreateVolumeRequest, VolumeCapability } from "../../src/csi/types.ts";
import { mkfs, probeFilesystem } from "../../src/host/fs/fs.ts";
import { attachLoop, createSparseFile, detachLoop } from "../../src/host/loop/loop.ts";
import { listMounts, unmountAll } from "../../src/host/mount/mount.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { EventRecorder } from "../../src/kube/events.ts";
import { silentLogger } from "../../src/kube/types.ts";
import type { Service } from "../../src/node/context.ts";
import { startDiskDriverNode } from "../../src/node/disk-volume/index.ts";
import { diskVolumeRecords, poolLinkPath } from "../../src/node/disk-volume/volume-files.ts";
const { read: readRecord, write: writeRecord } = diskVolumeRecords;

const repo = path.resolve(import.meta.dirname, "../..");
const NODE = "node-a";
const MiB = 1024 * 1024;
const skip = process.getuid?.() !== 0 ? "needs root (loop devices, mkfs, mount)" : !fs.existsSync("/usr/sbin/mkfs.xfs") ? "mkfs.xfs not installed" : false;

interface TestDisk {
  key: string;
  type: PoolClass;
  sizeBytes: number;
  foreign?: boolean;
  file: string;
  dev: string;
  name: string;
}

let dir = "";
let server: RunningApiServer | undefined;
let client: KubeClient;
let controller: RunningController | undefined;
let nodeDriver: Service | undefined;
let ctl: CsiClient | undefined;
let nodeCsi: CsiClient | undefined;
const abort = new AbortController();
const disks: TestDisk[] = (
  [
    { key: "ssd-512", type: "SSD", sizeBytes: 512 * MiB },
    { key: "ssd-768", type: "SSD", sizeBytes: 768 * MiB },
    { key: "ssd-600-foreign", type: "SSD", sizeBytes: 600 * MiB, foreign: true },
    { key: "hdd-640", type: "HDD", sizeBytes: 640 * MiB },
  ] as Array<Pick<TestDisk, "key" | "type" | "sizeBytes" | "foreign">>
).map((d) => ({ ...d, file: "", dev: "", name: `localdisk-e2e-${d.key}` }));
const disk = (key: string) => disks.find((d) => d.key === key)!;
const stateDir = () => path.join(dir, "state");
const targets: string[] = [];

const mountCap: VolumeCapability = { mount: { fs_type: "", mount_flags: [] }, access_mode: { mode: "SINGLE_NODE_WRITER" } };
const blockCap: VolumeCapability = { block: {}, access_mode: { mode: "SINGLE_NODE_WRITER" } };
const topo = { requisite: [{ segments: { [TopologyKeys.DiskNode]: NODE } }], preferred: [{ segments: { [TopologyKeys.DiskNode]: NODE } }] };
const createReq = (name: string, type: string, requiredBytes: number, cap = mountCap): CreateVolumeRequest => ({
  name,
  capacity_range: { required_bytes: String(requiredBytes) },
  volume_capabilities: [cap],
  parameters: { [ScParams.DiskType]: type, [ScParams.PvcName]: `data-${name}`, [ScParams.PvcNamespace]: "default" },
  accessibility_requirements: topo,
});
const code = (c: string, re?: RegExp) => (e: HwError) => {
  assert.equal(e.code, c, e.message);
  if (re) assert.match(e.fullMessage, re);
  return true;
};
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
function readDev(dev: string, bytes: number, offset = 0): Buffer {
  const fd = fs.openSync(dev, "r");
  try {
    const b = Buffer.alloc(bytes);
    fs.readSync(fd, b, 0, bytes, offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}
async function poolState(d: TestDisk): Promise<string | undefined> {
  const ldn = await diskClients(client).ldn.get(NODE);
  return ldn?.status?.pools?.[diskPoolName(d.type)]?.disks?.find((x) => x.devPath === d.dev)?.state;
}
function target(name: string, kind: "mount" | "block"): string {
  const t = path.join(dir, "pods", name, kind === "mount" ? "mount" : "dev");
  targets.push(t);
  return t;
}

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hw-disk-e2e-"));
  server = await startApiServer({ dataDir: path.join(dir, "api"), port: 0 });
  client = new KubeClient(loadKubeConfig({ kubeconfigPath: server.kubeconfigPath }).kubeConfig);

  // kubectl apply -f deploy/crds (through the client).
  const crds = client.forKind({
    group: "apiextensions.k8s.io",
    version: "v1",
    plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition",
    namespaced: false,
  });
  for (const f of fs.readdirSync(path.join(repo, "deploy/crds"))) await crds.create(parse(fs.readFileSync(path.join(repo, "deploy/crds", f), "utf8")));
  const c = diskClients(client);
  for (let i = 0; ; i++) {
    try {
      await c.ldv.list();
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  for (const d of disks) {
    d.file = path.join(dir, `${d.key}.img`);
    await createSparseFile(d.file, d.sizeBytes);
    d.dev = (await attachLoop(d.file)).name;
    if (d.foreign) await mkfs(d.dev, "ext4", { label: "foreign" });
  }
  // What the disk manager would write. The foreign disk is (wrongly) described as an empty Available disk,
  // as if discovery had missed its filesystem: the node service must still refuse to write to it.
  for (const d of disks) {
    await c.ld.create({
      metadata: { name: d.name },
      spec: {
        nodeName: NODE,
        devicePath: d.dev,
        capacity: d.sizeBytes,
        state: "Active",
        owner: "local-disk-manager",
        diskAttributes: { type: d.type, devType: "disk" },
      },
    } as Ld);
  }
  const pools: NonNullable<NonNullable<Ldn["status"]>["pools"]> = {};
  for (const d of disks) {
    const p = (pools[diskPoolName(d.type)] ??= { name: diskPoolName(d.type), class: d.type, type: "REGULAR", disks: [] });
    p.disks!.push({ devPath: d.dev, type: d.type, capacityBytes: d.sizeBytes, state: DeviceStates.Available });
  }
  await c.ldn.create({ metadata: { name: NODE }, spec: { nodeName: NODE } } as Ldn);
  const ldn = (await c.ldn.get(NODE))!;
  await c.ldn.updateStatus({ ...ldn, status: { state: "Ready", pools } });

  controller = await startController({ client, csiSocketDir: path.join(dir, "controller"), log: silentLogger, maxWaitMs: 20_000 });
  nodeDriver = await startDiskDriverNode({
    nodeName: NODE,
    client,
    recorder: new EventRecorder(client, { component: "hwameistor-node", host: NODE, log: silentLogger }),
    log: silentLogger,
    stateDir: stateDir(),
    csiSocketDir: path.join(dir, "node"),
    signal: abort.signal,
  });
  ctl = await connectCsi(controller.diskSocketPath);
  nodeCsi = await connectCsi(path.join(dir, "node", "disk.sock"));
});

after(async () => {
  if (skip) return;
  ctl?.close();
  nodeCsi?.close();
  abort.abort();
  await nodeDriver?.stop().catch(() => {});
  await controller?.stop().catch(() => {});
  for (const t of targets) await unmountAll(t).catch(() => {});
  for (const d of disks) if (d.dev) await detachLoop(d.dev).catch(() => {});
  await server?.close().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
  const leftover = (await listMounts()).filter((m) => m.target.startsWith(dir));
  assert.deepEqual(leftover, [], "no mounts left behind");
});

test("identity, capabilities and node info on both sockets", { skip }, async () => {
  for (const c of [ctl!, nodeCsi!]) {
    assert.equal((await c.getPluginInfo()).name, Drivers.Disk);
    assert.equal((await c.probe()).ready?.value, true);
  }
  const cc = await ctl!.controllerGetCapabilities();
  assert.deepEqual(cc.capabilities.map((x) => x.rpc?.type).sort(), ["CREATE_DELETE_VOLUME", "GET_VOLUME", "LIST_VOLUMES", "VOLUME_CONDITION"]);
  const nc = await nodeCsi!.nodeGetCapabilities();
  assert.deepEqual(nc.capabilities.map((x) => x.rpc?.type).sort(), ["GET_VOLUME_STATS", "VOLUME_CONDITION"]);
  const info = await nodeCsi!.nodeGetInfo();
  assert.equal(info.node_id, NODE);
  assert.deepEqual(info.accessible_topology?.segments, { [TopologyKeys.DiskNode]: NODE });
  await assert.rejects(ctl!.call("Controller", "ControllerPublishVolume", { volume_id: "x", node_id: NODE }), code("UNIMPLEMENTED"));
});

test("bad input gets the right codes", { skip }, async () => {
  await assert.rejects(ctl!.createVolume({ ...createReq("pvc-bad", "SSD", MiB), name: "" }), code("INVALID_ARGUMENT", /name is required/));
  await assert.rejects(
    ctl!.createVolume({ ...createReq("pvc-bad", "SSD", MiB), parameters: { diskType: "Tape" } }),
    code("INVALID_ARGUMENT", /diskType "Tape" is not one of/),
  );
  await assert.rejects(ctl!.createVolume(createReq("pvc-bad", "Floppy", MiB)), code("INVALID_ARGUMENT", /diskType/));
  await assert.rejects(ctl!.createVolume({ ...createReq("pvc-bad", "SSD", MiB), volume_capabilities: [] }), code("INVALID_ARGUMENT", /volume_capabilities/));
  await assert.rejects(
    ctl!.createVolume(createReq("pvc-bad", "SSD", MiB, { mount: {}, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } })),
    code("INVALID_ARGUMENT", /access mode/),
  );
  // A CSI name may be any string ("../etc" becomes the object name etc-<hash>, test/conformance covers it);
  // a volume id we never handed out is simply unknown.
  await assert.rejects(ctl!.controllerGetVolume({ volume_id: "../etc" }), code("INVALID_ARGUMENT", /not a valid volume id/));
  await assert.rejects(
    ctl!.createVolume(createReq("pvc-huge", "SSD", 10 * 1024 * MiB)),
    code("RESOURCE_EXHAUSTED", /no Available SSD disk.*node-a.*Available SSD disks there: .*768Mi/),
  );
  await assert.rejects(ctl!.createVolume(createReq("pvc-nvme", "NVMe", MiB)), code("RESOURCE_EXHAUSTED", /HDD/));
  assert.equal(await diskClients(client).ldv.get("pvc-huge"), undefined, "no half-made LDV left behind");
  assert.deepEqual(await ctl!.deleteVolume({ volume_id: "pvc-unknown" }), {}, "deleting an unknown volume is OK");
  await assert.rejects(ctl!.controllerGetVolume({ volume_id: "pvc-unknown" }), code("NOT_FOUND"));
  await assert.rejects(ctl!.validateVolumeCapabilities({ volume_id: "pvc-unknown", volume_capabilities: [mountCap] }), code("NOT_FOUND"));
  await assert.rejects(ctl!.listVolumes({ starting_token: "nonsense" }), code("ABORTED"));
  const t = target("pvc-unknown", "mount");
  await assert.rejects(nodeCsi!.nodePublishVolume({ volume_id: "pvc-unknown", target_path: t, volume_capability: mountCap }), code("NOT_FOUND"));
  await assert.rejects(nodeCsi!.nodePublishVolume({ volume_id: "pvc-unknown", volume_capability: mountCap }), code("INVALID_ARGUMENT", /target_path/));
  await assert.rejects(
    nodeCsi!.nodePublishVolume({ volume_id: "pvc-unknown", target_path: "rel/path", volume_capability: mountCap }),
    code("INVALID_ARGUMENT", /target_path/),
  );
  await assert.rejects(nodeCsi!.nodePublishVolume({ volume_id: "pvc-unknown", target_path: t }), code("INVALID_ARGUMENT", /volume_capability/));
  await assert.rejects(nodeCsi!.nodeGetVolumeStats({ volume_id: "pvc-unknown", volume_path: t }), code("NOT_FOUND"));
  assert.deepEqual(await nodeCsi!.nodeUnpublishVolume({ volume_id: "pvc-unknown", target_path: t }), {}, "unpublish of nothing is OK");
});

test("a filesystem volume: create, publish, write, unpublish, publish again intact, delete, disk Available again", { skip }, async () => {
  const name = "pvc-fs-1";
  const small = disk("ssd-512");
  const res = await ctl!.createVolume(createReq(name, "SSD", 500 * MiB));
  assert.equal(res.volume.volume_id, name);
  assert.equal(res.volume.capacity_bytes, String(small.sizeBytes), "the smallest SSD that fits (512 MiB, not 600 or 768)");
  assert.deepEqual(res.volume.accessible_topology, [{ segments: { [TopologyKeys.DiskNode]: NODE } }]);
  const c = diskClients(client);
  const ldv = (await c.ldv.get(name))!;
  assert.equal(ldv.status?.state, "Created");
  assert.equal(ldv.status?.localDiskName, small.name);
  assert.equal(ldv.spec?.persistentVolumeClaimName, `default/data-${name}`);
  assert.equal(fs.readlinkSync(poolLinkPath(stateDir(), "SSD", name)), small.dev, "pool link");
  assert.equal(await poolState(small), DeviceStates.InUse);

  // Idempotent by name; an incompatible request for the same name is ALREADY_EXISTS.
  const again = await ctl!.createVolume(createReq(name, "SSD", 500 * MiB));
  assert.deepEqual(again.volume, res.volume);
  await assert.rejects(ctl!.createVolume(createReq(name, "HDD", 500 * MiB)), code("ALREADY_EXISTS"));
  await assert.rejects(ctl!.createVolume(createReq(name, "SSD", 600 * MiB)), code("ALREADY_EXISTS"));
  assert.ok((await ctl!.validateVolumeCapabilities({ volume_id: name, volume_capabilities: [mountCap] })).confirmed);

  const t = target(name, "mount");
  await nodeCsi!.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: mountCap });
  await nodeCsi!.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: mountCap }); // kubelet retry
  assert.equal((await probeFilesystem(small.dev))?.type, "xfs", "formatted xfs (the default) on first use");
  assert.equal((await listMounts()).filter((m) => m.target === t).length, 1, "mounted once");
  assert.equal((await c.ldv.get(name))?.spec?.canWipe, true);
  const mp = (await c.ldv.get(name))?.status?.mountPoints;
  assert.deepEqual(
    mp?.map((m) => [m.targetPath, m.phase, m.volumeCap?.accessType, m.fsTye]),
    [[t, "Mounted", "Mount", "xfs"]],
  );

  const data = randomBytes(4 * MiB);
  fs.writeFileSync(path.join(t, "data.bin"), data);
  fs.writeFileSync(path.join(t, "data.sha256"), sha256(data));
  const stats = await nodeCsi!.nodeGetVolumeStats({ volume_id: name, volume_path: t });
  assert.equal(stats.volume_condition?.abnormal, false, stats.volume_condition?.message);
  const bytes = stats.usage.find((u) => u.unit === "BYTES")!;
  assert.ok(Number(bytes.total) > 400 * MiB && Number(bytes.used) >= 4 * MiB, JSON.stringify(bytes));
  assert.ok(Number(stats.usage.find((u) => u.unit === "INODES")?.used) >= 2);

  await assert.rejects(ctl!.deleteVolume({ volume_id: name }), code("FAILED_PRECONDITION", /still published/));
  const page1 = await ctl!.listVolumes({ max_entries: 1 });
  assert.equal(page1.entries.length, 1);
  assert.equal(page1.entries[0]!.volume.volume_id, name);
  assert.equal(page1.entries[0]!.status?.volume_condition?.abnormal, false);
  const got = await ctl!.controllerGetVolume({ volume_id: name });
  assert.equal(got.volume.capacity_bytes, String(small.sizeBytes));

  await nodeCsi!.nodeUnpublishVolume({ volume_id: name, target_path: t });
  await nodeCsi!.nodeUnpublishVolume({ volume_id: name, target_path: t });
  assert.equal(
    (await listMounts()).some((m) => m.target === t),
    false,
  );
  assert.equal(fs.existsSync(t), false, "target removed");
  assert.deepEqual((await c.ldv.get(name))?.status?.mountPoints ?? [], []);

  await nodeCsi!.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: mountCap, readonly: true });
  const back = fs.readFileSync(path.join(t, "data.bin"));
  assert.equal(sha256(back), fs.readFileSync(path.join(t, "data.sha256"), "utf8"), "data intact after republish (not reformatted)");
  assert.throws(() => fs.writeFileSync(path.join(t, "x"), "x"), /EROFS/, "readonly publish");
  await nodeCsi!.nodeUnpublishVolume({ volume_id: name, target_path: t });

  await ctl!.deleteVolume({ volume_id: name });
  assert.equal(await c.ldv.get(name), undefined, "LDV gone");
  assert.equal(fs.existsSync(poolLinkPath(stateDir(), "SSD", name)), false, "pool link gone");
  assert.equal(await probeFilesystem(small.dev), null, "our xfs signature wiped");
  assert.equal(await poolState(small), DeviceStates.Available, "disk Available again");
  assert.deepEqual(await ctl!.deleteVolume({ volume_id: name }), {}, "delete is idempotent");

  // Available means usable: the same disk serves the next volume, formatted as ext4 this time.
  const next = await ctl!.createVolume(createReq("pvc-fs-2", "SSD", 100 * MiB));
  assert.equal(next.volume.capacity_bytes, String(small.sizeBytes));
  const t2 = target("pvc-fs-2", "mount");
  const ext4Cap: VolumeCapability = { mount: { fs_type: "ext4" }, access_mode: { mode: "SINGLE_NODE_WRITER" } };
  await nodeCsi!.nodePublishVolume({ volume_id: "pvc-fs-2", target_path: t2, volume_capability: ext4Cap });
  assert.equal((await probeFilesystem(small.dev))?.type, "ext4");
  await nodeCsi!.nodeUnpublishVolume({ volume_id: "pvc-fs-2", target_path: t2 });
  await ctl!.deleteVolume({ volume_id: "pvc-fs-2" });
  assert.equal(await probeFilesystem(small.dev), null);
  assert.equal(await poolState(small), DeviceStates.Available);
});

test("a raw block volume: bytes through the bind-mounted device file survive republish; a pulled disk is abnormal", { skip }, async () => {
  const name = "pvc-blk-1";
  const hdd = disk("hdd-640");
  const res = await ctl!.createVolume(createReq(name, "HDD", 0, blockCap));
  assert.equal(res.volume.capacity_bytes, String(hdd.sizeBytes));
  const t = target(name, "block");
  await nodeCsi!.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: blockCap });
  await nodeCsi!.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: blockCap });
  const payload = randomBytes(MiB);
  const fd = fs.openSync(t, "r+");
  fs.writeSync(fd, payload, 0, payload.length, 3 * MiB);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  assert.equal(sha256(readDev(hdd.dev, MiB, 3 * MiB)), sha256(payload), "bytes reached the disk");
  const stats = await nodeCsi!.nodeGetVolumeStats({ volume_id: name, volume_path: t });
  assert.equal(stats.usage[0]?.total, String(hdd.sizeBytes));
  assert.equal(stats.volume_condition?.abnormal, false);

  await nodeCsi!.nodeUnpublishVolume({ volume_id: name, target_path: t });
  assert.equal(fs.existsSync(t), false);
  await nodeCsi!.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: blockCap });
  assert.equal(sha256(readDev(t, MiB, 3 * MiB)), sha256(payload), "data intact after republish");

  // The disk manager reports the disk pulled (remove event → Inactive): published volume shows abnormal.
  const c = diskClients(client);
  await c.ld.patch(hdd.name, { spec: { state: "Inactive" } });
  const sick = await nodeCsi!.nodeGetVolumeStats({ volume_id: name, volume_path: t });
  assert.equal(sick.volume_condition?.abnormal, true);
  assert.match(sick.volume_condition!.message, /Inactive/);
  const sickCtl = await ctl!.controllerGetVolume({ volume_id: name });
  assert.equal(sickCtl.status?.volume_condition?.abnormal, true);
  await c.ld.patch(hdd.name, { spec: { state: "Active" } });
  assert.equal((await nodeCsi!.nodeGetVolumeStats({ volume_id: name, volume_path: t })).volume_condition?.abnormal, false);

  await nodeCsi!.nodeUnpublishVolume({ volume_id: name, target_path: t });
  await ctl!.deleteVolume({ volume_id: name });
  assert.equal(await c.ldv.get(name), undefined);
  assert.equal(await poolState(hdd), DeviceStates.Available);
  assert.equal(sha256(readDev(hdd.dev, MiB, 3 * MiB)), sha256(payload), "block data is not ours to wipe: only signatures we created are erased");
});

test("a disk with foreign data is never written, whatever the API says about it", { skip }, async () => {
  const foreign = disk("ssd-600-foreign");
  const before = (await probeFilesystem(foreign.dev))!;
  assert.equal(before.type, "ext4");
  const headBefore = sha256(readDev(foreign.dev, 2 * MiB));
  const name = "pvc-foreign";
  const res = await ctl!.createVolume(createReq(name, "SSD", 550 * MiB));
  assert.equal(res.volume.capacity_bytes, String(foreign.sizeBytes), "the controller picked the (mis-described) 600 MiB disk");
  const t = target(name, "mount");
  await assert.rejects(
    nodeCsi!.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: mountCap }),
    code("FAILED_PRECONDITION", /ext4 filesystem.*did not create/),
  );
  const tb = target(name, "block");
  await assert.rejects(nodeCsi!.nodePublishVolume({ volume_id: name, target_path: tb, volume_capability: blockCap }), code("FAILED_PRECONDITION", /ext4/));
  assert.deepEqual((await diskClients(client).ldv.get(name))?.status?.mountPoints ?? [], [], "failed publishes leave no mount point");
  await ctl!.deleteVolume({ volume_id: name });
  const afterProbe = await probeFilesystem(foreign.dev);
  assert.equal(afterProbe?.type, "ext4");
  assert.equal(afterProbe?.uuid, before.uuid);
  assert.equal(sha256(readDev(foreign.dev, 2 * MiB)), headBefore, "not a byte changed");
  assert.equal(
    (await listMounts()).some((m) => m.source === foreign.dev),
    false,
  );
});

test("concurrent CreateVolumes never share a disk; a volume on an unknown node is RESOURCE_EXHAUSTED", { skip }, async () => {
  const names = ["pvc-par-1", "pvc-par-2", "pvc-par-3"];
  const res = await Promise.all(names.map((n) => ctl!.createVolume(createReq(n, "SSD", 100 * MiB))));
  const c = diskClients(client);
  const used = await Promise.all(names.map(async (n) => (await c.ldv.get(n))!.status!.localDiskName!));
  assert.equal(new Set(used).size, 3, `distinct disks: ${used.join(", ")}`);
  assert.deepEqual(
    res.map((r) => Number(r.volume.capacity_bytes)).sort((a, b) => a - b),
    [512 * MiB, 600 * MiB, 768 * MiB],
  );
  await assert.rejects(ctl!.createVolume(createReq("pvc-par-4", "SSD", 100 * MiB)), code("RESOURCE_EXHAUSTED", /Available SSD disks there: none/));
  const other = { requisite: [{ segments: { [TopologyKeys.DiskNode]: "node-z" } }] };
  await assert.rejects(ctl!.createVolume({ ...createReq("pvc-z", "SSD", MiB), accessibility_requirements: other }), code("RESOURCE_EXHAUSTED", /node-z/));
  await Promise.all(names.map((n) => ctl!.deleteVolume({ volume_id: n })));
  for (const n of names) assert.equal(await c.ldv.get(n), undefined);
  for (const d of disks.filter((x) => x.type === "SSD")) assert.equal(await poolState(d), DeviceStates.Available, d.key);
});

test("crash window: mkfs finished but the record was not updated → the filesystem is adopted, not refused or reformatted", { skip }, async () => {
  const name = "pvc-crash";
  const small = disk("ssd-512");
  await ctl!.createVolume(createReq(name, "SSD", 500 * MiB));
  // What a node agent killed right after mkfs leaves behind: the intent in the record, our fresh xfs on disk.
  writeRecord(stateDir(), {
    volume: name,
    localDiskName: small.name,
    devPath: small.dev,
    accessType: "mount",
    formatting: "xfs",
    firstPublishedAt: new Date().toISOString(),
  });
  await mkfs(small.dev, "xfs", { reflink: false });
  const uuid = (await probeFilesystem(small.dev))!.uuid;
  const t = target(name, "mount");
  await nodeCsi!.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: mountCap });
  assert.equal((await probeFilesystem(small.dev))?.uuid, uuid, "same filesystem, not reformatted");
  assert.equal(readRecord(stateDir(), name)?.formatted?.uuid, uuid);
  await nodeCsi!.nodeUnpublishVolume({ volume_id: name, target_path: t });
  await ctl!.deleteVolume({ volume_id: name });
  assert.equal(await probeFilesystem(small.dev), null, "wiped as ours");
  assert.equal(readRecord(stateDir(), name), undefined, "record removed");
});
