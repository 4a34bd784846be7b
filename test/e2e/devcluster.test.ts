// The dev cluster end to end (issue 5 "Done when"): `hwameistor cluster up` with 3 node agents (each in its
// own network namespace), real kubectl sees every LocalStorageNode Ready with a pool and the StorageClass;
// `hwameictl` creates and mounts a volume on EACH node, data is written and verified; one node agent is
// SIGKILLed, the supervisor restarts it (logged) and its volume stays mounted and readable; `cluster down`
// leaves no loop device, mount, namespace or process of ours. Needs root. `after` runs `cluster down
// --purge` and removes the temp dir, also on failure.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { listLoops } from "../../src/host/loop/loop.ts";
import { listMounts } from "../../src/host/mount/mount.ts";
import { listNetns } from "../../src/host/netns/netns.ts";
import { netnsPrefix } from "../../src/devcluster/layout.ts";
import { kubectlRunner, waitFor } from "../helpers/kubectl.ts";

const repo = resolve(import.meta.dirname, "../..");
const NODES = ["node-1", "node-2", "node-3"];
let dir = "";
let state = "";
let mnt = "";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
function run(bin: "hwameistor" | "hwameictl", args: string[], timeoutMs = 300_000): Promise<Result> {
  return new Promise((res) => {
    execFile(
      join(repo, "bin", bin),
      args,
      { cwd: repo, timeout: timeoutMs, maxBuffer: 32 * 2 ** 20, env: { ...process.env, HWAMEISTOR_STATE_DIR: state } },
      (err, stdout, stderr) => res({ code: err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0, stdout, stderr }),
    );
  });
}
async function ok(bin: "hwameistor" | "hwameictl", args: string[]): Promise<string> {
  const r = await run(bin, args);
  assert.equal(r.code, 0, `${bin} ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
const clusterJson = () => JSON.parse(readFileSync(join(state, "cluster.json"), "utf8"));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const data = new Map<string, Buffer>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-devcluster-e2e-"));
  state = join(dir, "state");
  mnt = join(dir, "mnt");
});

after(async () => {
  if (state && existsSync(state)) {
    const r = await run("hwameistor", ["cluster", "down", "--purge", "--state-dir", state]);
    if (r.code !== 0) console.log(`# cleanup down: ${r.stderr}`);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("cluster up: 3 nodes Ready with pools and the StorageClass, seen by kubectl", { timeout: 400_000 }, async () => {
  const t0 = Date.now();
  const out = await ok("hwameistor", [
    "cluster",
    "up",
    "--nodes",
    "3",
    "--disks-per-node",
    "2",
    "--disk-size",
    "1Gi",
    "--netns",
    "--state-dir",
    state,
    "-o",
    "json",
  ]);
  const upMs = Date.now() - t0;
  const r = JSON.parse(out);
  console.log(`# cluster up (3 nodes × 2 × 1Gi, --netns): ${(upMs / 1000).toFixed(1)} s wall, ${(r.durationMs / 1000).toFixed(1)} s inside up`);
  assert.equal(r.kubeconfig, join(state, "kubeconfig"));
  for (const f of [
    "kubeconfig",
    "cluster.json",
    "controller/lvm.sock",
    "controller/disk.sock",
    ...NODES.flatMap((n) => [`nodes/${n}/lvm.sock`, `nodes/${n}/disk.sock`]),
    "logs/apiserver.log",
    "logs/supervisor.log",
  ]) {
    assert.ok(existsSync(join(state, f)), `${f} exists`);
  }
  const k = kubectlRunner(r.kubeconfig);
  const lsns = JSON.parse(await k.ok(["get", "localstoragenodes", "-o", "json"])).items as any[];
  assert.deepEqual(lsns.map((x) => x.metadata.name).sort(), NODES);
  for (const l of lsns) {
    assert.equal(l.status.state, "Ready", l.metadata.name);
    assert.ok(l.status.pools.LocalStorage_PoolHDD.totalCapacityBytes > 0, `${l.metadata.name} has a pool`);
  }
  const sc = JSON.parse(await k.ok(["get", "storageclass", "hwameistor-storage-lvm-hdd", "-o", "json"]));
  assert.equal(sc.provisioner, "lvm.hwameistor.io");
  assert.equal(sc.volumeBindingMode, "WaitForFirstConsumer");
  assert.equal(sc.parameters.poolClass, "HDD");
  const cluster = JSON.parse(await k.ok(["get", "hmcluster", "cluster-sample", "-o", "json"]));
  assert.equal(cluster.status.phase, "CreatedLDC");
  // The operator's claims bound every disk to local-storage (the storage part deletes a claim once consumed).
  const lds = JSON.parse(await k.ok(["get", "localdisks", "-o", "json"])).items as any[];
  assert.equal(lds.length, 6);
  for (const d of lds) assert.deepEqual([d.spec.owner, d.status.claimState], ["local-storage", "Bound"], d.metadata.name);
  // Each agent is in its own network namespace.
  const pids = NODES.map((n) => clusterJson().processes[n].pid as number);
  const netns = new Set([readlinkSync("/proc/self/ns/net"), ...pids.map((p) => readlinkSync(`/proc/${p}/ns/net`))]);
  assert.equal(netns.size, 4, "three namespaces besides the host's");
  const mntns = new Set([readlinkSync("/proc/self/ns/mnt"), ...pids.map((p) => readlinkSync(`/proc/${p}/ns/mnt`))]);
  assert.equal(mntns.size, 1, "mounts stay shared with the host");

  // Harmless second up; different options refused without changes.
  const again = JSON.parse(await ok("hwameistor", ["cluster", "up", "--state-dir", state, "-o", "json"]));
  assert.equal(again.alreadyRunning, true);
  const differ = await run("hwameistor", ["cluster", "up", "--nodes", "4", "--state-dir", state]);
  assert.equal(differ.code, 4, differ.stderr);
  assert.match(differ.stderr, /--nodes: the cluster has 3, this command asks for 4/);
});

test("hwameictl: bad input names the valid choices, with exit codes", { timeout: 120_000 }, async () => {
  const badClass = await run("hwameictl", ["volume", "create", "x", "--class", "gold", "--size", "1Gi"]);
  assert.equal(badClass.code, 3);
  assert.match(badClass.stderr, /StorageClass "gold" not found.*hwameistor-storage-lvm-hdd/);
  const badSize = await run("hwameictl", ["volume", "create", "x", "--class", "hwameistor-storage-lvm-hdd", "--size", "2GB"]);
  assert.equal(badSize.code, 2);
  assert.match(badSize.stderr, /2Gi/);
  const badNode = await run("hwameictl", ["volume", "create", "x", "--class", "hwameistor-storage-lvm-hdd", "--size", "1Gi", "--node", "node-9"]);
  assert.equal(badNode.code, 3);
  assert.match(badNode.stderr, /node "node-9" not found.*node-1, node-2, node-3/);
  assert.equal((await run("hwameictl", ["volume", "get", "nope"])).code, 3);
  const nodes = await ok("hwameictl", ["node", "list"]);
  for (const n of NODES) assert.match(nodes, new RegExp(`${n}\\s+Ready\\s+Ready\\s+Ready`));
  const pools = JSON.parse(await ok("hwameictl", ["pool", "list", "-o", "json"]));
  assert.equal(pools.filter((p: any) => p.pool === "LocalStorage_PoolHDD").length, 3);
});

test("a volume created and mounted on each node, data written and verified", { timeout: 600_000 }, async () => {
  for (const n of NODES) {
    const t0 = Date.now();
    await ok("hwameictl", ["volume", "create", `vol-${n}`, "--class", "hwameistor-storage-lvm-hdd", "--size", "512Mi", "--node", n]);
    await ok("hwameictl", ["volume", "mount", `vol-${n}`, "--node", n, "--path", join(mnt, n)]);
    const b = randomBytes(4 * 2 ** 20);
    writeFileSync(join(mnt, n, "data.bin"), b, { flush: true });
    data.set(n, b);
    console.log(`# ${n}: create + mount + write 4 MiB in ${Date.now() - t0} ms`);
  }
  const mounts = await listMounts();
  for (const n of NODES) {
    assert.ok(
      mounts.some((m) => m.target === join(mnt, n)),
      `${n} mounted`,
    );
    assert.equal(sha(readFileSync(join(mnt, n, "data.bin"))), sha(data.get(n)!));
  }
  const vols = JSON.parse(await ok("hwameictl", ["volume", "list", "-o", "json"]));
  for (const n of NODES) assert.deepEqual(vols.find((v: any) => v.name === `vol-${n}`)?.published, n);
});

test("a SIGKILLed node agent is restarted by the supervisor; its volume stays mounted and readable", { timeout: 300_000 }, async () => {
  const before = clusterJson().processes["node-2"];
  process.kill(before.pid, "SIGKILL");
  await waitFor(
    () => clusterJson().processes["node-2"].pid !== before.pid && clusterJson().processes["node-2"].restarts === before.restarts + 1,
    60_000,
    "node-2 restarted",
  );
  const log = readFileSync(join(state, "logs/supervisor.log"), "utf8");
  assert.match(log, new RegExp(`process node-2 \\(pid ${before.pid}\\) killed by SIGKILL`));
  assert.match(log, /restarted node-2 as pid \d+ \(restart #1\)/);
  assert.match(readFileSync(join(state, "logs/node-2.log"), "utf8"), /\[supervisor\] restarted node-2/);
  // still mounted and readable, while and after the agent comes back
  assert.equal(sha(readFileSync(join(mnt, "node-2", "data.bin"))), sha(data.get("node-2")!));
  await waitFor(async () => (await run("hwameictl", ["node", "list"])).stdout.match(/node-2\s+Ready\s+Ready\s+Ready/) !== null, 120_000, "node-2 Ready again");
  assert.ok((await listMounts()).some((m) => m.target === join(mnt, "node-2")));
  assert.equal(sha(readFileSync(join(mnt, "node-2", "data.bin"))), sha(data.get("node-2")!));
  const st = JSON.parse(await ok("hwameistor", ["cluster", "status", "--state-dir", state, "-o", "json"]));
  assert.equal(st.processes.find((p: any) => p.name === "node-2").restarts, 1);
  assert.ok(st.processes.every((p: any) => p.state === "running"));
  // the restarted agent serves: unmount through it, mount again, data intact
  await ok("hwameictl", ["volume", "unmount", "vol-node-2", "--node", "node-2", "--path", join(mnt, "node-2")]);
  await ok("hwameictl", ["volume", "mount", "vol-node-2", "--node", "node-2", "--path", join(mnt, "node-2")]);
  assert.equal(sha(readFileSync(join(mnt, "node-2", "data.bin"))), sha(data.get("node-2")!));
});

test("cluster down leaves no loop device, mount, namespace or process of ours", { timeout: 300_000 }, async () => {
  const pids = [clusterJson().supervisor.pid, ...Object.values(clusterJson().processes).map((p: any) => p.pid)] as number[];
  const t0 = Date.now();
  await ok("hwameistor", ["cluster", "down", "--state-dir", state]);
  console.log(`# cluster down: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.deepEqual(
    (await listLoops()).filter((l) => l.backFile.startsWith(dir + "/")).map((l) => l.name),
    [],
  );
  assert.deepEqual(
    (await listMounts()).filter((m) => m.target.startsWith(dir + "/")).map((m) => m.target),
    [],
  );
  assert.deepEqual(
    (await listNetns()).filter((n) => n.startsWith(netnsPrefix(state))),
    [],
  );
  for (const p of pids) assert.ok(!existsSync(`/proc/${p}`) || !readFileSync(`/proc/${p}/cmdline`, "utf8").includes(state), `pid ${p} gone`);
  const ours = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(state);
      } catch {
        return false;
      }
    });
  assert.deepEqual(ours, []);
  assert.ok(existsSync(join(state, "nodes/node-1/disks/disk-1.img")), "data kept without --purge");
  await ok("hwameistor", ["cluster", "down", "--purge", "--state-dir", state]);
  assert.ok(!existsSync(state));
});
