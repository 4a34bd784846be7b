// The processes of a dev cluster and their command lines (pure). Order matters: the API server first, then
// the controller, the Kubernetes storage roles, the operator, the exporter and the node agents; `down` stops them in reverse.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DATAPLANE_DEFAULT_PORT } from "../api/replication.ts";
import { CLUSTER_NAME, controllerSocket, layoutOf, logFile, networkPlan, nodeLayout, nodeNames, type Layout } from "./layout.ts";
import type { ClusterOptions } from "./options.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const HWAMEISTOR_BIN = join(REPO_ROOT, "bin/hwameistor");
/** The native data plane, built from dataplane/ by scripts/install-deps.sh (`make -C dataplane`). */
export const DATAPLANE_BIN = join(REPO_ROOT, "dataplane/build/hwameistor-dataplane");
/**
 * Replication port of a data plane: the default in its own netns. Beside each other on the host, the one `up`
 * chose for the node (api.dataplanePorts); clusters made before that kept 43100 + i.
 */
export const dataplanePort = (netns: boolean, i: number, chosen?: number): number =>
  netns ? DATAPLANE_DEFAULT_PORT : (chosen ?? DATAPLANE_DEFAULT_PORT + 100 + i);

export interface ProcessSpec {
  name: string;
  role: "apiserver" | "controller" | "kube-controllers" | "operator" | "node" | "exporter" | "dataplane";
  argv: string[];
  logFile: string;
  /** Network namespace name (--netns). */
  netns?: string;
  /** Extra environment of the process. */
  env?: Record<string, string>;
}

/**
 * Environment of every `hwameistor` daemon (not the C data plane): glibc's malloc keeps at most 2 arenas
 * instead of 8 per core. Node's threads (libuv pool, V8 workers) each took an arena that kept its freed pages;
 * measured 3–4 MiB less RSS per node agent at rest (docs/benchmarks.md "Memory"). The Helm chart sets the same.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

export interface ApiEndpoint {
  host: string;
  port: number;
  /**
   * /metrics ports chosen at `up` (docs/exporter.md): "exporter" (the `hwameistor exporter` process), "controller"
   * and each node's name (their --metrics-port). Absent in clusters made before the exporter existed: then no
   * exporter process runs and no --metrics-port is passed.
   */
  metricsPorts?: Record<string, number>;
  /**
   * Without --netns: each node's data plane replication port, chosen free at `up` (below the ephemeral range) and
   * kept while free. A fixed 43100 + i collided with a second dev cluster on the machine and with any outgoing
   * connection the kernel had given that port: the data plane exited "Address already in use", its node reported
   * replication unavailable, and no -convertible/-ha StorageClass appeared.
   */
  dataplanePorts?: Record<string, number>;
}

/**
 * `dataplaneBin`: the data plane binary, or "" to run the nodes without one (they then report replication
 * unavailable); by default the built binary when it exists.
 */
export function processSpecs(
  stateDir: string,
  o: ClusterOptions,
  api: ApiEndpoint,
  bin = HWAMEISTOR_BIN,
  dataplaneBin: string = existsSync(DATAPLANE_BIN) ? DATAPLANE_BIN : "",
): ProcessSpec[] {
  const l: Layout = layoutOf(stateDir);
  const kc = ["--kubeconfig", l.kubeconfig];
  const mp = api.metricsPorts ?? {};
  const metricsFlags = (name: string, host = api.host) => (mp[name] ? ["--metrics-port", String(mp[name]), "--metrics-host", host] : []);
  const specs: ProcessSpec[] = [
    {
      name: "apiserver",
      role: "apiserver",
      argv: [bin, "apiserver", "--data-dir", l.apiserverDir, "--host", api.host, "--port", String(api.port)],
      logFile: logFile(l, "apiserver"),
    },
    {
      name: "controller",
      role: "controller",
      // One controller per dev cluster, restarted by the supervisor only after it exited: a stable identity
      // lets the restarted one take its own Lease back at once instead of waiting out the 15 s lease.
      argv: [bin, "controller", ...kc, "--csi-socket-dir", l.controllerDir, "--leader-election-id", "dev-cluster-controller", ...metricsFlags("controller")],
      logFile: logFile(l, "controller"),
    },
    {
      // The Kubernetes roles (PV controller, attach/detach, CSI sidecars) no kube-controller-manager plays here.
      name: "kube-controllers",
      role: "kube-controllers",
      argv: [bin, "kube-controllers", ...kc, "--csi-socket", controllerSocket(l, "lvm"), "--csi-socket", controllerSocket(l, "disk")],
      logFile: logFile(l, "kube-controllers"),
    },
    {
      name: "operator",
      role: "operator",
      argv: [bin, "cluster", "operator", ...kc, "--cluster-name", CLUSTER_NAME],
      logFile: logFile(l, "operator"),
    },
  ];
  if (mp.exporter) {
    specs.push({
      name: "exporter",
      role: "exporter",
      argv: [bin, "exporter", ...kc, "--host", api.host, "--port", String(mp.exporter)],
      logFile: logFile(l, "exporter"),
    });
  }
  const names = nodeNames(o);
  const net = o.netns ? networkPlan(l.stateDir, names) : undefined;
  for (const [i, name] of names.entries()) {
    const n = nodeLayout(l, name, o.disksPerNode);
    if (dataplaneBin) {
      // Its own process (beside the node agent, in the node's netns): killing the agent does not stop I/O.
      const ip = net ? net.nodes[i]!.ip : "127.0.0.1";
      specs.push({
        name: `${name}-dataplane`,
        role: "dataplane",
        argv: [
          dataplaneBin,
          "--node",
          name,
          "--control",
          n.dataplane.control,
          "--state-dir",
          n.dataplane.stateDir,
          "--listen",
          `${ip}:${dataplanePort(!!net, i, api.dataplanePorts?.[name])}`,
          "--fuse-dir",
          n.dataplane.fuseDir,
        ],
        logFile: logFile(l, `${name}-dataplane`),
        netns: net?.nodes[i]!.netns,
      });
    }
    specs.push({
      name,
      role: "node",
      argv: [
        bin,
        "node",
        "--node-name",
        name,
        ...kc,
        "--devices",
        `file:${n.disksDir}/*.img`,
        "--disk-class",
        o.diskClass,
        "--state-dir",
        n.stateDir,
        "--csi-socket-dir",
        n.dir,
        "--run-pods",
        "--kubelet-root",
        join(n.dir, "kubelet"),
        ...(net ? ["--storage-ip", net.nodes[i]!.ip] : []),
        ...(dataplaneBin ? ["--dataplane-socket", n.dataplane.control] : []),
        ...(o.fileFs ? ["--file-fs", o.fileFs] : []),
        ...metricsFlags(name, net ? net.nodes[i]!.ip : api.host),
      ],
      logFile: logFile(l, name),
      netns: net?.nodes[i]!.netns,
    });
  }
  return specs.map((s) => (s.role === "dataplane" ? s : { ...s, env: { ...DAEMON_ENV } }));
}

/** Whether a live process's command line is this spec's (guards against a reused pid). */
export function isSameProcess(spec: ProcessSpec, cmdline: string[]): boolean {
  // The kernel shows the interpreter first (node bin/hwameistor ...); compare the tail.
  const idx = cmdline.findIndex((a) => a === spec.argv[0]);
  if (idx < 0) return false;
  const tail = cmdline.slice(idx);
  return tail.length === spec.argv.length && tail.every((a, i) => a === spec.argv[i]);
}

export { controllerSocket };
