// How every long-running `hwameistor` command behaves: log to stderr (stdout carries one JSON ready line
// for scripts and supervisors), stop gracefully on SIGTERM/SIGINT with exit 0, exit 1 if stopping fails.
import type { Command } from "commander";
import pino from "pino";
import type { Logger } from "pino";
import { HwError } from "../api/errors.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import type { TransportOptions } from "../kube/transport.ts";

/** The parser of a port flag (0 = any free port); a bad value is invalid usage (exit code 2) naming the flag. */
export const portOption =
  (flag = "--port") =>
  (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isInteger(n) || n > 65535) throw new HwError("INVALID_ARGUMENT", "Invalid", `${flag} ${v} is not a port number (0-65535)`);
    return n;
  };

export function serverLogger(level: string, base?: Record<string, unknown>): Logger {
  return pino({ level, ...(base ? { base } : {}) }, pino.destination(2));
}

/**
 * Installs the signal handlers, then prints the ready line. The order matters: a SIGTERM right after the
 * line is seen must already be a graceful stop.
 */
export function serveUntilSignal(log: Logger, service: { stop(): Promise<void> }, readyLine: Record<string, unknown>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    service.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: String(e) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.stdout.write(JSON.stringify(readyLine) + "\n");
}

/** The flags every long-running command has (`kubeconfig` unless it is the API server itself). */
export interface ServerFlags {
  kubeconfig?: string;
  logLevel: string;
}

/** What `serve`'s run hands its command. */
export interface ServerContext {
  log: Logger;
  /** A client of the API server that --kubeconfig names. */
  client(opts?: TransportOptions): KubeClient;
}

/** A started service and the ready line that announces it. */
export interface Serving {
  service: { stop(): Promise<void> };
  ready: Record<string, unknown>;
}

/**
 * A long-running command: its name and description, then --kubeconfig (unless `kubeconfig: false`). Add the
 * command's own flags to what it returns, then hand it to `serve`.
 */
export function serverCommand(parent: Command, name: string, description: string, o: { kubeconfig?: boolean } = {}): Command {
  const cmd = parent.command(name).description(description);
  if (o.kubeconfig !== false) cmd.option("--kubeconfig <file>", "kubeconfig of the API server (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  return cmd;
}

/**
 * The action of a long-running command: --log-level (last of its flags), a logger (with `base` fields), then
 * `run` starts the service, which runs until SIGTERM/SIGINT (serveUntilSignal).
 */
export function serve<F extends ServerFlags>(
  cmd: Command,
  run: (o: F, ctx: ServerContext) => Promise<Serving>,
  base?: (o: F) => Record<string, unknown>,
): Command {
  return cmd.option("--log-level <level>", "pino log level", "info").action(async (o: F) => {
    const log = serverLogger(o.logLevel, base?.(o));
    const client = (opts?: TransportOptions) => new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeconfig }).kubeConfig, opts);
    const { service, ready } = await run(o, { log, client });
    serveUntilSignal(log, service, ready);
  });
}
