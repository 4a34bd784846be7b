// `hwameistor apiserver`: runs the embedded Kubernetes-compatible API server until SIGTERM/SIGINT.

import type { Command } from "commander";
import { startApiServer } from "../apiserver/server.ts";
import { portOption, serveUntilSignal, serverLogger } from "./serve.ts";

export function registerApiserverCommand(program: Command): void {
  program
    .command("apiserver")
    .description("run the embedded Kubernetes-compatible API server (SQLite-backed) for standalone and dev-cluster modes")
    .requiredOption("--data-dir <dir>", "directory for the SQLite store, the token and the kubeconfig")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", portOption(), 6443)
    .option("--log-level <level>", "pino log level", "info")
    .action(async (o: { dataDir: string; host: string; port: number; logLevel: string }) => {
      const log = serverLogger(o.logLevel);
      const srv = await startApiServer({ dataDir: o.dataDir, host: o.host, port: o.port }, { logger: log });
      serveUntilSignal(log, { stop: () => srv.close() }, { url: srv.url, kubeconfig: srv.kubeconfigPath });
    });
}
