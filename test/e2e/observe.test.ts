// Seeing the cluster (issue 14 items 1, 2, 5): one dev cluster (2 node agents, 2 × 1 GiB loop disks each) with the
// exporter process the dev cluster starts. A volume is created, mounted and written, snapshotted, expanded; a
// migration, a conversion and a failing expansion are submitted. Then:
// - the exporter's live /metrics passes `promtool check metrics` (Debian's prometheus package) except for the
//   camelCase label names of the original's metrics, which are kept on purpose (docs/compatibility.md);
// - every metric of reference §8 is present with its labels and the value the objects (read with kubectl) give;
// - the controller's and the node agent's own /metrics have the CSI latencies (CreateVolume, NodePublishVolume),
//   the reconcile metrics and the volume's I/O counters;
// - with the API server frozen (SIGSTOP) the exporter keeps serving and says it is stale; after SIGCONT it is not;
// - the auditor (reference §10), read as a user does with `kubectl get events.hwameistor.io -o yaml`: every record
//   kind of every resource type (docs/auditor.md lists which test step gives which), in order, with no duplicate
//   after a controller restart.
// Needs root and promtool. `after` runs `cluster down --purge` and removes the temp dir, also on failure.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DATAPLANE_BIN } from "../../src/devcluster/processes.ts";
import { CLUSTER_METRICS } from "../../src/exporter/cluster-metrics.ts";
import { devClusterCli } from "../helpers/devcluster.ts";
import { kubectlRunner, waitFor } from "../helpers/kubectl.ts";
import { CAMEL_CASE_FINDING, parseExposition, promtoolCheckMetrics, type PromSample } from "../helpers/prom.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : !existsSync("/usr/bin/promtool") ? "needs promtool (Debian prometheus; scripts/install-deps.sh)" : false;
let dir = "";
let state = "";
const { run, ok, clusterJson } = devClusterCli(() => state);
let k!: ReturnType<typeof kubectlRunner>;
const mnt = () => join(dir, "mnt", "v1");

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  return res.text();
}
const ports = () => clusterJson().api.metricsPorts as Record<string, number>;
const getJson = async (what: string) => JSON.parse(await k.ok(["get", what, "-o", "json"])).items as any[];
const one = (samples: PromSample[], name: string, labels: Record<string, string>): PromSample => {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([l, v]) => s.labels[l] === v));
  assert.equal(hits.length, 1, `exactly one ${name}${JSON.stringify(labels)}; got ${hits.length}`);
  return hits[0]!;
};
const ORIGINAL_NAMES = new Set<string>(
  Object.values(CLUSTER_METRICS)
    .filter((d) => !("ours" in d))
    .map((d) => d.name),
);

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), "hw-observe-e2e-"));
  state = join(dir, "state");
});

after(async () => {
  // A mount can stay busy for a moment after its users stop (a process on the machine that entered a new mount
  // namespace holds a copy): `down` is retried before giving up.
  for (let i = 0; state && existsSync(state) && i < 4; i++) {
    const r = await run("hwameistor", ["cluster", "down", "--purge", "--state-dir", state]);
    if (r.code === 0) break;
    console.log(`# cleanup down (try ${i + 1}): ${r.stderr.trim()}`);
    await new Promise((res) => setTimeout(res, 3000));
  }
  if (dir) await rm(dir, { recursive: true, force: true }).catch((e: unknown) => console.log(`# cleanup: ${String(e)}`));
});

test("a dev cluster with disks, pools, a written volume, a snapshot and operations", { skip, timeout: 400_000 }, async () => {
  const up = JSON.parse(
    await ok("hwameistor", ["cluster", "up", "--nodes", "2", "--disks-per-node", "2", "--disk-size", "1Gi", "--state-dir", state, "-o", "json"]),
  );
  k = kubectlRunner(up.kubeconfig);
  await ok("hwameictl", ["volume", "create", "v1", "--class", "hwameistor-storage-lvm-hdd", "--size", "300Mi", "--node", "node-1"]);
  await ok("hwameictl", ["volume", "mount", "v1", "--node", "node-1", "--path", mnt()]);
  writeFileSync(join(mnt(), "data.bin"), randomBytes(8 * 2 ** 20), { flush: true });
  await ok("hwameictl", ["snapshot", "create", "s1", "--volume", "v1"]);
  await ok("hwameictl", ["volume", "expand", "v1", "--size", "400Mi", "--node", "node-1", "--path", mnt()]);
  // Operations the exporter reports while they exist: a migration of the published v1 (refused while in use, so it
  // stays), a conversion of the non-convertible v1 (it fails) and an expansion the pools cannot hold (it stays
  // Failed). (A migration that runs to the end is in the auditor's volume test, after the metric checks: it moves
  // capacity between the nodes while it runs.)
  assert.match(await ok("hwameictl", ["volume", "migrate", "v1", "node-1", "node-2"]), /LocalVolumeMigrate migrate-v1 created/);
  await k.ok(
    ["apply", "-f", "-"],
    [
      "apiVersion: hwameistor.io/v1alpha1\nkind: LocalVolumeConvert\nmetadata: {name: convert-v1}\nspec: {volumeName: v1, replicaNumber: 2}",
      "apiVersion: hwameistor.io/v1alpha1\nkind: LocalVolumeExpand\nmetadata: {name: v1}\nspec: {volumeName: v1, requiredCapacityBytes: 107374182400}",
    ].join("\n---\n"),
  );
  await waitFor(async () => (await getJson("localvolumeexpands"))[0]?.status?.state === "Failed", 30_000, "the oversized expansion Failed");
});

test("exporter: promtool check metrics passes on a live scrape (only the original's camelCase labels flagged)", { skip, timeout: 60_000 }, async () => {
  const body = await scrape(ports().exporter!);
  const { code, findings } = await promtoolCheckMetrics(body);
  const unexpected = findings.filter((f) => {
    const m = CAMEL_CASE_FINDING.exec(f);
    return !m || !ORIGINAL_NAMES.has(m[1]!);
  });
  assert.deepEqual(unexpected, [], `promtool findings beyond the original's camelCase label names (exit ${code})`);
  assert.ok([0, 3].includes(code), `promtool exit ${code} (3 = lint findings only)`);
  console.log(
    `# exporter scrape: ${body.length} bytes, ${parseExposition(body).samples.length} samples, ${findings.length} camelCase findings (original names)`,
  );
});

test("exporter: every metric of reference §8 with its labels and value", { skip, timeout: 60_000 }, async () => {
  const { samples, types } = parseExposition(await scrape(ports().exporter!));
  for (const name of ORIGINAL_NAMES) if (name !== "ata_smart_attribute") assert.equal(types.get(name), "gauge", `${name} is a gauge`);

  for (const d of await getJson("localdisks")) {
    const s = one(samples, "hwameistor_localdisk_capacity", { devPath: d.spec.devicePath, nodeName: d.spec.nodeName });
    assert.deepEqual(s.labels, {
      uuid: d.spec.uuid ?? "",
      nodeName: d.spec.nodeName,
      type: d.spec.diskAttributes.type,
      devPath: d.spec.devicePath,
      reserved: String(!!d.spec.reserved),
      owner: d.spec.owner || "Unknown",
      status: d.status.claimState,
    });
    assert.equal(s.value, d.spec.capacity);
  }
  const lsns = await getJson("localstoragenodes");
  assert.equal(lsns.length, 2);
  for (const n of lsns) {
    one(samples, "hwameistor_localstoragenode_status", { nodeName: n.metadata.name, status: n.status.state });
    const p = n.status.pools.LocalStorage_PoolHDD;
    for (const [kind, cap, cnt] of [
      ["Total", p.totalCapacityBytes, p.totalVolumeCount],
      ["Free", p.freeCapacityBytes, p.freeVolumeCount],
      ["Used", p.usedCapacityBytes, p.usedVolumeCount],
    ]) {
      assert.equal(
        one(samples, "hwameistor_localstoragenode_capacity", { nodeName: n.metadata.name, poolName: "HDD", kind }).value,
        cap,
        `${n.metadata.name} ${kind} capacity`,
      );
      assert.equal(
        one(samples, "hwameistor_localstoragenode_volumecount", { nodeName: n.metadata.name, poolName: "HDD", kind }).value,
        cnt,
        `${n.metadata.name} ${kind} volumes`,
      );
    }
  }
  const [lv] = await getJson("localvolumes");
  assert.equal(lv.metadata.name, "v1");
  const lvLabels = { poolName: "HDD", volumeName: "v1", type: "NonHA", mountedOn: "node-1" };
  assert.equal(one(samples, "hwameistor_localvolume_capacity", { ...lvLabels, kind: "Allocated" }).value, lv.status.allocatedCapacityBytes);
  assert.equal(lv.status.allocatedCapacityBytes, 400 * 2 ** 20);
  assert.equal(one(samples, "hwameistor_localvolume_capacity", { ...lvLabels, kind: "Used" }).value, lv.status.usedCapacityBytes ?? 0);
  assert.equal(one(samples, "hwameistor_localvolume_status", { ...lvLabels, status: "Ready" }).value, 1);
  const [lvr] = await getJson("localvolumereplicas");
  assert.equal(
    one(samples, "hwameistor_localvolumereplica_capacity", { nodeName: "node-1", poolName: "HDD", volumeName: "v1" }).value,
    lvr.status.allocatedCapacityBytes,
  );
  assert.equal(
    one(samples, "hwameistor_localvolumereplica_status", { nodeName: "node-1", poolName: "HDD", volumeName: "v1", status: lvr.status.state }).value,
    1,
  );
  assert.equal(one(samples, "hwameistor_localvolumereplica_synced", { node_name: "node-1", volume_name: "v1" }).value, 1);

  const go = (iso: string) => iso.replace("T", " ").replace("Z", " +0000 UTC");
  const [m] = await getJson("localvolumemigrates");
  const md = one(samples, "hwameistor_localvolumemigrate_duration", {
    volumeName: "v1",
    startTime: go(m.metadata.creationTimestamp),
    from: "node-1",
    to: m.status?.targetNode ?? "",
  });
  const age = (iso: string) => (Date.now() - Date.parse(iso)) / 1000;
  assert.ok(md.value > 0 && md.value <= age(m.metadata.creationTimestamp) + 1, `migrate duration ${md.value} s`);
  one(samples, "hwameistor_localvolumemigrate_status", { volumeName: "v1", status: m.status?.state ?? "" });
  const [cv] = await getJson("localvolumeconverts");
  assert.ok(one(samples, "hwameistor_localvolumeconvert_duration", { volumeName: "v1", startTime: go(cv.metadata.creationTimestamp) }).value > 0);
  one(samples, "hwameistor_localvolumeconvert_status", { volumeName: "v1", status: cv.status?.state ?? "" });
  const [ex] = await getJson("localvolumeexpands");
  assert.ok(one(samples, "hwameistor_localvolumeexpand_duration", { volumeName: "v1", startTime: go(ex.metadata.creationTimestamp) }).value > 0);
  one(samples, "hwameistor_localvolumeexpand_status", { volumeName: "v1", status: "Failed" });
  one(samples, "hwameistor_localvolumesnapshot_status", { snapshot_name: "s1", volume_name: "v1", status: "Ready" });
  // ata_smart_attribute: no loop device has SMART; cluster-metrics.test.ts checks it from smartctl JSON.
  assert.equal(samples.filter((s) => s.name === "ata_smart_attribute").length, 0);
  assert.equal(one(samples, "hwameistor_exporter_api_up", {}).value, 1);
});

test("controller and node agent: CSI latencies, reconcile metrics, per-volume I/O counters", { skip, timeout: 60_000 }, async () => {
  const ctl = await scrape(ports().controller!);
  const cs = parseExposition(ctl).samples;
  assert.ok(one(cs, "hwameistor_csi_request_duration_seconds_count", { driver: "lvm", method: "CreateVolume", code: "OK" }).value >= 1);
  assert.ok(one(cs, "hwameistor_controller_reconcile_duration_seconds_count", { controller: "localvolume", result: "ok" }).value >= 1);
  assert.equal(one(cs, "hwameistor_controller_reconcile_errors_total", { controller: "localvolume" }).value, 0);
  // The node agent refreshes its list of replica devices every 10 s (docs/exporter.md): a volume made just
  // before this test may need one refresh to appear.
  let node = "";
  let ns: ReturnType<typeof parseExposition>["samples"] = [];
  for (const end = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 1000))) {
    node = await scrape(ports()["node-1"]!);
    ns = parseExposition(node).samples;
    const seen = ns.some((x) => x.name === "hwameistor_volume_io_written_bytes_total" && x.labels.volume_name === "v1");
    if (seen || Date.now() > end) break;
  }
  assert.ok(one(ns, "hwameistor_csi_request_duration_seconds_count", { driver: "lvm", method: "NodePublishVolume", code: "OK" }).value >= 1);
  const written = one(ns, "hwameistor_volume_io_written_bytes_total", { volume_name: "v1", node_name: "node-1" }).value;
  assert.ok(written >= 8 * 2 ** 20, `at least the 8 MiB written reached v1's device (${written} B)`);
  assert.ok(one(ns, "hwameistor_volume_io_writes_total", { volume_name: "v1" }).value > 0);
  for (const [what, body] of [
    ["controller", ctl],
    ["node-1", node],
  ] as const) {
    const r = await promtoolCheckMetrics(body);
    assert.deepEqual(r.findings, [], `${what}: promtool findings`);
    assert.equal(r.code, 0);
  }
});

test("exporter keeps serving, marked stale, while the API server does not answer", { skip, timeout: 120_000 }, async () => {
  const api = clusterJson().processes.apiserver.pid as number;
  const port = ports().exporter!;
  process.kill(api, "SIGSTOP");
  try {
    await waitFor(async () => one(parseExposition(await scrape(port)).samples, "hwameistor_exporter_api_up", {}).value === 0, 40_000, "api_up 0");
    const { samples } = parseExposition(await scrape(port));
    assert.ok(one(samples, "hwameistor_exporter_staleness_seconds", {}).value > 0);
    one(samples, "hwameistor_localvolume_status", { volumeName: "v1", status: "Ready" }); // the last cache is still served
  } finally {
    process.kill(api, "SIGCONT");
  }
  await waitFor(async () => one(parseExposition(await scrape(port)).samples, "hwameistor_exporter_api_up", {}).value === 1, 40_000, "api_up 1 again");
});

// ---------------------------------------------------------------- auditor (reference §10)

type Rec = { time?: string; id?: string; action?: string; actionContent?: string; state?: string; stateContent?: string };
async function auditEvents(): Promise<Map<string, { type: string; resource: string; records: Rec[] }>> {
  // The way a user reads the audit log.
  const doc = (await import("yaml")).parse(await k.ok(["get", "events.hwameistor.io", "-o", "yaml"]));
  return new Map(
    (doc.items as any[]).map((e) => [e.metadata.name, { type: e.spec.resourceType, resource: e.spec.resourceName, records: e.spec.records ?? [] }]),
  );
}
const kinds = (recs: Rec[]) => recs.map((r) => `${r.action}${r.state ? "/" + r.state : ""}`);
async function waitRecords(event: string, want: string[], timeoutMs = 60_000): Promise<Rec[]> {
  let got: Rec[] = [];
  await waitFor(
    async () => {
      got = (await auditEvents()).get(event)?.records ?? [];
      const have = kinds(got);
      return want.every((w) => have.includes(w));
    },
    timeoutMs,
    `${event} to hold ${want.join(", ")}`,
  ).catch((e: Error) => {
    const log = readFileSync(join(state, "logs", "controller.log"), "utf8")
      .split("\n")
      .filter((l) => /audit|"level":[45]0|leader/.test(l))
      .slice(-15)
      .join("\n");
    throw new Error(`${e.message}; it holds: ${kinds(got).join(", ") || "(nothing)"}\ncontroller log:\n${log}`);
  });
  return got;
}

test("auditor: Cluster Install and Change", { skip, timeout: 120_000 }, async () => {
  // A Cluster nobody installs (the operator acts on cluster-sample only): added without status.installedCRDS.
  await k.ok(
    ["apply", "-f", "-"],
    "apiVersion: hwameistor.io/v1alpha1\nkind: Cluster\nmetadata: {name: audit-demo}\nspec: {admissionController: {disable: false}, drbd: {disable: true}}\n",
  );
  await waitRecords("cluster-audit-demo", ["Install"]);
  // The operator acts on cluster-sample only: this one gets no phase from it (it once went through every phase).
  assert.equal(await k.ok(["get", "clusters.hwameistor.io", "audit-demo", "-o", "jsonpath={.status.phase}"]), "");
  await k.ok(["patch", "clusters.hwameistor.io", "audit-demo", "--type", "merge", "-p", '{"spec":{"admissionController":{"disable":true}}}']);
  await k.ok(["patch", "clusters.hwameistor.io", "audit-demo", "--type", "merge", "-p", '{"spec":{"drbd":{"disable":false}}}']);
  const recs = await waitRecords("cluster-audit-demo", ["Install", "Change"]);
  const changes = recs.filter((r) => r.action === "Change").map((r) => JSON.parse(r.actionContent!));
  assert.deepEqual(changes, [{ disable: true }, { disable: false }], "one Change per flip, content the sub-spec");
});

test("auditor: StorageNode Add, CapacityExpand, StateChange, Remove", { skip, timeout: 180_000 }, async () => {
  const first = await waitRecords("storagenode-node-2", ["Add", "CapacityExpand"]);
  assert.deepEqual(Object.keys(JSON.parse(first.find((r) => r.action === "CapacityExpand")!.actionContent!)), ["LocalStorage_PoolHDD"]);
  // An administrator marks the node for maintenance; the agent reports it Ready again at its next refresh.
  await k.ok(["patch", "localstoragenodes", "node-2", "--subresource=status", "--type", "merge", "-p", '{"status":{"state":"Maintain"}}']);
  const st = await waitRecords("storagenode-node-2", ["StateChange"]);
  assert.ok(
    st.some((r) => r.action === "StateChange" && JSON.parse(r.stateContent!).state === "Ready" && JSON.parse(r.actionContent!).state === "Maintain"),
    "StateChange Ready → Maintain, stateContent the old state",
  );
  // Deleting the LocalStorageNode: Remove (the node agent then registers it again: a second Add).
  await k.ok(["delete", "localstoragenodes", "node-2", "--wait=false"]);
  const recs = await waitRecords("storagenode-node-2", ["Remove"]);
  const i = kinds(recs).indexOf("Remove");
  assert.ok(i > 0 && kinds(recs).slice(0, i).includes("Add"));
});

test("auditor: Volume Create, Mount, Unmount, Delete and its operations", { skip, timeout: 300_000 }, async () => {
  const m2 = join(dir, "mnt", "v2");
  await ok("hwameictl", ["volume", "create", "v2", "--class", "hwameistor-storage-lvm-hdd", "--size", "300Mi", "--node", "node-1"]);
  await ok("hwameictl", ["volume", "mount", "v2", "--node", "node-1", "--path", m2]);
  await waitRecords("volume-v2", ["Create", "Mount"]);
  await ok("hwameictl", ["volume", "unmount", "v2", "--node", "node-1", "--path", m2]);
  await waitRecords("volume-v2", ["Unmount"]);
  await ok("hwameictl", ["volume", "delete", "v2"]);
  const v2 = await waitRecords("volume-v2", ["Create", "Mount", "Unmount", "Delete"]);
  assert.deepEqual(kinds(v2), ["Create", "Mount", "Unmount", "Delete"], "in order, once each");
  for (let i = 1; i < v2.length; i++) assert.ok(v2[i]!.time! >= v2[i - 1]!.time!, "times ascend");
  assert.equal(JSON.parse(v2.find((r) => r.action === "Mount")!.actionContent!).publishedNode, "node-1");

  // v1's operations: the real expansion (Submit, Start, Complete), the failed one aborted (Abort), the refused
  // migration and the failed conversion (Submit at least).
  await k.ok(["patch", "localvolumeexpands", "v1", "--type", "merge", "-p", '{"spec":{"abort":true}}']);
  const v1 = await waitRecords("volume-v1", [
    "Create",
    "Mount",
    "Expand/Submit",
    "Expand/Start",
    "Expand/Complete",
    "Expand/Abort",
    "Migrate/Submit",
    "Convert/Submit",
  ]);
  assert.ok(
    v1.filter((r) => r.action === "Migrate").every((r) => r.id === "migrate-v1"),
    "operation records carry the operation's name as id",
  );
  assert.ok(v1.filter((r) => r.action === "Expand").every((r) => r.id === "v1"));
  assert.equal(v1.filter((r) => r.action === "Expand" && r.state === "Submit").length, 2, "two expansions, one Submit each");

  // A migration that ran: v3, not published, moves from node-1 to node-2: Submit, Start and Complete, in that order,
  // named after the operation.
  await ok("hwameictl", ["volume", "create", "v3", "--class", "hwameistor-storage-lvm-hdd", "--size", "300Mi", "--node", "node-1"]);
  assert.match(await ok("hwameictl", ["volume", "migrate", "v3", "node-1", "node-2"]), /LocalVolumeMigrate migrate-v3 created/);
  const v3 = (await waitRecords("volume-v3", ["Create", "Migrate/Submit", "Migrate/Start", "Migrate/Complete"], 240_000)).filter((r) => r.action === "Migrate");
  assert.deepEqual(kinds(v3), ["Migrate/Submit", "Migrate/Start", "Migrate/Complete"]);
  assert.ok(v3.every((r) => r.id === "migrate-v3"));
});

test("auditor: Migrate and Convert Abort; a conversion that runs: Convert Submit, Start, Complete", { skip, timeout: 300_000 }, async (t) => {
  // The refused migration of the published v1 is aborted (it had not started copying: ToBeAborted, rolled back).
  await k.ok(["patch", "localvolumemigrates", "migrate-v1", "--type", "merge", "-p", '{"spec":{"abort":true}}']);
  // A conversion aborted before it was submitted (created with abort set, as one that is aborted at once).
  await k.ok(
    ["apply", "-f", "-"],
    "apiVersion: hwameistor.io/v1alpha1\nkind: LocalVolumeConvert\nmetadata: {name: convert-v1-aborted}\nspec: {volumeName: v1, replicaNumber: 2, abort: true}\n",
  );
  const v1 = await waitRecords("volume-v1", ["Migrate/Abort", "Convert/Abort"]);
  assert.deepEqual(
    v1.filter((r) => r.action === "Migrate" && r.state === "Abort").map((r) => r.id),
    ["migrate-v1"],
  );
  assert.deepEqual(
    v1.filter((r) => r.action === "Convert" && r.state === "Abort").map((r) => r.id),
    ["convert-v1-aborted"],
  );

  // A conversion that runs to the end needs the nodes' data planes (the -convertible StorageClass appears once a
  // node reports replication).
  if (!existsSync(DATAPLANE_BIN)) return t.skip(`the data plane is not built (${DATAPLANE_BIN}: make -C dataplane)`);
  await waitFor(
    async () => (await k.run(["get", "storageclass", "hwameistor-storage-lvm-hdd-convertible"])).code === 0,
    60_000,
    "the -convertible StorageClass",
  ).catch(async (e: Error) => {
    // What the operator decides from, and why a data plane would not answer (it once could not listen: its port
    // was taken), so a failure names its cause.
    const repl = (await getJson("localstoragenodes")).map((n) => `${n.metadata.name}: ${JSON.stringify(n.status?.replication)}`);
    const tail = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").trim().split("\n").slice(-3).join("\n") : "(no log)");
    const logs = ["node-1", "node-2"].map((n) => `${n}-dataplane:\n${tail(join(state, "logs", `${n}-dataplane.log`))}`);
    throw new Error([e.message, "replication:", ...repl, `operator:\n${tail(join(state, "logs", "operator.log"))}`, ...logs].join("\n"));
  });
  await ok("hwameictl", ["volume", "create", "v4", "--class", "hwameistor-storage-lvm-hdd-convertible", "--size", "64Mi", "--node", "node-1"]);
  const t0 = Date.now();
  await ok("hwameictl", ["volume", "convert", "v4"]);
  const v4 = (await waitRecords("volume-v4", ["Create", "Convert/Submit", "Convert/Start", "Convert/Complete"], 180_000)).filter((r) => r.action === "Convert");
  t.diagnostic(`v4 converted 1 → 2 replicas in ${Date.now() - t0} ms`);
  assert.deepEqual(kinds(v4), ["Convert/Submit", "Convert/Start", "Convert/Complete"]);
  assert.ok(v4.every((r) => r.id === "convert-v4"));
  const lv4 = JSON.parse(await k.ok(["get", "localvolume", "v4", "-o", "json"]));
  assert.equal(lv4.spec.replicaNumber, 2);
  assert.deepEqual(lv4.spec.config.replicas.map((r: { hostname: string }) => r.hostname).sort(), ["node-1", "node-2"]);
});

test("auditor: Disk Add, Allocate, Relocate, Reserve, Release, Change", { skip, timeout: 120_000 }, async () => {
  // The cluster's disks were Added when the auditor first saw them.
  const ld = (await getJson("localdisks"))[0];
  await waitRecords(`disk-${ld.metadata.name}`, ["Add"]);
  // A LocalDisk record edited the way the original's hwameictl and an administrator do (no hardware behind it; it
  // is Inactive and reserved, so no claim takes it).
  await k.ok(
    ["apply", "-f", "-"],
    "apiVersion: hwameistor.io/v1alpha1\nkind: LocalDisk\nmetadata: {name: localdisk-auditdemo}\nspec: {nodeName: node-2, devicePath: /dev/audit-demo, capacity: 1073741824, state: Inactive, reserved: true, diskAttributes: {type: HDD}}\n",
  );
  await waitRecords("disk-localdisk-auditdemo", ["Add"]);
  for (const patch of [
    '{"spec":{"owner":"system"}}',
    '{"spec":{"nodeName":"node-1"}}',
    '{"spec":{"reserved":false}}',
    '{"spec":{"reserved":true}}',
    '{"spec":{"state":"Unknown"}}',
  ]) {
    await k.ok(["patch", "localdisks", "localdisk-auditdemo", "--type", "merge", "-p", patch]);
  }
  const recs = await waitRecords("disk-localdisk-auditdemo", ["Add", "Allocate", "Relocate", "Release", "Reserve", "Change"]);
  assert.deepEqual(kinds(recs).slice(0, 6), ["Add", "Allocate", "Relocate", "Release", "Reserve", "Change"]);
  await k.ok(["delete", "localdisks", "localdisk-auditdemo"]);
});

test("auditor: a controller restart adds no duplicate record", { skip, timeout: 180_000 }, async () => {
  const before = await auditEvents();
  const pid = clusterJson().processes.controller.pid as number;
  process.kill(pid, "SIGKILL");
  await waitFor(
    () => {
      const p = clusterJson().processes.controller;
      return p.pid !== pid && !!p.pid;
    },
    60_000,
    "controller restarted",
  );
  // Give the new leader time to take the Lease, list everything and reconcile every Event.
  await waitFor(
    async () =>
      (
        await fetch(`http://127.0.0.1:${ports().controller}/metrics`).then(
          (r) => r.text(),
          () => "",
        )
      ).includes('controller="auditor"'),
    90_000,
    "the auditor runs again",
  );
  await new Promise((r) => setTimeout(r, 5000));
  const after = await auditEvents();
  for (const [name, ev] of before) {
    const a = after.get(name);
    assert.ok(a, `${name} still there`);
    const ids = a.records.map((r) => JSON.stringify([r.id, r.action, r.state, r.actionContent, r.stateContent]));
    assert.equal(new Set(ids).size, ids.length, `${name}: no duplicate record`);
    assert.deepEqual(a.records.slice(0, ev.records.length), ev.records, `${name}: earlier records unchanged`);
  }
});
