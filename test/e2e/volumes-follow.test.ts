// Volumes follow their workloads (issue 13, "Done when" (a), (c), (e)) on one 3-node dev cluster with --netns
// (each node agent, its data plane and its pods in the node's own network namespace), driven with the real kubectl:
//   (a) the README's PostgreSQL StatefulSet on node A with a writer committing one row per transaction and
//       logging every acknowledged id; LocalVolumeMigrate to node B: the database runs on B and `SELECT count(*)`
//       and the ids match the writer's log; the cut-over pause (longest time without an acknowledged commit) is
//       reported. The test asserts data, not mechanism: whenever the migration says it waits for the volume to
//       be released ("still in use", the offline copy), the test deletes the pod as an operator would.
//   (c) a StatefulSet on an HA volume (2 replicas, the native data plane) writing fsync'd checksummed records;
//       kill -9 of every process of its node (supervisor first, agent, data plane, the pod): the worker lease
//       expires, the node goes Offline, the volume fails over to the replica (new epoch), the node is labelled
//       hwameistor.io/failover=start (the failover assistant, reference §4.5), the pod runs on the replica's
//       node and every acknowledged record is there. Runs last: the node stays dead.
//   (e) a pool (btrfs over node-3's two disks) holding a volume with a 48 MiB blob, the volume mounted and written
//       by a record writer; a new empty disk attached; `hwameictl disk replace` (LocalDiskAction `replace`) moves
//       the pool off the disk holding the most onto it online: the blob's sha256 and every record intact after a
//       remount, the LocalStorageNode and LocalDisks updated (old one Available, no signature left), an Event.
//       A disk already in the pool is refused as the new one.
// Needs root, PostgreSQL 15, xfsprogs. `after` stops the writers, runs `cluster down --purge` and checks that no
// loop device, mount or netns of the cluster is left.

import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readFile, truncate, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { listNetns } from "../../src/host/netns/netns.ts";
import { filesystemShow } from "../../src/host/btrfs/btrfs.ts";
import { devClusterCli } from "../helpers/devcluster.ts";
import { netnsPrefix } from "../../src/devcluster/layout.ts";
import { postgresMissing, startPostgres } from "../helpers/postgres.ts";
import { RECORD_WRITER, lastAcked, verifyRecords } from "../helpers/records.ts";
import { longestPause, startPgWriter, verifyWriterLog, type PgWriter } from "../helpers/pg-writer.ts";
import { startTestCluster, waitFor, type TestCluster } from "../helpers/test-cluster.ts";
import { localVolumeMigrateYaml } from "../helpers/migrate.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : !existsSync("/usr/sbin/mkfs.xfs") ? "needs xfsprogs" : postgresMissing();
const NODES = ["node-1", "node-2", "node-3"];
let c!: TestCluster;
const writers: PgWriter[] = [];
const hostWriters: ChildProcess[] = [];

before(async () => {
  if (skip) return;
  c = await startTestCluster({ prefix: "follow", nodes: 3, args: ["--netns"] });
});

after(async () => {
  for (const w of writers) await w.stop().catch(() => undefined);
  for (const w of hostWriters) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
  if (!c) return;
  const prefix = netnsPrefix(c.state);
  const left = await c.down();
  assert.deepEqual(left.loops, [], "no loop device left");
  assert.deepEqual(left.mounts, [], "no mount left");
  assert.deepEqual(
    (await listNetns()).filter((n) => n.startsWith(prefix)),
    [],
    "no netns left",
  );
});

const execFileP = promisify(execFile);
const jp = async (args: string[], path: string) => (await c.k.run(["get", ...args, "-o", `jsonpath=${path}`])).stdout.trim();

/** On failure: what the pods, the migration, the volumes and the events say. */
async function explain<T>(what: Promise<T>, pod: string): Promise<T> {
  try {
    return await what;
  } catch (e) {
    const show = async (args: string[]) => `$ kubectl ${args.join(" ")}\n${(await c.k.run(args)).stdout}`;
    console.error(
      (
        await Promise.all([
          show(["get", "pods", "-o", "wide"]),
          show(["describe", "pod", pod]),
          show(["get", "lvmigrate,lv,lvr", "-o", "yaml"]),
          show(["get", "events", "-A", "--sort-by=.lastTimestamp"]),
        ])
      ).join("\n"),
    );
    throw e;
  }
}

const CLASS = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-follow-pg}
provisioner: lvm.hwameistor.io
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
parameters: {poolClass: HDD, replicaNumber: "1", csi.storage.k8s.io/fstype: xfs}
`;

test("(a) PostgreSQL migrated from node A to node B while a writer commits: every acknowledged row on B", { skip, timeout: 600_000 }, async () => {
  await c.k.ok(["apply", "-f", "-"], CLASS);
  const pg = await startPostgres(c.k, { name: "pgmig", storageClassName: "e2e-follow-pg", size: "320Mi", netnsOf: (n) => c.netns(n) });
  const writer = await startPgWriter(pg);
  writers.push(writer);
  await waitFor("30 acknowledged commits", () => writer.count() >= 30, 120_000);
  const a = await jp(["pod", pg.pod], "{.spec.nodeName}");
  const b = NODES.find((n) => n !== a)!;
  const volume = await jp(["pvc", pg.claim], "{.spec.volumeName}");
  const t0 = Date.now();
  await c.k.ok(["apply", "-f", "-"], localVolumeMigrateYaml(volume, a, [b]));
  let deletedAt = 0;
  const states = new Set<string>();
  await explain(
    waitFor(
      `the migration done and ${pg.pod} serving on ${b}`,
      async () => {
        const m = await c.k.run(["get", "lvmigrate", `migrate-${volume}`, "-o", "jsonpath={.status.state}|{.status.message}"]);
        const [st, msg] = m.stdout.split("|");
        if (st) states.add(st);
        // The offline copy needs the volume released: the operator's part is to stop the pod.
        if (!deletedAt && /still in use/.test(msg ?? "")) {
          await c.k.ok(["delete", "pod", pg.pod, "--wait=false"]);
          deletedAt = Date.now();
        }
        const primaries = (await jp(["lv", volume], "{.spec.config.replicas[?(@.primary==true)].hostname}")).split(" ").filter(Boolean);
        assert.ok(primaries.length <= 1, `one primary at most, saw ${primaries.join(", ")}`);
        return (
          m.code !== 0 &&
          (await jp(["lv", volume], "{.spec.config.replicas[*].hostname}")) === b &&
          (await jp(["pod", pg.pod], "{.spec.nodeName}")) === b &&
          (await pg.query("SELECT 1")) === "1"
        );
      },
      420_000,
      500,
    ),
    pg.pod,
  );
  const movedAt = Date.now();
  const atMove = writer.count();
  await waitFor("20 more commits on B", () => writer.count() >= atMove + 20, 60_000);
  writers.splice(writers.indexOf(writer), 1);
  const log = await writer.stop();
  assert.equal(await jp(["pod", pg.pod], "{.spec.nodeName}"), b, "the database ran on B at the end");
  const v = await verifyWriterLog(pg, log);
  const pause = longestPause(log, t0, movedAt + 1);
  console.log(
    `# PostgreSQL ${volume} ${a} → ${b}: migration ${((movedAt - t0) / 1000).toFixed(1)} s (states ${[...states].join(" → ") || "none seen"}${deletedAt ? `; pod deleted by the test when asked, +${((deletedAt - t0) / 1000).toFixed(1)} s` : ""})`,
  );
  console.log(
    `# cut-over pause (no commit acknowledged): ${(pause.ms / 1000).toFixed(1)} s, between ids ${pause.lastBefore} and ${pause.firstAfter}; ` +
      `SELECT count(*) = ${v.rows} = ${v.acked} acknowledged + ${v.unknownPresent} of ${log.unknown.length} unacknowledged attempts; 0 acknowledged rows lost`,
  );
  assert.ok(pause.ms > 0 && pause.lastBefore! < pause.firstAfter!, "the writer saw commits before and after the cut-over");
  const lvr = (await jp(["lvr"], "{range .items[*]}{.spec.volumeName}={.spec.nodeName} {end}")).split(" ").filter((x) => x.startsWith(`${volume}=`));
  assert.deepEqual(lvr, [`${volume}=${b}`], "one replica, on B");
  assert.match(await jp(["pv", volume], "{.spec.nodeAffinity}"), new RegExp(b));
  await pg.remove();
});

test(
  "(e) a disk of a pool holding data replaced online while a volume is written: checksums equal, the old disk released",
  { skip, timeout: 420_000 },
  async () => {
    const node = "node-3";
    const cli = devClusterCli(() => c.state);
    await c.k.ok(["apply", "-f", "-"], CLASS);
    const mnt = join(c.dir, "mnt", "dr");
    // Keep the operator from claiming the new disk into the pool the moment it appears (Cluster spec.notClaimDisk).
    const cluster = await jp(["hmcluster"], "{.items[0].metadata.name}");
    await c.k.ok(["patch", "hmcluster", cluster, "--type=merge", "-p", '{"spec":{"notClaimDisk":true}}']);
    await cli.ok("hwameictl", ["volume", "create", "dr1", "--class", "e2e-follow-pg", "--size", "320Mi", "--node", node]);
    await cli.ok("hwameictl", ["volume", "mount", "dr1", "--node", node, "--path", mnt]);
    const blob = randomBytes(48 * 2 ** 20);
    await writeFile(join(mnt, "blob"), blob);
    await cli.ok("hwameictl", ["volume", "unmount", "dr1", "--node", node, "--path", mnt]); // flushed to the pool
    await cli.ok("hwameictl", ["volume", "mount", "dr1", "--node", node, "--path", mnt]);
    const sum = createHash("sha256").update(blob).digest("hex");
    const writer = spawn(process.execPath, ["-e", RECORD_WRITER, join(mnt, "records"), "0"], { stdio: ["ignore", "pipe", "ignore"] });
    hostWriters.push(writer);
    let out = "";
    writer.stdout!.on("data", (d: Buffer) => (out += d.toString()));

    // The pool's disk holding the most, and a new empty disk of the same size attached to the node.
    const poolMount = join(c.state, "nodes", node, "state", "pools", "LocalStorage_PoolHDD");
    const before = (await filesystemShow(poolMount))!;
    const old = [...before.devices].sort((x, y) => y.usedBytes - x.usedBytes)[0]!;
    assert.ok(old.usedBytes > 0, `${old.path} holds data`);
    const file = join(c.state, "nodes", node, "disks", "disk-new.img");
    await writeFile(file, "");
    await truncate(file, old.sizeBytes);
    const fresh = (await execFileP("losetup", ["-f", "--show", "--direct-io=on", file])).stdout.trim();
    const ldOf = async (dev: string) =>
      (await jp(["ld"], `{range .items[?(@.spec.devicePath=="${dev}")]}{.metadata.name} {.status.claimState} {.spec.claimRef.name}{end}`)).split(" ");
    await waitFor(`the LocalDisk of ${fresh} Available`, async () => (await ldOf(fresh))[1] === "Available", 120_000, 1000);
    const [oldLd] = await ldOf(old.path);
    const [newLd] = await ldOf(fresh);

    // Bad input first: a disk already in the pool cannot take another's place — refused, naming why.
    const other = before.devices.find((d) => d.path !== old.path)!;
    const refused = await cli.run("hwameictl", ["disk", "replace", node, old.path, other.path]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /is claimed by .*name an unclaimed disk|is Bound, not Available/);

    const t0 = Date.now();
    const atStart = lastAcked(out);
    const r = await cli.run("hwameictl", ["--timeout", "300", "disk", "replace", node, old.path, fresh]);
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, `hwameictl disk replace: ${r.stderr}`);
    assert.match(r.stdout, /Succeeded/);
    const during = lastAcked(out) - atStart;
    writer.kill("SIGTERM");
    await new Promise((res) => writer.once("close", res));
    assert.ok(during > 0, "the volume was written while its pool's disk was replaced");

    const after = (await filesystemShow(poolMount))!;
    assert.deepEqual(after.devices.map((d) => d.path).sort(), [other.path, fresh].sort(), "the pool holds the new disk in the old one's place");
    await waitFor(
      "LocalStorageNode and LocalDisks updated",
      async () => {
        const disks = await jp(["lsn", node], "{.status.pools.LocalStorage_PoolHDD.disks[*].devPath}");
        const [, oldState, oldClaim] = await ldOf(old.path);
        const [, newState] = await ldOf(fresh);
        return disks.split(" ").sort().join(" ") === [other.path, fresh].sort().join(" ") && oldState === "Available" && !oldClaim && newState === "Bound";
      },
      90_000,
      1000,
    );
    assert.match(await jp(["lda", `replace-${oldLd}`], "{.status.message}"), new RegExp(`${oldLd} .* replaced by ${newLd}`));
    assert.match((await c.k.run(["get", "events", "-A", "--field-selector", "reason=DiskReplaced"])).stdout, /DiskReplaced/);
    const sig = await execFileP("blkid", ["-p", old.path]).then(
      (x) => x.stdout,
      () => "",
    );
    assert.equal(sig, "", `the old disk ${old.path} carries no btrfs signature any more`);

    // The data, read back from the new disk: unmounted and mounted again (the loop reads with direct I/O).
    await cli.ok("hwameictl", ["volume", "unmount", "dr1", "--node", node, "--path", mnt]);
    await cli.ok("hwameictl", ["volume", "mount", "dr1", "--node", node, "--path", mnt]);
    assert.equal(
      createHash("sha256")
        .update(await readFile(join(mnt, "blob")))
        .digest("hex"),
      sum,
      "the blob's sha256 after the replacement",
    );
    await verifyRecords(join(mnt, "records"), lastAcked(out));
    await cli.ok("hwameictl", ["volume", "unmount", "dr1", "--node", node, "--path", mnt]);
    console.log(
      `# disk replace on ${node}: ${old.path} (${(old.usedBytes / 2 ** 20).toFixed(0)} MiB used) → ${fresh} in ${(ms / 1000).toFixed(1)} s with a writer on the pool ` +
        `(${during} records written meanwhile); sha256 of a 48 MiB blob equal after, ${lastAcked(out) + 1} records intact; ${old.path} released (Available, no signature)`,
    );
    console.log(`# $ hwameictl disk replace ${node} ${old.path} ${fresh}\n${r.stdout.trim()}`);
  },
);

test(
  "(c) kill -9 of every process of the node with an HA volume published: the pod fails over with every acknowledged write",
  { skip, timeout: 600_000 },
  async () => {
    await waitFor(
      "the -ha StorageClass (two nodes replicate)",
      async () => (await c.k.run(["get", "storageclass", "hwameistor-storage-lvm-hdd-ha"])).code === 0,
      180_000,
    );
    // The writer is the pod's command (pods run the host's binaries): it resumes after the last whole record.
    await c.k.ok(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "hawriter" },
        spec: {
          replicas: 1,
          serviceName: "hawriter",
          selector: { matchLabels: { app: "hawriter" } },
          template: {
            metadata: { labels: { app: "hawriter" } },
            spec: {
              schedulerName: "hwameistor-scheduler",
              terminationGracePeriodSeconds: 2,
              containers: [
                {
                  name: "w",
                  image: "node:22",
                  command: [process.execPath, "-e", RECORD_WRITER, "/data/records"],
                  volumeMounts: [{ name: "data", mountPath: "/data" }],
                },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: "data" },
              spec: { accessModes: ["ReadWriteOnce"], storageClassName: "hwameistor-storage-lvm-hdd-ha", resources: { requests: { storage: "320Mi" } } },
            },
          ],
        },
      }),
    );
    const pod = "hawriter-0";
    await explain(
      waitFor(`${pod} Running`, async () => (await jp(["pod", pod], "{.status.phase}")) === "Running", 240_000),
      pod,
    );
    const x = await jp(["pod", pod], "{.spec.nodeName}");
    const uid = await jp(["pod", pod], "{.metadata.uid}");
    const volume = await jp(["pvc", `data-${pod}`], "{.spec.volumeName}");
    const logOf = (node: string, podUid: string) => join(c.state, "nodes", node, "kubelet", "pods", podUid, "logs", "w", "0.log");
    const acked = () => lastAcked(existsSync(logOf(x, uid)) ? readFileSync(logOf(x, uid), "utf8") : "");
    await waitFor("100 acknowledged records", () => acked() >= 100, 120_000);
    const hosts = (await jp(["lv", volume], "{.spec.config.replicas[*].hostname}")).split(" ");
    assert.equal(hosts.length, 2, `two replicas (${hosts.join(", ")})`);
    assert.equal(await jp(["lv", volume], "{.spec.config.replicas[?(@.primary==true)].hostname}"), x, "the pod's node is the primary");
    const r = hosts.find((h) => h !== x)!;
    const version = Number(await jp(["lv", volume], "{.spec.config.version}"));

    const killedAt = Date.now();
    const pids = await c.killNode(x);
    // The old pod's log is a file on this host: what it printed is what fdatasync acknowledged before the kill.
    const last = acked();
    console.log(`# killed -9 ${pids.length} processes of ${x} (supervisor, agent, data plane, pod) with records 0..${last} acknowledged`);
    await waitFor(`${x} Offline`, async () => (await jp(["lsn", x], "{.status.state}")) === "Offline", 180_000, 1000);
    const offlineAt = Date.now();
    // The failover assistant's trigger (reference §4.5): the operator labels the dead node.
    await c.k.ok(["label", "node", x, "hwameistor.io/failover=start", "--overwrite"]);
    await explain(
      waitFor(
        `${pod} Running on ${r}`,
        async () =>
          (await jp(["pod", pod], "{.spec.nodeName}")) === r &&
          (await jp(["pod", pod], "{.status.phase}")) === "Running" &&
          (await jp(["pod", pod], "{.metadata.uid}")) !== uid,
        240_000,
        500,
      ),
      pod,
    );
    const runningAt = Date.now();
    assert.equal(await jp(["node", x], "{.metadata.labels.hwameistor\\.io/failover}"), "completed");
    assert.equal(await jp(["lv", volume], "{.spec.config.replicas[?(@.primary==true)].hostname}"), r, "the replica's node is the primary");
    assert.ok(Number(await jp(["lv", volume], "{.spec.config.version}")) > version, "a new epoch");
    const newUid = await jp(["pod", pod], "{.metadata.uid}");
    await waitFor("the replacement writing", () => lastAcked(existsSync(logOf(r, newUid)) ? readFileSync(logOf(r, newUid), "utf8") : "") > last, 120_000);
    const resumedFrom = Number(/^START (\d+)$/m.exec(readFileSync(logOf(r, newUid), "utf8"))?.[1]);
    assert.ok(resumedFrom > last, `the replacement found every acknowledged record (resumed at ${resumedFrom}, ${last} acknowledged)`);
    await verifyRecords(join(c.state, "nodes", r, "kubelet", "pods", newUid, "volumes", "kubernetes.io~csi", volume, "mount", "records"), last);
    console.log(
      `# failover of ${volume} ${x} → ${r}: kill → ${x} Offline ${((offlineAt - killedAt) / 1000).toFixed(1)} s, kill → ${pod} Running on ${r} ${((runningAt - killedAt) / 1000).toFixed(1)} s ` +
        `(label → Running ${((runningAt - offlineAt) / 1000).toFixed(1)} s); all ${last + 1} acknowledged records present and intact: 0 lost`,
    );
  },
);
