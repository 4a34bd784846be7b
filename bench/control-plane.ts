// Control-plane benchmark on the 3-node dev cluster: CreateVolume-to-Ready and publish latency of the
// lvm.hwameistor.io driver, sequentially and 10 at a time, and the resident memory of the API server, the
// controller and each node agent at rest and under load.
//
// Method: `hwameistor cluster up` (3 nodes × 2 loop disks, temp --state-dir) — the benchmark plays the
// external-provisioner, the attacher and kubelet over the CSI sockets, as `hwameictl volume create/mount`
// does: CreateVolume on the controller's lvm.sock with the StorageClass's parameters and the node as the
// topology requirement (the driver answers once the LocalVolume is Ready, so the call's duration is
// CreateVolume-to-Ready; UNAVAILABLE/ABORTED are retried as the sidecar would and count in the time), then
// ControllerPublishVolume and NodePublishVolume (mkfs.xfs + mount; the node's lvm.sock) to a target under the
// state dir. Volumes go to the nodes round-robin. Phase "sequential": one volume at a time; phase "10 at a
// time": 10 in flight. Full mode unpublishes and deletes each phase's volumes (timed, informational); quick
// mode leaves them to `cluster down`, which unmounts and detaches everything under the state dir.
// The steps of every CreateVolume are traced (lib/volume-trace.ts) to show where its time goes.
// Memory: VmRSS from /proc/<pid>/status (pids from cluster.json) 5 s after `up` returned ("at rest"), the
// maximum sampled every 200 ms while the phases run ("under load") and during the 100-volume burst alone ("the
// 100-volume churn"), and once more after the teardown. At rest and after, each daemon's RSS is split into the
// node binary's pages, V8's heap and native memory (lib/proc.ts memoryBreakdown: smaps + Node's diagnostic
// report on SIGUSR2, which the cluster's processes are started to write by NODE_OPTIONS).
// `cluster down --purge` in `finally`, also on failure.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HwError } from "../src/api/errors.ts";
import { Drivers, ScParams, TopologyKeys, lvmStorageClassName } from "../src/api/names.ts";
import { STORAGE_CLASS } from "../src/kube/resources.ts";
import type { Lsn, Lvr } from "../src/kube/hwameistor.ts";
import { localStorageNodeKind } from "../src/api/kinds/local-storage-node.ts";
import { localVolumeReplicaKind } from "../src/api/kinds/local-volume-replica.ts";
import { connectCsi, type CsiClient } from "../src/csi/client.ts";
import type * as T from "../src/csi/types.ts";
import { controllerSocket, layoutOf, nodeSocket } from "../src/devcluster/layout.ts";
import { readState } from "../src/devcluster/state.ts";
import { KubeClient } from "../src/kube/client.ts";
import { watchCounts } from "../src/kube/watch-counts.ts";
import { loadKubeConfig } from "../src/kube/config.ts";
import { attachLoop, createSparseFile, detachLoop } from "../src/host/loop/loop.ts";
import { mkfs } from "../src/host/fs/fs.ts";
import {
  LAUNCHER_NODE_FLAGS,
  REPO,
  describeMemory,
  describePeak,
  hwameistor,
  importMemory,
  load1,
  memoryBreakdown,
  reportEnv,
  rssOf,
  sampleRss,
  type MemoryBreakdown,
} from "./lib/proc.ts";
import { fmt, machineFacts, metric, percentile, type CaseResult, type Metric } from "./lib/report.ts";
import { mapLimit, median, round, sleep, timed } from "./lib/stats.ts";
import { VolumeTrace } from "./lib/volume-trace.ts";

const MiB = 2 ** 20;
/** mkfs.xfs refuses devices under 300 MB; the StorageClass formats xfs. */
const VOLUME_BYTES = 320 * MiB;
const RETRYABLE = new Set(["UNAVAILABLE", "ABORTED", "DEADLINE_EXCEEDED"]);

async function retrying<R>(what: string, fn: () => Promise<R>, timeoutMs = 120_000): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof HwError) || !RETRYABLE.has(e.code) || Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
      await sleep(delay);
    }
  }
}

interface Timing {
  name: string;
  createStart: number;
  createEnd: number;
  createMs: number;
  controllerPublishMs: number;
  nodePublishMs: number;
}

const mib = (b: number) => round(b / MiB);

/**
 * mkfs on a fresh loop device of a volume's size (a sparse file, as a replica of the file engine), 3 times
 * each, alternating: as the driver runs it, and for xfs also with -K (no discard of the device's blocks, which
 * on a fresh sparse file are holes already) — what NodePublish's first step costs by itself.
 */
async function mkfsReference(dir: string, fs: "xfs" | "ext4"): Promise<{ plain: number; noDiscard?: number }> {
  const plain: number[] = [];
  const noDiscard: number[] = [];
  for (let i = 0; i < (fs === "xfs" ? 6 : 3); i++) {
    const file = join(dir, `mkfs-ref-${i}.img`);
    await createSparseFile(file, VOLUME_BYTES);
    const lo = await attachLoop(file);
    try {
      const k = fs === "xfs" && i % 2 === 1;
      const ms = (await timed(() => mkfs(lo.name, fs, fs === "xfs" ? { reflink: false, ...(k ? { extraArgs: ["-K"] } : {}) } : {})))[1];
      (k ? noDiscard : plain).push(ms);
    } finally {
      await detachLoop(lo.name);
      rmSync(file, { force: true });
    }
  }
  return { plain: median(plain), ...(noDiscard.length ? { noDiscard: median(noDiscard) } : {}) };
}

export async function benchControlPlane({ quick }: { quick: boolean }): Promise<CaseResult> {
  const started = Date.now();
  const volumes = quick ? 30 : 100;
  const concurrency = 10;
  // Quick mode keeps every volume until `cluster down` removes them; full mode tears each phase down (timed).
  const diskSize = quick ? "4Gi" : "8Gi";
  const stateDir = mkdtempSync(join(tmpdir(), "hw-bench-cp-"));
  const l = layoutOf(stateDir);
  const clients: CsiClient[] = [];
  const metrics: Metric[] = [];
  const notes: string[] = [];
  const reportDir = join(stateDir, "reports");
  mkdirSync(reportDir);
  try {
    const [upOut, upMs] = await timed(() =>
      hwameistor(
        ["cluster", "up", "--state-dir", stateDir, "--nodes", "3", "--disks-per-node", "2", "--disk-size", diskSize, "--timeout", "300", "-o", "json"],
        420_000,
        reportEnv(reportDir),
      ),
    );
    const up = JSON.parse(upOut) as { kubeconfig: string; nodes: Array<{ name: string }>; storageClasses: string[] };
    metrics.push(
      metric("cluster up (3 nodes, to every node Ready)", round(upMs / 1000), "s", undefined, "hwameistor cluster up, wall clock incl. the CLI's start"),
    );
    const state = readState(l.clusterJson);
    if (!state) throw new Error(`${l.clusterJson} missing after cluster up`);
    const nodes = up.nodes.map((n) => n.name);
    const pids: Record<string, number> = {};
    for (const name of ["apiserver", "controller", ...nodes]) {
      const pid = state.processes[name]?.pid;
      if (!pid) throw new Error(`cluster.json has no pid for ${name}`);
      pids[name] = pid;
    }

    // ---- at rest
    await sleep(5000);
    const atRest: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) atRest[name] = rssOf(pid)?.rss ?? NaN;
    const parts = async () => {
      const r: Record<string, MemoryBreakdown | undefined> = {};
      for (const [name, pid] of Object.entries(pids)) r[name] = await memoryBreakdown(pid, reportDir);
      return r;
    };
    const partsAtRest = await parts();

    // ---- CSI clients and the StorageClass's parameters (as the external-provisioner passes them)
    const kc = new KubeClient(loadKubeConfig({ kubeconfigPath: up.kubeconfig }).kubeConfig, { userAgent: "hwameistor-bench", timeoutMs: 10_000 });
    const scName = lvmStorageClassName("HDD");
    const sc = (await kc.forKind(STORAGE_CLASS).get(scName)) as { parameters?: Record<string, string> } | undefined;
    if (!sc) throw new Error(`StorageClass ${scName} not found`);
    const fsType = sc.parameters?.[ScParams.FsType] ?? "xfs";
    // Watches the API server holds per kind (every client of the cluster: controller, 3 node agents, the
    // Kubernetes roles, the scheduler): the controller shares one informer per kind, a node agent one per kind.
    const watches = await watchCounts(kc);
    const total = [...watches.values()].reduce((a, b) => a + b, 0);
    const perKind = (g: string) =>
      [...watches]
        .filter(([k]) => k.startsWith(`${g}/`))
        .map(([k, n]) => `${k.slice(g.length + 1)} ${n}`)
        .join(", ");
    metrics.push(
      metric("API server watches at rest, all clients", total, "watches", undefined, `hwameistor.io: ${perKind("hwameistor.io")}; core: ${perKind("")}`),
      ...["localvolumereplicas", "localvolumes", "localstoragenodes"].map((r) =>
        metric(`API server watches on ${r} at rest, all clients`, watches.get(`hwameistor.io/${r}`) ?? 0, "watches"),
      ),
    );
    const baseParams = Object.fromEntries(Object.entries(sc.parameters ?? {}).filter(([k]) => !k.startsWith("csi.storage.k8s.io/")));
    const ctrl = await connectCsi(controllerSocket(l, "lvm"), { callTimeoutMs: 60_000 });
    clients.push(ctrl);
    const nodeCsi: Record<string, CsiClient> = {};
    for (const n of nodes) clients.push((nodeCsi[n] = await connectCsi(nodeSocket(l, n, "lvm"), { callTimeoutMs: 60_000 })));
    const cap: T.VolumeCapability = { mount: { fs_type: fsType, mount_flags: [] }, access_mode: { mode: "SINGLE_NODE_WRITER" } };
    const targetsDir = join(stateDir, "targets");
    mkdirSync(targetsDir);

    const provision = async (name: string, node: string): Promise<Timing> => {
      const segment = { segments: { [TopologyKeys.LvmNode]: node } };
      const req: T.CreateVolumeRequest = {
        name,
        capacity_range: { required_bytes: String(VOLUME_BYTES) },
        volume_capabilities: [cap],
        parameters: { ...baseParams, [ScParams.PvcName]: name, [ScParams.PvcNamespace]: "bench" },
        accessibility_requirements: { requisite: [segment], preferred: [segment] },
      };
      const createStart = performance.now();
      const res = await retrying(`CreateVolume ${name}`, () => ctrl.createVolume(req));
      const createEnd = performance.now();
      const [pub, controllerPublishMs] = await timed(() =>
        retrying(`ControllerPublishVolume ${name}`, () =>
          ctrl.call<{ publish_context?: Record<string, string> }>("Controller", "ControllerPublishVolume", {
            volume_id: name,
            node_id: node,
            volume_capability: cap,
            readonly: false,
            volume_context: res.volume.volume_context ?? {},
          }),
        ),
      );
      const target = join(targetsDir, name);
      mkdirSync(target); // kubelet creates the target directory
      const [, nodePublishMs] = await timed(() =>
        retrying(`NodePublishVolume ${name}`, () =>
          nodeCsi[node]!.nodePublishVolume({
            volume_id: name,
            publish_context: pub.publish_context ?? {},
            target_path: target,
            volume_capability: cap,
            readonly: false,
            volume_context: res.volume.volume_context ?? {},
          }),
        ),
      );
      return { name, createStart, createEnd, createMs: createEnd - createStart, controllerPublishMs, nodePublishMs };
    };
    const teardown = async (name: string, node: string) => {
      await retrying(`NodeUnpublishVolume ${name}`, () => nodeCsi[node]!.nodeUnpublishVolume({ volume_id: name, target_path: join(targetsDir, name) }));
      await retrying(`ControllerUnpublishVolume ${name}`, () => ctrl.call("Controller", "ControllerUnpublishVolume", { volume_id: name, node_id: node }));
      await retrying(`DeleteVolume ${name}`, () => ctrl.deleteVolume({ volume_id: name }));
    };

    // ---- the two phases, with memory sampled and the steps of every CreateVolume traced throughout
    const trace = new VolumeTrace(kc);
    await trace.start();
    // V8's heap from the /metrics of the processes that serve one (controller, node agents), to split the peaks.
    const metricsUrls = Object.fromEntries(
      Object.entries(state.api.metricsPorts ?? {})
        .filter(([name]) => name in pids)
        .map(([name, port]) => [name, `http://${state.api.host}:${port}/metrics`]),
    );
    const sampler = sampleRss(pids, { metrics: metricsUrls });
    // Issue 16's targets: p50 < 300 ms one at a time, < 1 s with 10 at a time.
    const phases: Array<{ key: string; label: string; limit: number; targetMs: number }> = [
      { key: "seq", label: "sequential", limit: 1, targetMs: 300 },
      { key: "par", label: `${concurrency} at a time`, limit: concurrency, targetMs: 1000 },
    ];
    const pct = (xs: number[], p: number) =>
      round(
        percentile(
          [...xs].sort((a, b) => a - b),
          p,
        ),
      );
    for (const ph of phases) {
      const names = Array.from({ length: volumes }, (_, i) => ({ name: `pvc-bench-${ph.key}-${String(i).padStart(3, "0")}`, node: nodes[i % nodes.length]! }));
      const [ts, phaseMs] = await timed(() => mapLimit(names, ph.limit, (v) => provision(v.name, v.node)));
      process.stderr.write(`  control-plane ${ph.label}: ${volumes} volumes provisioned and published in ${(phaseMs / 1000).toFixed(1)} s (load ${load1()})\n`);
      const create = ts.map((t) => t.createMs);
      const cpub = ts.map((t) => t.controllerPublishMs);
      const npub = ts.map((t) => t.nodePublishMs);
      // Where CreateVolume's time went (medians over the phase's volumes; see lib/volume-trace.ts).
      const steps = ts.map((t) => ({ t, s: trace.steps.get(t.name) ?? {} }));
      const stepRows: Metric[] = [];
      const step = (label: string, f: (x: (typeof steps)[number]) => number | undefined, note: string) => {
        const xs = steps.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
        if (xs.length) stepRows.push(metric(`└ ${label}, ${ph.label}, p50`, round(median(xs)), "ms", undefined, note));
      };
      step("CreateVolume → LocalVolume written", (x) => x.s.lvCreated! - x.t.createStart, "controller CSI service: validation, placement, write");
      step("LocalVolume → replica written", (x) => x.s.lvrCreated! - x.s.lvCreated!, "controller LocalVolume reconciler");
      step(
        "replica written → replica Ready",
        (x) => x.s.lvrReady! - x.s.lvrCreated!,
        "node agent: one reconcile pass: sparse file, losetup, link, one status write",
      );
      step("replica Ready → LocalVolume Ready", (x) => x.s.lvReady! - x.s.lvrReady!, "controller LocalVolume reconciler");
      step(
        "LocalVolume Ready → CreateVolume returns",
        (x) => x.t.createEnd - x.s.lvReady!,
        "the CSI call wakes on its LocalVolume informer's event and looks at the cached object",
      );
      const slowest = [...stepRows].sort((x, y) => y.value - x.value)[0];
      const createP50 = pct(create, 50);
      const why =
        createP50 >= ph.targetMs && slowest
          ? `; slowest step: ${slowest.name.replace(/^└ /, "").replace(/, [^,]+, p50$/, "")} (p50 ${fmt(slowest.value)} ms, ${slowest.note}); load average ${load1()}`
          : "";
      metrics.push(
        metric(
          `CreateVolume-to-Ready p50, ${ph.label}`,
          createP50,
          "ms",
          `< ${ph.targetMs}`,
          `${volumes} volumes of ${VOLUME_BYTES / MiB} MiB, round-robin over ${nodes.length} nodes${why}`,
        ),
        metric(`CreateVolume-to-Ready p99, ${ph.label}`, pct(create, 99), "ms"),
        ...stepRows,
        metric(`ControllerPublishVolume p50, ${ph.label}`, pct(cpub, 50), "ms"),
        metric(`NodePublishVolume p50, ${ph.label}`, pct(npub, 50), "ms", undefined, `mkfs.${fsType} + mount on the node`),
        metric(`NodePublishVolume p99, ${ph.label}`, pct(npub, 99), "ms"),
        metric(`throughput, ${ph.label}`, round((volumes / phaseMs) * 1000), "volumes/s", undefined, "create + publish, whole phase"),
      );
      if (!quick) {
        const [, tdMs] = await timed(() => mapLimit(names, concurrency, (v) => teardown(v.name, v.node)));
        metrics.push(metric(`teardown of ${volumes} volumes (unpublish + delete, 10 at a time), after ${ph.label}`, round(tdMs / 1000), "s"));
      }
    }
    // ---- burst: 100 CreateVolume calls at once over the 3 nodes (placement by the driver: every node is
    // requisite), then 100 DeleteVolume calls at once — no error allowed, and no pool may be promised more
    // than it holds (sum of the replicas' allocated capacity per node ≤ the pool's total, and the node's own
    // used ≤ total). Small raw block volumes (never published: a filesystem volume is at least its
    // filesystem's minimum, 300 MiB for xfs, which the pools left by quick mode cannot hold 100 times).
    const churnSampler = sampleRss(pids, { metrics: metricsUrls });
    {
      const n = 100;
      // Quick mode keeps the 60 volumes of 320 MiB of the phases above (18.75 GiB of the ~22 GiB the 3 pools
      // hold): 16 MiB each keeps the burst within capacity, so any error is a real one.
      const bytes = 16 * MiB;
      const everyNode = nodes.map((node) => ({ segments: { [TopologyKeys.LvmNode]: node } }));
      const names = Array.from({ length: n }, (_, i) => `pvc-bench-burst-${String(i).padStart(3, "0")}`);
      const blockCap: T.VolumeCapability = { block: {}, access_mode: { mode: "SINGLE_NODE_WRITER" } };
      const errors: string[] = [];
      const [created, burstMs] = await timed(() =>
        mapLimit(names, n, async (name, i) => {
          const t0 = performance.now();
          try {
            await retrying(`CreateVolume ${name}`, () =>
              ctrl.createVolume({
                name,
                capacity_range: { required_bytes: String(bytes) },
                volume_capabilities: [blockCap],
                parameters: { ...baseParams, [ScParams.PvcName]: name, [ScParams.PvcNamespace]: "bench" },
                accessibility_requirements: { requisite: everyNode, preferred: [everyNode[i % everyNode.length]!] },
              }),
            );
          } catch (e) {
            errors.push((e as Error).message);
          }
          return performance.now() - t0;
        }),
      );
      const lsns = (await kc.forKind(localStorageNodeKind).list()).items as Lsn[];
      const lvrs = (await kc.forKind(localVolumeReplicaKind).list()).items as Lvr[];
      const over: string[] = [];
      for (const lsn of lsns) {
        for (const [pool, st] of Object.entries(lsn.status?.pools ?? {})) {
          const promised = lvrs
            .filter((r) => r.spec?.nodeName === lsn.metadata?.name && r.spec?.poolName === pool)
            .reduce((sum, r) => sum + (r.status?.allocatedCapacityBytes ?? r.spec?.requiredCapacityBytes ?? 0), 0);
          const total = st.totalCapacityBytes ?? 0;
          if (promised > total || (st.usedCapacityBytes ?? 0) > total)
            over.push(`${lsn.metadata?.name}/${pool}: replicas ${promised}, used ${st.usedCapacityBytes}, total ${total}`);
        }
      }
      const perNode = nodes.map((node) => lvrs.filter((r) => r.spec?.nodeName === node && r.spec?.volumeName?.startsWith("pvc-bench-burst-")).length);
      const errs: string[] = [];
      const [, delMs] = await timed(() =>
        mapLimit(names, n, async (name) => {
          await retrying(`DeleteVolume ${name}`, () => ctrl.deleteVolume({ volume_id: name })).catch((e: Error) => errs.push(e.message));
        }),
      );
      for (const e of [...new Set(errors)].slice(0, 5)) process.stderr.write(`  control-plane burst error: ${e}\n`);
      process.stderr.write(
        `  control-plane burst: ${n} creates in ${(burstMs / 1000).toFixed(1)} s, ${errors.length} errors, over-committed: ${over.length}; deletes ${(delMs / 1000).toFixed(1)} s (load ${load1()})\n`,
      );
      metrics.push(
        metric(
          `burst: ${n} concurrent CreateVolume, errors`,
          errors.length,
          "errors",
          "<= 0",
          errors.slice(0, 3).join("; ") || `${n} raw block volumes of ${bytes / MiB} MiB, all ${n} calls at once; replicas per node ${perNode.join("/")}`,
        ),
        metric(
          `burst: over-committed pools after ${n} concurrent creates`,
          over.length,
          "pools",
          "<= 0",
          over.join("; ") || "sum of the replicas' allocated capacity per node and pool ≤ the pool's total, and the node's used ≤ total",
        ),
        metric(`burst: ${n} concurrent CreateVolume, p50`, pct(created, 50), "ms"),
        metric(`burst: ${n} concurrent CreateVolume, all done`, round(burstMs), "ms"),
        metric(
          `burst: ${n} concurrent DeleteVolume, all done`,
          round(delMs),
          "ms",
          undefined,
          errs.length ? `${errs.length} errors: ${errs.slice(0, 2).join("; ")}` : "no error",
        ),
      );
    }
    const duringChurn = churnSampler.stop();
    const underLoad = sampler.stop();
    await trace.stop();
    await sleep(3000);
    const after: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) after[name] = rssOf(pid)?.rss ?? NaN;
    const partsAfter = await parts();

    // ---- reasons: what the runtime and the imports cost by themselves, and mkfs.xfs outside the driver
    const baseMem = await importMemory();
    const agentMem = await importMemory(join(REPO, "dist/node/agent.js"));
    const base = baseMem.rssBytes;
    const agentMods = agentMem.rssBytes;
    const mkfsMs = await mkfsReference(stateDir, fsType === "ext4" ? "ext4" : "xfs");

    // Targets of issue 16: node agent < 100 MB at rest and < 150 MB under a 100-volume churn, controller < 120 MB.
    for (const name of Object.keys(pids)) {
      const isNode = nodes.includes(name);
      const split = (m: MemoryBreakdown | undefined) => (m ? describeMemory(m) : "no diagnostic report");
      metrics.push(
        metric(
          `${name} RSS at rest`,
          mib(atRest[name]!),
          "MiB",
          isNode ? "< 100" : name === "controller" ? "< 120" : undefined,
          isNode
            ? `${split(partsAtRest[name])}; for comparison a fresh node process is ${fmt(mib(base))} MiB, with the agent's compiled modules ${fmt(mib(agentMods))} MiB`
            : split(partsAtRest[name]),
        ),
        metric(
          `${name} RSS under load (max)`,
          mib(underLoad[name]?.rss ?? NaN),
          "MiB",
          name === "controller" ? "< 120" : undefined,
          `the two phases and the burst; ${describePeak(underLoad[name])}`,
        ),
        metric(
          `${name} RSS during the 100-volume churn (max)`,
          mib(duringChurn[name]?.rss ?? NaN),
          "MiB",
          isNode ? "< 150" : undefined,
          `100 CreateVolume at once, then 100 DeleteVolume; ${describePeak(duringChurn[name])}`,
        ),
        metric(`${name} RSS after the load`, mib(after[name]!), "MiB", undefined, split(partsAfter[name])),
      );
    }
    metrics.push(
      metric(
        "reference: node, nothing imported",
        mib(base),
        "MiB",
        undefined,
        `a fresh \`node\` process with the launcher's flags (${LAUNCHER_NODE_FLAGS.join(" ")}; native: the binary, V8, ICU; live heap ${fmt(mib(baseMem.heapUsedBytes))} MiB)`,
      ),
      metric(
        "reference: + the node agent's modules",
        mib(agentMods),
        "MiB",
        undefined,
        `the same after importing dist/node/agent.js, before it starts anything: live heap ${fmt(mib(agentMem.heapUsedBytes))} MiB, committed heap ${fmt(mib(agentMem.heapTotalBytes))} MiB, external ${fmt(mib(agentMem.externalBytes))} MiB`,
      ),
      metric(
        `reference: mkfs.${fsType} of a ${VOLUME_BYTES / MiB} MiB loop device`,
        round(mkfsMs.plain),
        "ms",
        undefined,
        `median of 3, run by the benchmark outside the driver, right after the phases (blkid + wipefs + mkfs${fsType === "xfs" ? ".xfs -m reflink=0, as the driver's first publish" : ""})`,
      ),
      ...(mkfsMs.noDiscard !== undefined
        ? [
            metric(
              `reference: mkfs.xfs -K of a ${VOLUME_BYTES / MiB} MiB loop device`,
              round(mkfsMs.noDiscard),
              "ms",
              undefined,
              "the same with -K (no discard of the device's blocks; on a fresh sparse replica they are holes already); alternating with the row above",
            ),
          ]
        : []),
    );
    // What dominates each daemon's RSS after the load (the largest of the parts memoryBreakdown tells apart).
    const dominant = Object.entries(partsAfter)
      .filter((e): e is [string, MemoryBreakdown] => !!e[1])
      .map(([name, m]) => {
        const parts: Array<[string, number]> = [
          ["the node binary's pages", m.nodeBinary],
          ["the V8 heap", m.heapCommitted],
          ["native memory", m.native],
        ];
        const [what, bytes] = parts.sort((x, y) => y[1] - x[1])[0]!;
        return `${name} ${what} (${fmt(mib(bytes))} of ${fmt(mib(m.rss))} MiB)`;
      });
    if (dominant.length) notes.push(`Largest part of each daemon's RSS after the load: ${dominant.join("; ")}.`);
    notes.push(
      `Driver ${Drivers.Lvm}; StorageClass ${scName} (${fsType}); each volume ${VOLUME_BYTES / MiB} MiB (mkfs.xfs needs 300 MB). Node agents run the file engine here (no device-mapper).`,
      "The lvm driver's CreateVolume waits for the LocalVolume to be Ready on its LocalVolume informer (each event of that volume wakes the call, which looks at the cached object; a poll growing from 200 ms to 1 s is the safety net), so CreateVolume returns within one event delivery of Ready.",
      "What a create does (issue 16): the CSI call lists the namespace's pods, decides under one in-process placement lock over informer caches of LocalStorageNodes, LocalVolumes and groups plus the placements it assumed and the caches do not show yet, and after the lock writes the group and the LocalVolume; one LocalVolume reconcile pass writes the config, creates the replica and writes status once; one node pass (replica from the informer cache) creates the sparse file (fsync of the file and of its directory), runs `losetup --find --show` (the one process), links /dev/<pool>/<volume> and writes status once; one more LocalVolume pass writes Ready. Under load the remaining time is the API writes, the two fsyncs and the losetup process; with 10 at a time the first step is the pod list and the two writes, no longer serialised.",
      `NodePublish on first use: blkid + wipefs (the device must be empty), the record (fsync), mkfs.${fsType} (for xfs with the UUID chosen beforehand, so no probe after, and no second probe: mkfs.xfs refuses a filesystem itself), the record again, mount; "anything mounted at the target" comes from /proc/self/mountinfo and the device size from sysfs. Compare its p50 with the mkfs reference rows below, run in the same benchmark: the rest is the processes and fsyncs around mkfs.`,
    );
    return {
      case: "control-plane",
      title: "Control plane on the 3-node dev cluster: provisioning latency and memory",
      mode: quick ? "quick" : "full",
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      machine: machineFacts(),
      params: { nodes: nodes.length, disksPerNode: 2, diskSize, volumes, concurrency, volumeBytes: VOLUME_BYTES, fsType },
      metrics,
      notes,
    };
  } finally {
    for (const c of clients) c.close();
    await hwameistor(["cluster", "down", "--purge", "--state-dir", stateDir], 180_000).catch((e) =>
      process.stderr.write(`  control-plane: cluster down failed: ${(e as Error).message}\n`),
    );
    rmSync(stateDir, { recursive: true, force: true });
  }
}
