// Starts `bin/hwameistor` processes for end-to-end tests and keeps each one's stderr tail for failure messages.
// eslint-disable-next-line no-restricted-imports -- tests start the real processes
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const repo = resolve(import.meta.dirname, "../..");
const bin = join(repo, "bin/hwameistor");

export function hwameistorProcesses() {
  const procs = new Map<string, ChildProcess>();
  const logs = new Map<ChildProcess, string>();
  /** Spawns `bin/hwameistor args` under `key`; resolves its ready line (the first stdout line) as JSON. */
  function startProcess(key: string, args: string[]): Promise<Record<string, unknown>> {
    const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], cwd: repo });
    procs.set(key, proc);
    logs.set(proc, "");
    proc.stderr!.on("data", (d) => logs.set(proc, (logs.get(proc)! + d.toString()).slice(-20_000)));
    return new Promise((res, rej) => {
      const rl = createInterface({ input: proc.stdout! });
      rl.once("line", (line) => res(JSON.parse(line) as Record<string, unknown>));
      proc.once("exit", (code) => rej(new Error(`hwameistor ${key} exited ${code} before ready:\n${logs.get(proc)}`)));
    });
  }
  return { procs, logs, startProcess };
}

/** Resolves when the process has exited (at once if it already has). */
export const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r())));
