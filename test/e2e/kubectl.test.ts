// Acceptance of the embedded API server by the machine's unmodified kubectl (issue: foundation).
// Every step is what a user of the original system does with its YAML and CRDs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, readdirSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startApiServer, type RunningApiServer } from "../../src/apiserver/server.ts";
import { kubectlRunner, waitFor } from "../helpers/kubectl.ts";

const repo = resolve(import.meta.dirname, "../..");
const crdDir = join(repo, "deploy/crds");
const seedFile = resolve(repo, "test/fixtures/seed-examples.yaml");

let dir: string;
let server: RunningApiServer;
let k: ReturnType<typeof kubectlRunner>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "hwameistor-kubectl-"));
  server = await startApiServer({ dataDir: join(dir, "data"), port: 0 });
  k = kubectlRunner(server.kubeconfigPath);
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const kinds: Array<[string, string[]]> = [
  ["LocalDisk", ["ld"]],
  ["LocalDiskNode", ["ldn"]],
  ["LocalDiskClaim", ["ldc"]],
  ["LocalDiskVolume", ["ldv"]],
  ["LocalDiskAction", ["lda"]],
  ["LocalStorageNode", ["lsn"]],
  ["LocalVolume", ["lv"]],
  ["LocalVolumeReplica", ["lvr"]],
  ["LocalVolumeGroup", ["lvg"]],
  ["LocalVolumeMigrate", ["lvmigrate"]],
  ["LocalVolumeConvert", ["lvconvert"]],
  ["LocalVolumeExpand", ["lvexpand"]],
  ["LocalVolumeSnapshot", ["lvs"]],
  ["LocalVolumeReplicaSnapshot", ["lvrs"]],
  ["LocalVolumeSnapshotRestore", ["lvsrestore", "lvsnaprestore"]],
  ["LocalVolumeReplicaSnapshotRestore", ["lvrsrestore", "lvrsnaprestore"]],
  ["ThinPoolClaim", ["tpc"]],
  ["ResizePolicy", []],
  ["Event", ["evt"]],
  ["Cluster", ["hmcluster"]],
];

test("kubectl apply -f deploy/crds/ registers every hwameistor.io kind with its short names", async () => {
  assert.ok(readdirSync(crdDir).length >= kinds.length, "deploy/crds has a CRD per kind");
  await k.ok(["apply", "-f", crdDir]);
  await k.ok(["wait", "--for=condition=Established", "--timeout=20s", "crd", "--all"]);
  const out = await k.ok(["api-resources", "--api-group=hwameistor.io", "--no-headers"]);
  const rows = out
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/));
  for (const [kind, shortNames] of kinds) {
    const row = rows.find((r) => r[r.length - 1] === kind);
    assert.ok(row, `api-resources lists ${kind}:\n${out}`);
    // NAME SHORTNAMES APIVERSION NAMESPACED KIND
    if (shortNames.length) assert.equal(row![1], shortNames.join(","), `${kind} short names`);
    assert.ok(row!.includes("hwameistor.io/v1alpha1"));
    assert.ok(row!.includes("false"), `${kind} is cluster-scoped`);
  }
});

test("every document of the original's user YAML applies unchanged", async () => {
  const out = await k.ok(["apply", "-f", seedFile]);
  assert.match(out, /localdiskclaim.hwameistor.io\/k8s-worker-4 created/);
  assert.match(out, /storageclass.storage.k8s.io\/hwameistor-storage-lvm-hdd created/);
  // The disk-expansion claim omits spec.owner (as the original's docs do); it is defaulted.
  const owner = await k.ok(["get", "ldc", "k8s-worker-4-expand", "-o", "jsonpath={.spec.owner}"]);
  assert.equal(owner, "local-storage");
  // Applying again is a no-op, as kubectl users expect.
  const again = await k.ok(["apply", "-f", seedFile]);
  assert.match(again, /localdiskclaim.hwameistor.io\/k8s-worker-4 unchanged/);
});

test("get shows printer columns; -o wide adds the priority-1 ones; -o yaml round-trips", async () => {
  await k.ok(
    ["apply", "-f", "-"],
    `apiVersion: hwameistor.io/v1alpha1
kind: LocalDisk
metadata:
  name: localdisk-0123456789abcdef0123456789abcdef
spec:
  nodeName: node-1
  devicePath: /dev/loop7
  capacity: 1073741824
  state: Active
  owner: local-storage
  reserved: false
  diskAttributes:
    type: HDD
`,
  );
  const table = await k.ok(["get", "ld"]);
  const header = table.split("\n")[0]!;
  for (const col of ["NAME", "NODEMATCH", "DEVICEPATH", "OWNER", "PHASE", "STATE", "AGE"]) assert.match(header, new RegExp(`\\b${col}\\b`));
  assert.doesNotMatch(header, /CAPACITY/, "priority-1 columns hidden without -o wide");
  assert.match(table, /localdisk-0123456789abcdef0123456789abcdef\s+node-1\s+\/dev\/loop7\s+local-storage/);
  const wide = await k.ok(["get", "ld", "-o", "wide"]);
  assert.match(wide.split("\n")[0]!, /CAPACITY/);
  assert.match(wide, /1073741824/);
  const yaml = await k.ok(["get", "ld", "localdisk-0123456789abcdef0123456789abcdef", "-o", "yaml"]);
  assert.match(yaml, /kind: LocalDisk/);
  assert.match(yaml, /resourceVersion: "\d+"/);
  assert.match(yaml, /uid: [0-9a-f-]{36}/);

  const sc = await k.ok(["get", "sc"]);
  assert.match(sc.split("\n")[0]!, /PROVISIONER/);
  assert.match(sc, /hwameistor-storage-lvm-hdd\s+lvm.hwameistor.io\s+Delete\s+WaitForFirstConsumer\s+true/);
});

test("describe, patch --type merge, label and edit through KUBE_EDITOR", async () => {
  const desc = await k.ok(["describe", "ldc", "k8s-worker-4"]);
  assert.match(desc, /Name:\s+k8s-worker-4/);
  assert.match(desc, /Node Name:\s+k8s-worker-4/);

  await k.ok(["patch", "ldc", "k8s-worker-4", "--type", "merge", "-p", '{"spec":{"description":{"capacity":1048576}}}']);
  assert.equal(await k.ok(["get", "ldc", "k8s-worker-4", "-o", "jsonpath={.spec.description.capacity}"]), "1048576");

  await k.ok(["label", "ldc", "k8s-worker-4", "team=storage"]);
  assert.match(await k.ok(["get", "ldc", "-l", "team=storage", "-o", "name"]), /localdiskclaim.hwameistor.io\/k8s-worker-4/);
  assert.equal((await k.ok(["get", "ldc", "-l", "team!=storage", "-o", "name"])).includes("k8s-worker-4\n"), false);

  // An editor that rewrites the disk type, as a person would in vi.
  const editor = join(dir, "editor.sh");
  writeFileSync(editor, "#!/bin/sh\nsed -i 's/diskType: SSD/diskType: NVMe/' \"$1\"\n");
  chmodSync(editor, 0o755);
  await k.ok(["edit", "ldc", "k8s-worker-4"], undefined, { KUBE_EDITOR: editor });
  assert.equal(await k.ok(["get", "ldc", "k8s-worker-4", "-o", "jsonpath={.spec.description.diskType}"]), "NVMe");
});

test("schema-invalid objects are refused with the field named, and nothing is written", async () => {
  const r = await k.run(
    ["apply", "-f", "-"],
    `apiVersion: hwameistor.io/v1alpha1
kind: LocalVolume
metadata:
  name: pvc-bad
spec:
  poolName: LocalStorage_PoolHDD
  replicaNumber: 7
  requiredCapacityBytes: 1000
`,
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /replicaNumber/);
  assert.match(r.stderr, /requiredCapacityBytes/);
  const get = await k.run(["get", "lv", "pvc-bad"]);
  assert.notEqual(get.code, 0);
  assert.match(get.stderr, /NotFound|not found/);
});

test("delete of an object with a finalizer waits for the finalizer", async () => {
  await k.ok(
    ["apply", "-f", "-"],
    `apiVersion: hwameistor.io/v1alpha1
kind: LocalDiskVolume
metadata:
  name: pvc-finalized
  finalizers: ["localdisk.hwameistor.io/finalizer"]
spec:
  diskType: HDD
  requiredCapacityBytes: 4194304
`,
  );
  await k.ok(["delete", "ldv", "pvc-finalized", "--wait=false"]);
  const ts = await k.ok(["get", "ldv", "pvc-finalized", "-o", "jsonpath={.metadata.deletionTimestamp}"]);
  assert.match(ts, /^\d{4}-\d\d-\d\dT/);
  await k.ok(["patch", "ldv", "pvc-finalized", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}']);
  await waitFor(async () => (await k.run(["get", "ldv", "pvc-finalized"])).code !== 0, 5000, "finalized object to go");
});

test("get -w sees additions, changes and deletions", async () => {
  const w = k.start(["get", "lda", "-w", "--output-watch-events"]);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const lda = (max: number) => `apiVersion: hwameistor.io/v1alpha1
kind: LocalDiskAction
metadata:
  name: reserve-small
spec:
  action: reserve
  rule:
    maxCapacity: ${max}
`;
    await k.ok(["apply", "-f", "-"], lda(1024));
    await waitFor(() => /ADDED\s+reserve-small/.test(w.output()), 10_000, "ADDED in get -w");
    await k.ok(["apply", "-f", "-"], lda(2048));
    await waitFor(() => /MODIFIED\s+reserve-small/.test(w.output()), 10_000, "MODIFIED in get -w");
    await k.ok(["delete", "lda", "reserve-small"]);
    await waitFor(() => /DELETED\s+reserve-small/.test(w.output()), 10_000, "DELETED in get -w");
  } finally {
    w.child.kill("SIGTERM");
  }
});

test("kubectl explain reads the published schema", async () => {
  const out = await k.ok(["explain", "localvolume.spec.replicaNumber"]);
  assert.match(out, /replicaNumber/);
  assert.match(out, /integer/);
});
