// Process-local metrics (prom-client) shared by every long-running `hwameistor` process, and the small HTTP
// server that serves them (docs/exporter.md "Process metrics").
//
// - One registry per process (`processMetrics`): the controller base records reconcile durations and errors per
//   controller, the CSI framework records RPC latencies per driver and method, the node agent adds its per-volume
//   I/O collector. Recording costs one Map lookup and a bucket increment (prom-client), whether or not anything
//   scrapes, so nothing is gated.
// - `serveMetrics()` answers GET /metrics (and /healthz) on a port given by a flag; it also turns on
//   prom-client's default process metrics (CPU, RSS, event-loop lag), which sample only once something serves
//   them. Served over plain HTTP: the metrics hold names of volumes and nodes, nothing secret (bind to
//   127.0.0.1 unless Prometheus runs elsewhere).

import http from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { HwError } from "../api/errors.ts";
import { silentLogger, type Logger } from "./types.ts";

/** Buckets for control-plane work (reconciles, CSI RPCs): 1 ms … ~60 s. */
export const CONTROL_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class ProcessMetrics {
  readonly registry = new Registry();
  readonly reconcileDuration = new Histogram({
    name: "hwameistor_controller_reconcile_duration_seconds",
    help: "Time one reconcile of a key took, per controller and result (ok, requeue, conflict, error).",
    labelNames: ["controller", "result"] as const,
    buckets: CONTROL_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "hwameistor_controller_reconcile_errors_total",
    help: "Reconciles that failed with an error other than a write conflict (requeued with backoff), per controller.",
    labelNames: ["controller"] as const,
    registers: [this.registry],
  });
  readonly csiDuration = new Histogram({
    name: "hwameistor_csi_request_duration_seconds",
    help: "Latency of CSI RPCs as served by this process, per driver socket, service, method and gRPC code.",
    labelNames: ["driver", "service", "method", "code"] as const,
    buckets: CONTROL_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  private defaultsOn = false;

  /** prom-client's process_* and nodejs_* metrics; on only in processes that serve /metrics. */
  enableDefaultMetrics(): void {
    if (this.defaultsOn) return;
    this.defaultsOn = true;
    collectDefaultMetrics({ register: this.registry });
    // Gauges named *_total (prom-client keeps them for compatibility; promtool's lint refuses them). Their
    // un-suffixed twins (nodejs_active_handles …) carry the same numbers.
    for (const n of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) this.registry.removeSingleMetric(n);
  }
}

/** The one registry of this process. */
export const processMetrics = new ProcessMetrics();

export interface MetricsServer {
  port: number;
  host: string;
  stop(): Promise<void>;
}

export interface MetricsServerOptions {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  registries?: Registry[];
  log?: Logger;
}

/** Validates a --metrics-port flag value: an integer 0–65535 (0 picks a free port). */
export function parseMetricsPort(v: string | undefined, flag = "--metrics-port"): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new HwError("INVALID_ARGUMENT", "Invalid", `${flag} ${JSON.stringify(v)} is not a port number`, {
      hint: "use an integer 0–65535 (0 picks a free port)",
    });
  }
  return n;
}

/** Serves GET /metrics (the merged registries, text format 0.0.4) and GET /healthz until stop(). */
export async function serveMetrics(o: MetricsServerOptions): Promise<MetricsServer> {
  const log = o.log ?? silentLogger;
  const regs = o.registries ?? [processMetrics.registry];
  if (regs.includes(processMetrics.registry)) processMetrics.enableDefaultMetrics();
  const merged = regs.length === 1 ? regs[0]! : Registry.merge(regs);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (url !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics\n");
      return;
    }
    merged.metrics().then(
      (body) => res.writeHead(200, { "content-type": merged.contentType }).end(req.method === "HEAD" ? undefined : body),
      (e: unknown) => {
        log.error({ err: String(e) }, "collecting metrics failed");
        res.writeHead(500, { "content-type": "text/plain" }).end(`collecting metrics failed: ${String(e)}\n`);
      },
    );
  });
  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new HwError("UNAVAILABLE", "MetricsPortBusy", `cannot serve metrics on ${host}:${o.port}: ${e.code ?? e.message}`, {
          hint: "choose another --metrics-port",
          cause: e,
        }),
      ),
    );
    server.listen(o.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host, port }, "serving /metrics");
  return {
    port,
    host,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
