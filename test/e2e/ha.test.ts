// HA volumes that really replicate (issue 12, docs/replication.md), on a 3-node dev cluster with --netns: each
// node runs its own hwameistor-dataplane process beside its node agent. Through hwameictl (CSI):
// 1. the -ha StorageClass appears once nodes report replication; an HA volume is created, mounted on its primary,
//    written with fsync'd checksummed records; unmounted, the primary's and the secondary's backing devices are
//    equal byte for byte;
//    the same with 3 replicas (a StorageClass with replicaNumber "3"): the three backings equal;
// 2. kill -9 of every process of the primary's node (agent and data plane; the supervisor first, so nothing
//    restarts them) while writers run on a 2- and a 3-replica volume → after the node's Lease expires each fails
//    over to a synced replica's node (epoch + 1) and is mounted there with every acknowledged record; with 3
//    replicas the third stays a secondary of the new primary (UpToDate at the new epoch) and keeps acknowledging;
// 3. the primary's network is cut (its host-side veth down) while a writer runs: its writes stall (it can record
//    no consent: its agent lost the API server too), its Lease expires, the replica's node takes over; after the
//    veth is up again the old primary is fenced (its stalled writes fail, none acknowledged), rejoins as a
//    secondary and is resynced: every acknowledged record on the new primary, the two backings equal;
// 4. the replica's data plane (of the volume of 3.) is killed for 10 s while a writer runs: writes continue
//    degraded, the replica is recorded not synced, and after it restarts only the dirty regions are resynced
//    (bytes reported);
// 5. the dead node comes back (agent and data plane started again): it rejoins both volumes as a secondary and is
//    resynced (only the dirty regions); the three backings of the 3-replica volume equal, the two of the other;
// 6. 3 replicas, a replica's data plane killed while a writer runs: writes go on with the two others, the dead one
//    is recorded not synced; it restarts on another address (a new storage IP and port): the primaries follow its
//    LocalStorageNode's status.replication.address by themselves, resync only the dirty regions; backings equal.
// The 1 GiB convert 1→2 is test/e2e/ha-convert.test.ts (its own file: each file has the runner's 10 minutes).
// The test's timeout stays below the runner's per-file one (scripts/run-tests.sh), so `after` always runs.
// Needs root, /dev/fuse, loop devices, netns, the built data plane (make -C dataplane). `after` kills the writers
// it started, brings a cut veth up, unmounts its mounts and runs `cluster down --purge`, also on failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureAddress, setLinkUp } from "../../src/host/netns/netns.ts";
import { listLoops } from "../../src/host/loop/loop.ts";
import { listMounts } from "../../src/host/mount/mount.ts";
import { layoutOf, networkPlan, nodeLayout } from "../../src/devcluster/layout.ts";
import { waitFor } from "../helpers/kubectl.ts";
import { verifyRecords } from "../helpers/records.ts";
import {
  MiB,
  useHaCluster,
  backingsEqual,
  clusterJson,
  ctx,
  dpVolume,
  getJson,
  haClusterUp,
  haSkip,
  k,
  linksDown,
  lvOf,
  ok,
  failedOver,
  primaryOf,
  replicasOf,
  restartProcess,
  startWriter,
  stopAndCompare,
  stopWriter,
} from "../helpers/ha-cluster.ts";

useHaCluster("hw-ha-e2e-");

test("HA: replicated writes (2 and 3 replicas); failover after kill -9 and after a veth cut of the primary", { skip: haSkip, timeout: 560_000 }, async () => {
  // ---------------------------------------------------------------- cluster with data planes
  let t0 = Date.now();
  await haClusterUp(3, "3Gi", "hwameistor-storage-lvm-hdd-ha");
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
  const m1 = join(ctx.dir, "mnt", "ha1-node-1");
  await ok("hwameictl", ["volume", "mount", "ha1", "--node", "node-1", "--path", m1]);
  const w1 = startWriter(join(m1, "records"));
  await waitFor(() => w1.acked() >= 200, 120_000, "200 acknowledged records");
  await stopWriter(w1);
  const firstBatch = w1.acked();
  await ok("hwameictl", ["volume", "unmount", "ha1", "--node", "node-1", "--path", m1]);
  const eq = await backingsEqual("ha1", ["node-1", second]);
  console.log(`# ${firstBatch + 1} fsync'd records; primary's and secondary's backings equal over ${eq.bytes / MiB} MiB`);

  // ---------------------------------------------------------------- 3 replicas (the issue allows up to 3)
  // A class like -ha with replicaNumber "3": one replica per node, every write on all three.
  const haClass = await getJson("storageclass", "hwameistor-storage-lvm-hdd-ha");
  const sc3 = { ...haClass, metadata: { name: "e2e-ha3" }, parameters: { ...haClass.parameters, replicaNumber: "3" } };
  await k().ok(["apply", "-f", "-"], JSON.stringify(sc3));
  await ok("hwameictl", ["volume", "create", "ha3", "--class", "e2e-ha3", "--size", "64Mi", "--node", "node-1"]);
  const all = ["node-1", "node-2", "node-3"];
  assert.deepEqual((await lvOf("ha3")).spec.config.replicas.map((r: any) => r.hostname).sort(), all);
  const m3r = join(ctx.dir, "mnt", "ha3");
  await ok("hwameictl", ["volume", "mount", "ha3", "--node", "node-1", "--path", m3r]);
  const w3r = startWriter(join(m3r, "records"));
  await waitFor(() => w3r.acked() >= 100, 120_000, "100 acknowledged records on the 3-replica volume");
  const eq3 = await stopAndCompare("ha3", w3r, "node-1", m3r, all);
  console.log(`# 3 replicas: ${w3r.acked() + 1} fsync'd records; the three backings equal over ${eq3.bytes / MiB} MiB`);

  // ---------------------------------------------------------------- failover (2 and 3 replicas at once)
  // node-1 is the primary of ha1 (2 replicas) and of ha3 (3 replicas), both written when it dies.
  await ok("hwameictl", ["volume", "mount", "ha1", "--node", "node-1", "--path", m1]);
  await ok("hwameictl", ["volume", "mount", "ha3", "--node", "node-1", "--path", m3r]);
  const w2 = startWriter(join(m1, "records"), firstBatch + 1);
  const w3k = startWriter(join(m3r, "records"), w3r.acked() + 1);
  await waitFor(() => w2.acked() >= firstBatch + 100 && w3k.acked() >= w3r.acked() + 50, 120_000, "writes running on the primary of ha1 and ha3");
  const ha3Epoch = (await lvOf("ha3")).spec.config.version;
  // The loop devices node-1's pods mount (over its data plane's FUSE files): they must go once node-1 is back.
  const node1Loops = (await listMounts()).filter((m) => m.target === m1 || m.target === m3r).map((m) => m.source);
  assert.ok(node1Loops.length === 2 && node1Loops.every((d) => /^\/dev\/loop\d+$/.test(d)), `ha1 and ha3 mounted on node-1 from loop devices: ${node1Loops}`);
  const procs = clusterJson().processes;
  process.kill(clusterJson().supervisor.pid, "SIGKILL"); // first, so it restarts nothing
  const killedAt = Date.now();
  for (const p of ["node-1", "node-1-dataplane"]) process.kill(procs[p].pid, "SIGKILL");
  await new Promise((r) => setTimeout(r, 1000));
  for (const w of [w2, w3k]) w.proc.kill("SIGKILL"); // its I/O fails (the FUSE connection died); what it acknowledged is what counts
  await Promise.all([w2.exited, w3k.exited]);
  const acked = w2.acked();
  const acked3 = w3k.acked();
  console.log(`# killed node-1 (agent + data plane) with ${acked + 1} records acknowledged on ha1, ${acked3 + 1} on ha3`);
  await waitFor(async () => failedOver(await lvOf("ha1"), "node-1", second), 120_000, `failover to ${second}`);
  const failedOverAt = Date.now();
  lv = await lvOf("ha1");
  const lease = await getJson("lease", "-n", "hwameistor", "hwameistor-local-storage-worker-node-1").catch(() => undefined);
  const expiry = lease ? Date.parse(lease.spec.renewTime) + lease.spec.leaseDurationSeconds * 1000 : undefined;
  const m2 = join(ctx.dir, "mnt", `ha1-${second}`);
  await ok("hwameictl", ["volume", "mount", "ha1", "--node", second, "--path", m2]);
  const publishedAt = Date.now();
  console.log(
    `# failover: config version ${lv.spec.config.version}; kill → new primary ${((failedOverAt - killedAt) / 1000).toFixed(1)} s, kill → mounted on ${second} ${((publishedAt - killedAt) / 1000).toFixed(1)} s` +
      (expiry ? `; lease expiry → mounted ${((publishedAt - expiry) / 1000).toFixed(1)} s` : ""),
  );
  await verifyRecords(join(m2, "records"), acked);
  console.log(`# all ${acked + 1} acknowledged records present and intact on ${second}: 0 lost`);
  await ok("hwameictl", ["volume", "unmount", "ha1", "--node", second, "--path", m2]);

  // 3 replicas: the first synced replica on a live node takes over at epoch + 1; the third stays a secondary of
  // the new primary (at the new epoch, UpToDate) and keeps receiving writes; node-1 is recorded not synced.
  await waitFor(async () => failedOver(await lvOf("ha3"), "node-1"), 60_000, "failover of ha3");
  const lv3 = await lvOf("ha3");
  assert.equal(lv3.spec.config.version, ha3Epoch + 1, "ha3 failed over at epoch + 1");
  const p3 = primaryOf(lv3);
  const third = ["node-2", "node-3"].find((n) => n !== p3)!;
  const m3b = join(ctx.dir, "mnt", `ha3-${p3}`);
  await ok("hwameictl", ["volume", "mount", "ha3", "--node", p3, "--path", m3b]);
  await verifyRecords(join(m3b, "records"), acked3);
  const w3f = startWriter(join(m3b, "records"), acked3 + 1);
  await waitFor(() => w3f.acked() >= acked3 + 30, 120_000, `writes on ha3's new primary ${p3}`);
  const peerOn = async (node: string, volume: string, peer: string) => (await dpVolume(node, volume))!.peers.find((x) => x.node === peer)!;
  const acksBefore = (await peerOn(p3, "ha3", third)).acksTotal ?? 0;
  await waitFor(() => w3f.acked() >= acked3 + 80, 120_000, `more writes on ha3's new primary ${p3}`);
  await waitFor(async () => (await peerOn(p3, "ha3", third)).state === "UpToDate", 30_000, `the third replica ${third} UpToDate as ${p3} sees it`);
  const thirdPeer = await peerOn(p3, "ha3", third);
  assert.ok((thirdPeer.acksTotal ?? 0) > acksBefore, `${third} keeps acknowledging writes of the new primary (${acksBefore} → ${thirdPeer.acksTotal})`);
  const thirdDp = (await dpVolume(third, "ha3"))!;
  assert.deepEqual(
    [thirdDp.role, thirdDp.epoch, thirdDp.localState],
    ["secondary", ha3Epoch + 1, "UpToDate"],
    `${third}'s data plane: ${JSON.stringify(thirdDp)}`,
  );
  assert.equal((await peerOn(p3, "ha3", "node-1")).state, "Outdated", "the dead node-1 is outdated by the new primary");
  // The agent writes `synced` from the data plane's view every few seconds (the third may just have been resynced
  // the regions the dead primary wrote lately: Inconsistent for a moment).
  const synced3 = async () => JSON.stringify(Object.fromEntries((await replicasOf("ha3")).map((r) => [r.spec.nodeName, r.status.synced]).sort()));
  const want3 = JSON.stringify(Object.fromEntries(all.map((n) => [n, n !== "node-1"])));
  await waitFor(async () => (await synced3()) === want3, 30_000, `ha3's replicas synced: ${want3}`);
  await stopWriter(w3f);
  await verifyRecords(join(m3b, "records"), w3f.acked());
  await ok("hwameictl", ["volume", "unmount", "ha3", "--node", p3, "--path", m3b]);
  console.log(
    `# 3 replicas: ha3 failed over to ${p3} at epoch ${ha3Epoch + 1}, all ${acked3 + 1} acknowledged records there; ${third} stayed its secondary (UpToDate, ${thirdPeer.acksTotal! - acksBefore} more acks) while ${w3f.acked() - acked3} records were written`,
  );

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
  const mb1 = join(ctx.dir, "mnt", "hb-node-2");
  await ok("hwameictl", ["volume", "mount", "hb", "--node", "node-2", "--path", mb1]);
  const wb1 = startWriter(join(mb1, "records"));
  await waitFor(() => wb1.acked() >= 100, 120_000, "writes on hb's primary node-2");
  const resyncedBeforeCut = (await dpVolume("node-3", "hb"))!.bytesResynced ?? 0;
  const veth = networkPlan(ctx.state, ["node-1", "node-2", "node-3"]).nodes.find((n) => n.node === "node-2")!.hostIf;
  linksDown.add(veth);
  await setLinkUp(veth, false);
  const cutAt = Date.now();
  const ackedAtCut = wb1.acked();
  await waitFor(async () => failedOver(await lvOf("hb"), "node-2", "node-3"), 180_000, "failover of hb to node-3");
  const hbFailoverAt = Date.now();
  // One record may have been in flight at the cut (already on the replica, its ack lost); none after it.
  const stalledAt = wb1.acked();
  assert.ok(stalledAt <= ackedAtCut + 1, `the cut-off primary acknowledged records ${ackedAtCut + 1}..${stalledAt} after the cut`);
  const mb2 = join(ctx.dir, "mnt", "hb-node-3");
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
  const mc = join(ctx.dir, "mnt", "hb-again");
  await ok("hwameictl", ["volume", "mount", "hb", "--node", "node-3", "--path", mc]);
  const w4 = startWriter(join(mc, "records"), wb2.acked() + 1);
  await waitFor(() => w4.acked() >= wb2.acked() + 50, 60_000, "writes before the replica's data plane dies");
  const resyncedBefore = (await dpVolume("node-3", "hb"))!.bytesResynced ?? 0;
  process.kill(clusterJson().processes["node-2-dataplane"].pid, "SIGKILL");
  const downAt = Date.now();
  const atKill = w4.acked();
  await waitFor(() => w4.acked() >= atKill + 100, 60_000, "writes continue, degraded, while the replica is down");
  assert.equal((await hbReplica2()).status.synced, false, "the replica that went down is recorded as not synced");
  await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - downAt))));
  await restartProcess("node-2-dataplane");
  await waitFor(async () => (await hbReplica2()).status.synced === true, 180_000, "the replica resynced");
  const resynced = ((await dpVolume("node-3", "hb"))!.bytesResynced ?? 0) - resyncedBefore;
  const after10s = await stopAndCompare("hb", w4, "node-3", mc, live);
  console.log(
    `# replica's data plane down ${((Date.now() - downAt) / 1000).toFixed(0)} s with a writer: ${w4.acked() - atKill} records written degraded; resync copied ${(resynced / MiB).toFixed(1)} MiB of a ${after10s.bytes / MiB} MiB volume; copies equal`,
  );
  assert.ok(resynced < after10s.bytes / 2, "only the dirty regions were resynced");

  // ---------------------------------------------------------------- the dead node comes back
  // node-1's agent and data plane start again (as a restarted node would): its data plane reopens ha1 and ha3 as
  // the primary at the old epoch; its agent configures them as secondaries at the new one; the new primaries
  // reconnect and resync only what node-1 missed (its own activity log included: what it may have written
  // alone when it died is copied to every replica). The pod's mounts over the dead FUSE files let go first.
  const backAt = Date.now();
  const resynced3Before = (await dpVolume(p3, "ha3"))!.bytesResynced ?? 0; // it resyncs as soon as node-1 is configured
  const node1Dataplane = await restartProcess("node-1-dataplane");
  await restartProcess("node-1");
  await ok("hwameictl", ["volume", "unmount", "ha1", "--node", "node-1", "--path", m1]);
  await ok("hwameictl", ["volume", "unmount", "ha3", "--node", "node-1", "--path", m3r]);
  // Its agent detaches the loop devices over its dead data plane's FUSE files once nothing mounts them.
  const deadFuse = nodeLayout(layoutOf(ctx.state), "node-1", 1).dataplane.fuseDir;
  const leftOver = async () =>
    (await listLoops()).filter((l) => node1Loops.includes(l.name) && (["/ha1", "/ha3"].includes(l.backFile) || l.backFile.startsWith(`${deadFuse}/`)));
  await waitFor(async () => (await leftOver()).length === 0, 60_000, `node-1's loop devices over its dead data plane (${node1Loops.join(", ")}) detached`);
  const m3c = join(ctx.dir, "mnt", `ha3-${p3}-again`);
  await ok("hwameictl", ["volume", "mount", "ha3", "--node", p3, "--path", m3c]);
  const w5 = startWriter(join(m3c, "records"), w3f.acked() + 1);
  const replicaOn = async (volume: string, node: string) => (await replicasOf(volume)).find((r) => r.spec.nodeName === node);
  await waitFor(
    async () => (await replicaOn("ha3", "node-1"))?.status?.synced === true && (await replicaOn("ha1", "node-1"))?.status?.synced === true,
    180_000,
    "node-1 back as a synced secondary of ha1 and ha3",
  );
  const rejoined1At = Date.now();
  const n1 = (await dpVolume("node-1", "ha3"))!;
  assert.deepEqual([n1.role, n1.epoch], ["secondary", ha3Epoch + 1], `node-1's data plane: ${JSON.stringify(n1)}`);
  await waitFor(() => w5.acked() >= w3f.acked() + 50, 60_000, `writes on ha3 with node-1 back`);
  const resynced3 = ((await dpVolume(p3, "ha3"))!.bytesResynced ?? 0) - resynced3Before;
  const eq3all = await stopAndCompare("ha3", w5, p3, m3c, all);
  const eq1 = await backingsEqual("ha1", ["node-1", second]);
  console.log(
    `# node-1 back: rejoined ha1 and ha3 as a secondary, synced ${((rejoined1At - backAt) / 1000).toFixed(1)} s after its processes started; ha3 resynced ${(resynced3 / MiB).toFixed(1)} MiB of ${eq3all.bytes / MiB} MiB; the three backings of ha3 equal, the two of ha1 equal (${eq1.bytes / MiB} MiB)`,
  );
  assert.ok(resynced3 > 0 && resynced3 < eq3all.bytes / 2, `only the dirty regions were resynced to node-1 (${resynced3} bytes)`);

  // ---------------------------------------------------------------- 3 replicas: a replica's data plane dies, and comes back elsewhere
  // ha3 (primary p3): node-1's data plane is killed while a writer runs → writes go on with the two others (the
  // third keeps acknowledging), node-1 is recorded not synced. It restarts on ANOTHER address (a new storage IP in
  // its netns and another port): its agent reports it in LocalStorageNode status.replication.address, the
  // primaries' agents reconfigure their data planes with it — no manual step — and only the dirty regions are
  // resynced; the three backings equal.
  const m3d = join(ctx.dir, "mnt", `ha3-${p3}-3`);
  await ok("hwameictl", ["volume", "mount", "ha3", "--node", p3, "--path", m3d]);
  const w6 = startWriter(join(m3d, "records"), w5.acked() + 1);
  await waitFor(() => w6.acked() >= w5.acked() + 50, 60_000, "writes on ha3 before node-1's data plane dies");
  const resynced6Before = (await dpVolume(p3, "ha3"))!.bytesResynced ?? 0;
  const thirdAcks = (await peerOn(p3, "ha3", third)).acksTotal ?? 0;
  process.kill(node1Dataplane, "SIGKILL");
  const down6At = Date.now();
  const at6 = w6.acked();
  await waitFor(() => w6.acked() >= at6 + 100, 60_000, "writes continue on two of three replicas");
  assert.equal((await replicaOn("ha3", "node-1")).status.synced, false, "node-1, whose data plane died, is recorded not synced");
  assert.equal((await replicaOn("ha3", third)).status.synced, true, `${third} stays synced`);
  assert.ok(((await peerOn(p3, "ha3", third)).acksTotal ?? 0) > thirdAcks, `${third} keeps acknowledging writes`);
  const n1net = networkPlan(ctx.state, all).nodes[0]!;
  const newIp = n1net.ip.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) + 100}`);
  const newAddress = `${newIp}:43017`;
  await ensureAddress(n1net.nsIf, `${newIp}/24`, n1net.netns);
  await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - down6At))));
  await restartProcess("node-1-dataplane", (argv) => argv.map((a) => (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a) ? newAddress : a)));
  const movedAt = Date.now();
  await waitFor(async () => (await getJson("localstoragenode", "node-1")).status?.replication?.address === newAddress, 60_000, `node-1 reports ${newAddress}`);
  await waitFor(
    async () => (await peerOn(p3, "ha3", "node-1")).address === newAddress && (await replicaOn("ha3", "node-1"))?.status?.synced === true,
    180_000,
    `ha3's primary ${p3} reconnected node-1 at ${newAddress} and resynced it`,
  );
  const moved3At = Date.now();
  await waitFor(
    async () => (await peerOn(second, "ha1", "node-1")).address === newAddress && (await replicaOn("ha1", "node-1"))?.status?.synced === true,
    180_000,
    `ha1's primary ${second} reconnected node-1 at ${newAddress}`,
  );
  const resynced6 = ((await dpVolume(p3, "ha3"))!.bytesResynced ?? 0) - resynced6Before;
  const eq6 = await stopAndCompare("ha3", w6, p3, m3d, all);
  console.log(
    `# 3 replicas, node-1's data plane down ${((movedAt - down6At) / 1000).toFixed(0)} s: ${w6.acked() - at6} records written on the two others; restarted at ${newAddress} (was ${n1net.ip}:43000): reconnected and resynced ${((moved3At - movedAt) / 1000).toFixed(1)} s later, ${(resynced6 / MiB).toFixed(1)} MiB of ${eq6.bytes / MiB} MiB; the three backings equal`,
  );
  assert.ok(resynced6 < eq6.bytes / 2, "only the dirty regions were resynced");
});
