// Workloads on HwameiStor volumes in the dev cluster, with the real kubectl only (issue 10 "Done when"; no
// test calls CSI): `hwameistor cluster up` (3 node agents running pods, kube-controllers with the embedded
// scheduler, PV controller, sidecars and StatefulSet controller), then
//   (a) the original's user YAML (test/fixtures/seed-examples.yaml) plus a StatefulSet of 2 replicas whose
//       shell loop appends fsync'd lines to a file on its volume: both claims Bound, both pods Running on the
//       node that holds their volume, the lines on the volume's backing device (read with O_DIRECT);
//   (e) kill -9 of a node agent: its container keeps running (same containerID), is re-adopted, lines go on;
//   (c) growing a claim grows the filesystem the running pod sees (its own `df` in `kubectl logs`);
//   (b) a VolumeSnapshot becomes readyToUse; a claim restored from it, with kube-controllers killed -9 while
//       it provisions, holds the lines as of the snapshot (a prefix of the live file), one volume only;
//   (d) deleting the StatefulSet, the claims and the rest leaves no pod, claim, PV, VolumeAttachment,
//       LocalVolume, replica, container process or kubelet mount; `cluster down` then leaves no loop/mount.
// Needs root and the dev cluster's tools (xfsprogs, btrfs-progs). `after` runs `cluster down --purge`.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findContainerProcesses } from "../../src/host/container/container.ts";
import { listLoops } from "../../src/host/loop/loop.ts";
import { listMounts } from "../../src/host/mount/mount.ts";
import { kubectlRunner } from "../helpers/kubectl.ts";

const repo = resolve(import.meta.dirname, "../..");
const skip = process.getuid?.() !== 0 ? "needs root" : !existsSync("/usr/sbin/mkfs.xfs") ? "needs xfsprogs" : false;
let dir = "";
let state = "";
let k!: ReturnType<typeof kubectlRunner>;

function run(args: string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(
      join(repo, "bin", "hwameistor"),
      args,
      { cwd: repo, timeout: timeoutMs, maxBuffer: 32 * 2 ** 20, env: { ...process.env, HWAMEISTOR_TSX: "1" } },
      (err, stdout, stderr) => res({ code: err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0, stdout, stderr }),
    );
  });
}
async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
const get = async (args: string[]): Promise<any> => JSON.parse(await k.ok(["get", ...args, "-o", "json"]));
const jp = async (args: string[], path: string): Promise<string> => (await k.run(["get", ...args, "-o", `jsonpath=${path}`])).stdout;
const apply = (yaml: string) => k.ok(["apply", "-f", "-"], yaml);
const processes = () => JSON.parse(readFileSync(join(state, "cluster.json"), "utf8")).processes as Record<string, { pid?: number; restarts?: number }>;
/** How many lines starting with `prefix` a block device holds, read with O_DIRECT (the device, not a page cache). */
const countOnDevice = (path: string, prefix: string): Promise<number> =>
  new Promise((res, rej) => {
    const dd = spawn("dd", [`if=${path}`, "iflag=direct", "bs=1M", "status=none"], { stdio: ["ignore", "pipe", "inherit"] });
    const needle = `\n${prefix}`;
    let tail = "";
    let n = 0;
    dd.stdout.setEncoding("latin1");
    dd.stdout.on("data", (chunk: string) => {
      const text = tail + chunk;
      for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) n++;
      tail = text.slice(-needle.length + 1);
    });
    dd.on("error", rej);
    dd.on("close", (code) => (code === 0 ? res(n) : rej(new Error(`dd ${path} exited ${code}`))));
  });
const kubeletMounts = async () => (await listMounts()).filter((m) => m.target.startsWith(state) && m.target.includes("/kubelet/"));

const CLASSES = `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-hdd}
provisioner: lvm.hwameistor.io
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
allowVolumeExpansion: true
parameters: {poolClass: HDD, replicaNumber: "1", csi.storage.k8s.io/fstype: xfs}
`;
const STS = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: logger}
spec:
  replicas: 2
  serviceName: logger
  selector: {matchLabels: {app: logger}}
  template:
    metadata: {labels: {app: logger}}
    spec:
      schedulerName: hwameistor-scheduler
      terminationGracePeriodSeconds: 5
      containers:
      - name: writer
        image: busybox:1.36
        command: ["sh", "-c", "while true; do echo \\"$POD_NAME $(date +%s%N)\\" >> /data/lines; sync /data/lines; echo \\"df $(df -k /data | tail -1)\\"; sleep 0.3; done"]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: e2e-hdd
      resources: {requests: {storage: 512Mi}}
`;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), "hw-pods-e2e-"));
  state = join(dir, "state");
  const up = await run(["cluster", "up", "--state-dir", state, "--nodes", "3"]);
  assert.equal(up.code, 0, `cluster up: ${up.stderr}`);
  k = kubectlRunner(join(state, "kubeconfig"), { HOME: dir });
});

after(async () => {
  if (!state || !existsSync(state)) return;
  const r = await run(["cluster", "down", "--purge", "--state-dir", state]);
  if (r.code !== 0) console.log(`# cleanup down: ${r.stderr}`);
  const loops = (await listLoops()).filter((l) => l.backFile.startsWith(dir));
  const mounts = (await listMounts()).filter((m) => m.target.startsWith(dir));
  await rm(dir, { recursive: true, force: true });
  assert.deepEqual(loops, [], "no loop device of the cluster is left");
  assert.deepEqual(mounts, [], "no mount of the cluster is left");
});

test(
  "a StatefulSet on HwameiStor volumes: run, survive an agent crash, grow, snapshot and restore, delete to nothing",
  { skip, timeout: 600_000 },
  async () => {
    // ---- (a)
    await k.ok(["apply", "-f", join(repo, "test/fixtures/seed-examples.yaml")]);
    await apply(CLASSES);
    await apply(STS);
    await waitFor(
      "both pods Running",
      async () => (await get(["pods", "-l", "app=logger"])).items.filter((p: any) => p.status?.phase === "Running").length === 2,
      150_000,
    );
    for (const i of [0, 1]) {
      assert.equal(await jp(["pvc", `data-logger-${i}`], "{.status.phase}"), "Bound");
      const pv = await jp(["pvc", `data-logger-${i}`], "{.spec.volumeName}");
      const node = await jp(["pod", `logger-${i}`], "{.spec.nodeName}");
      const lv = await get(["localvolume", pv]);
      assert.deepEqual(lv.spec.accessibility.nodes, [node], `logger-${i} runs on the node that holds ${pv}`);
      assert.equal(lv.status.publishedNode, node);
      const events = await k.ok(["get", "events", "--field-selector", `involvedObject.name=logger-${i}`, "-o", "jsonpath={range .items[*]}{.reason} {end}"]);
      assert.match(events, /Scheduled/);
      assert.match(events, /Started/);
    }
    // the lines reach the backing device of each volume
    for (const i of [0, 1]) {
      const pv = await jp(["pvc", `data-logger-${i}`], "{.spec.volumeName}");
      const lvr = (await get(["localvolumereplicas"])).items.find((r: any) => r.spec.volumeName === pv);
      await waitFor(`lines of logger-${i} on ${lvr.status.devPath}`, async () => (await countOnDevice(lvr.status.devPath, `logger-${i} `)) >= 5, 30_000);
    }

    // ---- (e) kill -9 the node agent of logger-0: the container runs on, re-adopted
    const node0 = await jp(["pod", "logger-0"], "{.spec.nodeName}");
    const cid = await jp(["pod", "logger-0"], "{.status.containerStatuses[0].containerID}");
    const before = processes()[node0]!;
    process.kill(before.pid!, "SIGKILL");
    await waitFor(
      `${node0} restarted by the supervisor`,
      async () => (processes()[node0]!.restarts ?? 0) > (before.restarts ?? 0) && !!processes()[node0]!.pid,
      60_000,
    );
    await waitFor(
      `${node0}'s kubelet role back`,
      async () =>
        readFileSync(join(state, "logs", `${node0}.log`), "utf8")
          .split("\n")
          .some((l) => l.includes('"adopted":1') || l.includes('"adopted":2')),
      90_000,
    );
    assert.equal(await jp(["pod", "logger-0"], "{.status.containerStatuses[0].containerID}"), cid, "the same process");
    assert.equal(await jp(["pod", "logger-0"], "{.status.containerStatuses[0].restartCount}"), "0");
    assert.equal(findContainerProcesses(`${state}/`).length, 2, "no duplicate container");

    // ---- (c) grow data-logger-0: the running pod's own df sees the bigger filesystem
    const sizeKiB = async () => Number(/^df \S+\s+(\d+)/m.exec((await k.ok(["logs", "logger-0", "--tail=1"])).trim())?.[1] ?? 0);
    const small = await sizeKiB();
    assert.ok(small > 0 && small < 600 * 1024, `the pod sees ${small} KiB`);
    await k.ok(["patch", "pvc", "data-logger-0", "-p", '{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}']);
    await waitFor("the pod sees the grown filesystem", async () => (await sizeKiB()) > 900 * 1024, 90_000);
    await waitFor("capacity 1Gi", async () => (await jp(["pvc", "data-logger-0"], "{.status.capacity.storage}")) === "1Gi", 30_000);

    // ---- (b) snapshot data-logger-1, restore it while kube-controllers is killed -9
    const livePath = async () => {
      const pv = await jp(["pvc", "data-logger-1"], "{.spec.volumeName}");
      return (await kubeletMounts()).find((m) => m.target.includes(`/${pv}/mount`))!.target;
    };
    const linesBefore = readFileSync(join(await livePath(), "lines"), "utf8")
      .split("\n")
      .filter(Boolean);
    await apply(
      `{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshot","metadata":{"name":"snap-1"},"spec":{"volumeSnapshotClassName":"hwameistor-storage-lvm-snapshot","source":{"persistentVolumeClaimName":"data-logger-1"}}}`,
    );
    await waitFor("snapshot readyToUse", async () => (await jp(["volumesnapshot", "snap-1"], "{.status.readyToUse}")) === "true", 90_000);
    const linesAfter = readFileSync(join(await livePath(), "lines"), "utf8")
      .split("\n")
      .filter(Boolean);
    await apply(`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: restored}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: e2e-hdd
  resources: {requests: {storage: 512Mi}}
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap-1}
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  schedulerName: hwameistor-scheduler
  restartPolicy: Never
  containers:
  - {name: r, image: busybox, command: ["cat", "/data/lines"], volumeMounts: [{name: d, mountPath: /data}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: restored}}]
`);
    const kc = processes()["kube-controllers"]!;
    process.kill(kc.pid!, "SIGKILL");
    await waitFor("reader Succeeded", async () => (await jp(["pod", "reader"], "{.status.phase}")) === "Succeeded", 150_000);
    assert.ok((processes()["kube-controllers"]!.restarts ?? 0) > (kc.restarts ?? 0), "kube-controllers was restarted");
    const restored = (await k.ok(["logs", "reader"])).split("\n").filter(Boolean);
    assert.ok(
      restored.length >= linesBefore.length && restored.length <= linesAfter.length,
      `restored ${restored.length} lines, live had ${linesBefore.length}..${linesAfter.length} around the snapshot`,
    );
    assert.deepEqual(restored, linesAfter.slice(0, restored.length), "the restored file is the live file as of the snapshot");
    assert.equal((await get(["pv"])).items.filter((p: any) => p.spec.claimRef?.name === "restored").length, 1, "one volume for the restored claim");

    // ---- (d) delete everything: nothing left
    await k.ok(["delete", "statefulset", "logger"]);
    await k.ok(["delete", "pod", "reader"]);
    await k.ok(["delete", "volumesnapshot", "snap-1"]);
    await k.ok(["delete", "-f", join(repo, "test/fixtures/seed-examples.yaml"), "--wait=false", "--ignore-not-found"]);
    await k.ok(["delete", "pvc", "--all", "--wait=false"]);
    await waitFor(
      "pods, claims, PVs, attachments, volumes and replicas gone",
      async () => {
        const left = await get(["pods,pvc,pv,volumeattachments,localvolumes,localvolumereplicas"]);
        return left.items.length === 0;
      },
      150_000,
    );
    assert.deepEqual(findContainerProcesses(`${state}/`), [], "no container process");
    assert.deepEqual(await kubeletMounts(), [], "no kubelet mount");
  },
);

test("a container that could not be created is tried again: it starts once what it lacked appears", { skip, timeout: 120_000 }, async () => {
  // The mount point lies under /dev, where the kubelet creates no path: the start fails (CreateContainerConfigError)
  // until the directory exists, as a container's start waits for a missing object upstream.
  const target = `/dev/hw-e2e-retry-${process.pid}`;
  try {
    await apply(`
apiVersion: v1
kind: Pod
metadata: {name: retry}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox, command: ["sh", "-c", "echo started; while true; do sleep 1; done"], volumeMounts: [{name: d, mountPath: ${target}}]}
  volumes: [{name: d, emptyDir: {}}]
`);
    await waitFor(
      "retry waiting with CreateContainerConfigError",
      async () => (await jp(["pod", "retry"], "{.status.containerStatuses[0].state.waiting.reason}")) === "CreateContainerConfigError",
      60_000,
    );
    assert.match(await k.ok(["get", "events", "--field-selector", "involvedObject.name=retry"]), /Failed.*does not exist/);
    mkdirSync(target);
    const t0 = Date.now();
    await waitFor("retry Running once the mount point exists", async () => (await jp(["pod", "retry"], "{.status.phase}")) === "Running", 30_000);
    console.log(`# started ${Date.now() - t0} ms after the mount point appeared`);
    await waitFor("its output", async () => (await k.run(["logs", "retry"])).stdout.includes("started"), 15_000);
  } finally {
    await k.run(["delete", "pod", "retry", "--wait=true", "--timeout=60s"]);
    rmSync(target, { recursive: true, force: true });
  }
});
