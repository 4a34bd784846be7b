// Snapshots end to end (issue 6 items 1–2): processes — `hwameistor apiserver`, `hwameistor controller`, one
// `hwameistor node` agent (file engine, btrfs pool over two sparse loop disks) — driven over the CSI sockets
// the way external-snapshotter, external-provisioner and kubelet would. Needs root, btrfs-progs, xfsprogs.
// Shows: a mounted 1 GiB and an 8 GiB volume snapshotted in about the same short time (fsfreeze + reflink);
// restore into a new volume (data written after the snapshot absent there, present in the source); a clone
// equal to its source; a rollback refused while published, then returning the volume to the snapshot; a
// volume with snapshots deleted only after its snapshots are gone; bad input refused with nothing created.
// Every process, mount, loop device and temp dir is removed in `after`, also on failure.

import { testFileFsArgs } from "../helpers/test-cluster.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import { mkdir, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { toCrd } from "../../src/api/crd.ts";
import type { HwError } from "../../src/api/errors.ts";
import { kindDefinitions } from "../../src/api/kinds/index.ts";
import { ScParams, TopologyKeys } from "../../src/api/names.ts";
import { connectCsi, type CsiClient } from "../../src/csi/client.ts";
import type { VolumeCapability } from "../../src/csi/types.ts";
import { attachLoop, createSparseFile, listLoops } from "../../src/host/loop/loop.ts";
import { listMounts, unmountAll } from "../../src/host/mount/mount.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { hwameistorClients, type HwameistorClients } from "../../src/kube/hwameistor.ts";
import type { KubeObject } from "../../src/kube/types.ts";
import { cleanupUnder } from "../../src/node/engines/host-test-helpers.ts";
import { exited, hwameistorProcesses } from "../helpers/processes.ts";

const repo = resolve(import.meta.dirname, "../..");
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const N = "n1";
const skip =
  process.getuid?.() !== 0
    ? "needs root"
    : !fs.existsSync("/usr/sbin/mkfs.btrfs") || !fs.existsSync("/usr/sbin/mkfs.xfs")
      ? "needs btrfs-progs and xfsprogs"
      : false;

let dir = "";
let kubeconfig = "";
let c!: HwameistorClients;
let node!: CsiClient;
let ctl!: CsiClient;
const { procs, logs, startProcess } = hwameistorProcesses();
const targets = new Map<string, string>();

const mountCap: VolumeCapability = { mount: { fs_type: "xfs", mount_flags: [] }, access_mode: { mode: "SINGLE_NODE_WRITER" } };
const linkRoot = () => join(dir, N, "state", "dev");

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
/** The node's own freeze + reflink time for a snapshot, from its "replica snapshot taken" log line. */
function nodeSnapshotMs(snapshot: string): number | undefined {
  for (const line of (logs.get(procs.get(N)!) ?? "").split("\n")) {
    if (!line.includes("replica snapshot taken") || !line.includes(snapshot)) continue;
    try {
      const o = JSON.parse(line) as { ms?: number; frozen?: string };
      if (o.frozen) return o.ms;
    } catch {
      /* a partial line at the head of the kept tail */
    }
  }
  return undefined;
}
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const code = (cd: string, re: RegExp) => (e: HwError) => (assert.equal(e.code, cd, e.message), assert.match(e.fullMessage, re), true);
const params = (vol: string) => ({
  [ScParams.PoolClass]: "HDD",
  [ScParams.ReplicaNumber]: "1",
  [ScParams.FsType]: "xfs",
  [ScParams.PvcName]: `data-${vol}`,
  [ScParams.PvcNamespace]: "default",
});
const topo = { requisite: [{ segments: { [TopologyKeys.LvmNode]: N } }], preferred: [{ segments: { [TopologyKeys.LvmNode]: N } }] };

async function createVolume(
  name: string,
  bytes: number,
  source?: object,
): Promise<{ volume: { capacity_bytes: string; volume_context: Record<string, string> } }> {
  return ctl.call(
    "Controller",
    "CreateVolume",
    {
      name,
      capacity_range: { required_bytes: String(bytes) },
      volume_capabilities: [mountCap],
      parameters: params(name),
      accessibility_requirements: topo,
      ...(source ? { volume_content_source: source } : {}),
    },
    { timeoutMs: 90_000 },
  );
}
async function publish(name: string): Promise<string> {
  const pub = await ctl.call<{ publish_context: Record<string, string> }>("Controller", "ControllerPublishVolume", {
    volume_id: name,
    node_id: N,
    volume_capability: mountCap,
    readonly: false,
  });
  const t = join(dir, "pods", name);
  targets.set(name, t);
  await node.nodePublishVolume({ volume_id: name, target_path: t, volume_capability: mountCap, publish_context: pub.publish_context });
  return t;
}
async function unpublish(name: string): Promise<void> {
  await node.nodeUnpublishVolume({ volume_id: name, target_path: targets.get(name)! });
  await ctl.call("Controller", "ControllerUnpublishVolume", { volume_id: name, node_id: N });
}
async function writeSynced(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, "w");
  await fh.write(data, 0, data.length, 0);
  await fh.sync();
  await fh.close();
}
type Snap = { snapshot: { snapshot_id: string; size_bytes: string; ready_to_use: boolean; source_volume_id: string; creation_time: { seconds: string } } };
const createSnapshot = (name: string, source: string, parameters: Record<string, string> = {}) =>
  ctl.call<Snap>("Controller", "CreateSnapshot", { name, source_volume_id: source, parameters }, { timeoutMs: 60_000 });
async function deleteVolume(name: string): Promise<void> {
  await waitFor(
    `${name} deleted`,
    async () =>
      ctl.deleteVolume({ volume_id: name }).then(
        () => true,
        () => false,
      ),
    90_000,
  );
}

const A = randomBytes(8 * MiB);
const B = randomBytes(8 * MiB);

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), "hw-snap-e2e-"));
  await mkdir(join(dir, N, "disks"), { recursive: true });
  for (const d of ["a", "b"]) {
    await createSparseFile(join(dir, N, "disks", `${d}.img`), 12 * GiB);
    await attachLoop(join(dir, N, "disks", `${d}.img`));
  }
  await mkdir(join(dir, "pods"));
  const api = await startProcess("apiserver", ["apiserver", "--data-dir", join(dir, "api"), "--port", "0", "--log-level", "warn"]);
  kubeconfig = api.kubeconfig as string;
  const client = new KubeClient(loadKubeConfig({ kubeconfigPath: kubeconfig }).kubeConfig);
  const crds = client.forKind({
    group: "apiextensions.k8s.io",
    version: "v1",
    plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition",
    namespaced: false,
  });
  for (const def of kindDefinitions) {
    const crd = toCrd(def) as KubeObject;
    if (!(await crds.get(crd.metadata!.name!))) await crds.create(crd);
  }
  c = hwameistorClients(client);
  await waitFor("CRDs served", async () => c.lvs.list().then(() => true));
  const ready = await startProcess(N, [
    "node",
    "--node-name",
    N,
    "--kubeconfig",
    kubeconfig,
    "--devices",
    `file:${dir}/${N}/disks/*.img`,
    "--disk-class",
    "HDD",
    "--state-dir",
    join(dir, N, "state"),
    "--engine",
    "file",
    ...testFileFsArgs(),
    "--resync-seconds",
    "10",
    "--poll-ms",
    "500",
    "--no-disk-driver",
    "--log-level",
    "info",
  ]);
  node = await connectCsi(ready.lvmSocket as string);
  await waitFor(
    "disks Available",
    async () => (await c.ld.list()).items.filter((d) => d.spec?.nodeName === N && d.status?.claimState === "Available").length === 2,
  );
  await c.ldc.create({ metadata: { name: `${N}-claim` }, spec: { nodeName: N, owner: "local-storage", description: { diskType: "HDD" } } } as never);
  await waitFor("pool", async () => (await c.lsn.get(N))?.status?.pools?.LocalStorage_PoolHDD?.disks?.length === 2);
  await startProcess("controller", ["controller", "--kubeconfig", kubeconfig, "--csi-socket-dir", join(dir, "controller"), "--log-level", "warn"]);
  const sock = join(dir, "controller", "lvm.sock");
  await waitFor("controller lvm.sock", async () => fs.existsSync(sock), 10_000);
  ctl = await connectCsi(sock);
});

after(async () => {
  if (skip) return;
  node?.close();
  ctl?.close();
  for (const t of targets.values()) await unmountAll(t).catch(() => {});
  for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
  await Promise.race([Promise.all([...procs.values()].map(exited)), new Promise((r) => setTimeout(r, 10_000))]);
  for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  if (dir) {
    await cleanupUnder(join(dir, N), linkRoot()).catch(() => {});
    await cleanupUnder(dir, join(dir, "nolinks")).catch(() => {});
    const left = [
      ...(await listLoops()).filter((l) => l.backFile.startsWith(dir + "/")),
      ...(await listMounts()).filter((m) => m.target.startsWith(dir + "/")),
    ];
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    assert.deepEqual(left, [], "no loop device or mount left behind");
  }
});

const failWithLogs = async (e: unknown) => {
  throw new Error(
    `${e instanceof Error ? e.message : String(e)}\n--- node:\n${logs.get(procs.get(N)!)?.slice(-3000)}\n--- controller:\n${logs.get(procs.get("controller")!)?.slice(-3000)}`,
  );
};

test("snapshots of a mounted 1 GiB and a mounted 8 GiB volume take about the same short time", { skip, timeout: 300_000 }, async () => {
  try {
    const ta = await publish((await createVolume("pvc-snap-a", GiB), "pvc-snap-a"));
    await writeSynced(join(ta, "a.bin"), A);
    let t0 = Date.now();
    const s1 = await createSnapshot("snapshot-a1", "pvc-snap-a");
    const ms1 = Date.now() - t0;
    const node1 = nodeSnapshotMs("snapcontent-a1");
    assert.equal(s1.snapshot.snapshot_id, "snapcontent-a1");
    assert.equal(s1.snapshot.ready_to_use, true);
    assert.equal(s1.snapshot.size_bytes, String(GiB));
    assert.ok(Number(s1.snapshot.creation_time.seconds) > 0);
    await writeSynced(join(ta, "b.bin"), B); // after the snapshot

    const tb = await publish((await createVolume("pvc-snap-big", 8 * GiB), "pvc-snap-big"));
    await writeSynced(join(tb, "x.bin"), A);
    t0 = Date.now();
    const s8 = await createSnapshot("snapshot-big", "pvc-snap-big");
    const ms8 = Date.now() - t0;
    assert.equal(s8.snapshot.size_bytes, String(8 * GiB));
    const node8 = nodeSnapshotMs("snapcontent-big");
    console.log(
      `# CreateSnapshot, CSI call → Ready: 1 GiB mounted ${ms1} ms, 8 GiB mounted ${ms8} ms; on the node (fsfreeze + reflink + thaw): 1 GiB ${node1} ms, 8 GiB ${node8} ms`,
    );
    assert.ok(node1 !== undefined && node8 !== undefined, "the node froze the mounted filesystems");
    assert.ok(ms8 < Math.max(3 * ms1, ms1 + 3000), `8 GiB (${ms8} ms) should take about as long as 1 GiB (${ms1} ms)`);
    assert.ok((await listMounts()).every((m) => !m.options.includes("frozen")));

    const lvs = (await c.lvs.get("snapcontent-a1"))!;
    assert.equal(lvs.status?.state, "Ready");
    assert.deepEqual(lvs.spec?.accessibility?.nodes, [N]);
    assert.ok(lvs.status?.creationTime);
    const lvrs = (await c.lvrs.list()).items.filter((r) => r.spec?.volumeSnapshotName === "snapcontent-a1");
    assert.equal(lvrs.length, 1);
    assert.equal(lvrs[0]!.spec?.nodeName, N);
    assert.equal(lvrs[0]!.status?.state, "Ready");
    assert.deepEqual(lvrs[0]!.status?.conditions?.map((x) => `${x.type}=${x.status}`).sort(), ["Create=True", "Ready=True", "Submit=True"]);

    // Idempotent by name; ListSnapshots filters and pages.
    assert.equal((await createSnapshot("snapshot-a1", "pvc-snap-a")).snapshot.snapshot_id, "snapcontent-a1");
    type L = { entries: Snap[]; next_token: string };
    const bySource = await ctl.call<L>("Controller", "ListSnapshots", { source_volume_id: "pvc-snap-a" });
    assert.deepEqual(
      bySource.entries.map((e) => e.snapshot.snapshot_id),
      ["snapcontent-a1"],
    );
    assert.equal((await ctl.call<L>("Controller", "ListSnapshots", { snapshot_id: "snapcontent-nope" })).entries.length, 0);
    const page = await ctl.call<L>("Controller", "ListSnapshots", { max_entries: 1 });
    assert.equal(page.entries.length, 1);
    assert.equal(page.next_token, "1");
    await ctl.call("Controller", "DeleteSnapshot", { snapshot_id: "snapcontent-big" }, { timeoutMs: 60_000 });
    assert.equal(await c.lvs.get("snapcontent-big"), undefined);
    await unpublish("pvc-snap-big");
    await deleteVolume("pvc-snap-big");
  } catch (e) {
    await failWithLogs(e);
  }
});

test("bad input: unknown volume or snapshot, a smaller restore, a bad snapsize — precise errors, nothing created", { skip, timeout: 120_000 }, async () => {
  await assert.rejects(createSnapshot("snapshot-x", "pvc-nope"), code("NOT_FOUND", /source volume pvc-nope/));
  await assert.rejects(createSnapshot("snapshot-y", "pvc-snap-a", { snapsize: "12abc" }), code("INVALID_ARGUMENT", /snapsize/));
  assert.equal(await c.lvs.get("snapcontent-x"), undefined);
  assert.equal(await c.lvs.get("snapcontent-y"), undefined);
  await assert.rejects(
    createVolume("pvc-snap-small", 512 * MiB, { snapshot: { snapshot_id: "snapcontent-a1" } }),
    code("OUT_OF_RANGE", /smaller than its source pvc-snap-a/),
  );
  await assert.rejects(createVolume("pvc-snap-none", GiB, { snapshot: { snapshot_id: "snapcontent-nope" } }), code("NOT_FOUND", /snapshot snapcontent-nope/));
  assert.equal(await c.lv.get("pvc-snap-small"), undefined);
  assert.equal(await c.lv.get("pvc-snap-none"), undefined);
});

test("restore: data written after the snapshot is absent from the restored volume and present in the source", { skip, timeout: 180_000 }, async () => {
  try {
    const t0 = Date.now();
    const r = await createVolume("pvc-snap-r", GiB, { snapshot: { snapshot_id: "snapcontent-a1" } });
    console.log(`# CreateVolume from a 1 GiB snapshot (LV + restore by reflink) in ${Date.now() - t0} ms`);
    assert.equal(r.volume.volume_context["hwameistor.io/source-snapshot"], "snapcontent-a1");
    assert.equal((await c.lv.get("pvc-snap-r"))?.metadata?.annotations?.["hwameistor.io/snapshot-restore-completed"], "true");
    assert.equal(await c.lvsrestore.get("snaprestore-pvc-snap-r"), undefined, "the restore object is removed after success");
    const tr = await publish("pvc-snap-r");
    assert.equal(sha(await readFile(join(tr, "a.bin"))), sha(A));
    assert.equal(fs.existsSync(join(tr, "b.bin")), false, "written after the snapshot: absent");
    assert.equal(sha(await readFile(join(targets.get("pvc-snap-a")!, "b.bin"))), sha(B), "present in the source");
    await unpublish("pvc-snap-r");
    await deleteVolume("pvc-snap-r");
  } catch (e) {
    await failWithLogs(e);
  }
});

test("clone: a volume created from a mounted volume equals its source", { skip, timeout: 180_000 }, async () => {
  try {
    const t0 = Date.now();
    await createVolume("pvc-snap-c", GiB, { volume: { volume_id: "pvc-snap-a" } });
    console.log(`# CreateVolume from a mounted 1 GiB volume (clone) in ${Date.now() - t0} ms`);
    assert.equal(await c.lvs.get("snapshot-for-pvc-snap-c"), undefined, "the clone's temporary snapshot is gone");
    const tc = await publish("pvc-snap-c");
    assert.equal(sha(await readFile(join(tc, "a.bin"))), sha(A));
    assert.equal(sha(await readFile(join(tc, "b.bin"))), sha(B));
    await unpublish("pvc-snap-c");
    await deleteVolume("pvc-snap-c");
  } catch (e) {
    await failWithLogs(e);
  }
});

test("rollback: refused while published (naming the node), then returns the volume to the snapshot's content", { skip, timeout: 180_000 }, async () => {
  try {
    const restore = (name: string) =>
      c.lvsrestore.create({ metadata: { name }, spec: { sourceVolumeSnapshot: "snapcontent-a1", restoreType: "rollback" } } as never);
    const final = async (name: string) => {
      await waitFor(`${name} done`, async () => ["Completed", "Failed"].includes((await c.lvsrestore.get(name))?.status?.state ?? ""));
      return (await c.lvsrestore.get(name))!.status!;
    };
    await restore("rollback-published");
    const refused = await final("rollback-published");
    assert.equal(refused.state, "Failed");
    assert.match(refused.message ?? "", /pvc-snap-a is published on node n1/);
    assert.equal(sha(await readFile(join(targets.get("pvc-snap-a")!, "b.bin"))), sha(B), "nothing changed");
    await unpublish("pvc-snap-a");
    await restore("rollback-a");
    assert.equal((await final("rollback-a")).state, "Completed");
    const ta = await publish("pvc-snap-a");
    assert.equal(sha(await readFile(join(ta, "a.bin"))), sha(A));
    assert.equal(fs.existsSync(join(ta, "b.bin")), false, "rolled back to before b.bin");
    await unpublish("pvc-snap-a");
    for (const n of ["rollback-published", "rollback-a"]) await c.lvsrestore.delete(n);
  } catch (e) {
    await failWithLogs(e);
  }
});

test("a volume with snapshots is deleted only after its snapshots are gone", { skip, timeout: 180_000 }, async () => {
  try {
    await ctl.deleteVolume({ volume_id: "pvc-snap-a" }); // OK: deferred
    const lv = await c.lv.get("pvc-snap-a");
    assert.ok(lv && !lv.spec?.delete, "still there while its snapshot exists");
    assert.equal(lv.metadata?.annotations?.["hwameistor.io/delete-deferred"], "true");
    await ctl.call("Controller", "DeleteSnapshot", { snapshot_id: "snapcontent-a1" }, { timeoutMs: 60_000 });
    await waitFor("pvc-snap-a gone after its snapshot", async () => !(await c.lv.get("pvc-snap-a")), 90_000);
    await waitFor("its replica gone", async () => !(await c.lvr.list()).items.some((r) => r.spec?.volumeName === "pvc-snap-a"));
    assert.equal((await c.lvrs.list()).items.length, 0);
  } catch (e) {
    await failWithLogs(e);
  }
});

test("hwameictl snapshot create / list / rollback (refused while mounted) / restore / delete", { skip, timeout: 240_000 }, async () => {
  const { execFile } = await import("node:child_process");
  const sock = join(dir, "controller", "lvm.sock");
  const ctlBin = join(repo, "bin/hwameictl");
  const cli = (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((res) => {
      execFile(ctlBin, ["--kubeconfig", kubeconfig, ...args], { cwd: repo }, (e, out, err) =>
        res({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });
  try {
    const t = await publish((await createVolume("pvc-snap-cli", 320 * MiB), "pvc-snap-cli"));
    await writeSynced(join(t, "a.bin"), A);
    let r = await cli("snapshot", "create", "snapshot-cli", "--volume", "pvc-snap-cli", "--csi-socket", sock);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /snapcontent-cli/);
    r = await cli("snapshot", "list", "-o", "json");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      (JSON.parse(r.out) as Array<{ name: string; state: string }>).map((x) => [x.name, x.state]),
      [["snapcontent-cli", "Ready"]],
    );
    await writeSynced(join(t, "b.bin"), B);
    r = await cli("snapshot", "rollback", "snapcontent-cli");
    assert.equal(r.code, 1);
    assert.match(r.err, /pvc-snap-cli is published on node n1/);
    assert.equal((await c.lvsrestore.list()).items.length, 0, "nothing created");
    await unpublish("pvc-snap-cli");
    r = await cli("snapshot", "rollback", "snapcontent-cli");
    assert.equal(r.code, 0, r.err);
    r = await cli("snapshot", "restore", "snapcontent-cli", "--to", "pvc-snap-cli2", "--csi-socket", sock);
    assert.equal(r.code, 0, r.err);
    for (const v of ["pvc-snap-cli", "pvc-snap-cli2"]) {
      const tv = await publish(v);
      assert.equal(sha(await readFile(join(tv, "a.bin"))), sha(A), v);
      assert.equal(fs.existsSync(join(tv, "b.bin")), false, v);
      await unpublish(v);
    }
    r = await cli("snapshot", "delete", "snapcontent-nope", "--csi-socket", sock);
    assert.equal(r.code, 3, "unknown snapshot: exit 3");
    r = await cli("snapshot", "delete", "snapcontent-cli", "--csi-socket", sock);
    assert.equal(r.code, 0, r.err);
    for (const n of (await c.lvsrestore.list()).items) await c.lvsrestore.delete(n.metadata!.name!);
    await deleteVolume("pvc-snap-cli2");
    await deleteVolume("pvc-snap-cli");
  } catch (e) {
    await failWithLogs(e);
  }
});
