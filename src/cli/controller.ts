// `hwameistor controller`: the cluster controller — CSI controller services of both drivers (served by
// every replica) and the leader-elected reconcilers — until SIGTERM/SIGINT. docs/controller.md has the flags.

import type { Command } from "commander";
import { invalid } from "../api/errors.ts";
import { startController } from "../controller/index.ts";
import { parseMetricsPort, serveMetrics } from "../kube/metrics.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { serveUntilSignal, serverLogger } from "./serve.ts";

interface ControllerFlags {
  kubeconfig?: string;
  csiSocketDir: string;
  leaderElection: boolean;
  leaderElectionNamespace: string;
  leaderElectionId?: string;
  metricsPort?: string;
  metricsHost: string;
  logLevel: string;
  maxMigrateCount: string;
}

function positiveCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw invalid(`--max-migrate-count ${JSON.stringify(v)} is not a positive integer`);
  return n;
}

export function registerControllerCommand(program: Command): void {
  program
    .command("controller")
    .description("run the cluster controller: CSI controller services (disk.sock, lvm.sock) and the leader-elected reconcilers")
    .option("--kubeconfig <file>", "kubeconfig of the API server (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    .option("--csi-socket-dir <dir>", "directory for the CSI sockets (disk.sock, lvm.sock)", "/var/lib/hwameistor/controller")
    .option("--no-leader-election", "run the reconcilers without the Lease (a single controller)")
    .option("--leader-election-namespace <ns>", "namespace of the Lease hwameistor-local-storage-master", "hwameistor")
    .option("--leader-election-id <id>", "this replica's identity in the Lease (default <hostname>_<pid>)")
    .option("--metrics-port <port>", "serve this process's /metrics (reconcile durations and errors, CSI latencies) on this port; unset = off")
    .option("--metrics-host <addr>", "address of the /metrics server", "127.0.0.1")
    .option("--max-migrate-count <n>", "LocalVolumeMigrates that run at once", "1")
    .option("--log-level <level>", "pino log level", "info")
    .action(async (o: ControllerFlags) => {
      const log = serverLogger(o.logLevel);
      const metricsPort = parseMetricsPort(o.metricsPort);
      const client = new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeconfig }).kubeConfig);
      const ctl = await startController({
        client,
        csiSocketDir: o.csiSocketDir,
        leaderElection: o.leaderElection,
        leaderElectionNamespace: o.leaderElectionNamespace,
        identity: o.leaderElectionId,
        maxMigrateCount: positiveCount(o.maxMigrateCount),
        log,
      });
      const metrics = metricsPort === undefined ? undefined : await serveMetrics({ port: metricsPort, host: o.metricsHost, log });
      const service = { stop: async () => (await ctl.stop(), await metrics?.stop()) };
      serveUntilSignal(log, service, { diskSocket: ctl.diskSocketPath, lvmSocket: ctl.lvmSocketPath, metricsPort: metrics?.port });
    });
}
