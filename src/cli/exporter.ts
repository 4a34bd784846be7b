// `hwameistor exporter`: the Prometheus exporter of the cluster state (reference §8) until SIGTERM/SIGINT.
// docs/exporter.md has the metrics and the flags.

import type { Command } from "commander";
import { HWAMEISTOR_NAMESPACE } from "../api/names.ts";
import { startExporter } from "../exporter/exporter.ts";
import { parseMetricsPort } from "../kube/metrics.ts";
import { serve, serverCommand, type ServerFlags } from "./serve.ts";

interface ExporterFlags extends ServerFlags {
  port: string;
  host: string;
  namespace: string;
}

export function registerExporterCommand(program: Command): void {
  const cmd = serverCommand(program, "exporter", "serve the cluster's disks, pools, volumes, replicas and operations as Prometheus metrics (GET /metrics)")
    .option("--port <port>", "port of /metrics (the original serves :80)", "80")
    .option("--host <addr>", "address to listen on (0.0.0.0 for a Prometheus elsewhere)", "127.0.0.1")
    .option("--namespace <ns>", "namespace of ConfigMap hwameistor-smart-result (SMART attributes)", HWAMEISTOR_NAMESPACE);
  serve(cmd, async (o: ExporterFlags, { log, client }) => {
    const port = parseMetricsPort(o.port, "--port")!;
    const ex = await startExporter({
      client: client({ userAgent: "hwameistor-exporter", timeoutMs: 10_000 }),
      port,
      host: o.host,
      namespace: o.namespace,
      log,
    });
    return { service: ex, ready: { exporter: true, ready: true, port: ex.port, host: o.host } };
  });
}
