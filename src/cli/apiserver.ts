// `hwameistor apiserver`: runs the embedded Kubernetes-compatible API server until SIGTERM/SIGINT.

import type { Command } from "commander";
import { startApiServer } from "../apiserver/server.ts";
import { portOption, serve, serverCommand, type ServerFlags } from "./serve.ts";

export function registerApiserverCommand(program: Command): void {
  const cmd = serverCommand(program, "apiserver", "run the embedded Kubernetes-compatible API server (SQLite-backed) for standalone and dev-cluster modes", {
    kubeconfig: false,
  })
    .requiredOption("--data-dir <dir>", "directory for the SQLite store, the token and the kubeconfig")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", portOption(), 6443);
  serve(cmd, async (o: ServerFlags & { dataDir: string; host: string; port: number }, { log }) => {
    const srv = await startApiServer({ dataDir: o.dataDir, host: o.host, port: o.port }, { logger: log });
    return { service: { stop: () => srv.close() }, ready: { url: srv.url, kubeconfig: srv.kubeconfigPath } };
  });
}
