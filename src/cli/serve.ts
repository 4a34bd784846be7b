// How every long-running `hwameistor` command behaves: log to stderr (stdout carries one JSON ready line
// for scripts and supervisors), stop gracefully on SIGTERM/SIGINT with exit 0, exit 1 if stopping fails.
import pino from "pino";
import type { Logger } from "pino";
import { HwError } from "../api/errors.ts";

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
