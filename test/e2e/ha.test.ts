// HA volumes that really replicate (issue 12, docs/replication.md), on a 3-node dev cluster with --netns: each
// node runs its own hwameistor-dataplane process beside its node agent. Through hwameictl (CSI):
// 1. the -ha StorageClass appears once nodes report replication; an HA volume is created, mounted on its primary,
//    written with fsync'd checksummed records; unmounted, the primary's and the secondary's backing devices are
//    equal byte for byte;
// 2. kill -9 of every process of the primary's node (agent and data plane; the supervisor first, so nothing
//    restarts them) while a writer runs → after the node's Lease expires the volume fails over to the replica's
//    node (epoch + 1) and is mounted there with every acknowledged record;
// 3. the primary's network is cut (its host-side veth down) while a writer runs: its writes stall (it can record
//    no consent: its agent lost the API server too), its Lease expires, the replica's node takes over; after the
//    veth is up again the old primary is fenced (its stalled writes fail, none acknowledged), rejoins as a
//    secondary and is resynced: every acknowledged record on the new primary, the two backings equal;
// 4. the replica's data plane (of the volume of 3.) is killed for 10 s while a writer runs: writes continue
//    degraded, the replica is recorded not synced, and after it restarts only the dirty regions are resynced
//    (bytes reported);
// 5. a convertible 1-replica volume holding 1 GiB of data is converted to 2 replicas online while a writer runs,
//    then both copies are compared block for block.
// The test's timeout stays below the runner's per-file one (scripts/run-tests.sh), so `after` always runs.
// Needs root, /dev/fuse, loop devices, netns, the built data plane (make -C dataplane). `after` kills the writers
// it started, brings a cut veth up, unmounts its mounts and runs `cluster down --purge`, also on failure.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
// eslint-disable-next-line no-restricted-imports -- the test starts its writer processes and the CLI
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DataplaneClient } from "../../src/host/dataplane/client.ts";
import type { DpVolumeStatus } from "../../src/host/dataplane/protocol.ts";
import { listMounts, unmount } from "../../src/host/mount/mount.ts";
import { DATAPLANE_BIN, processSpecs } from "../../src/devcluster/processes.ts";
import { isAlive, signalProcess, startDaemon } from "../../src/host/netns/daemon.ts";
import { netnsPath, setLinkUp } from "../../src/host/netns/netns.ts";
import { networkPlan } from "../../src/devcluster/layout.ts";
import { kubectlRunner, waitFor } from "../helpers/kubectl.ts";
import { RECORD_WRITER, verifyRecords } from "../helpers/records.ts";

const repo = resolve(import.meta.dirname, "../..");
const MiB = 2 ** 20;
let dir = "";
let state = "";
const writers: ChildProcess[] = [];
const restartedPids: number[] = [];
const linksDown = new Set<string>();
const skip = !existsSync(DATAPLANE_BIN)
  ? `the data plane is not built (${DATAPLANE_BIN}: make -C dataplane)`
  : !existsSync("/dev/fuse")
    ? "no /dev/fuse"
    : false;

function run(bin: "hwameistor" | "hwameictl", args: string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(
      join(repo, "bin", bin),
      args,
      { cwd: repo, timeout: timeoutMs, maxBuffer: 32 * MiB, env: { ...process.env, HWAMEISTOR_STATE_DIR: state } },
      (err, stdout, stderr) =>
        res({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0, stdout, stderr }),
    );
  });
}
async function ok(bin: "hwameistor" | "hwameictl", args: string[]): Promise<string> {
  const r = await run(bin, args);
  assert.equal(r.code, 0, `${bin} ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
const clusterJson = () => JSON.parse(readFileSync(join(state, "cluster.json"), "utf8"));
const k = () => kubectlRunner(join(state, "kubeconfig"));
const getJson = async (...args: string[]) => JSON.parse(await k().ok(["get", ...args, "-o", "json"]));

/** A writer process: 4 KiB records (seq, payload, sha256 of the payload), each pwrite'd and fdatasync'd; prints each acked seq. */
function startWriter(file: string, from = 0): { proc: ChildProcess; acked: () => number; exited: Promise<unknown> } {
  const proc = spawn(process.execPath, ["-e", RECORD_WRITER, file, String(from)], { stdio: ["ignore", "pipe", "pipe"] });
  writers.push(proc);
  // "close": the process exited AND its stdout was read to the end (every acknowledged seq seen).
  const exited = new Promise((r) => proc.once("close", r));
  let last = from - 1;
  let buf = "";
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop()!;
    if (lines.length) last = Number(lines.at(-1));
  });
  proc.stderr!.on("data", () => {});
  return { proc, acked: () => last, exited };
}

/** Writes `bytes` of AES-CTR keystream (fast to make, incompressible) to a new file and fsyncs it. */
async function writeBulk(file: string, bytes: number): Promise<void> {
  const cipher = createCipheriv("aes-128-ctr", randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(4 * MiB);
  const fh = await open(file, "wx");
  try {
    for (let off = 0; off < bytes; off += zeros.length) {
      const chunk = cipher.update(zeros);
      await fh.write(chunk, 0, chunk.length, off);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function stopWriter(w: { proc: ChildProcess; exited: Promise<unknown> }): Promise<void> {
  w.proc.kill("SIGTERM");
  await w.exited;
}

const dp = (node: string) => new DataplaneClient(join(state, "nodes", node, "dataplane.sock"), { node, timeoutMs: 10_000 });
async function dpVolume(node: string, volume: string): Promise<DpVolumeStatus | undefined> {
  const c = dp(node);
  try {
    return (await c.status()).find((v) => v.volume === volume);
  } finally {
    c.close();
  }
}

/** sha256 of the first `bytes` of a block device (read with a plain fd: the devices are idle when this runs). */
async function shaOf(dev: string, bytes: number): Promise<string> {
  const fh = await open(dev, "r");
  try {
    const h = createHash("sha256");
    const b = Buffer.alloc(8 * MiB);
    for (let off = 0; off < bytes; off += b.length) {
      const { bytesRead } = await fh.read(b, 0, Math.min(b.length, bytes - off), off);
      h.update(b.subarray(0, bytesRead));
    }
    return h.digest("hex");
  } finally {
    await fh.close();
  }
}

async function backingsEqual(volume: string, nodes: string[]): Promise<{ bytes: number; sha: string }> {
  const sts = await Promise.all(nodes.map((n) => dpVolume(n, volume)));
  const size = sts[0]!.sizeBytes;
  const shas = await Promise.all(sts.map((s) => shaOf(String((s as unknown as { backingPath: string }).backingPath), size)));
  assert.equal(new Set(shas).size, 1, `backings of ${volume} on ${nodes.join(", ")} differ: ${shas.join(" ")}`);
  return { bytes: size, sha: shas[0]! };
}

/** Stops the writer, checks every record it acknowledged, unmounts the volume and compares its backings. */
async function stopAndCompare(volume: string, w: ReturnType<typeof startWriter>, node: string, mnt: string, nodes: string[]) {
  await stopWriter(w);
  await verifyRecords(join(mnt, "records"), w.acked());
  await ok("hwameictl", ["volume", "unmount", volume, "--node", node, "--path", mnt]);
  return backingsEqual(volume, nodes);
}

const lvOf = (name: string) => getJson("localvolume", name);
const replicasOf = async (name: string) => ((await getJson("localvolumereplicas")).items as any[]).filter((r) => r.spec.volumeName === name && !r.spec.delete);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-ha-e2e-"));
  state = join(dir, "state");
});

after(async () => {
  for (const w of writers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
  for (const pid of restartedPids) if (isAlive(pid)) signalProcess(pid, "SIGKILL");
  for (const link of linksDown) await setLinkUp(link, true).catch(() => {});
  if (dir) {
    for (const m of (await listMounts()).filter((x) => x.target.startsWith(`${dir}/mnt`)).reverse()) await unmount(m.target).catch(() => {});
  }
  if (state && existsSync(state)) {
    const r = await run("hwameistor", ["cluster", "down", "--purge", "--state-dir", state]);
    if (r.code !== 0) console.log(`# cleanup down: ${r.stderr}`);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("HA: replicated writes; failover after kill -9 and after a veth cut of the primary; convert 1→2 with 1 GiB", { skip, timeout: 560_000 }, async () => {
  // ---------------------------------------------------------------- cluster with data planes
  let t0 = Date.now();
  await ok("hwameistor", ["cluster", "up", "--nodes", "3", "--disks-per-node", "1", "--disk-size", "3Gi", "--netns", "--state-dir", state, "-o", "json"]);
  await waitFor(
    async () =>
      ((await getJson("localstoragenodes")).items as any[]).filter((l) => l.status?.replication?.available && l.status?.state === "Ready").length === 3,
    180_000,
    "3 nodes report replication available",
  );
  await waitFor(async () => (await k().run(["get", "storageclass", "hwameistor-storage-lvm-hdd-ha"])).code === 0, 60_000, "the -ha StorageClass");
  const lsn1 = (await getJson("localstoragenode", "node-1")).status.replication;
  assert.deepEqual(lsn1.frontends, ["fuse"]);
  assert.match(lsn1.address, /^10\.\d+\.\d+\.\d+:43000$/);
  console.log(`# cluster up with data planes, replication reported: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // ---------------------------------------------------------------- an HA volume, written on its primary
  t0 = Date.now();
  await ok("hwameictl", ["volume", "create", "ha1", "--class", "hwameistor-storage-lvm-hdd-ha", "--size", "256Mi", "--node", "node-1"]);
  let lv = await lvOf("ha1");
  assert.equal(lv.spec.replicaNumber, 2);
  const hosts = lv.spec.config.replicas.map((r: any) => r.hostname);
  assert.equal(new Set(hosts).size, 2, "replicas on distinct nodes");
  assert.equal(lv.spec.config.replicas.find((r: any) => r.primary).hostname, "node-1");
  const second = hosts.find((h: string) => h !== "node-1");
  for (const r of await replicasOf("ha1")) assert.equal(r.status.synced, true, `${r.metadata.name} synced`);
  console.log(`# HA volume created, both replicas in sync: ${Date.now() - t0} ms`);
  const m1 = join(dir, "mnt", "ha1-node-1");
  await ok("hwameictl", ["volume", "mount", "ha1", "--node", "node-1", "--path", m1]);
  const w1 = startWriter(join(m1, "records"));
  await waitFor(() => w1.acked() >= 200, 120_000, "200 acknowledged records");
  await stopWriter(w1);
  const firstBatch = w1.acked();
  await ok("hwameictl", ["volume", "unmount", "ha1", "--node", "node-1", "--path", m1]);
  const eq = await backingsEqual("ha1", ["node-1", second]);
  console.log(`# ${firstBatch + 1} fsync'd records; primary's and secondary's backings equal over ${eq.bytes / MiB} MiB`);

  // ---------------------------------------------------------------- failover
  await ok("hwameictl", ["volume", "mount", "ha1", "--node", "node-1", "--path", m1]);
  const w2 = startWriter(join(m1, "records"), firstBatch + 1);
  await waitFor(() => w2.acked() >= firstBatch + 100, 120_000, "writes running on the primary");
  const procs = clusterJson().processes;
  process.kill(clusterJson().supervisor.pid, "SIGKILL"); // first, so it restarts nothing
  const killedAt = Date.now();
  for (const p of ["node-1", "node-1-dataplane"]) process.kill(procs[p].pid, "SIGKILL");
  await new Promise((r) => setTimeout(r, 1000));
  w2.proc.kill("SIGKILL"); // its I/O fails (the FUSE connection died); what it acknowledged is what counts
  await w2.exited;
  const acked = w2.acked();
  console.log(`# killed node-1 (agent + data plane) with ${acked + 1} records acknowledged`);
  await waitFor(async () => (await lvOf("ha1")).spec.config.replicas.find((r: any) => r.primary).hostname === second, 120_000, `failover to ${second}`);
  const failedOverAt = Date.now();
  lv = await lvOf("ha1");
  const lease = await getJson("lease", "-n", "hwameistor", "hwameistor-local-storage-worker-node-1").catch(() => undefined);
  const expiry = lease ? Date.parse(lease.spec.renewTime) + lease.spec.leaseDurationSeconds * 1000 : undefined;
  const m2 = join(dir, "mnt", `ha1-${second}`);
  await ok("hwameictl", ["volume", "mount", "ha1", "--node", second, "--path", m2]);
  const publishedAt = Date.now();
  console.log(
    `# failover: config version ${lv.spec.config.version}; kill → new primary ${((failedOverAt - killedAt) / 1000).toFixed(1)} s, kill → mounted on ${second} ${((publishedAt - killedAt) / 1000).toFixed(1)} s` +
      (expiry ? `; lease expiry → mounted ${((publishedAt - expiry) / 1000).toFixed(1)} s` : ""),
  );
  await verifyRecords(join(m2, "records"), acked);
  console.log(`# all ${acked + 1} acknowledged records present and intact on ${second}: 0 lost`);
  await ok("hwameictl", ["volume", "unmount", "ha1", "--node", second, "--path", m2]);

  await waitFor(async () => (await getJson("localstoragenode", "node-1")).status.state === "Offline", 120_000, "node-1 Offline");
  const live = ["node-2", "node-3"];

  // ---------------------------------------------------------------- the primary's network cut (veth down)
  // hb: primary node-2, replica node-3. The host-side veth of node-2 down cuts its data plane from the replica
  // and its agent from the API server: the primary suspends its writes and cannot record the consent to go on
  // degraded, so it acknowledges nothing the replica lacks. Its Lease expires and node-3 takes over at
  // epoch + 1. With the veth up again the old primary meets the newer epoch (fenced: its stalled writes fail),
  // is unpublished, rejoins as a secondary and is resynced from node-3: one history.
  await ok("hwameictl", ["volume", "create", "hb", "--class", "hwameistor-storage-lvm-hdd-ha", "--size", "256Mi", "--node", "node-2"]);
  assert.deepEqual((await lvOf("hb")).spec.config.replicas.map((r: any) => r.hostname).sort(), live);
  const mb1 = join(dir, "mnt", "hb-node-2");
  await ok("hwameictl", ["volume", "mount", "hb", "--node", "node-2", "--path", mb1]);
  const wb1 = startWriter(join(mb1, "records"));
  await waitFor(() => wb1.acked() >= 100, 120_000, "writes on hb's primary node-2");
  const resyncedBeforeCut = (await dpVolume("node-3", "hb"))!.bytesResynced ?? 0;
  const veth = networkPlan(state, ["node-1", "node-2", "node-3"]).nodes.find((n) => n.node === "node-2")!.hostIf;
  linksDown.add(veth);
  await setLinkUp(veth, false);
  const cutAt = Date.now();
  const ackedAtCut = wb1.acked();
  await waitFor(async () => (await lvOf("hb")).spec.config.replicas.find((r: any) => r.primary).hostname === "node-3", 180_000, "failover of hb to node-3");
  const hbFailoverAt = Date.now();
  // One record may have been in flight at the cut (already on the replica, its ack lost); none after it.
  const stalledAt = wb1.acked();
  assert.ok(stalledAt <= ackedAtCut + 1, `the cut-off primary acknowledged records ${ackedAtCut + 1}..${stalledAt} after the cut`);
  const mb2 = join(dir, "mnt", "hb-node-3");
  await ok("hwameictl", ["volume", "mount", "hb", "--node", "node-3", "--path", mb2]);
  const hbMountedAt = Date.now();
  await verifyRecords(join(mb2, "records"), stalledAt);
  console.log(
    `# veth ${veth} of node-2 down with ${stalledAt + 1} records acknowledged (writes stalled): new primary node-3 after ${((hbFailoverAt - cutAt) / 1000).toFixed(1)} s, mounted there after ${((hbMountedAt - cutAt) / 1000).toFixed(1)} s; every acknowledged record there`,
  );
  // The new primary writes on (over what the old one may have written alone and never acknowledged).
  const wb2 = startWriter(join(mb2, "records"), stalledAt + 1);
  await waitFor(() => wb2.acked() >= stalledAt + 100, 120_000, "writes on the new primary node-3");
  await setLinkUp(veth, true);
  linksDown.delete(veth);
  const healAt = Date.now();
  let wb1Exited = false;
  void wb1.exited.then(() => (wb1Exited = true));
  await waitFor(() => wb1Exited, 120_000, "the old primary's writer to fail (fenced) once the veth is up");
  assert.equal(wb1.acked(), stalledAt, "the fenced old primary acknowledged nothing after the cut");
  const old = (await dpVolume("node-2", "hb"))!;
  assert.equal(old.fenced, true, `node-2's data plane reports hb fenced: ${JSON.stringify(old)}`);
  console.log(`# veth up: the old primary's writer failed after ${((Date.now() - healAt) / 1000).toFixed(1)} s (fenced at epoch ${old.epoch})`);
  // Unpublished there (as the pod would be), it rejoins as a secondary and is resynced while node-3 writes on.
  await ok("hwameictl", ["volume", "unmount", "hb", "--node", "node-2", "--path", mb1]);
  const hbReplica2 = async () => (await replicasOf("hb")).find((r) => r.spec.nodeName === "node-2");
  await waitFor(async () => (await hbReplica2())?.status?.synced === true, 180_000, "the old primary node-2 resynced as a secondary");
  const rejoinedAt = Date.now();
  const hbResynced = ((await dpVolume("node-3", "hb"))!.bytesResynced ?? 0) - resyncedBeforeCut;
  const hbEq = await stopAndCompare("hb", wb2, "node-3", mb2, live);
  console.log(
    `# old primary rejoined and resynced ${((rejoinedAt - healAt) / 1000).toFixed(1)} s after the veth came up: ${(hbResynced / MiB).toFixed(1)} MiB resynced of a ${hbEq.bytes / MiB} MiB volume; ${wb2.acked() + 1} records intact; backings equal (one history)`,
  );
  assert.ok(hbResynced > 0 && hbResynced < hbEq.bytes / 2, `only the dirty regions were resynced (${hbResynced} bytes)`);
  await waitFor(
    async () => {
      const l = await getJson("localstoragenode", "node-2");
      return l.status?.state === "Ready" && l.status?.replication?.available === true;
    },
    120_000,
    "node-2 Ready again",
  );

  // ---------------------------------------------------------------- the replica's data plane down for 10 s
  // hb again, primary node-3: writes continue degraded (the primary's agent records the replica not synced,
  // then outdates it); after it comes back, only the regions written meanwhile are resynced.
  const mc = join(dir, "mnt", "hb-again");
  await ok("hwameictl", ["volume", "mount", "hb", "--node", "node-3", "--path", mc]);
  const w4 = startWriter(join(mc, "records"), wb2.acked() + 1);
  await waitFor(() => w4.acked() >= wb2.acked() + 50, 60_000, "writes before the replica's data plane dies");
  const resyncedBefore = (await dpVolume("node-3", "hb"))!.bytesResynced ?? 0;
  const spec = processSpecs(state, clusterJson().options, clusterJson().api).find((x) => x.name === "node-2-dataplane")!;
  process.kill(clusterJson().processes["node-2-dataplane"].pid, "SIGKILL");
  const downAt = Date.now();
  const atKill = w4.acked();
  await waitFor(() => w4.acked() >= atKill + 100, 60_000, "writes continue, degraded, while the replica is down");
  assert.equal((await hbReplica2()).status.synced, false, "the replica that went down is recorded as not synced");
  await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - downAt))));
  const restarted = await startDaemon(spec.argv, { logFile: spec.logFile, nsenterNetPath: netnsPath(spec.netns!) });
  restartedPids.push(restarted.pid);
  await waitFor(async () => (await hbReplica2()).status.synced === true, 180_000, "the replica resynced");
  const resynced = ((await dpVolume("node-3", "hb"))!.bytesResynced ?? 0) - resyncedBefore;
  const after10s = await stopAndCompare("hb", w4, "node-3", mc, live);
  console.log(
    `# replica's data plane down ${((Date.now() - downAt) / 1000).toFixed(0)} s with a writer: ${w4.acked() - atKill} records written degraded; resync copied ${(resynced / MiB).toFixed(1)} MiB of a ${after10s.bytes / MiB} MiB volume; copies equal`,
  );
  assert.ok(resynced < after10s.bytes / 2, "only the dirty regions were resynced");

  // ---------------------------------------------------------------- convert 1 → 2 online, 1 GiB of data
  // The initial sync copies the regions ever written (1 GiB and the filesystem's), not the whole volume.
  await ok("hwameictl", ["volume", "create", "cv", "--class", "hwameistor-storage-lvm-hdd-convertible", "--size", "1152Mi", "--node", "node-3"]);
  const m3 = join(dir, "mnt", "cv");
  await ok("hwameictl", ["volume", "mount", "cv", "--node", "node-3", "--path", m3]);
  t0 = Date.now();
  await writeBulk(join(m3, "bulk"), 1024 * MiB);
  console.log(`# 1 GiB written and fsync'd on the 1-replica volume in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const w3 = startWriter(join(m3, "records"));
  await waitFor(() => w3.acked() >= 100, 120_000, "writes on the 1-replica volume");
  const cvResyncedBefore = (await dpVolume("node-3", "cv"))!.bytesResynced ?? 0;
  t0 = Date.now();
  await ok("hwameictl", ["volume", "convert", "cv"]);
  await waitFor(
    async () => (await k().run(["get", "localvolumeconvert", "convert-cv"])).code !== 0 && (await lvOf("cv")).status.state === "Ready",
    300_000,
    "convert-cv completed",
  );
  const convertMs = Date.now() - t0;
  const cvLv = await lvOf("cv");
  assert.equal(cvLv.spec.replicaNumber, 2);
  assert.deepEqual(cvLv.spec.config.replicas.map((r: any) => r.hostname).sort(), live);
  const during = w3.acked();
  await waitFor(() => w3.acked() >= during + 50, 60_000, "the writer kept writing after the conversion");
  await stopWriter(w3);
  await ok("hwameictl", ["volume", "unmount", "cv", "--node", "node-3", "--path", m3]);
  const cvSynced = ((await dpVolume("node-3", "cv"))!.bytesResynced ?? 0) - cvResyncedBefore;
  t0 = Date.now();
  const cvEq = await backingsEqual("cv", live);
  console.log(
    `# convert 1→2 online with a writer over 1 GiB of data: ${convertMs} ms; initial sync copied ${(cvSynced / MiB).toFixed(0)} MiB of ${cvEq.bytes / MiB} MiB; ${w3.acked() + 1} records; both copies equal block for block (compared in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  assert.ok(cvSynced >= 1024 * MiB, `the initial sync copied the 1 GiB written (${cvSynced} bytes)`);
  const m4 = join(dir, "mnt", "cv-again");
  await ok("hwameictl", ["volume", "mount", "cv", "--node", "node-3", "--path", m4]);
  await verifyRecords(join(m4, "records"), w3.acked());
  await ok("hwameictl", ["volume", "unmount", "cv", "--node", "node-3", "--path", m4]);
});
