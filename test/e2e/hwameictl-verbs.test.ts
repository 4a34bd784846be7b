// hwameictl at parity with the original's verbs (reference §9), each run as a user runs it (bin/hwameictl, a
// separate process) against the embedded API server with the CRDs applied: what each verb writes is read back
// from the API, bad input is refused with the right exit code and nothing written, and -o json gives the objects.
// No root needed: nothing here touches a disk (the objects stand for nodes, disks and volumes).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { runHwameictl } from "../helpers/hwameictl.ts";
import { startTestServer, type TestServer } from "../../src/apiserver/testing/harness.ts";
import { applyCrds } from "../../src/devcluster/bootstrap.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { hwameistorClients, type HwameistorClients } from "../../src/kube/hwameistor.ts";
import { NODE, PVC, STORAGE_CLASS, VOLUME_SNAPSHOT, VOLUME_SNAPSHOT_CLASS } from "../../src/kube/resources.ts";

const repo = resolve(import.meta.dirname, "../..");
let srv!: TestServer;
let client!: KubeClient;
let c!: HwameistorClients;

/** Runs hwameictl in this process (each command's handler, printer and error mapping as in bin/hwameictl). */
const ctl = (args: string[]) => runHwameictl(srv.kubeconfigPath, srv.dataDir, args);
/** The real launcher, as a separate process (for what only it does: --debug's stack, exit codes). */
function ctlProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) =>
    execFile(
      join(repo, "bin/hwameictl"),
      ["--kubeconfig", srv.kubeconfigPath, "--state-dir", join(srv.dataDir, "no-cluster"), ...args],
      { cwd: repo, timeout: 120_000, env: { ...process.env, HWAMEISTOR_TSX: "1" } },
      (err, stdout, stderr) => res({ code: err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0, stdout, stderr }),
    ),
  );
}
async function ok(args: string[]): Promise<string> {
  const r = await ctl(args);
  assert.equal(r.code, 0, `hwameictl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
async function fails(args: string[], code: number, re: RegExp): Promise<void> {
  const r = await ctl(args);
  assert.equal(r.code, code, `hwameictl ${args.join(" ")}: exit ${r.code}, stderr ${r.stderr}`);
  assert.match(r.stderr, re);
}

const disk = (name: string, node: string, dev: string, claimState: string, extra: object = {}) => ({
  metadata: { name },
  spec: { nodeName: node, devicePath: dev, capacity: 2 ** 30, state: "Active", diskAttributes: { type: "HDD" }, ...extra },
  status: { claimState },
});

before(async () => {
  srv = await startTestServer();
  client = new KubeClient(loadKubeConfig({ kubeconfigPath: srv.kubeconfigPath }).kubeConfig);
  await applyCrds(client);
  c = hwameistorClients(client);
  for (const n of ["n1", "n2"]) await client.forKind(NODE).create({ metadata: { name: n } });
  for (const d of [
    disk("localdisk-free", "n1", "/dev/sdb", "Available"),
    disk("localdisk-used", "n1", "/dev/sdc", "Bound", { owner: "local-storage", claimRef: { name: "n1-hdd-claim" } }),
  ]) {
    const created = await c.ld.create(d as never);
    await c.ld.updateStatus({ ...created, status: d.status } as never);
  }
  await c.lv.create({
    metadata: { name: "v1" },
    spec: { poolName: "LocalStorage_PoolHDD", replicaNumber: 1, convertible: true, requiredCapacityBytes: 2 ** 30, accessibility: { nodes: ["n1"] } },
  } as never);
  await c.lv.create({
    metadata: { name: "v2" },
    spec: { poolName: "LocalStorage_PoolHDD", replicaNumber: 1, convertible: false, requiredCapacityBytes: 2 ** 30, accessibility: { nodes: ["n1"] } },
  } as never);
  await c.lvr.create({
    metadata: { name: "v1-r1" },
    spec: { volumeName: "v1", nodeName: "n1", poolName: "LocalStorage_PoolHDD", requiredCapacityBytes: 2 ** 30 },
  } as never);
});

after(async () => {
  await srv?.dispose();
});

test("volume migrate | convert with abort and list: the resources, named as the original names them", { timeout: 120_000 }, async () => {
  const out = await ok(["volume", "migrate", "v1", "n1", "n2", "forbid"]);
  assert.match(out, /progress in its status/);
  const m = await c.lvmigrate.get("migrate-v1");
  assert.deepEqual([m?.spec?.volumeName, m?.spec?.sourceNode, m?.spec?.targetNodesSuggested], ["v1", "n1", ["n2"]]);
  assert.equal(m?.metadata?.annotations?.["hwameistor.io/replica-affinity"], "forbid");
  await fails(["volume", "migrate", "v1", "n1", "n2"], 4, /exists/);
  await fails(["volume", "migrate", "v1", "n9"], 3, /node "n9" not found.*n1, n2/);
  await fails(["volume", "migrate", "v1", "n1", "n2", "maybe"], 2, /need or forbid/);
  await fails(["volume", "migrate", "nope", "n1"], 3, /the LocalVolumes are: v1, v2/);
  const list = JSON.parse(await ok(["volume", "migrate", "list", "-o", "json"]));
  assert.deepEqual(
    list.map((x: any) => x.metadata.name),
    ["migrate-v1"],
  );
  await ok(["volume", "migrate", "abort", "v1"]);
  assert.equal((await c.lvmigrate.get("migrate-v1"))?.spec?.abort, true);

  await ok(["volume", "convert", "v1"]);
  assert.deepEqual((await c.lvconvert.get("convert-v1"))?.spec, { volumeName: "v1", replicaNumber: 2, abort: false });
  await fails(["volume", "convert", "v2"], 1, /not convertible/);
  assert.match(await ok(["volume", "convert", "list"]), /convert-v1\s+v1\s+2/);
  await ok(["volume", "convert", "abort", "v1"]);
  assert.equal((await c.lvconvert.get("convert-v1"))?.spec?.abort, true);
});

test("volume expand: abort and list of LocalVolumeExpands; a bad capacity refused before anything", { timeout: 60_000 }, async () => {
  await c.lvexpand.create({ metadata: { name: "v1" }, spec: { volumeName: "v1", requiredCapacityBytes: 2 ** 31 } } as never);
  assert.match(await ok(["volume", "expand", "list"]), /^v1\s+v1\s+2147483648/m);
  await ok(["volume", "expand", "abort", "v1"]);
  assert.equal((await c.lvexpand.get("v1"))?.spec?.abort, true);
  await fails(["volume", "expand", "v1", "2GB"], 2, /2Gi/);
  await fails(["volume", "expand", "abort", "v9"], 3, /expand operation of volume v9/);
});

test("node enable; pool expand; disk owner and reserve <true|false>", { timeout: 120_000 }, async () => {
  await fails(["node", "enable", "n1", "false"], 1, /node n1 still holds volumes: v1/);
  await ok(["node", "enable", "n2", "false"]);
  assert.equal((await client.forKind(NODE).get("n2"))?.metadata?.labels?.["lvm.hwameistor.io/enable"], "false");
  await ok(["node", "enable", "n2", "true"]);
  assert.equal((await client.forKind(NODE).get("n2"))?.metadata?.labels?.["lvm.hwameistor.io/enable"], "true");
  await fails(["node", "enable", "n2", "yes"], 2, /not true or false/);

  await fails(["pool", "expand", "n2", "HDD", "local-storage"], 1, /no free HDD disk/);
  await fails(["pool", "expand", "n1", "SATA", "local-storage"], 2, /HDD, SSD or NVMe/);
  const claim = JSON.parse(await ok(["pool", "expand", "n1", "HDD", "local-storage", "-o", "json"]));
  assert.deepEqual(
    [claim.metadata.name, claim.spec.nodeName, claim.spec.owner, claim.spec.description.diskType],
    ["n1-hdd-claim", "n1", "local-storage", "HDD"],
  );

  await ok(["disk", "owner", "n1", "/dev/sdb", "system"]);
  assert.equal((await c.ld.get("localdisk-free"))?.spec?.owner, "system");
  await fails(["disk", "owner", "n1", "/dev/sdc", "system"], 1, /claimed by n1-hdd-claim/);
  await fails(["disk", "owner", "n1", "/dev/sdz", "system"], 3, /the disks of n1 are/);
  await ok(["disk", "reserve", "n1", "/dev/sdb", "true"]);
  assert.equal((await c.ld.get("localdisk-free"))?.spec?.reserved, true);
  await ok(["disk", "reserve", "n1", "/dev/sdb", "false"]);
  assert.equal((await c.ld.get("localdisk-free"))?.spec?.reserved, false);
  await ok(["disk", "reserve", "n1", "localdisk-free"]); // our form: default true
  await ok(["disk", "unreserve", "n1", "localdisk-free"]); // our alias
  assert.equal((await c.ld.get("localdisk-free"))?.spec?.reserved, false);
});

test("node drain | uncordon: the node cordoned, each of its volumes with its migration", { timeout: 60_000 }, async () => {
  const out = await ok(["node", "drain", "n1"]);
  assert.match(out, /node n1 cordoned/);
  assert.match(out, /v1\s+migrate-v1/);
  assert.equal((await c.node.get("n1"))?.spec?.unschedulable, true);
  const json = JSON.parse(await ok(["node", "drain", "n1", "-o", "json"]));
  assert.deepEqual(
    json.volumes.map((v: { volume: string }) => v.volume),
    ["v1"],
  );
  assert.match(await ok(["node", "uncordon", "n1"]), /node n1 uncordoned/);
  assert.equal((await c.node.get("n1"))?.spec?.unschedulable, undefined);
  await fails(["node", "drain", "n9"], 3, /n9/);
});

test("sc list|add|delete with the original's flags; vsc; vs; lvs", { timeout: 120_000 }, async () => {
  const sc = JSON.parse(
    await ok(["sc", "add", "gold", "--poolClass", "SSD", "--replicaNumber", "2", "--convertible", "true", "--fstype", "ext4", "--iops", "100", "-o", "json"]),
  );
  assert.deepEqual(sc.parameters, {
    "csi.storage.k8s.io/fstype": "ext4",
    poolClass: "SSD",
    poolType: "REGULAR",
    volumeKind: "LVM",
    replicaNumber: "2",
    convertible: "true",
    striped: "true",
    "provision-iops-on-creation": "100",
  });
  assert.equal(sc.provisioner, "lvm.hwameistor.io");
  const disksc = parse(await ok(["sc", "add", "raw", "--provisioner", "disk.hwameistor.io", "--diskType", "NVMe", "-o", "yaml"]));
  assert.equal(disksc.parameters.diskType, "NVMe");
  await fails(["sc", "add", "bad", "--replicaNumber", "3"], 2, /1 or 2/);
  assert.equal(await client.forKind(STORAGE_CLASS).get("bad"), undefined);
  assert.match(await ok(["sc", "list"]), /gold\s+lvm.hwameistor.io\s+SSD\s+2/);
  await ok(["sc", "delete", "raw"]);
  assert.equal(await client.forKind(STORAGE_CLASS).get("raw"), undefined);

  await ok(["vsc", "add", "snapclass", "--snapsize", "1073741824"]);
  assert.deepEqual((await client.forKind<any>(VOLUME_SNAPSHOT_CLASS).get("snapclass"))?.parameters, { snapsize: "1073741824" });
  assert.match(await ok(["vsc", "list"]), /snapclass\s+lvm.hwameistor.io/);

  await client.forKind(PVC).create(
    {
      metadata: { name: "data", namespace: "default" },
      spec: { storageClassName: "gold", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    } as never,
    "default",
  );
  await ok(["vs", "add", "snap1", "--vsc", "snapclass", "--pvc", "data"]);
  assert.equal((await client.forKind<any>(VOLUME_SNAPSHOT).get("snap1", "default"))?.spec?.source?.persistentVolumeClaimName, "data");
  await fails(["vs", "add", "snap2", "--vsc", "nope", "--pvc", "data"], 3, /VolumeSnapshotClass "nope"/);
  await ok(["vs", "restore", "snap1", "--pvc", "data-restored", "--storage", "1Gi"]);
  const restored = await client.forKind<any>(PVC).get("data-restored", "default");
  assert.deepEqual([restored?.spec?.storageClassName, restored?.spec?.dataSource?.name], ["gold", "snap1"]);
  await fails(["vs", "rollback", "snap1"], 1, /not bound to a snapshot yet/);
  assert.match(await ok(["vs", "list", "--ns", "default"]), /snap1\s+data\s+snapclass/);
  await ok(["vs", "delete", "snap1"]);
  await ok(["vsc", "delete", "snapclass"]);

  assert.match(await ok(["lvs", "list"]), /No snapshots/);
  await fails(["lvs", "rollback", "nope"], 3, /nope/);
});

test("cluster install | event; -o json|yaml; --debug; completion", { timeout: 120_000 }, async () => {
  const inst = JSON.parse(await ok(["cluster", "install", "-o", "json"]));
  assert.equal(inst.metadata.name, "cluster-sample");
  assert.match(await ok(["cluster", "install"]), /exists/);
  await c.evt.create({
    metadata: { name: "volume-v1" },
    spec: { resourceType: "Volume", resourceName: "v1", records: [{ time: "2026-12-05T00:00:00Z", action: "Create", actionContent: "{}" }] },
  } as never);
  assert.match(await ok(["cluster", "event", "--name", "volume-v1"]), /Volume\s+v1\s+Create/);
  await fails(["cluster", "event", "--name", "nothing"], 3, /audit Event "nothing"/);

  for (const args of [
    ["node", "list"],
    ["disk", "list"],
    ["pool", "list"],
    ["volume", "list"],
    ["sc", "list"],
    ["vsc", "list"],
    ["vs", "list"],
    ["lvs", "list"],
    ["volume", "migrate", "list"],
    ["cluster", "event"],
  ]) {
    JSON.parse(await ok([...args, "-o", "json"]));
    assert.ok((await ok([...args, "-o", "yaml"])).length > 0);
  }
  const dbg = await ctlProcess(["--debug", "volume", "migrate", "nope", "n1"]);
  assert.equal(dbg.code, 3);
  assert.match(dbg.stderr, /kubeconfig --kubeconfig .*API server http/);
  assert.match(dbg.stderr, /at .*operations\.ts/, "the stack with --debug");

  const bash = await ok(["completion", "bash"]);
  assert.match(bash, /complete -F _hwameictl hwameictl/);
  assert.match(bash, /"volume"\) words="[^"]*migrate[^"]*convert[^"]*"/);
  assert.match(bash, /"sc add"\) words="[^"]*--replicaNumber[^"]*--poolClass/);
  // The script completes in a real bash.
  const words = await new Promise<string>((res, rej) =>
    execFile("bash", ["-c", `${bash}\nCOMP_WORDS=(hwameictl volume mi); COMP_CWORD=2; _hwameictl; echo "\${COMPREPLY[@]}"`], (err, stdout) =>
      err ? rej(err) : res(stdout.trim()),
    ),
  );
  assert.equal(words, "migrate");
  await fails(["completion", "fish"], 2, /bash or zsh/);
});
