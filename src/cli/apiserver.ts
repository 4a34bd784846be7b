// `hwameistor apiserver`: runs the embedded Kubernetes-compatible API server until SIGTERM/SIGINT.

import type { Command } from "commander";
import pino from "pino";
import { startApiServer } from "../apiserver/server.ts";

export function registerApiserverCommand(program: Command): void {
  program
    .command("apiserver")
    .description("run the embedded Kubernetes-compatible API server (SQLite-backed) for standalone and dev-cluster modes")
    .requiredOption("--data-dir <dir>", "directory for the SQLite store, the token and the kubeconfig")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid port ${v}`);
      return n;
    }, 6443)
    .option("--log-level <level>", "pino log level", "info")
    .action(async (o: { dataDir: string; host: string; port: number; logLevel: string }) => {
      const log = pino({ level: o.logLevel }, pino.destination(2)); // stdout carries only the ready line
      const srv = await startApiServer({ dataDir: o.dataDir, host: o.host, port: o.port }, { logger: log });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, "shutting down");
        srv.close().then(
          () => process.exit(0),
          (e) => {
            log.error({ err: e }, "shutdown failed");
            process.exit(1);
          },
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      // One line on stdout for scripts and tests that start us on port 0 (after the signal handlers, so a
      // SIGTERM right after it is a graceful stop).
      process.stdout.write(JSON.stringify({ url: srv.url, kubeconfig: srv.kubeconfigPath }) + "\n");
    });
}
