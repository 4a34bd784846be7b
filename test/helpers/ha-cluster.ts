// Shared by the HA fault tests (test/e2e/ha*.test.ts): a dev cluster with --netns and a data plane per node,
// driven through bin/hwameistor and bin/hwameictl; fsync'd checksummed record writers (test/helpers/records.ts);
// the data plane's status per node; backing devices compared by sha256. Each test file is its own process, so
// the module's state (ctx, writers, restarted processes, cut links) is that file's.
import { after, before } from "node:test";
import assert from "node:assert/strict";
// eslint-disable-next-line no-restricted-imports -- the tests start their writer processes and the CLI
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
import { kubectlRunner, waitFor } from "./kubectl.ts";
import { RECORD_WRITER, verifyRecords } from "./records.ts";

const repo = resolve(import.meta.dirname, "../..");
export const MiB = 2 ** 20;
/** The scratch dir and the cluster's state dir of this test file (set in `before`). */
export const ctx = { dir: "", state: "" };
const writers: ChildProcess[] = [];
/** Processes the test started again (a data plane): killed in `after`. */
export const restartedPids: number[] = [];
/** Host-side veth ends the test set down: set up again in `after`. */
export const linksDown = new Set<string>();
export const haSkip = !existsSync(DATAPLANE_BIN)
  ? `the data plane is not built (${DATAPLANE_BIN}: make -C dataplane)`
  : !existsSync("/dev/fuse")
    ? "no /dev/fuse"
    : false;

export function run(bin: "hwameistor" | "hwameictl", args: string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(
      join(repo, "bin", bin),
      args,
      { cwd: repo, timeout: timeoutMs, maxBuffer: 32 * MiB, env: { ...process.env, HWAMEISTOR_STATE_DIR: ctx.state } },
      (err, stdout, stderr) =>
        res({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0, stdout, stderr }),
    );
  });
}
export async function ok(bin: "hwameistor" | "hwameictl", args: string[]): Promise<string> {
  const r = await run(bin, args);
  assert.equal(r.code, 0, `${bin} ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
export const clusterJson = () => JSON.parse(readFileSync(join(ctx.state, "cluster.json"), "utf8"));
export const k = () => kubectlRunner(join(ctx.state, "kubeconfig"));
export const getJson = async (...args: string[]) => JSON.parse(await k().ok(["get", ...args, "-o", "json"]));

/** A writer process: 4 KiB records (seq, payload, sha256 of the payload), each pwrite'd and fdatasync'd; prints each acked seq. */
export function startWriter(file: string, from = 0): { proc: ChildProcess; acked: () => number; exited: Promise<unknown> } {
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
export async function writeBulk(file: string, bytes: number): Promise<void> {
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

export async function stopWriter(w: { proc: ChildProcess; exited: Promise<unknown> }): Promise<void> {
  w.proc.kill("SIGTERM");
  await w.exited;
}

const dp = (node: string) => new DataplaneClient(join(ctx.state, "nodes", node, "dataplane.sock"), { node, timeoutMs: 10_000 });
export async function dpVolume(node: string, volume: string): Promise<DpVolumeStatus | undefined> {
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

export async function backingsEqual(volume: string, nodes: string[]): Promise<{ bytes: number; sha: string }> {
  const sts = await Promise.all(nodes.map((n) => dpVolume(n, volume)));
  const size = sts[0]!.sizeBytes;
  const shas = await Promise.all(sts.map((s) => shaOf(String((s as unknown as { backingPath: string }).backingPath), size)));
  assert.equal(new Set(shas).size, 1, `backings of ${volume} on ${nodes.join(", ")} differ: ${shas.join(" ")}`);
  return { bytes: size, sha: shas[0]! };
}

/** Stops the writer, checks every record it acknowledged, unmounts the volume and compares its backings. */
export async function stopAndCompare(volume: string, w: ReturnType<typeof startWriter>, node: string, mnt: string, nodes: string[]) {
  await stopWriter(w);
  await verifyRecords(join(mnt, "records"), w.acked());
  await ok("hwameictl", ["volume", "unmount", volume, "--node", node, "--path", mnt]);
  return backingsEqual(volume, nodes);
}

/**
 * Starts a process of the cluster again as the (killed) supervisor would, in its node's netns; `edit` may change
 * its argv (a data plane on another --listen). Its pid is killed in `after`.
 */
export async function restartProcess(name: string, edit: (argv: string[]) => string[] = (a) => a): Promise<number> {
  const spec = processSpecs(ctx.state, clusterJson().options, clusterJson().api).find((x) => x.name === name);
  assert.ok(spec, `no process ${name} in the cluster`);
  const h = await startDaemon(edit(spec.argv), {
    logFile: spec.logFile,
    cwd: repo,
    env: spec.env,
    nsenterNetPath: spec.netns ? netnsPath(spec.netns) : undefined,
  });
  restartedPids.push(h.pid);
  return h.pid;
}

export const lvOf = (name: string) => getJson("localvolume", name);
export const primaryOf = (lv: any): string => lv.spec.config.replicas.find((r: any) => r.primary).hostname;
/** The failover away from `from` is complete: another primary (`to`, if given), and no longer published on `from`
 * (the controller writes the config, then the status: publishing on the new primary is refused in between). */
export const failedOver = (lv: any, from: string, to?: string): boolean => {
  const p = primaryOf(lv);
  return p !== from && (!to || p === to) && lv.status?.publishedNode !== from;
};
export const replicasOf = async (name: string) =>
  ((await getJson("localvolumereplicas")).items as any[]).filter((r) => r.spec.volumeName === name && !r.spec.delete);

/**
 * `cluster up` with `nodes` nodes of one disk each, each node in its own netns with a data plane; resolves when
 * every node reports replication available and the operator made `storageClass`.
 */
export async function haClusterUp(nodes: number, diskSize: string, storageClass: string): Promise<void> {
  await ok("hwameistor", [
    "cluster",
    "up",
    "--nodes",
    String(nodes),
    "--disks-per-node",
    "1",
    "--disk-size",
    diskSize,
    "--netns",
    "--state-dir",
    ctx.state,
    "-o",
    "json",
  ]);
  const replicating = async () =>
    ((await getJson("localstoragenodes")).items as any[]).filter((l) => l.status?.replication?.available && l.status?.state === "Ready").length;
  await waitFor(async () => (await replicating()) === nodes, 180_000, `${nodes} nodes report replication available`);
  await waitFor(async () => (await k().run(["get", "storageclass", storageClass])).code === 0, 60_000, `the StorageClass ${storageClass}`);
}

/**
 * Registers this file's hooks: `before` makes the scratch dir (prefix: the file's own); `after` kills the
 * writers and restarted processes, sets cut links up, unmounts what is under <dir>/mnt and runs
 * `cluster down --purge` — also when the test failed or timed out (its timeout stays below the runner's).
 */
export function useHaCluster(prefix: string): void {
  before(async () => {
    ctx.dir = await mkdtemp(join(tmpdir(), prefix));
    ctx.state = join(ctx.dir, "state");
  });

  after(async () => {
    for (const w of writers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
    for (const pid of restartedPids) if (isAlive(pid)) signalProcess(pid, "SIGKILL");
    for (const link of linksDown) await setLinkUp(link, true).catch(() => {});
    if (ctx.dir) {
      for (const m of (await listMounts()).filter((x) => x.target.startsWith(`${ctx.dir}/mnt`)).reverse()) await unmount(m.target).catch(() => {});
    }
    if (ctx.state && existsSync(ctx.state)) {
      const r = await run("hwameistor", ["cluster", "down", "--purge", "--state-dir", ctx.state]);
      if (r.code !== 0) console.log(`# cleanup down: ${r.stderr}`);
    }
    if (ctx.dir) await rm(ctx.dir, { recursive: true, force: true });
  });
}
