// The node agent as separate processes (`bin/hwameistor node`) against an API server process, two agents
// with disjoint --devices on one machine (one selecting its loop disks by backing file, one by device path),
// checked with the real kubectl. Needs root. Every process, loop device and file is removed in `after`.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../../src/host/loop/loop.ts";
import { kubectlRunner, waitFor } from "../helpers/kubectl.ts";

const repo = resolve(import.meta.dirname, "../..");
const bin = join(repo, "bin/hwameistor");
const MiB = 2 ** 20;

let dir = "";
const procs: ChildProcess[] = [];
const logs = new Map<ChildProcess, string>();
let k: ReturnType<typeof kubectlRunner>;
let kubeconfig = "";
const loops: LoopDevice[] = [];

/** Spawns `bin/hwameistor args` and resolves its first stdout line (the ready line) as JSON. */
function startProcess(args: string[]): Promise<{ proc: ChildProcess; ready: Record<string, unknown> }> {
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], cwd: repo });
  procs.push(proc);
  logs.set(proc, "");
  proc.stderr!.on("data", (d) => logs.set(proc, (logs.get(proc)! + d.toString()).slice(-20_000)));
  return new Promise((res, rej) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once("line", (line) => res({ proc, ready: JSON.parse(line) as Record<string, unknown> }));
    proc.once("exit", (code) => rej(new Error(`hwameistor ${args[0]} exited ${code} before ready:\n${logs.get(proc)}`)));
  });
}

const exited = (p: ChildProcess) => new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once("exit", (code) => r(code))));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-ldm-e2e-"));
  for (const n of ["n1", "n2"]) await mkdir(join(dir, n));
  const { ready } = await startProcess(["apiserver", "--data-dir", join(dir, "api"), "--port", "0", "--log-level", "warn"]);
  kubeconfig = ready.kubeconfig as string;
  k = kubectlRunner(kubeconfig);
  await k.ok(["apply", "-f", join(repo, "deploy/crds")]);
  await k.ok(["wait", "--for=condition=Established", "--timeout=20s", "crd", "--all"]);
  for (const [f, size] of [
    ["n1/a.img", 512],
    ["n1/b.img", 256],
    ["n2/c.img", 384],
  ] as const) {
    await createSparseFile(join(dir, f), size * MiB);
    loops.push(await attachLoop(join(dir, f)));
  }
});

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
  await Promise.race([Promise.all(procs.map(exited)), new Promise((r) => setTimeout(r, 10_000))]);
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/")) await detachLoop(l.name).catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface LdJson {
  metadata: { name: string };
  spec: { nodeName: string; devicePath?: string; capacity: number; diskAttributes: { type: string } };
  status?: { claimState?: string };
}

test("two node agents with disjoint --devices discover their own disks; kubectl sees LocalDisks, LocalDiskNodes, Nodes", async () => {
  // Local storage off: this test checks that a local-storage claim is bound; consuming it into a pool is
  // test/e2e/local-storage.test.ts.
  const common = ["--kubeconfig", kubeconfig, "--resync-seconds", "10", "--log-level", "warn", "--no-local-storage"];
  const a1 = await startProcess([
    "node",
    "--node-name",
    "e2e-n1",
    "--devices",
    `file:${dir}/n1/*.img`,
    "--disk-class",
    "SSD",
    "--state-dir",
    join(dir, "s1"),
    ...common,
  ]);
  const a2 = await startProcess([
    "node",
    "--node-name",
    "e2e-n2",
    "--devices",
    loops[2]!.name,
    "--disk-class",
    "NVMe",
    "--state-dir",
    join(dir, "s2"),
    ...common,
  ]);
  assert.equal(a1.ready.ready, true);
  assert.equal(a2.ready.ready, true);
  const t0 = Date.now();
  let lds: LdJson[] = [];
  await waitFor(
    async () => {
      lds = (JSON.parse(await k.ok(["get", "ld", "-o", "json"])) as { items: LdJson[] }).items;
      return lds.length === 3 && lds.every((d) => d.status?.claimState === "Available");
    },
    15_000,
    "3 Available LocalDisks",
  );
  console.log(`# both agents ready → 3 Available LocalDisks (seen by kubectl) in ${Date.now() - t0} ms`);
  const n1 = lds.filter((d) => d.spec.nodeName === "e2e-n1");
  assert.deepEqual(n1.map((d) => d.spec.capacity).sort(), [256 * MiB, 512 * MiB]);
  assert.ok(n1.every((d) => d.spec.diskAttributes.type === "SSD"));
  const n2 = lds.filter((d) => d.spec.nodeName === "e2e-n2");
  assert.equal(n2.length, 1);
  assert.equal(n2[0]!.spec.devicePath, loops[2]!.name);
  assert.equal(n2[0]!.spec.diskAttributes.type, "NVMe");
  const table = await k.ok(["get", "ld"]);
  assert.match(table, /NAME\s+NODEMATCH\s+DEVICEPATH\s+OWNER\s+PHASE\s+STATE\s+AGE/);
  assert.match(table, /e2e-n2\s+\/dev\/loop\d+\s+Available\s+Active/);
  await waitFor(async () => /e2e-n1\s+0\s+0\s+0\s+Ready/.test(await k.ok(["get", "ldn"])), 10_000, "LocalDiskNodes Ready");
  const nodes = await k.ok(["get", "nodes"]);
  assert.match(nodes, /e2e-n1\s+Ready/);
  assert.match(nodes, /e2e-n2\s+Ready/);
});

test("a claim applied with kubectl is bound by the right agent; one that cannot match stays Pending", async () => {
  const claim = (name: string, node: string, type: string, cap: number) => `apiVersion: hwameistor.io/v1alpha1
kind: LocalDiskClaim
metadata:
  name: ${name}
spec:
  nodeName: ${node}
  owner: local-storage
  description:
    diskType: ${type}
    capacity: ${cap}
`;
  await k.ok(["apply", "-f", "-"], claim("n2-nvme", "e2e-n2", "NVMe", 300 * MiB) + "---\n" + claim("n1-hdd", "e2e-n1", "HDD", MiB));
  await waitFor(async () => /n2-nvme\s+e2e-n2\s+Bound\s+local-storage/.test(await k.ok(["get", "ldc"])), 10_000, "n2-nvme Bound");
  const ldc = await k.ok(["get", "ldc"]);
  assert.match(ldc, /n1-hdd\s+e2e-n1\s+Pending/, ldc);
  const lds = await k.ok(["get", "ld", "-o", "wide"]);
  assert.match(lds, /e2e-n2\s+\S*\s*\/dev\/loop\d+\s+\S*\s*local-storage\s+Bound/, lds);
  let why = "";
  await waitFor(
    async () => {
      const ev = JSON.parse(await k.ok(["get", "events", "-n", "default", "-o", "json"])) as {
        items: Array<{ reason: string; message: string; involvedObject: { name: string } }>;
      };
      why = ev.items.find((e) => e.involvedObject.name === "n1-hdd" && e.reason === "LocalDiskClaimAssignFail")?.message ?? "";
      return why !== "";
    },
    10_000,
    "LocalDiskClaimAssignFail event",
  );
  assert.match(why, /type SSD, claim wants HDD/);
});

test("SIGTERM stops an agent gracefully", async () => {
  const agent = procs[1]!;
  const t0 = Date.now();
  agent.kill("SIGTERM");
  assert.equal(await exited(agent), 0, logs.get(agent));
  assert.ok(Date.now() - t0 < 10_000);
});
