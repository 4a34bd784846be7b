// Workloads under crashes, with the real kubectl only (issue 10 "Done when" (e), the README's PostgreSQL tour,
// block volumes). One 2-node dev cluster (`hwameistor cluster up`; processes supervised and restarted):
//
// 1. A StatefulSet's life — provision + publish, snapshot, restore, expand, delete — with `kill -9` of the
//    `controller`, of `kube-controllers` and of the pod's node agent at kill points inside each step. A kill
//    point is a watch (`kubectl get -w`): the victim dies the moment the object it is working on appears or
//    changes (e.g. the controller as soon as the LocalVolume exists, the node agent as soon as the
//    VolumeAttachment is attached, i.e. while it publishes). The table below is the whole scenario; after
//    each step everything must converge: claims Bound, pods Running, exactly one PV per claim, one
//    LocalVolume per PV with one replica, one VolumeAttachment per published volume, one container process
//    per running pod, one kubelet mount per pod volume, one loop device per replica — nothing duplicated or
//    leaked. After the last step nothing of the workload is left. (kube-controllers killed while
//    provisioning and while restoring, and a node agent killed while its pod runs, are in kube-roles.test.ts
//    and pods.test.ts.)
// 2. The README's PostgreSQL StatefulSet: rows inserted with psql survive the pod's deletion (the StatefulSet
//    recreates it on the same volume).
// 3. A raw block claim (volumeMode: Block) in a pod's volumeDevices: written and read back through the device.
//
// Needs root, xfsprogs and btrfs-progs (the dev cluster), PostgreSQL 15 for 2. `after` runs `cluster down --purge`.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { armKill, hostObjects, logProblems, startTestCluster, waitFor, type KillPoint, type TestCluster } from "../helpers/test-cluster.ts";
import { postgresMissing, startPostgres } from "../helpers/postgres.ts";

const NODES = 2;
const DISKS = 2 * NODES;
const skip = process.getuid?.() !== 0 ? "needs root" : !existsSync("/usr/sbin/mkfs.xfs") ? "needs xfsprogs" : false;
let c!: TestCluster;

/** What a workload's life creates in the API (checked after each step, and gone at the end). */
const KINDS =
  "pods,pvc,pv,volumeattachments,localvolumes,localvolumereplicas,volumesnapshots,volumesnapshotcontents,localvolumesnapshots,localvolumereplicasnapshots";
const get = async (args: string[]): Promise<any> => JSON.parse(await c.k.ok(["get", ...args, "-o", "json"]));
const jp = async (args: string[], path: string): Promise<string> => (await c.k.run(["get", ...args, "-o", `jsonpath=${path}`])).stdout;
const apply = (doc: string) => c.k.ok(["apply", "-f", "-"], doc);
const names = async (resource: string): Promise<Set<string>> => new Set((await get([resource])).items.map((i: any) => i.metadata.name as string));

before(async () => {
  if (skip) return;
  c = await startTestCluster({ prefix: "workloads-e2e", nodes: NODES });
  await apply(`
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-kill}
provisioner: lvm.hwameistor.io
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
allowVolumeExpansion: true
parameters: {poolClass: HDD, replicaNumber: "1", csi.storage.k8s.io/fstype: xfs}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: e2e-kill-snap}
driver: lvm.hwameistor.io
deletionPolicy: Delete
`);
});

after(async () => {
  if (!c) return;
  const left = await c.down();
  if (left.stderr) console.log(`# cluster down: ${left.stderr}`);
  assert.deepEqual(left.loops, [], "no loop device of the cluster is left");
  assert.deepEqual(left.mounts, [], "no mount of the cluster is left");
});

/**
 * Everything the objects imply, and nothing more: claims Bound and each with its own PV, a LocalVolume with
 * exactly one replica per PV, VolumeAttachments exactly for the volumes of running pods (attached), snapshots
 * ready with one content and one LocalVolumeSnapshot each; on the host one container per running pod, one
 * kubelet mount per volume of a running pod, one loop device per disk and per replica. Answers what differs.
 */
async function mismatch(expect: { running: string[]; succeeded?: string[] }): Promise<string | undefined> {
  const all = await get([`${KINDS},localvolumesnapshotrestores,localvolumereplicasnapshotrestores`]);
  const of = (kind: string) => all.items.filter((i: any) => i.kind === kind);
  const pods = of("Pod");
  const want = new Map<string, string>([
    ...expect.running.map((n) => [n, "Running"] as const),
    ...(expect.succeeded ?? []).map((n) => [n, "Succeeded"] as const),
  ]);
  const phases = Object.fromEntries(pods.map((p: any) => [p.metadata.name, p.status?.phase]));
  if (JSON.stringify(phases) !== JSON.stringify(Object.fromEntries([...want].sort()))) return `pods ${JSON.stringify(phases)}`;
  const claims = of("PersistentVolumeClaim");
  const unbound = claims.filter((x: any) => x.status?.phase !== "Bound").map((x: any) => x.metadata.name);
  if (unbound.length) return `claims not Bound: ${unbound}`;
  const pvs = of("PersistentVolume");
  const pvNames = pvs.map((p: any) => p.metadata.name).sort();
  const claimed = claims.map((x: any) => x.spec.volumeName).sort();
  if (JSON.stringify(pvNames) !== JSON.stringify(claimed)) return `PVs ${pvNames} ≠ the claims' volumes ${claimed}`;
  const lvs = of("LocalVolume")
    .map((l: any) => l.metadata.name)
    .sort();
  if (JSON.stringify(lvs) !== JSON.stringify(pvNames)) return `LocalVolumes ${lvs} ≠ PVs ${pvNames}`;
  const replicas = of("LocalVolumeReplica");
  for (const lv of lvs) {
    const n = replicas.filter((r: any) => r.spec.volumeName === lv).length;
    if (n !== 1) return `${lv} has ${n} replicas`;
  }
  if (replicas.length !== lvs.length) return `${replicas.length} replicas for ${lvs.length} volumes`;
  const running = pods.filter((p: any) => p.status?.phase === "Running");
  const pvOfClaim = new Map(claims.map((x: any) => [x.metadata.name, x.spec.volumeName]));
  const published = running.flatMap((p: any) =>
    (p.spec.volumes ?? [])
      .filter((v: any) => v.persistentVolumeClaim)
      .map((v: any) => `${pvOfClaim.get(v.persistentVolumeClaim.claimName)}@${p.spec.nodeName}`),
  );
  const vas = of("VolumeAttachment").map((v: any) => `${v.spec.source.persistentVolumeName}@${v.spec.nodeName}${v.status?.attached ? "" : " (not attached)"}`);
  if (JSON.stringify(vas.sort()) !== JSON.stringify(published.sort())) return `VolumeAttachments ${vas} ≠ published volumes ${published}`;
  const snaps = of("VolumeSnapshot");
  if (snaps.some((s: any) => s.status?.readyToUse !== true)) return "a VolumeSnapshot is not readyToUse";
  const contents = of("VolumeSnapshotContent")
    .map((x: any) => x.metadata.name)
    .sort();
  const lvss = of("LocalVolumeSnapshot")
    .map((x: any) => x.metadata.name)
    .sort();
  const bound = snaps.map((s: any) => s.status?.boundVolumeSnapshotContentName).sort();
  if (JSON.stringify(contents) !== JSON.stringify(bound) || JSON.stringify(lvss) !== JSON.stringify(bound))
    return `snapshots bound to ${bound}, contents ${contents}, LocalVolumeSnapshots ${lvss}`;
  const replicaSnaps = of("LocalVolumeReplicaSnapshot").length;
  if (replicaSnaps !== lvss.length) return `${replicaSnaps} replica snapshots for ${lvss.length} LocalVolumeSnapshots`;
  const restores = [...of("LocalVolumeSnapshotRestore"), ...of("LocalVolumeReplicaSnapshotRestore")].map((x: any) => x.metadata.name);
  if (restores.length) return `restore objects left: ${restores}`;
  const host = await hostObjects(c.state);
  if (host.containers.length !== running.length) return `${host.containers.length} container processes for ${running.length} running pods`;
  if (host.kubeletMounts.length !== published.length) return `kubelet mounts ${host.kubeletMounts} for published volumes ${published}`;
  if (host.loops.length !== DISKS + replicas.length) return `${host.loops.length} loop devices for ${DISKS} disks and ${replicas.length} replicas`;
  return undefined;
}

async function converged(what: string, expect: { running: string[]; succeeded?: string[] }): Promise<void> {
  let last: string | undefined = "not checked";
  await waitFor(`${what}: converged`, async () => (last = await mismatch(expect)) === undefined, 120_000, 1000).catch((e: Error) => {
    throw new Error(`${e.message}; still: ${last}`);
  });
}

test(
  "the README's PostgreSQL StatefulSet: rows inserted with psql are there after the pod is deleted and recreated",
  {
    skip: skip || postgresMissing(),
    timeout: 400_000,
  },
  async () => {
    const pg = await startPostgres(c.k, { name: "pg-e2e", storageClassName: "e2e-kill", size: "512Mi" });
    try {
      await pg.query("create table t(x int); insert into t select generate_series(1, 100)");
      const uid = await jp(["pod", pg.pod], "{.metadata.uid}");
      const pv = await jp(["pvc", pg.claim], "{.spec.volumeName}");
      await c.k.ok(["delete", "pod", pg.pod]); // SIGTERM: PostgreSQL shuts down; kubectl waits until the pod is gone
      await waitFor(`${pg.pod} recreated`, async () => !["", uid].includes(await jp(["pod", pg.pod], "{.metadata.uid}")), 120_000);
      // Ready comes from the example's exec readinessProbe (pg_isready): the server answers at once.
      await c.k.ok(["wait", "--for=condition=Ready", `pod/${pg.pod}`, "--timeout=120s"]);
      assert.equal(await pg.query("select count(*), sum(x) from t"), "100|5050");
      assert.equal(await jp(["pvc", pg.claim], "{.spec.volumeName}"), pv, "the same volume");
    } finally {
      await pg.remove();
    }
    await waitFor("its volume gone", async () => (await get(["pv,localvolumes"])).items.length === 0, 120_000);
  },
);

test("a raw block claim (volumeMode: Block) in a pod's volumeDevices: written and read back through the device", { skip, timeout: 300_000 }, async () => {
  const devicePath = join(c.dir, "blk", "dev", "xvdb"); // the kubelet role creates it (parents too) and removes it again
  const marker = `hello-block-${Date.now()}`;
  await apply(`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: raw}
spec:
  accessModes: [ReadWriteOnce]
  volumeMode: Block
  storageClassName: e2e-kill
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: raw-writer}
spec:
  schedulerName: hwameistor-scheduler
  restartPolicy: Never
  containers:
  - name: w
    image: busybox
    command: ["sh", "-c", 'test -b "$0" && echo "$1" | dd of="$0" bs=512 conv=sync,fsync status=none && dd if="$0" bs=512 count=1 status=none | head -n 1 && blockdev --getsize64 "$0"', "${devicePath}", "${marker}"]
    volumeDevices: [{name: d, devicePath: "${devicePath}"}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: raw}}]
`);
  await waitFor("raw-writer Succeeded", async () => (await jp(["pod", "raw-writer"], "{.status.phase}")) === "Succeeded", 150_000);
  assert.deepEqual((await c.k.ok(["logs", "raw-writer"])).trim().split("\n"), [marker, String(64 * 2 ** 20)], "the pod wrote and read its device");
  const pv = await jp(["pvc", "raw"], "{.spec.volumeName}");
  assert.equal(await jp(["pv", pv], "{.spec.volumeMode}"), "Block");
  const replica = (await get(["localvolumereplicas"])).items.find((r: any) => r.spec.volumeName === pv);
  const head = Buffer.alloc(512);
  const fd = openSync(replica.status.devPath, "r");
  try {
    readSync(fd, head, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  assert.equal(head.subarray(0, marker.length).toString(), marker, "the data is on the replica's device");
  await c.k.ok(["delete", "pod", "raw-writer"]);
  // A finished pod is deleted at once (grace 0, as kube-apiserver does); the kubelet role cleans up after it.
  await waitFor("the device path the kubelet role created removed with its parents", () => !existsSync(join(c.dir, "blk")), 30_000);
  await c.k.ok(["delete", "pvc", "raw", "--wait=false"]);
  await waitFor("its volume gone", async () => (await get(["pv,localvolumes"])).items.length === 0, 120_000);
});

// ---- the StatefulSet's life, and where each process dies

const STS = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kw}
spec:
  replicas: 1
  serviceName: kw
  selector: {matchLabels: {app: kw}}
  template:
    metadata: {labels: {app: kw}}
    spec:
      schedulerName: hwameistor-scheduler
      terminationGracePeriodSeconds: 3
      containers:
      - name: writer
        image: busybox:1.36
        command: ["sh", "-c", "while true; do echo \\"kw $(date +%s%N)\\" >> /data/lines; sync /data/lines; echo \\"df $(df -k /data | tail -1)\\"; sleep 0.3; done"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: e2e-kill
      resources: {requests: {storage: 512Mi}}
`;
const RESTORE = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: kw-restored}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: e2e-kill
  resources: {requests: {storage: 512Mi}}
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: kw-snap}
---
apiVersion: v1
kind: Pod
metadata: {name: kw-reader}
spec:
  schedulerName: hwameistor-scheduler
  restartPolicy: Never
  containers:
  - {name: r, image: busybox, command: ["cat", "/data/lines"], volumeMounts: [{name: d, mountPath: /data}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: kw-restored}}]
`;

/** The node agent of the node the pod runs on (node agents are processes named after their node). */
const nodeOf = async (pod: string) => jp(["pod", pod], "{.spec.nodeName}");
const fsKiB = async () => Number(/^df \S+\s+(\d+)/m.exec((await c.k.ok(["logs", "kw-0", "--tail=1"])).trim())?.[1] ?? 0);

interface Step {
  name: string;
  /** Kill points armed before `act`; each must be reached. */
  kills: (known: Set<string>) => KillPoint[];
  act: () => Promise<unknown>;
  /** The step's own outcome (after the kills). */
  check: () => Promise<void>;
  after: { running: string[]; succeeded?: string[] } | "nothing";
}

const newName = (known: Set<string>) => (f: string[]) => !!f[0] && !known.has(f[0]);
const STEPS: Step[] = [
  {
    name: "provision and publish",
    kills: (known) => [
      {
        label: "controller when the LocalVolume appears",
        resource: "localvolumes",
        fields: ["{.metadata.name}"],
        victim: (f) => (newName(known)(f) ? "controller" : undefined),
      },
      {
        label: "node agent when the VolumeAttachment is attached (it publishes now)",
        resource: "volumeattachments",
        fields: ["{.spec.nodeName}", "{.status.attached}"],
        victim: (f) => (f[1] === "true" ? f[0] : undefined),
      },
    ],
    act: () => apply(STS),
    check: async () => {
      await waitFor("kw-0 Running", async () => (await jp(["pod", "kw-0"], "{.status.phase}")) === "Running", 150_000);
      await waitFor("kw-0 writes", async () => (await fsKiB()) > 0, 30_000);
    },
    after: { running: ["kw-0"] },
  },
  {
    name: "snapshot",
    kills: () => [
      {
        label: "kube-controllers when the VolumeSnapshotContent appears",
        resource: "volumesnapshotcontents",
        fields: ["{.metadata.name}"],
        victim: (f) => (f[0] ? "kube-controllers" : undefined),
      },
      {
        label: "controller when the LocalVolumeSnapshot appears",
        resource: "localvolumesnapshots",
        fields: ["{.metadata.name}"],
        victim: (f) => (f[0] ? "controller" : undefined),
      },
      {
        label: "node agent when the LocalVolumeReplicaSnapshot appears (it snapshots now)",
        resource: "localvolumereplicasnapshots",
        fields: ["{.spec.nodeName}"],
        victim: (f) => f[0] || undefined,
      },
    ],
    act: () =>
      apply(
        `{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshot","metadata":{"name":"kw-snap"},"spec":{"volumeSnapshotClassName":"e2e-kill-snap","source":{"persistentVolumeClaimName":"data-kw-0"}}}`,
      ),
    check: () => waitFor("kw-snap readyToUse", async () => (await jp(["volumesnapshot", "kw-snap"], "{.status.readyToUse}")) === "true", 120_000),
    after: { running: ["kw-0"] },
  },
  {
    name: "restore",
    kills: (known) => [
      {
        label: "controller when the restored claim's LocalVolume appears",
        resource: "localvolumes",
        fields: ["{.metadata.name}"],
        victim: (f) => (newName(known)(f) ? "controller" : undefined),
      },
      {
        label: "node agent when the LocalVolumeReplicaSnapshotRestore appears (it copies the data now)",
        resource: "localvolumereplicasnapshotrestores",
        fields: ["{.spec.nodeName}"],
        victim: (f) => f[0] || undefined,
      },
    ],
    act: () => apply(RESTORE),
    check: async () => {
      await waitFor("kw-reader Succeeded", async () => (await jp(["pod", "kw-reader"], "{.status.phase}")) === "Succeeded", 150_000);
      const lines = (await c.k.ok(["logs", "kw-reader"])).split("\n").filter(Boolean);
      assert.ok(lines.length > 0 && lines.every((l) => l.startsWith("kw ")), `the restored file holds the writer's lines (${lines.length})`);
    },
    after: { running: ["kw-0"], succeeded: ["kw-reader"] },
  },
  {
    name: "expand",
    kills: () => [
      {
        label: "kube-controllers when the claim is Resizing",
        resource: "pvc",
        fields: ["{.metadata.name}", "{.status.conditions[*].type}"],
        victim: (f) => (f[0] === "data-kw-0" && /\bResizing\b/.test(f[1] ?? "") ? "kube-controllers" : undefined),
      },
      {
        label: "controller when the LocalVolumeExpand appears",
        resource: "localvolumeexpands",
        fields: ["{.metadata.name}"],
        victim: (f) => (f[0] ? "controller" : undefined),
      },
      {
        label: "node agent when the claim waits for FileSystemResizePending (it expands now)",
        resource: "pvc",
        fields: ["{.metadata.name}", "{.status.conditions[*].type}"],
        victim: (f) => (f[0] === "data-kw-0" && /FileSystemResizePending/.test(f[1] ?? "") ? nodeOfKw : undefined),
      },
    ],
    act: () => c.k.ok(["patch", "pvc", "data-kw-0", "-p", '{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}']),
    check: async () => {
      await waitFor("the pod sees the grown filesystem", async () => (await fsKiB()) > 900 * 1024, 120_000);
      await waitFor("capacity 1Gi", async () => (await jp(["pvc", "data-kw-0"], "{.status.capacity.storage}")) === "1Gi", 60_000);
    },
    after: { running: ["kw-0"], succeeded: ["kw-reader"] },
  },
  {
    name: "delete",
    kills: () => [
      {
        label: "node agent when the pod is being deleted (it tears down now)",
        resource: "pods",
        fields: ["{.metadata.name}", "{.metadata.deletionTimestamp}"],
        victim: (f) => (f[0] === "kw-0" && f[1] ? nodeOfKw : undefined),
      },
      {
        label: "kube-controllers when a PV is Released (it deletes the volume now)",
        resource: "pv",
        fields: ["{.metadata.name}", "{.status.phase}"],
        victim: (f) => (f[1] === "Released" ? "kube-controllers" : undefined),
      },
      {
        label: "controller when a LocalVolume is marked for deletion",
        resource: "localvolumes",
        fields: ["{.metadata.name}", "{.spec.delete}"],
        victim: (f) => (f[1] === "true" ? "controller" : undefined),
      },
    ],
    act: async () => {
      await c.k.ok(["delete", "statefulset", "kw", "--wait=false"]);
      await c.k.ok(["delete", "pod", "kw-reader", "--wait=false"]);
      await c.k.ok(["delete", "volumesnapshot", "kw-snap", "--wait=false"]);
      await c.k.ok(["delete", "pvc", "data-kw-0", "kw-restored", "--wait=false"]);
    },
    check: () => waitFor("pods, claims, PVs, attachments, volumes, replicas and snapshots gone", async () => (await get([KINDS])).items.length === 0, 240_000),
    after: "nothing",
  },
];
let nodeOfKw = "";

test("kill -9 of the controller, kube-controllers and a node agent at every step of a StatefulSet's life converges", { skip, timeout: 900_000 }, async () => {
  const hostBefore = await hostObjects(c.state);
  for (const step of STEPS) {
    const t0 = Date.now();
    const known = await names("localvolumes");
    const armed = step.kills(known).map((kp) => armKill(c, kp));
    try {
      await Promise.all(armed.map((a) => a.ready));
      await step.act();
      const fired = await Promise.all(armed.map((a) => a.done));
      await step.check();
      if (step.name === "provision and publish") nodeOfKw = await nodeOf("kw-0");
      if (step.after !== "nothing") await converged(step.name, step.after);
      console.log(`# ${step.name}: ${Date.now() - t0} ms\n#   ${fired.join("\n#   ")}`);
    } catch (e) {
      const left = await c.k.run(["get", `${KINDS},localvolumesnapshotrestores,localvolumereplicasnapshotrestores`, "-o", "wide"]);
      throw new Error(
        `${step.name}: ${(e as Error).message}\nkill points:\n${armed.map((a) => a.status()).join("\n")}\nobjects:\n${left.stdout}${left.stderr}\n` +
          logProblems(c.state, ["controller", "kube-controllers", nodeOfKw || "node-1"]),
      );
    } finally {
      for (const a of armed) a.stop();
    }
    if (step.name === "provision and publish") assert.ok(nodeOfKw, "kw-0 has a node");
  }
  const host = await hostObjects(c.state);
  assert.deepEqual(host.containers, [], "no container process");
  assert.deepEqual(host.kubeletMounts, [], "no kubelet mount");
  assert.deepEqual(host.loops, hostBefore.loops, "only the disks' loop devices");
});
