// Volumes follow their workloads (issue 13), with the real kubectl on a 3-node dev cluster:
//   (a) LocalVolumeMigrate of a StatefulSet's volume holding 48 MiB of random data from its node A to node B,
//       online: the pre-copy rounds run while the pod runs on A, then the controller stops the pod (the cut-over),
//       its replacement waits (migrateStarted), the final round and the checksum comparison, the source replica
//       is pruned, the pod runs on B and sees the same sha256 of its data; the cut-over pause is printed; kill -9
//       of the source's agent at each of its phases;
//   (a2) the same volume B → C with kill -9 of the controller in AddReplica and SyncReplica, of the target's agent
//       while it makes the new replica, of BOTH agents at once in the pre-copy, of the controller and the target's
//       agent together in the final round, and of all three in PruneReplica (the on-disk verification), each fired
//       from a watch event; every write to the volume, the migration and the sync ConfigMap is checked in the API
//       server's order (one primary, the target primary only after equal checksums, published there only after
//       migrateCompleted, the source dropped only after the target's disk read back equal); no file, loop, mount,
//       clone or native process left behind on any node;
//   (b) `kubectl drain` of the pod's node (C): the pod is evicted through the Eviction API, the evictor migrates the volume
//       away, the drain completes, the pod runs elsewhere with the same data; uncordon;
//   (c) lease expiry: a node agent is stopped (SIGSTOP) past its worker lease: its LocalStorageNode goes
//       Offline and the Node Ready=Unknown with the unreachable taint; SIGCONT: back to Ready, untainted.
// Needs root and the dev cluster's tools. `after` runs `cluster down --purge` and checks nothing leaked.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  armFileKill,
  armKill,
  startTestCluster,
  strayNativeProcesses,
  waitFor,
  watchFields,
  type ArmedKill,
  type TestCluster,
} from "../helpers/test-cluster.ts";
import { localVolumeMigrateYaml, migrationViolations, type Seen } from "../helpers/migrate.ts";
import { devClusterCli } from "../helpers/devcluster.ts";
import { listLoops } from "../../src/host/loop/loop.ts";
import { listMounts } from "../../src/host/mount/mount.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : !existsSync("/usr/sbin/mkfs.xfs") ? "needs xfsprogs" : false;
let c!: TestCluster;

const YAML = `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-mig}
provisioner: lvm.hwameistor.io
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
parameters: {poolClass: HDD, replicaNumber: "1", csi.storage.k8s.io/fstype: xfs}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: mover}
spec:
  replicas: 1
  serviceName: mover
  selector: {matchLabels: {app: mover}}
  template:
    metadata: {labels: {app: mover}}
    spec:
      schedulerName: hwameistor-scheduler
      terminationGracePeriodSeconds: 2
      containers:
      - name: c
        image: busybox:1.36
        command: ["sh", "-c", "test -f /data/blob || { head -c 50331648 /dev/urandom > /data/blob && sync; }; echo SUM $(sha256sum /data/blob); while true; do sleep 1; done"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: e2e-mig
      resources: {requests: {storage: 300Mi}}
`;

/**
 * On failure: what the pod, the migration and the processes say — the objects, and the lines of the processes'
 * logs (the controller, the scheduler extender, each node agent = kubelet) that name the volume or the pod. Printed
 * on stdout as `# ` lines: CI keeps only the test runner's report, where stderr does not appear.
 */
async function explain<T>(what: Promise<T>): Promise<T> {
  try {
    return await what;
  } catch (e) {
    const show = async (args: string[]) => {
      const r = await c.k.run(args);
      return `$ kubectl ${args.join(" ")}\n${r.stdout}${r.stderr}`;
    };
    const out = await Promise.all([
      show(["get", "pods", "-A", "-o", "wide"]),
      show(["describe", "pod", "mover-0"]),
      show(["get", "lvmigrate,lv,lvr", "-o", "yaml"]),
      show(["get", "volumeattachments", "-o", "yaml"]),
      show(["get", "events", "-A", "--sort-by=.lastTimestamp"]),
      show(["get", "pv", "-o", "yaml"]),
    ]);
    for (const p of ["controller", "kube-controllers", "node-1", "node-2", "node-3"]) {
      const file = join(c.state, "logs", `${p}.log`);
      let lines: string[] = [];
      try {
        lines = readFileSync(file, "utf8").split("\n");
      } catch (err) {
        out.push(`${file}: ${(err as Error).message}`);
        continue;
      }
      const about = lines.filter((l) => (volume && l.includes(volume)) || l.includes("mover-0") || l.includes("data-mover-0"));
      out.push(`$ grep '${volume}|mover-0' ${file} | tail -60\n${about.slice(-60).join("\n")}`);
    }
    console.log(
      out
        .join("\n")
        .split("\n")
        .map((l) => `# ${l}`)
        .join("\n"),
    );
    throw e;
  }
}
const jp = async (args: string[], path: string) => (await c.k.run(["get", ...args, "-o", `jsonpath=${path}`])).stdout.trim();
const sumOf = async (pod: string) => /SUM (\w{64})/.exec((await c.k.run(["logs", pod])).stdout)?.[1];
const podNode = () => jp(["pod", "mover-0"], "{.spec.nodeName}");
const podRunning = async () => (await jp(["pod", "mover-0"], "{.status.phase}")) === "Running";

/**
 * kill -9 of the SOURCE's node agent at each phase it takes part in, each on the first watch line that shows it:
 * mid pre-copy (serving, round 0 being copied or just done: a clone on disk), in the final round (the pod stopped,
 * final=yes, no source checksum yet), and when its replica is pruned. Each later point needs the restarted source's
 * own work (its rounds, its checksum), so they fire in this order, each after the previous restart.
 */
function armSourceKills(source: string): ArmedKill[] {
  const cm = `sync-config-${volume}`;
  const at = (label: string, resource: string, fields: string[], when: (f: string[]) => boolean): ArmedKill =>
    armKill(c, { label: `source ${source} ${label}`, resource, fields, victim: (f) => (when(f) ? source : undefined) }, 360_000);
  return [
    at(
      "mid pre-copy",
      "configmaps",
      ["{.metadata.name}", "{.data.sourceEndpoint}", "{.data.precopyRound}", "{.data.progressBytes}", "{.data.precopyReady}", "{.data.final}"],
      ([n, ep, round, progress, ready, final]) => n === cm && !!ep && !ready && final !== "yes" && (Number(progress) > 0 || round === "0"),
    ),
    at("in the final round", "configmaps", ["{.metadata.name}", "{.data.final}", "{.data.sourceChecksum}"], ([n, f, sum]) => n === cm && f === "yes" && !sum),
    at(
      "while its replica is pruned",
      "localvolumemigrates",
      ["{.metadata.name}", "{.status.state}"],
      ([n, st]) => n === `migrate-${volume}` && st === "PruneReplica",
    ),
  ];
}

/** Files under a node's pools naming the volume (clones: `.<file>.migrate-…`), its loop devices and mounts, per node. */
async function leftovers(vol: string): Promise<Record<string, { files: string[]; clones: string[]; loops: string[]; mounts: string[] }>> {
  const out: Record<string, { files: string[]; clones: string[]; loops: string[]; mounts: string[] }> = {};
  const [loops, mounts] = [await listLoops(), await listMounts()];
  for (const n of ["node-1", "node-2", "node-3"]) {
    const pools = join(c.state, "nodes", n, "state", "pools");
    const files: string[] = [];
    const walk = (d: string, depth: number): void => {
      let names: string[] = [];
      try {
        names = readdirSync(d);
      } catch {
        return;
      }
      for (const e of names) {
        const p = join(d, e);
        if (e.includes(vol)) files.push(p);
        else if (depth < 4 && statSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p, depth + 1);
      }
    };
    walk(pools, 0);
    const mine = join(c.state, "nodes", n) + "/";
    out[n] = {
      files: files.filter((f) => !f.includes(".migrate-")),
      clones: files.filter((f) => f.includes(".migrate-")),
      loops: loops.filter((l) => l.backFile.startsWith(mine) && l.backFile.includes(vol)).map((l) => `${l.name} ${l.backFile}`),
      mounts: mounts.filter((m) => m.target.startsWith(mine) && (m.target.includes(vol) || m.source.includes(vol))).map((m) => m.target),
    };
  }
  return out;
}

before(async () => {
  if (skip) return;
  c = await startTestCluster({ prefix: "migrate", nodes: 3 });
});

after(async () => {
  if (!c) return;
  const left = await c.down();
  assert.deepEqual(left.loops, [], "no loop device left");
  assert.deepEqual(left.mounts, [], "no mount left");
});

let volume = "";
let sum = "";
/** Where (a) found the pod: (a2) moves the volume on to the third node. */
let origin = "";

test("(a) LocalVolumeMigrate moves a volume with its data from node A to node B", { skip, timeout: 420_000 }, async () => {
  await c.k.ok(["apply", "-f", "-"], YAML);
  await waitFor("mover-0 Running", podRunning, 180_000);
  await waitFor("the pod's checksum", async () => !!(await sumOf("mover-0")), 60_000);
  sum = (await sumOf("mover-0"))!;
  const a = await podNode();
  origin = a;
  volume = await jp(["pvc", "data-mover-0"], "{.spec.volumeName}");
  const b = ["node-1", "node-2", "node-3"].find((n) => n !== a)!;
  const sourceKills = armSourceKills(a);
  await Promise.all(sourceKills.map((k) => k.ready));
  await c.k.ok(["apply", "-f", "-"], localVolumeMigrateYaml(volume, a, [b]));
  // Online: the copy runs while the pod keeps running on A (the file engine's reflink pre-copy); the controller
  // itself stops the pod for the cut-over once the rounds converged.
  await waitFor(
    "the pre-copy to run while the pod runs on A",
    async () =>
      /pre-copy while the pod runs/.test(await jp(["lvmigrate", `migrate-${volume}`], "{.status.message}")) && (await podRunning()) && (await podNode()) === a,
    120_000,
  );
  assert.equal(await jp(["lv", volume], "{.metadata.annotations.hwameistor\\.io/volume-migrate-state}"), "migrateStarted");
  // kill -9 of the controller once the migration is under way, and of the target's node agent during the
  // pre-copy: the migration resumes from the objects; at no poll does the volume have two primaries.
  const states = new Set<string>();
  const killed: Record<string, ReturnType<TestCluster["kill"]>> = {};
  let copy: Record<string, string> = {};
  let mode = "";
  await waitFor(
    "the migration to complete (its object removed) and the volume to live on B only",
    async () => {
      const st = (await c.k.run(["get", "lvmigrate", `migrate-${volume}`, "-o", "jsonpath={.status.state}"])).stdout.trim();
      if (st) states.add(st);
      if ((st === "AddReplica" || st === "SyncReplica") && !killed.controller) killed.controller = c.kill("controller");
      if (st === "SyncReplica" && !killed[b]) killed[b] = c.kill(b);
      const cm = await c.k.run(["get", "cm", "-n", "hwameistor", `sync-config-${volume}`, "-o", "jsonpath={.data}"]);
      if (cm.code === 0 && cm.stdout.includes("bytesPerSecond")) copy = JSON.parse(cm.stdout);
      if (cm.code === 0 && cm.stdout.startsWith("{")) mode ||= (JSON.parse(cm.stdout) as Record<string, string>).mode ?? "";
      const primaries = (await jp(["lv", volume], "{.spec.config.replicas[?(@.primary==true)].hostname}")).split(" ").filter(Boolean);
      assert.ok(primaries.length <= 1, `one primary at most, saw ${primaries.join(", ")}`);
      const nodes = await jp(["lv", volume], "{.spec.config.replicas[*].hostname}");
      return !st && nodes === b;
    },
    300_000,
    500,
  );
  for (const [name, k] of Object.entries(killed)) if (k.killed) await c.restarted(name, k);
  const fired = await Promise.all(sourceKills.map((k) => k.done)).catch((e: Error) => {
    throw new Error(`${e.message}\n${sourceKills.map((k) => k.status()).join("\n")}`);
  });
  console.log(`# ${fired.join("\n# ")}`);
  console.log(
    `# killed -9 during the migration: ${
      Object.keys(killed)
        .filter((n) => killed[n]!.killed)
        .join(", ") || "none"
    }; states seen: ${[...states].join(" → ")}`,
  );
  if (copy.bytesPerSecond) {
    console.log(
      `# block copy: ${copy.totalBytes} B at ${(Number(copy.bytesPerSecond) / 2 ** 20).toFixed(1)} MiB/s (copy ${copy.copyMs} ms, verify re-read ${copy.verifyMs} ms); checksum ${copy.targetChecksum}`,
    );
    assert.equal(copy.sourceChecksum ?? copy.targetChecksum, copy.targetChecksum);
  }
  assert.equal(mode, "online", "the file engine's replica moved online");
  assert.ok(states.has("SyncReplica") || states.has("PruneReplica"), `went through the copy (saw ${[...states].join(", ")})`);
  assert.equal(await jp(["lv", volume], "{.metadata.annotations.hwameistor\\.io/volume-migrate-state}"), "migrateCompleted");
  await waitFor("the source replica gone", async () => !(await jp(["lvr"], "{.items[*].spec.nodeName}")).split(" ").includes(a), 60_000);
  // Nothing of the copy left behind by the killed agents: no pre-copy clone on either node; on A no file, loop
  // device or mount of the volume (its replica was pruned); on B one volume file (the replica).
  await waitFor(
    "no leftover of the migration on either node",
    async () => {
      const left = await leftovers(volume);
      return left[a]!.files.length === 0 && left[a]!.loops.length === 0 && left[a]!.mounts.length === 0 && left[b]!.clones.length === 0;
    },
    60_000,
    1000,
  ).catch(async (e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(await leftovers(volume))}`);
  });
  assert.equal((await leftovers(volume))[b]!.files.length, 1, "the target holds the one replica file");
  await explain(waitFor("mover-0 Running on B", async () => (await podRunning()) && (await podNode()) === b, 180_000));
  await waitFor("the new pod's checksum", async () => !!(await sumOf("mover-0")), 60_000);
  assert.equal(await sumOf("mover-0"), sum, "the data moved intact");
  const started = await jp(["pod", "mover-0"], "{.status.containerStatuses[0].state.running.startedAt}");
  if (copy.cutoverStart && started)
    console.log(
      `# cut-over pause (pod stopped on A → container started on B, 1 s resolution, with the kills above): ${(Date.parse(started) - Date.parse(copy.cutoverStart)) / 1000} s`,
    );
  assert.match(await jp(["pv", volume], "{.spec.nodeAffinity}"), new RegExp(b));
});

/**
 * The kill points of (a2), each on the first watch line that shows its phase: the controller in AddReplica, in
 * SyncReplica, in the final round (the controller wrote `final=yes`, no target checksum yet) and in PruneReplica;
 * the TARGET's node agent while it makes the new replica (fired by inotify: its replica goes from "" to Ready in
 * one status write, no line to watch), in the final round and in PruneReplica (with the controller's there). Only
 * the controller writes the migration's state and `final`, so a line showing one was written by the controller's
 * current incarnation: it runs, and each kill waits for the previous restart by construction. The controller's
 * kills check that the state had not moved on (it cannot move while the controller is dead).
 */
function armControllerAndTargetKills(vol: string, source: string, target: string): ArmedKill[] {
  const migrate = `migrate-${vol}`;
  const stateAfterKill = (want: string) => async () => {
    const st = await jp(["lvmigrate", migrate], "{.status.state}");
    if (st !== want) throw new Error(`the kill came too late: the migration was already ${st || "gone"} when the controller died, not ${want}`);
    return `the migration was ${st} when it died`;
  };
  const at = (victim: string | string[], phase: string, check?: () => Promise<string>): ArmedKill =>
    armKill(
      c,
      {
        label: `${[victim].flat().join(" + ")} in ${phase}`,
        resource: "localvolumemigrates",
        fields: ["{.metadata.name}", "{.status.state}"],
        victim: ([n, st]) => (n === migrate && st === phase ? victim : undefined),
        check: check ?? stateAfterKill(phase),
      },
      300_000,
    );
  const finalRound = (victim: string | string[], check: () => Promise<string>): ArmedKill =>
    armKill(
      c,
      {
        label: `${[victim].flat().join(" + ")} in the final round`,
        resource: "configmaps",
        fields: ["{.metadata.name}", "{.data.final}", "{.data.targetChecksum}"],
        victim: ([n, final, sum]) => (n === `sync-config-${vol}` && final === "yes" && !sum ? victim : undefined),
        check,
      },
      300_000,
    );
  const targetSum = async () =>
    `the target's checksum ${(await jp(["cm", "-n", "hwameistor", `sync-config-${vol}`], "{.data.targetChecksum}")) || "not yet written"} at the kill`;
  const migrateState = async () => `the migration ${(await jp(["lvmigrate", migrate], "{.status.state}")) || "gone"} at the kill`;
  // The target's agent while it makes the new replica: the moment its file appears, still `.<vol>.img.partial`
  // (images.ts: sized, fsync'd, renamed into place, then attached to a loop device) — a crash there must leave no
  // second file or loop device behind.
  const volumeDirs: string[] = [];
  const walk = (d: string, depth: number): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).filter((x) => x.isDirectory())) {
      if (e.name === "volumes") volumeDirs.push(join(d, e.name));
      else if (depth < 3) walk(join(d, e.name), depth + 1);
    }
  };
  walk(join(c.state, "nodes", target, "state", "pools"), 0);
  const makingReplica = armFileKill(
    c,
    {
      label: `${target} while it makes the new replica`,
      dirs: volumeDirs,
      match: (f) => f === `.${vol}.img.partial`,
      victim: target,
      check: async () => {
        const rows = await jp(["lvr"], '{range .items[*]}{.spec.volumeName} {.spec.nodeName} {.status.state}{"\\n"}{end}');
        const row = rows.split("\n").find((l) => l.startsWith(`${vol} ${target} `));
        const files = volumeDirs.flatMap((d) => readdirSync(d).filter((f) => f.includes(vol)));
        return `its replica ${row?.split(" ")[2] || "not Ready"}, files ${files.join(", ") || "none"} at the kill`;
      },
    },
    300_000,
  );
  // Both node agents at once while the pre-copy runs (the source serving, nothing final yet): the source serves
  // again under a new token, the target starts over.
  const bothAgents = armKill(
    c,
    {
      label: `${source} + ${target} (both agents) in the pre-copy`,
      resource: "configmaps",
      fields: ["{.metadata.name}", "{.data.sourceReady}", "{.data.final}"],
      victim: ([n, ready, final]) => (n === `sync-config-${vol}` && ready === "yes" && final !== "yes" ? [source, target] : undefined),
      check: async () => `${await migrateState()}, ${await targetSum()}`,
    },
    300_000,
  );
  // The on-disk verification: the target's checksum written (it may be live now), its re-read of the frozen
  // state pending or just done, when the migration reaches PruneReplica.
  const diskSum = async () =>
    `the on-disk checksum ${(await jp(["cm", "-n", "hwameistor", `sync-config-${vol}`], "{.data.targetDiskChecksum}")) || "not yet written"} at the kill`;
  // the controller and the target's agent together, in one kill
  const finalKill = finalRound(["controller", target], async () => `${await stateAfterKill("SyncReplica")()}, ${await targetSum()}`);
  // The target's agent the instant it freezes its final state for the on-disk verification (its clone appears),
  // before it reported its checksum: it copies again and freezes again, the stale clone never read. Armed for the
  // freeze after the kill above (a freeze before it would leave that kill no running target).
  const freezing = armFileKill(
    c,
    {
      label: `${target} while it freezes the copy for the on-disk verification`,
      dirs: volumeDirs,
      // fired(), not `done`: done waits for the restart, and a restarted target on a quiet machine freezes again
      // before that (CI: the kill point was never reached)
      match: (f) => finalKill.fired() && f.startsWith(`.${vol}.img.migrate-verify-`),
      victim: target,
      check: targetSum,
    },
    300_000,
  );
  return [
    at("controller", "AddReplica"),
    makingReplica,
    at("controller", "SyncReplica"),
    bothAgents,
    finalKill,
    freezing,
    // all three at once: the controller, the target's agent (re-reading its frozen state) and the source's
    at(["controller", target, source], "PruneReplica", async () => `${await stateAfterKill("PruneReplica")()}, ${await diskSum()}`),
  ];
}

/**
 * Watches of the volume, its migration and its sync ConfigMap; the API server's resourceVersions are one counter
 * across kinds, so the lines merged by resourceVersion are the order in which the writes happened.
 */
function observe(vol: string): { ready: Promise<unknown>; stop(): Seen[]; cancel(): void } {
  const seen: Seen[] = [];
  const rv = "{.metadata.resourceVersion}";
  const watch = (kind: Seen["kind"], resource: string, name: string, fields: string[]) =>
    watchFields(c, `observer of ${resource}`, resource, [rv, "{.metadata.name}", ...fields], (f) => {
      if (f[1] === name) seen.push({ rv: Number(f[0]), kind, f: f.slice(2) });
    });
  const ws = [
    watch("lv", "localvolumes", vol, [
      "{.spec.config.replicas[?(@.primary==true)].hostname}",
      "{.metadata.annotations.hwameistor\\.io/volume-migrate-state}",
      "{.status.publishedNode}",
      "{.spec.config.replicas[*].hostname}",
    ]),
    watch("migrate", "localvolumemigrates", `migrate-${vol}`, ["{.status.state}"]),
    watch("sync", "configmaps", `sync-config-${vol}`, [
      "{.data.attempt}",
      "{.data.sourceAttempt}",
      "{.data.sourceChecksum}",
      "{.data.targetAttempt}",
      "{.data.targetChecksum}",
      "{.data.targetDiskAttempt}",
      "{.data.targetDiskChecksum}",
    ]),
  ];
  return {
    ready: Promise.all(ws.map((w) => w.ready)),
    stop() {
      const ended = ws.filter((w) => w.ended());
      ws.forEach((w) => w.stop());
      assert.equal(ended.length, 0, `an observer's watch ended early, later writes unseen: ${ended.map((w) => w.output().slice(-400)).join("\n")}`);
      return seen.sort((x, y) => x.rv - y.rv);
    },
    cancel: () => ws.forEach((w) => w.stop()),
  };
}

test(
  "(a2) kill -9 of the controller at every phase, of the target's agent, of both agents at once and of the controller with them: the migration resumes, safely",
  { skip, timeout: 420_000 },
  async (t) => {
    assert.ok(volume && sum, "needs (a)");
    const t0 = Date.now();
    const src = await podNode();
    const target = ["node-1", "node-2", "node-3"].find((n) => n !== src && n !== origin)!;
    const third = ["node-1", "node-2", "node-3"].find((n) => n !== src && n !== target)!;
    const seen = observe(volume);
    const kills = armControllerAndTargetKills(volume, src, target);
    t.after(() => {
      seen.cancel();
      for (const k of kills) k.stop();
    });
    await Promise.all([seen.ready, ...kills.map((k) => k.ready)]);
    await c.k.ok(["apply", "-f", "-"], localVolumeMigrateYaml(volume, src, [target]));
    await explain(
      waitFor(
        `the migration to complete and the volume to live on ${target} only`,
        async () => !(await jp(["lvmigrate"], "{.items[*].metadata.name}")) && (await jp(["lv", volume], "{.spec.config.replicas[*].hostname}")) === target,
        300_000,
        500,
      ),
    );
    const fired = await Promise.all(kills.map((k) => k.done)).catch((e: Error) => {
      throw new Error(`${e.message}\n${kills.map((k) => k.status()).join("\n")}`);
    });
    console.log(`# ${fired.join("\n# ")}`);
    await explain(waitFor(`mover-0 Running on ${target}`, async () => (await podRunning()) && (await podNode()) === target, 180_000));
    await waitFor("the new pod's checksum", async () => !!(await sumOf("mover-0")), 60_000);
    const timeline = seen.stop();
    assert.equal(await sumOf("mover-0"), sum, "the data moved intact");
    assert.deepEqual(migrationViolations(timeline, target, src), [], "the safety rules held at every write");
    const states = [...new Set(timeline.filter((s) => s.kind === "migrate" && s.f[0]).map((s) => s.f[0]))];
    for (const st of ["AddReplica", "SyncReplica", "PruneReplica"]) assert.ok(states.includes(st), `went through ${st} (saw ${states.join(" → ")})`);
    assert.equal(await jp(["lv", volume], "{.metadata.annotations.hwameistor\\.io/volume-migrate-state}"), "migrateCompleted");
    // No leak on any node: the source and the third node hold nothing of the volume; the target one volume file on
    // one loop device, no clone, each mount once; no copier process and no unsupervised data plane of the cluster.
    await waitFor(
      "no leftover of the migration on any node",
      async () => {
        const left = await leftovers(volume);
        const none = (n: string) => left[n]!.files.length + left[n]!.clones.length + left[n]!.loops.length + left[n]!.mounts.length === 0;
        const tg = left[target]!;
        return (
          none(src) && none(third) && tg.clones.length === 0 && tg.files.length === 1 && tg.loops.length === 1 && new Set(tg.mounts).size === tg.mounts.length
        );
      },
      60_000,
      1000,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(await leftovers(volume))}`);
    });
    assert.deepEqual(await strayNativeProcesses(c), [], "no copier or data plane outlived its owner");
    console.log(`# (a2) ${src} → ${target}: states ${states.join(" → ")}; ${timeline.length} writes checked; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  },
);

test("(b) kubectl drain honours a PodDisruptionBudget, then moves the pod's volume off the node", { skip, timeout: 480_000 }, async () => {
  assert.ok(volume && sum, "needs (a)");
  const b = await podNode();
  await c.k.ok(
    ["apply", "-f", "-"],
    "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: mover}\nspec: {minAvailable: 1, selector: {matchLabels: {app: mover}}}\n",
  );
  await waitFor("the budget's status", async () => (await jp(["pdb", "mover"], "{.status.observedGeneration}")) === "1", 60_000);
  const refused = await c.k.run(["drain", b, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=12s"]);
  assert.notEqual(refused.code, 0, "the drain cannot evict the only pod of a budget of 1");
  assert.match(refused.stderr + refused.stdout, /disruption budget/);
  assert.equal(await podNode(), b, "the pod was not touched");
  await c.k.ok(["delete", "pdb", "mover"]);
  const drained = await c.k.run(["drain", b, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=50s"]);
  assert.equal(drained.code, 0, `kubectl drain: ${drained.stderr}`);
  assert.match(drained.stdout, /evicted|drained/);
  await explain(
    waitFor(
      "the volume and its pod off the drained node",
      async () => {
        const nodes = await jp(["lv", volume], "{.spec.config.replicas[*].hostname}");
        return nodes !== "" && !nodes.split(" ").includes(b) && (await podRunning()) && (await podNode()) !== b;
      },
      360_000,
      1000,
    ),
  );
  await waitFor("the new pod's checksum", async () => !!(await sumOf("mover-0")), 60_000);
  assert.equal(await sumOf("mover-0"), sum, "the data moved intact");
  await c.k.ok(["uncordon", b]);
  await waitFor("the unschedulable taint gone", async () => !(await jp(["node", b], "{.spec.taints}")).includes("unschedulable"), 30_000);
});

test("(c) a node agent that stops renewing goes Offline and Unknown, and comes back", { skip, timeout: 240_000 }, async () => {
  const busy = await podNode();
  const victim = ["node-1", "node-2", "node-3"].find((n) => n !== busy)!;
  const p = c.processes()[victim];
  assert.ok(p?.pid, `process ${victim}`);
  process.kill(p.pid, "SIGSTOP");
  try {
    await waitFor(
      "LocalStorageNode Offline and Node Ready=Unknown with the unreachable taint",
      async () =>
        (await jp(["lsn", victim], "{.status.state}")) === "Offline" &&
        (await jp(["node", victim], '{.status.conditions[?(@.type=="Ready")].status}')) === "Unknown" &&
        (await jp(["node", victim], "{.spec.taints}")).includes("node.kubernetes.io/unreachable"),
      120_000,
      1000,
    );
    assert.equal(await jp(["ldn", victim], "{.status.state}"), "Offline");
  } finally {
    process.kill(p.pid, "SIGCONT");
  }
  await waitFor(
    "back to Ready, untainted",
    async () =>
      (await jp(["lsn", victim], "{.status.state}")) === "Ready" &&
      (await jp(["node", victim], '{.status.conditions[?(@.type=="Ready")].status}')) === "True" &&
      !(await jp(["node", victim], "{.spec.taints}")).includes("unreachable"),
    90_000,
    1000,
  );
});

test("(d) rebalancing: hwameictl volume rebalance, then the Cluster's policy, move volumes off the fullest node", { skip, timeout: 420_000 }, async () => {
  const { ok } = devClusterCli(() => c.state);
  const POOL = "LocalStorage_PoolHDD";
  const m = (await podNode()) || "node-3"; // holds mover-0's volume (after (a)–(c))
  const [x, y] = ["node-1", "node-2", "node-3"].filter((n) => n !== m);
  const pool = async (n: string) => {
    const p = JSON.parse((await jp(["lsn", n], `{.status.pools.${POOL}}`)) || "{}") as { totalCapacityBytes?: number; usedCapacityBytes?: number };
    return { total: p.totalCapacityBytes ?? 0, used: p.usedCapacityBytes ?? 0 };
  };
  // Three volumes of twice the mover's size (at least a tenth of a pool) on x: x is the fullest, y empty; thresholds below are chosen from the
  // nodes' own numbers so that exactly one move is wanted and one target qualifies, first from x to y (the CLI),
  // then from x to m (the policy: y would go above it).
  const pm0 = await pool(m);
  const MiB = 2 ** 20;
  const size = Math.ceil(Math.max(2 * pm0.used, 0.1 * pm0.total) / MiB);
  for (const v of ["rb-1", "rb-2", "rb-3"])
    await ok("hwameictl", ["volume", "create", v, "--class", "hwameistor-storage-lvm-hdd", "--size", `${size}Mi`, "--node", x!]);
  await waitFor("x reports the three volumes", async () => (await jp(["lsn", x!], `{.status.pools.${POOL}.volumes}`)).split("rb-").length === 4, 60_000);
  const s = size * MiB;
  const [px, py, pm] = [await pool(x!), await pool(y!), await pool(m)];
  const pct = (b: number, p: { total: number }) => (b / p.total) * 100;
  // CLI: x must end at or under t1 (ux − s), y must stay under it (uy + s), x starts above it.
  const t1 = Math.ceil(Math.max(pct(px.used - s, px), pct(py.used + s, py), pct(pm.used, pm)));
  assert.ok(t1 < pct(px.used, px), `a threshold for one move from ${x}: ${t1}% < ${pct(px.used, px).toFixed(1)}%`);
  const dry = await ok("hwameictl", ["volume", "rebalance", "--threshold", String(t1), "--dry-run"]);
  assert.match(dry, new RegExp(`1\\s+rb-1\\s+\\S+\\s+${x}\\s+${y}\\s+${POOL}`), dry);
  assert.equal(await jp(["lvmigrate"], "{.items[*].metadata.name}"), "", "a dry run creates nothing");
  const moved = await ok("hwameictl", ["--timeout", "240", "volume", "rebalance", "--threshold", String(t1), "--node", x!]);
  assert.match(moved, new RegExp(`moved rb-1 from ${x} to ${y}`), moved);
  assert.equal(await jp(["lv", "rb-1"], "{.spec.config.replicas[*].hostname}"), y);
  assert.equal(await jp(["lv", "rb-1"], "{.metadata.annotations.hwameistor\\.io/volume-migrate-state}"), "migrateCompleted");

  // The policy: x (now ux − s) above t2; y (uy + s) would go above it with one more, m (um + s) would not.
  await waitFor("x reports the move", async () => (await pool(x!)).used <= px.used - s, 60_000);
  const [qx, qy, qm] = [await pool(x!), await pool(y!), await pool(m)];
  const t2 = Math.ceil(Math.max(pct(qx.used - s, qx), pct(qy.used, qy), pct(qm.used + s, qm)));
  assert.ok(t2 < pct(qx.used, qx) && t2 < pct(qy.used + s, qy), `a threshold for one move from ${x} to ${m}: ${t2}%`);
  await c.k.ok([
    "patch",
    "hmcluster",
    "cluster-sample",
    "--type",
    "merge",
    "-p",
    JSON.stringify({ spec: { rebalance: { enabled: true, thresholdPercent: t2, intervalSeconds: 10 } } }),
  ]);
  await waitFor("rb-2 moved to m by the policy", async () => (await jp(["lv", "rb-2"], "{.spec.config.replicas[*].hostname}")) === m, 240_000, 1000);
  await waitFor(
    "the policy's next pass finds nothing to move",
    async () => /every pool is at or under/.test(await jp(["hmcluster", "cluster-sample"], "{.status.rebalance.message}")),
    60_000,
    1000,
  );
  await c.k.ok(["patch", "hmcluster", "cluster-sample", "--type", "merge", "-p", '{"spec":{"rebalance":{"enabled":false}}}']);
  const events = await c.k.ok(["get", "events", "-A", "-o", 'jsonpath={.items[?(@.reason=="RebalanceStarted")].message}']);
  assert.match(events, new RegExp(`moving rb-2 \\(\\S+\\) from ${x} .*to ${m} .*LocalVolumeMigrate rebalance-rb-2`));
  assert.equal(await jp(["lv", "rb-3"], "{.spec.config.replicas[*].hostname}"), x, "one move only");
});
