// `hwameistor cluster up`: preflight (nothing changes if it fails) → disks (sparse files + loop devices) →
// network namespaces (--netns) → cluster.json → the detached supervisor, which starts and bootstraps the
// processes → wait until every node is Ready (and, where the node agent serves lvm.sock, its
// LocalStorageNode has a pool and the StorageClass exists). Running it again on a running cluster only
// re-checks readiness; on a stopped one it starts the same cluster again.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { randomInt } from "node:crypto";
import { createServer } from "node:net";
import { HwError } from "../api/errors.ts";
import { localDiskNodeKind } from "../api/kinds/local-disk-node.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import { NodeStates } from "../api/names.ts";
import { commandLineOf, isAlive, startDaemon } from "../host/netns/daemon.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { NODE } from "../kube/resources.ts";
import { sleep, type KubeObject } from "../kube/types.ts";
import { ensureDisks, missingDiskBytes } from "./disks.ts";
import { layoutOf, logFile, networkPlan, nodeNames, nodeSocket, type Layout } from "./layout.ts";
import { setupNetwork, subnetTakenBy } from "./network.ts";
import { resolveOptions, type ClusterOptions } from "./options.ts";
import { NETNS_TOOLS, REQUIRED_TOOLS, assertPreflight, existingAncestor, freeBytesAt, hasLoopControl, onPath } from "./preflight.ts";
import { HWAMEISTOR_BIN, REPO_ROOT } from "./processes.ts";
import { readState, updateState, writeState, type ClusterState } from "./state.ts";
import { lvmStorageClassName } from "../api/names.ts";
import { STORAGE_CLASS } from "../kube/resources.ts";

export interface UpResult {
  stateDir: string;
  kubeconfig: string;
  alreadyRunning: boolean;
  durationMs: number;
  options: ClusterOptions;
  nodes: NodeReadiness[];
  storageClasses: string[];
  supervisorPid: number;
}

export interface NodeReadiness {
  name: string;
  node: boolean;
  diskNode: boolean;
  /** undefined: the node agent serves no lvm driver (yet). */
  storageNode?: boolean;
  pools: string[];
}

export interface UpOptions {
  stateDir: string;
  given: Partial<ClusterOptions>;
  timeoutMs?: number;
  progress?: (line: string) => void;
}

/** Whether the supervisor recorded in cluster.json runs (and is this cluster's, not a reused pid). */
export function supervisorAlive(s: ClusterState | undefined): boolean {
  const pid = s?.supervisor?.pid;
  if (!pid || !isAlive(pid)) return false;
  const cmd = commandLineOf(pid);
  return cmd.includes("supervise") && cmd.includes(s!.stateDir);
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The kernel's ephemeral range (ports it gives outgoing connections): [low, high]. */
function ephemeralRange(): [number, number] {
  const [lo, hi] = (existsSync(RANGE_FILE) ? readFileSync(RANGE_FILE, "utf8") : "").trim().split(/\s+/).map(Number);
  return lo && hi ? [lo, hi] : [32768, 60999];
}
const RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range";

/**
 * A free port below the ephemeral range, for a listener that is restarted (the data planes): a port in that range
 * can be taken by any outgoing connection while its listener is down, and a restart then fails until that
 * connection closes. Falls back to any free port.
 */
async function freeFixedPort(host: string, taken: Set<number>): Promise<number> {
  const top = ephemeralRange()[0] - 1;
  for (let i = 0; i < 64 && top > 20_000; i++) {
    const p = randomInt(20_000, top + 1);
    if (!taken.has(p) && (await portFree(host, p))) return p;
  }
  let p = await freePort(host);
  while (taken.has(p)) p = await freePort(host);
  return p;
}

/**
 * Data plane replication ports (without --netns the nodes share the host): kept from the last run where still free
 * or still held by that node's live data plane (adopted by `up`), else fresh ones. None with --netns (43000 in each).
 */
async function chooseDataplanePorts(
  netns: boolean,
  host: string,
  names: string[],
  stored: ClusterState | undefined,
  taken: Set<number>,
): Promise<Record<string, number> | undefined> {
  if (netns) return undefined;
  const out: Record<string, number> = {};
  for (const name of names) {
    const was = stored?.api.host === host ? stored.api.dataplanePorts?.[name] : undefined;
    const pid = stored?.processes[`${name}-dataplane`]?.pid;
    const keep = !!was && !taken.has(was) && ((!!pid && isAlive(pid)) || (await portFree(host, was)));
    const p = keep ? was : await freeFixedPort(host, taken);
    taken.add(p);
    out[name] = p;
  }
  return out;
}

async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export async function clusterUp(o: UpOptions): Promise<UpResult> {
  const t0 = Date.now();
  const say = o.progress ?? (() => {});
  const l = layoutOf(o.stateDir);
  const stored = readState(l.clusterJson);
  const options = resolveOptions(stored?.options, o.given, l.stateDir);

  if (stored && supervisorAlive(stored)) {
    say(`cluster in ${l.stateDir} is already up (supervisor pid ${stored.supervisor!.pid}); checking readiness`);
    const ready = await waitReady(l, options, o.timeoutMs ?? 180_000, say);
    return {
      ...ready,
      stateDir: l.stateDir,
      kubeconfig: l.kubeconfig,
      alreadyRunning: true,
      durationMs: Date.now() - t0,
      options,
      supervisorPid: stored.supervisor!.pid,
    };
  }

  // ---- preflight: nothing is changed before this passes
  const names = nodeNames(options);
  const plan = options.netns ? networkPlan(l.stateDir, names) : undefined;
  const tools = [...REQUIRED_TOOLS, ...(options.netns ? NETNS_TOOLS : [])];
  assertPreflight({
    uid: process.getuid?.() ?? 0,
    loopControl: hasLoopControl(),
    freeBytes: freeBytesAt(l.stateDir),
    neededBytes: missingDiskBytes(l.stateDir, options),
    stateDirFs: existingAncestor(l.stateDir),
    missingTools: tools.filter((t) => !onPath(t.tool)),
    netns: options.netns,
    subnet: plan?.subnet,
    subnetTakenBy: plan && onPath("ip") ? await subnetTakenBy(plan) : undefined,
  });

  // ---- make it
  say(`state dir ${l.stateDir}`);
  for (const d of [l.stateDir, l.logsDir, l.apiserverDir, l.controllerDir, l.nodesDir]) mkdirSync(d, { recursive: true });
  const disks = await ensureDisks(l.stateDir, options);
  say(
    `disks: ${Object.entries(disks)
      .map(([n, d]) => `${n} ${d.join(" ")}`)
      .join("; ")}`,
  );
  if (plan) {
    await setupNetwork(plan);
    say(`network: bridge ${plan.bridge} ${plan.hostIp}/${plan.prefixLen}; ${plan.nodes.map((n) => `${n.node} ${n.ip} (netns ${n.netns})`).join(", ")}`);
  }
  const host = plan ? plan.hostIp : "127.0.0.1";
  let port = stored?.api.host === host ? stored.api.port : 0;
  if (!port || !(await portFree(host, port))) port = await freePort(host);
  // /metrics ports: kept from the last run where still free, else fresh ones (docs/exporter.md).
  const metricsPorts: Record<string, number> = {};
  for (const name of ["exporter", "controller", ...names]) {
    const was = stored?.api.host === host ? stored.api.metricsPorts?.[name] : undefined;
    let p = was && (await portFree(host, was)) ? was : await freePort(host);
    while (p === port || Object.values(metricsPorts).includes(p)) p = await freePort(host);
    metricsPorts[name] = p;
  }
  const dataplanePorts = await chooseDataplanePorts(!!plan, host, names, stored, new Set([port, ...Object.values(metricsPorts)]));
  const state: ClusterState = {
    version: 1,
    stateDir: l.stateDir,
    options,
    api: { host, port, metricsPorts, dataplanePorts },
    status: "starting",
    // A process that is not running will be started anew: its ready line must come after today's log end
    // (the old run's line, and the Node/LocalDiskNode it left Ready, must not count). A live one is adopted.
    processes: Object.fromEntries(
      Object.entries(stored?.processes ?? {}).map(([name, p]) => [
        name,
        p.pid && isAlive(p.pid) ? p : { ...p, pid: undefined, logOffset: existsSync(logFile(l, name)) ? statSync(logFile(l, name)).size : 0 },
      ]),
    ),
    createdAt: stored?.createdAt ?? new Date().toISOString(),
    upDurationMs: stored?.upDurationMs,
  };
  writeState(l.clusterJson, state);
  const sup = await startDaemon([HWAMEISTOR_BIN, "cluster", "supervise", "--state-dir", l.stateDir], {
    logFile: logFile(l, "supervisor"),
    cwd: REPO_ROOT,
    unref: true,
  });
  say(`supervisor started (pid ${sup.pid}); API server on ${host}:${port}`);
  const ready = await waitReady(l, options, o.timeoutMs ?? 180_000, say);
  const durationMs = Date.now() - t0;
  updateState(l.clusterJson, (s) => (s.upDurationMs = durationMs));
  return { ...ready, stateDir: l.stateDir, kubeconfig: l.kubeconfig, alreadyRunning: false, durationMs, options, supervisorPid: sup.pid };
}

type Ready = { nodes: NodeReadiness[]; storageClasses: string[] };

/** Whether the process printed its ready line (`"ready":true`) since its current run started. */
export function printedReady(file: string, offset = 0): boolean {
  if (!existsSync(file)) return false;
  const size = statSync(file).size;
  if (size <= offset) return false;
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(Math.min(size - offset, 4 * 2 ** 20));
    readSync(fd, buf, 0, buf.length, offset);
    return buf.toString("utf8").includes('"ready":true');
  } finally {
    closeSync(fd);
  }
}

const conditionTrue = (o: KubeObject | undefined, type: string): boolean =>
  !!(o as { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined)?.status?.conditions?.some(
    (c) => c.type === type && c.status === "True",
  );

/** Polls until every node is Ready; lvm parts are awaited only where the node serves lvm.sock. */
export async function waitReady(l: Layout, o: ClusterOptions, timeoutMs: number, say: (line: string) => void): Promise<Ready> {
  const deadline = Date.now() + timeoutMs;
  const names = nodeNames(o);
  while (!existsSync(l.kubeconfig)) {
    if (Date.now() > deadline) throw notReady(l, "the API server did not come up", ["apiserver", "supervisor"]);
    await sleep(200);
  }
  const client = new KubeClient(loadKubeConfig({ kubeconfigPath: l.kubeconfig }).kubeConfig, { userAgent: "hwameistor-devcluster", timeoutMs: 5000 });
  const nodesC = client.forKind(NODE);
  const ldnC = client.forKind(localDiskNodeKind);
  const lsnC = client.forKind(localStorageNodeKind);
  const scC = client.forKind(STORAGE_CLASS);
  const wantSc = lvmStorageClassName(o.diskClass);
  let last = "";
  for (;;) {
    let rows: NodeReadiness[] = [];
    let scs: string[] = [];
    try {
      const [nodes, ldns, lsns] = await Promise.all([nodesC.list(), ldnC.list().catch(() => ({ items: [] })), lsnC.list().catch(() => ({ items: [] }))]);
      scs = (await scC.list()).items.map((s) => s.metadata!.name!);
      const procs = readState(l.clusterJson)?.processes ?? {};
      rows = names.map((name) => {
        // The agent prints its ready line after every part started: only then does lvm.sock tell whether it has the lvm part.
        const agentReady = printedReady(logFile(l, name), procs[name]?.logOffset);
        const lvm = agentReady && existsSync(nodeSocket(l, name, "lvm"));
        const lsn = lsns.items.find((x) => x.metadata?.name === name) as
          { status?: { state?: string; pools?: Record<string, { totalCapacityBytes?: number }> } } | undefined;
        const pools = Object.entries(lsn?.status?.pools ?? {})
          .filter(([, p]) => (p.totalCapacityBytes ?? 0) > 0)
          .map(([n]) => n);
        return {
          name,
          node:
            agentReady &&
            conditionTrue(
              nodes.items.find((x) => x.metadata?.name === name),
              "Ready",
            ),
          diskNode: (ldns.items.find((x) => x.metadata?.name === name) as { status?: { state?: string } } | undefined)?.status?.state === NodeStates.Ready,
          storageNode: lvm ? lsn?.status?.state === NodeStates.Ready && (o.notClaimDisk || pools.length > 0) : undefined,
          pools,
        };
      });
    } catch {
      rows = [];
    }
    const lvmNodes = rows.filter((r) => r.storageNode !== undefined);
    const done =
      rows.length === names.length &&
      rows.every((r) => r.node && r.diskNode && r.storageNode !== false) &&
      (lvmNodes.length === 0 || o.notClaimDisk || scs.includes(wantSc));
    const summary = rows.map((r) => `${r.name}:${r.node && r.diskNode ? (r.storageNode === false ? "pool…" : "Ready") : "…"}`).join(" ");
    if (summary && summary !== last) say(`nodes ${summary}`);
    last = summary;
    if (done) return { nodes: rows, storageClasses: scs.sort() };
    if (Date.now() > deadline) {
      const waiting = rows.filter((r) => !(r.node && r.diskNode && r.storageNode !== false)).map((r) => r.name);
      throw notReady(
        l,
        `not every node became Ready within ${Math.round(timeoutMs / 1000)} s (waiting for ${waiting.join(", ") || "the StorageClass " + wantSc})`,
        waiting.length ? waiting : ["operator"],
      );
    }
    await sleep(500);
  }
}

function notReady(l: Layout, what: string, procs: string[]): HwError {
  const tails = procs
    .map((p) => {
      const f = logFile(l, p);
      if (!existsSync(f)) return "";
      const lines = readFileSync(f, "utf8").trimEnd().split("\n").slice(-5);
      return `\n--- ${f} (last lines)\n${lines.join("\n")}`;
    })
    .join("");
  return new HwError("UNAVAILABLE", "ClusterNotReady", `${what}${tails}`, {
    hint: "the processes keep running: see `hwameistor cluster status` and the logs; `hwameistor cluster down` stops them",
  });
}
