// Long-running processes of the dev cluster (API server, controller, node agents, the supervisor itself):
// started with an argument array, optionally inside a network namespace (`nsenter --net=PATH --`, which
// execs the program, so the pid is the program's), stdout and stderr appended straight to a log file. The
// log file, not a pipe, holds the output so a child outlives its parent without dying of EPIPE — the
// supervisor can be restarted and adopt its children. Each daemon leads its own process group.
//
// This sits beside netns.ts because starting a process in a namespace is the other half of what `--netns`
// needs; runner.ts's spawnStream pipes output through the parent, which is wrong for daemons.

import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { HwError } from "../../api/errors.ts";
import { missingBinaryError } from "../runner.ts";

export interface DaemonOptions {
  /** Appended to (created 0644 if missing); stdout and stderr both go here. */
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Run inside this network namespace (a /run/netns/NAME path). */
  nsenterNetPath?: string;
  /** Let the parent exit without waiting for the child (the supervisor started by `cluster up`). */
  unref?: boolean;
}

export interface DaemonHandle {
  pid: number;
  /** Resolves when the child exits (only meaningful while the parent lives). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts argv as a daemon; resolves once the process exists (or rejects if it could not be started). */
export function startDaemon(argv: string[], o: DaemonOptions): Promise<DaemonHandle> {
  if (argv.length === 0 || !argv[0]) throw new Error("startDaemon: empty argv");
  const full = o.nsenterNetPath ? ["nsenter", `--net=${o.nsenterNetPath}`, "--", ...argv] : argv;
  const fd = openSync(o.logFile, "a", 0o644);
  try {
    const child = spawn(full[0]!, full.slice(1), {
      env: { ...process.env, ...(o.env ?? {}) },
      cwd: o.cwd,
      stdio: ["ignore", fd, fd],
      detached: true,
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: null, signal: null }));
    });
    return new Promise<DaemonHandle>((resolve, reject) => {
      child.once("error", (e: NodeJS.ErrnoException) => {
        reject(
          e.code === "ENOENT"
            ? missingBinaryError(full[0]!, e)
            : new HwError("INTERNAL", "CommandSpawnFailed", `cannot start \`${full.join(" ")}\`: ${e.message}`, { cause: e }),
        );
      });
      child.once("spawn", () => {
        if (o.unref) child.unref();
        resolve({ pid: child.pid!, exited });
      });
    });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
}

/** Whether a process with this pid exists (signal 0). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The argv of a running process from /proc (empty when it is gone): to tell our pid from a reused one. */
export function commandLineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** Sends a signal to a process (and its group when it leads one). Gone = false. */
export function signalProcess(pid: number, signal: NodeJS.Signals, group = true): boolean {
  try {
    process.kill(group ? -pid : pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}
