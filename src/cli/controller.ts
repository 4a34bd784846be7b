// `hwameistor controller`: the cluster controller — CSI controller services of both drivers (served by
// every replica) and the leader-elected reconcilers — until SIGTERM/SIGINT. docs/controller.md has the flags.

import type { Command } from "commander";
import { invalid } from "../api/errors.ts";
import { startController } from "../controller/index.ts";
import { parseMetricsPort, serveMetrics } from "../kube/metrics.ts";
import { serve, serverCommand, type ServerFlags } from "./serve.ts";

interface ControllerFlags extends ServerFlags {
  csiSocketDir: string;
  leaderElection: boolean;
  leaderElectionNamespace: string;
  leaderElectionId?: string;
  metricsPort?: string;
  metricsHost: string;
  maxMigrateCount: string;
  evictor: boolean;
  failoverAssistant: boolean;
}

function positiveCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw invalid(`--max-migrate-count ${JSON.stringify(v)} is not a positive integer`);
  return n;
}

export function registerControllerCommand(program: Command): void {
  const cmd = serverCommand(
    program,
    "controller",
    "run the cluster controller: CSI controller services (disk.sock, lvm.sock) and the leader-elected reconcilers",
  )
    .option("--csi-socket-dir <dir>", "directory for the CSI sockets (disk.sock, lvm.sock)", "/var/lib/hwameistor/controller")
    .option("--no-leader-election", "run the reconcilers without the Lease (a single controller)")
    .option("--leader-election-namespace <ns>", "namespace of the Lease hwameistor-local-storage-master", "hwameistor")
    .option("--leader-election-id <id>", "this replica's identity in the Lease (default <hostname>_<pid>)")
    .option("--metrics-port <port>", "serve this process's /metrics (reconcile durations and errors, CSI latencies) on this port; unset = off")
    .option("--metrics-host <addr>", "address of the /metrics server", "127.0.0.1")
    .option("--max-migrate-count <n>", "LocalVolumeMigrates that run at once", "1")
    .option("--no-evictor", "do not run the evictor (drains and pod evictions then do not move volumes first)")
    .option("--no-failover-assistant", "do not run the failover assistant (pods on an Offline node stay there)");
  serve(cmd, async (o: ControllerFlags, { log, client }) => {
    const metricsPort = parseMetricsPort(o.metricsPort);
    const ctl = await startController({
      client: client(),
      csiSocketDir: o.csiSocketDir,
      leaderElection: o.leaderElection,
      leaderElectionNamespace: o.leaderElectionNamespace,
      identity: o.leaderElectionId,
      maxMigrateCount: positiveCount(o.maxMigrateCount),
      evictor: o.evictor,
      failoverAssistant: o.failoverAssistant,
      log,
    });
    const metrics = metricsPort === undefined ? undefined : await serveMetrics({ port: metricsPort, host: o.metricsHost, log });
    return {
      service: { stop: async () => (await ctl.stop(), await metrics?.stop()) },
      ready: { diskSocket: ctl.diskSocketPath, lvmSocket: ctl.lvmSocketPath, metricsPort: metrics?.port },
    };
  });
}
