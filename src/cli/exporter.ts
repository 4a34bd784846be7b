// `hwameistor exporter`: the Prometheus exporter of the cluster state (reference §8) until SIGTERM/SIGINT.
// docs/exporter.md has the metrics and the flags.

import type { Command } from "commander";
import { HWAMEISTOR_NAMESPACE } from "../api/names.ts";
import { startExporter } from "../exporter/exporter.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { parseMetricsPort } from "../kube/metrics.ts";
import { serveUntilSignal, serverLogger } from "./serve.ts";

interface ExporterFlags {
  kubeconfig?: string;
  port: string;
  host: string;
  namespace: string;
  logLevel: string;
}

export function registerExporterCommand(program: Command): void {
  program
    .command("exporter")
    .description("serve the cluster's disks, pools, volumes, replicas and operations as Prometheus metrics (GET /metrics)")
    .option("--kubeconfig <file>", "kubeconfig of the API server (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    .option("--port <port>", "port of /metrics (the original serves :80)", "80")
    .option("--host <addr>", "address to listen on (0.0.0.0 for a Prometheus elsewhere)", "127.0.0.1")
    .option("--namespace <ns>", "namespace of ConfigMap hwameistor-smart-result (SMART attributes)", HWAMEISTOR_NAMESPACE)
    .option("--log-level <level>", "pino log level", "info")
    .action(async (o: ExporterFlags) => {
      const log = serverLogger(o.logLevel);
      const port = parseMetricsPort(o.port, "--port")!;
      const client = new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeconfig }).kubeConfig, { userAgent: "hwameistor-exporter", timeoutMs: 10_000 });
      const ex = await startExporter({ client, port, host: o.host, namespace: o.namespace, log });
      serveUntilSignal(log, ex, { exporter: true, ready: true, port: ex.port, host: o.host });
    });
}
