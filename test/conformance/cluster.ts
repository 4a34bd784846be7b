// The process setup the CSI conformance tests run against: `hwameistor apiserver`, `hwameistor controller`
// and one `hwameistor node` agent (file engine) with four loop disks — two claimed for the LVM pool
// (lvm.hwameistor.io), two claimed as whole disks (disk.hwameistor.io) — exactly as the e2e journeys start
// them. Everything it creates (processes, loop devices, mounts, temp dir) is removed by `stop()`.

import assert from "node:assert/strict";
import fs from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { attachLoop, createSparseFile, listLoops } from "../../src/host/loop/loop.ts";
import { listMounts, unmountAll } from "../../src/host/mount/mount.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { hwameistorClients, type HwameistorClients } from "../../src/kube/hwameistor.ts";

import { cleanupUnder } from "../../src/node/engines/host-test-helpers.ts";
import { applyKindCrds } from "../helpers/api-server.ts";
import { exited, hwameistorProcesses } from "../helpers/processes.ts";

const MiB = 2 ** 20;
export const NODE = "conf-n1";
/** The LVM pool: two 1.5 GiB sparse disks (≈ 2.9 GiB: the snapshot test holds ~2.4 GiB at its peak). */
const LVM_DISK_BYTES = 1536 * MiB;
/** Whole-disk volumes: two 512 MiB disks (an xfs volume needs ≥ 300 MiB). */
export const DISK_BYTES = 512 * MiB;

export const skipReason =
  process.getuid?.() !== 0
    ? "needs root"
    : !fs.existsSync("/usr/sbin/mkfs.btrfs") || !fs.existsSync("/usr/sbin/mkfs.xfs")
      ? "needs btrfs-progs and xfsprogs"
      : undefined;

export interface ConformanceCluster {
  dir: string;
  c: HwameistorClients;
  /** Sockets: [controller, node] per driver. */
  sockets: { lvm: { controller: string; node: string }; disk: { controller: string; node: string } };
  /** A directory for targets (mount points) under the cluster's temp dir. */
  targetsDir: string;
  logs(): string;
  stop(): Promise<void>;
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startConformanceCluster(): Promise<ConformanceCluster> {
  const dir = await mkdtemp(join(tmpdir(), "hw-conformance-"));
  const { procs, logs, startProcess } = hwameistorProcesses();
  const disksDir = join(dir, NODE, "disks");
  await mkdir(disksDir, { recursive: true });
  await mkdir(join(dir, "targets"));
  const devs: Record<string, string> = {};
  for (const [d, bytes] of [
    ["lvm-a", LVM_DISK_BYTES],
    ["lvm-b", LVM_DISK_BYTES],
    ["disk-a", DISK_BYTES],
    ["disk-b", DISK_BYTES],
  ] as const) {
    await createSparseFile(join(disksDir, `${d}.img`), bytes);
    devs[d] = (await attachLoop(join(disksDir, `${d}.img`))).name;
  }
  const stop = async () => {
    for (const m of (await listMounts()).filter((x) => x.target.startsWith(join(dir, "targets") + "/")).reverse()) await unmountAll(m.target).catch(() => {});
    for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    await Promise.race([Promise.all([...procs.values()].map(exited)), new Promise((r) => setTimeout(r, 10_000))]);
    for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await cleanupUnder(join(dir, NODE), join(dir, NODE, "state", "dev")).catch(() => {});
    const left = [
      ...(await listLoops()).filter((l) => l.backFile.startsWith(dir + "/")),
      ...(await listMounts()).filter((m) => m.target.startsWith(dir + "/")),
    ];
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    assert.deepEqual(left, [], "no loop device or mount left behind");
  };
  let client: KubeClient | undefined;
  try {
    const api = await startProcess("apiserver", ["apiserver", "--data-dir", join(dir, "api"), "--port", "0", "--log-level", "warn"]);
    const kubeconfig = api.kubeconfig as string;
    client = new KubeClient(loadKubeConfig({ kubeconfigPath: kubeconfig }).kubeConfig);
    await applyKindCrds(client);
    const c = hwameistorClients(client);
    const stateDir = join(dir, NODE, "state");
    // The node agent and the controller start side by side (each process start is seconds on a busy machine).
    const [ready] = await Promise.all([
      startProcess("node", [
        "node",
        "--node-name",
        NODE,
        "--kubeconfig",
        kubeconfig,
        "--devices",
        `file:${disksDir}/*.img`,
        "--disk-class",
        "HDD",
        "--state-dir",
        stateDir,
        "--engine",
        "file",
        "--resync-seconds",
        "10",
        "--poll-ms",
        "500",
        "--log-level",
        "warn",
      ]),
      startProcess("controller", [
        "controller",
        "--kubeconfig",
        kubeconfig,
        "--csi-socket-dir",
        join(dir, "controller"),
        "--no-leader-election",
        "--log-level",
        "warn",
      ]),
    ]);
    await waitFor(
      "4 disks Available",
      async () => (await c.ld.list()).items.filter((d) => d.spec?.nodeName === NODE && d.status?.claimState === "Available").length === 4,
    );
    // The pools a user would make: two disks for LVM volumes, two whole disks for disk volumes.
    await c.ldc.create({
      metadata: { name: `${NODE}-lvm` },
      spec: { nodeName: NODE, owner: "local-storage", description: { diskType: "HDD", devicePaths: [devs["lvm-a"]!, devs["lvm-b"]!] } },
    } as never);
    // As the original: a disk serves local-disk-manager claims once its spec.owner says so.
    for (const d of (await c.ld.list()).items.filter((x) => [devs["disk-a"], devs["disk-b"]].includes(x.spec?.devicePath))) {
      await c.ld.patch(d.metadata!.name!, { spec: { owner: "local-disk-manager" } });
    }
    await c.ldc.create({
      metadata: { name: `${NODE}-disk` },
      spec: { nodeName: NODE, owner: "local-disk-manager", description: { diskType: "HDD", devicePaths: [devs["disk-a"]!, devs["disk-b"]!] } },
    } as never);
    await waitFor(
      "the LVM pool",
      async () =>
        ((await c.lsn.get(NODE))?.status?.pools?.LocalStorage_PoolHDD?.totalCapacityBytes ?? 0) > 0 && (await c.lsn.get(NODE))?.status?.state === "Ready",
    );
    await waitFor(
      "the disk pool",
      async () => ((await c.ldn.get(NODE))?.status?.pools?.LocalDisk_PoolHDD?.disks ?? []).filter((d) => d.state === "Available").length === 2,
    );
    const controllerDir = join(dir, "controller");
    await waitFor("controller sockets", async () => fs.existsSync(join(controllerDir, "lvm.sock")) && fs.existsSync(join(controllerDir, "disk.sock")));
    return {
      dir,
      c,
      targetsDir: join(dir, "targets"),
      sockets: {
        lvm: { controller: join(controllerDir, "lvm.sock"), node: ready.lvmSocket as string },
        disk: { controller: join(controllerDir, "disk.sock"), node: join(ready.csiSocketDir as string, "disk.sock") },
      },
      logs: () => [...procs.entries()].map(([k, p]) => `--- ${k}:\n${(logs.get(p) ?? "").slice(-3000)}`).join("\n"),
      stop,
    };
  } catch (e) {
    let objects = "";
    if (client) {
      const c = hwameistorClients(client);
      const dump = async (what: string, f: () => Promise<unknown>) => `--- ${what}: ${JSON.stringify(await f().catch((x: unknown) => String(x)))}\n`;
      objects += await dump("LocalDiskClaims", async () => (await c.ldc.list()).items.map((x) => [x.metadata?.name, x.spec, x.status]));
      objects += await dump("LocalDisks", async () =>
        (await c.ld.list()).items.map((x) => [x.metadata?.name, x.spec?.devicePath, x.spec?.owner, x.spec?.claimRef?.name, x.status]),
      );
      objects += await dump("LocalDiskNode", async () => (await c.ldn.get(NODE))?.status);
    }
    const tail = [...procs.entries()].map(([k, p]) => `--- ${k}:\n${(logs.get(p) ?? "").slice(-2000)}`).join("\n") + "\n" + objects;
    await stop().catch(() => {});
    throw new Error(`${(e as Error).message}\n${tail}`);
  }
}
