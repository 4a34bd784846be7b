// The Kubernetes storage roles end to end (issue 10 items 1–2), driven with the real kubectl only (no test
// calls CSI): processes `hwameistor apiserver`, `controller`, one `node` agent (file engine, btrfs pool over two
// sparse loop disks) and `kube-controllers` (PV controller, attach/detach, external provisioner / attacher /
// resizer / snapshotter). Shows: an Immediate claim Bound to a provisioned `pvc-<uid>`; bad input Pending with
// an Event and a condition, converging once fixed, nothing half-created; WaitForFirstConsumer waiting, then
// provisioned on the selected node; static binding and Retain; VolumeAttachment from a pod → attached;
// VolumeSnapshot readyToUse and a claim restored from it; growth → PV capacity and FileSystemResizePending;
// Delete reclaim removing the volume; kill -9 of kube-controllers mid-provisioning converging with one volume
// per claim. Needs root, btrfs-progs, xfsprogs. Everything it creates is removed in `after`.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toCrd } from "../../src/api/crd.ts";
import { kindDefinitions } from "../../src/api/kinds/index.ts";
import { attachLoop, createSparseFile, listLoops } from "../../src/host/loop/loop.ts";
import { listMounts } from "../../src/host/mount/mount.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import type { KubeObject } from "../../src/kube/types.ts";
import { cleanupUnder } from "../../src/node/engines/host-test-helpers.ts";
import { kubectlRunner } from "../helpers/kubectl.ts";
import { exited, hwameistorProcesses } from "../helpers/processes.ts";

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
let k!: ReturnType<typeof kubectlRunner>;
const { procs, logs, startProcess } = hwameistorProcesses();

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const get = async (args: string[]): Promise<any> => JSON.parse(await k.ok(["get", ...args, "-o", "json"]));
const jp = async (args: string[], path: string): Promise<string> => (await k.run(["get", ...args, "-o", `jsonpath=${path}`])).stdout;
const apply = (yaml: string) => k.ok(["apply", "-f", "-"], yaml);
const events = async (name: string): Promise<string> =>
  await k.ok(["get", "events", "--field-selector", `involvedObject.name=${name}`, "-o", 'jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\\n"}{end}']);
const lvNames = async (): Promise<string[]> => (await get(["localvolumes"])).items.map((i: any) => i.metadata.name).sort();
const startKubeControllers = () =>
  startProcess("kube-controllers", [
    "kube-controllers",
    "--kubeconfig",
    kubeconfig,
    "--csi-socket",
    join(dir, "controller", "lvm.sock"),
    "--csi-socket",
    join(dir, "controller", "disk.sock"),
    "--log-level",
    "info",
  ]);

const CLASSES = `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: hdd-now}
provisioner: lvm.hwameistor.io
volumeBindingMode: Immediate
reclaimPolicy: Delete
allowVolumeExpansion: true
parameters: {poolClass: HDD, replicaNumber: "1", csi.storage.k8s.io/fstype: xfs}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: hdd-wffc}
provisioner: lvm.hwameistor.io
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
parameters: {poolClass: HDD, replicaNumber: "1", csi.storage.k8s.io/fstype: xfs}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: lvm-snap, annotations: {snapshot.storage.kubernetes.io/is-default-class: "true"}}
driver: lvm.hwameistor.io
deletionPolicy: Delete
`;
const pvc = (name: string, o: { cls?: string; size?: string; modes?: string; extra?: string } = {}) => `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}}
spec:
  accessModes: [${o.modes ?? "ReadWriteOnce"}]
  resources: {requests: {storage: ${o.size ?? "1Gi"}}}
  storageClassName: ${o.cls ?? "hdd-now"}
${o.extra ?? ""}`;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), "hw-kroles-e2e-"));
  await mkdir(join(dir, N, "disks"), { recursive: true });
  for (const d of ["a", "b"]) {
    await createSparseFile(join(dir, N, "disks", `${d}.img`), 8 * GiB);
    await attachLoop(join(dir, N, "disks", `${d}.img`));
  }
  const api = await startProcess("apiserver", ["apiserver", "--data-dir", join(dir, "api"), "--port", "0", "--log-level", "warn"]);
  kubeconfig = api.kubeconfig as string;
  k = kubectlRunner(kubeconfig, { HOME: dir });
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
  await waitFor("CRDs served", async () => (await k.run(["get", "localvolumes"])).code === 0);
  await startProcess(N, [
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
    "--resync-seconds",
    "10",
    "--poll-ms",
    "500",
    "--no-disk-driver",
    "--log-level",
    "info",
  ]);
  await waitFor(
    "disks Available",
    async () => (await get(["localdisks"])).items.filter((d: any) => d.spec?.nodeName === N && d.status?.claimState === "Available").length === 2,
  );
  await apply(
    `{"apiVersion":"hwameistor.io/v1alpha1","kind":"LocalDiskClaim","metadata":{"name":"${N}-claim"},"spec":{"nodeName":"${N}","owner":"local-storage","description":{"diskType":"HDD"}}}`,
  );
  await waitFor(
    "pool",
    async () => (await jp(["localstoragenode", N], "{.status.pools.LocalStorage_PoolHDD.disks[*].devPath}")).split(" ").filter(Boolean).length === 2,
  );
  await startProcess("controller", ["controller", "--kubeconfig", kubeconfig, "--csi-socket-dir", join(dir, "controller"), "--log-level", "warn"]);
  await waitFor(
    "controller sockets",
    async () => fs.existsSync(join(dir, "controller", "lvm.sock")) && fs.existsSync(join(dir, "controller", "disk.sock")),
    20_000,
  );
  await startKubeControllers();
  // The kubelet's plugin registration (CSINode + the topology label on the Node): the node agent's kubelet
  // role does it when it runs pods (--run-pods); this test runs the agent without pods, so it stands in.
  if (!(await jp(["csinode", N], "{.spec.drivers[*].name}")).includes("lvm.hwameistor.io")) {
    await k.ok(["label", "node", N, `topology.lvm.hwameistor.io/node=${N}`, "--overwrite"]);
    await apply(
      `{"apiVersion":"storage.k8s.io/v1","kind":"CSINode","metadata":{"name":"${N}"},"spec":{"drivers":[{"name":"lvm.hwameistor.io","nodeID":"${N}","topologyKeys":["topology.lvm.hwameistor.io/node"]}]}}`,
    );
  }
  await apply(CLASSES);
});

after(async () => {
  if (skip) return;
  for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
  await Promise.race([Promise.all([...procs.values()].map(exited)), new Promise((r) => setTimeout(r, 10_000))]);
  for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  if (dir) {
    await cleanupUnder(join(dir, N), join(dir, N, "state", "dev")).catch(() => {});
    await cleanupUnder(dir, join(dir, "nolinks")).catch(() => {});
    const left = [
      ...(await listLoops()).filter((l) => l.backFile.startsWith(dir + "/")),
      ...(await listMounts()).filter((m) => m.target.startsWith(dir + "/")),
    ];
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    assert.deepEqual(left, [], "no loop device or mount left behind");
  }
});

const withLogs = (f: () => Promise<void>) => async () => {
  try {
    await f();
  } catch (e) {
    throw new Error(
      `${e instanceof Error ? e.stack : String(e)}\n--- kube-controllers:\n${logs.get(procs.get("kube-controllers")!)?.slice(-4000)}\n--- controller:\n${logs.get(procs.get("controller")!)?.slice(-2000)}`,
    );
  }
};

test(
  "an Immediate claim is provisioned as pvc-<uid> and Bound; Delete reclaim removes the volume",
  { skip, timeout: 360_000 },
  withLogs(async () => {
    const t0 = Date.now();
    await apply(pvc("data-a"));
    await waitFor("data-a Bound", async () => (await jp(["pvc", "data-a"], "{.status.phase}")) === "Bound", 240_000);
    const c = await get(["pvc", "data-a"]);
    const at = async (reason: string) =>
      Date.parse(await jp(["events"], `{.items[?(@.reason=="${reason}")].firstTimestamp}`)) - Date.parse(c.metadata.creationTimestamp);
    console.log(
      `# claim → Bound ${Date.now() - t0} ms; after creation (1 s resolution): Provisioning ${await at("Provisioning")} ms, ProvisioningSucceeded ${await at("ProvisioningSucceeded")} ms`,
    );
    const pvName = `pvc-${c.metadata.uid}`;
    assert.equal(c.spec.volumeName, pvName);
    assert.equal(c.status.capacity.storage, "1Gi");
    assert.deepEqual(c.status.accessModes, ["ReadWriteOnce"]);
    assert.ok(c.metadata.finalizers.includes("kubernetes.io/pvc-protection"));
    assert.equal(c.metadata.annotations["pv.kubernetes.io/bind-completed"], "yes");
    assert.equal(c.metadata.annotations["volume.kubernetes.io/storage-provisioner"], "lvm.hwameistor.io");
    const pv = await get(["pv", pvName]);
    assert.equal(pv.status.phase, "Bound");
    assert.equal(pv.spec.csi.driver, "lvm.hwameistor.io");
    assert.equal(pv.spec.csi.volumeHandle, pvName);
    assert.equal(pv.spec.csi.fsType, "xfs");
    assert.equal(pv.spec.persistentVolumeReclaimPolicy, "Delete");
    assert.deepEqual(pv.spec.claimRef.uid, c.metadata.uid);
    assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0], {
      key: "topology.lvm.hwameistor.io/node",
      operator: "In",
      values: [N],
    });
    assert.equal(pv.metadata.annotations["pv.kubernetes.io/provisioned-by"], "lvm.hwameistor.io");
    assert.ok(pv.metadata.finalizers.includes("external-provisioner.volume.kubernetes.io/finalizer"));
    assert.equal(await jp(["localvolume", pvName], "{.spec.pvcName}"), "data-a");
    const ev = await events("data-a");
    assert.match(ev, /Normal Provisioning: External provisioner is provisioning volume for claim "default\/data-a"/);
    assert.match(ev, new RegExp(`Normal ProvisioningSucceeded: Successfully provisioned volume ${pvName}`));

    await k.ok(["delete", "pvc", "data-a", "--wait=false"]);
    await waitFor("PV and LocalVolume gone", async () => (await k.run(["get", "pv", pvName])).code !== 0 && !(await lvNames()).includes(pvName), 90_000);
  }),
);

test(
  "bad input: unknown class, too big, unsupported access mode → Pending with Event and condition, nothing created; converges once fixed",
  { skip, timeout: 180_000 },
  withLogs(async () => {
    const before = await lvNames();
    await apply(pvc("no-class", { cls: "hdd-later" }));
    await apply(pvc("too-big", { size: "100Gi" }));
    await apply(pvc("rwx", { modes: "ReadWriteMany" }));
    await waitFor(
      "unknown-class condition",
      async () => (await jp(["pvc", "no-class"], '{.status.conditions[?(@.type=="Bound")].reason}')) === "StorageClassNotFound",
    );
    assert.match(await events("no-class"), /Warning ProvisioningFailed: storageclass.storage.k8s.io "hdd-later" not found/);
    await waitFor(
      "too-big condition",
      async () => (await jp(["pvc", "too-big"], '{.status.conditions[?(@.type=="Provisioned")].reason}')) === "InsufficientCapacity",
      60_000,
    );
    assert.match(await jp(["pvc", "too-big"], '{.status.conditions[?(@.type=="Provisioned")].message}'), /ResourceExhausted.*fix: request less storage/);
    assert.match(
      await events("too-big"),
      /Warning ProvisioningFailed: failed to provision volume with StorageClass "hdd-now": rpc error: code = ResourceExhausted/,
    );
    await waitFor(
      "rwx condition",
      async () => (await jp(["pvc", "rwx"], '{.status.conditions[?(@.type=="Provisioned")].reason}')) === "ProvisioningFailed",
      60_000,
    );
    assert.match(await jp(["pvc", "rwx"], '{.status.conditions[?(@.type=="Provisioned")].message}'), /InvalidArgument.*MULTI_NODE_MULTI_WRITER/);
    for (const n of ["no-class", "too-big", "rwx"]) assert.equal(await jp(["pvc", n], "{.status.phase}"), "Pending");
    assert.deepEqual(await lvNames(), before, "no LocalVolume was created for a refused claim");
    // Fixed: the class appears → the claim binds without being recreated.
    await apply(CLASSES.split("---")[0]!.replace("name: hdd-now", "name: hdd-later"));
    await waitFor("no-class Bound", async () => (await jp(["pvc", "no-class"], "{.status.phase}")) === "Bound", 90_000);
    assert.equal(await jp(["pvc", "no-class"], "{.status.conditions}"), "");
    await k.ok(["delete", "pvc", "no-class", "too-big", "rwx", "--wait=false"]);
  }),
);

test(
  "WaitForFirstConsumer waits for a node, then provisions there; static PVs bind and Retain keeps them",
  { skip, timeout: 180_000 },
  withLogs(async () => {
    await apply(pvc("late", { cls: "hdd-wffc" }));
    await waitFor("WaitForFirstConsumer", async () =>
      /WaitForFirstConsumer: waiting for first consumer to be created before binding/.test(await events("late")),
    );
    assert.equal(await jp(["pvc", "late"], "{.status.phase}"), "Pending");
    // The scheduler's decision (the pods role writes it when a pod using the claim is placed).
    await k.ok(["annotate", "pvc", "late", `volume.kubernetes.io/selected-node=${N}`]);
    await waitFor("late Bound", async () => (await jp(["pvc", "late"], "{.status.phase}")) === "Bound", 90_000);
    const pvName = await jp(["pvc", "late"], "{.spec.volumeName}");
    assert.equal(await jp(["localvolume", pvName], "{.spec.accessibility.nodes[0]}"), N);

    await apply(`
apiVersion: v1
kind: PersistentVolume
metadata: {name: static-1, labels: {tier: gold}}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  csi: {driver: lvm.hwameistor.io, volumeHandle: static-1}
---
${pvc("claims-static", { cls: '""', size: "1Gi", extra: "  selector: {matchLabels: {tier: gold}}" })}`);
    await waitFor("static Bound", async () => (await jp(["pvc", "claims-static"], "{.status.phase}")) === "Bound");
    assert.equal(await jp(["pvc", "claims-static"], "{.spec.volumeName}"), "static-1");
    assert.equal(await jp(["pvc", "claims-static"], "{.status.capacity.storage}"), "2Gi");
    assert.equal(await jp(["pv", "static-1"], "{.status.phase}"), "Bound");
    await k.ok(["delete", "pvc", "claims-static"]);
    await waitFor("static Released", async () => (await jp(["pv", "static-1"], "{.status.phase}")) === "Released");
    await k.ok(["delete", "pv", "static-1"]);
    await k.ok(["delete", "pvc", "late", "--wait=false"]);
  }),
);

test(
  "a pod on a node gets its VolumeAttachment attached; snapshot readyToUse and a claim restored from it; growth reaches the PV",
  { skip, timeout: 240_000 },
  withLogs(async () => {
    await apply(pvc("db"));
    await waitFor("db Bound", async () => (await jp(["pvc", "db"], "{.status.phase}")) === "Bound", 90_000);
    const pvName = await jp(["pvc", "db"], "{.spec.volumeName}");
    // A pod object placed on the node (no kubelet needed for attach): the attach/detach controller creates the
    // VolumeAttachment, the attacher publishes it.
    await apply(
      `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"db-0"},"spec":{"nodeName":"${N}","containers":[{"name":"c","image":"x","command":["true"]}],"volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"db"}}]}}`,
    );
    await waitFor(
      "attached",
      async () => (await get(["volumeattachments"])).items.some((v: any) => v.spec.source.persistentVolumeName === pvName && v.status?.attached === true),
      60_000,
    );
    const va = (await get(["volumeattachments"])).items.find((v: any) => v.spec.source.persistentVolumeName === pvName);
    assert.match(va.metadata.name, /^csi-[0-9a-f]{64}$/);
    assert.ok(va.status.attachmentMetadata.volumeReplicaDevicePath);
    assert.deepEqual(va.metadata.finalizers, ["external-attacher/lvm-hwameistor-io"]);
    assert.equal(await jp(["localvolume", pvName], "{.status.publishedNode}"), N);
    // pvc-protection: deleting the claim waits while the pod uses it.
    await k.ok(["delete", "pvc", "db", "--wait=false"]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await jp(["pvc", "db"], "{.status.phase}"), "Bound", "a claim in use stays");
    // No kubelet runs in this test, so the pod is force-deleted (graceful deletion would wait for a kubelet).
    await k.ok(["delete", "pod", "db-0", "--grace-period=0", "--force"]);
    await waitFor(
      "detached and claim gone",
      async () => (await get(["volumeattachments"])).items.length === 0 && (await k.run(["get", "pvc", "db"])).code !== 0,
      90_000,
    );

    await apply(pvc("src"));
    await waitFor("src Bound", async () => (await jp(["pvc", "src"], "{.status.phase}")) === "Bound", 90_000);
    await apply(
      `{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshot","metadata":{"name":"snap-1"},"spec":{"source":{"persistentVolumeClaimName":"src"}}}`,
    );
    await waitFor("snapshot ready", async () => (await jp(["volumesnapshot", "snap-1"], "{.status.readyToUse}")) === "true", 90_000);
    const vs = await get(["volumesnapshot", "snap-1"]);
    assert.equal(vs.spec.volumeSnapshotClassName, "lvm-snap", "the default class was assigned");
    assert.equal(vs.status.restoreSize, "1Gi");
    assert.ok(Date.parse(vs.status.creationTime) > Date.now() - 600_000);
    const content = vs.status.boundVolumeSnapshotContentName;
    assert.equal(content, `snapcontent-${vs.metadata.uid}`);
    assert.equal(await jp(["localvolumesnapshot", content], "{.status.state}"), "Ready", "the CSI snapshot is the LocalVolumeSnapshot named like the content");
    await apply(pvc("restored", { extra: "  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap-1}" }));
    await apply(pvc("from-missing", { extra: "  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: nope}" }));
    await waitFor("restored Bound", async () => (await jp(["pvc", "restored"], "{.status.phase}")) === "Bound", 120_000);
    assert.match(await jp(["localvolume", await jp(["pvc", "restored"], "{.spec.volumeName}")], "{.metadata.annotations}"), /snapshot-restore-completed/);
    await waitFor(
      "missing snapshot condition",
      async () => (await jp(["pvc", "from-missing"], '{.status.conditions[?(@.type=="Provisioned")].reason}')) === "SnapshotNotFound",
    );
    assert.match(await events("from-missing"), /volumesnapshots.snapshot.storage.k8s.io "nope" not found/);
    await k.ok(["delete", "pvc", "from-missing", "restored", "--wait=false"]);

    await k.ok(["patch", "pvc", "src", "--type", "merge", "-p", '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}']);
    const srcPv = await jp(["pvc", "src"], "{.spec.volumeName}");
    await waitFor("PV grown", async () => (await jp(["pv", srcPv], "{.spec.capacity.storage}")) === "2Gi", 90_000);
    assert.equal(await jp(["localvolume", srcPv], "{.spec.requiredCapacityBytes}"), String(2 * GiB));
    await waitFor(
      "FileSystemResizePending",
      async () => (await jp(["pvc", "src"], '{.status.conditions[?(@.type=="FileSystemResizePending")].status}')) === "True",
    );
    assert.equal(await jp(["pvc", "src"], "{.status.allocatedResources.storage}"), "2Gi");
    assert.match(await events("src"), /Normal Resizing: External resizer is resizing volume/);

    await k.ok(["delete", "volumesnapshot", "snap-1"]);
    await waitFor(
      "snapshot content and LocalVolumeSnapshot gone",
      async () => (await k.run(["get", "volumesnapshotcontent", content])).code !== 0 && (await k.run(["get", "localvolumesnapshot", content])).code !== 0,
      90_000,
    );
    await k.ok(["delete", "pvc", "src", "--wait=false"]);
  }),
);

test(
  "kill -9 of kube-controllers while provisioning converges: every claim Bound, one volume each",
  { skip, timeout: 240_000 },
  withLogs(async () => {
    const names = ["k0", "k1", "k2"];
    await apply(names.map((n) => pvc(n)).join("\n---\n"));
    await waitFor("provisioning started", async () => /Provisioning/.test(await events("k0")), 30_000);
    procs.get("kube-controllers")!.kill("SIGKILL");
    await exited(procs.get("kube-controllers")!);
    await startKubeControllers();
    await waitFor("all Bound", async () => (await Promise.all(names.map((n) => jp(["pvc", n], "{.status.phase}")))).every((p) => p === "Bound"), 150_000);
    const pvs = await Promise.all(names.map((n) => jp(["pvc", n], "{.spec.volumeName}")));
    const lvs = await lvNames();
    for (const p of pvs) assert.ok(lvs.includes(p), `${p} has its LocalVolume`);
    const allPvs = (await get(["pv"])).items.map((p: any) => p.metadata.name);
    assert.deepEqual(
      lvs.filter((l) => !allPvs.includes(l)),
      [],
      "every volume has its PV: nothing provisioned twice or orphaned",
    );
    await k.ok(["delete", "pvc", ...names, "--wait=false"]);
  }),
);
