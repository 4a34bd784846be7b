// cluster.json: the options a cluster was made with, the API server endpoint, and the pids of the
// supervisor and its processes. `up` writes it first, the supervisor keeps the pids current, `down` marks
// it down (and keeps the options, so a later `up` brings back the same cluster). Written atomically.

import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { HwError } from "../api/errors.ts";
import type { ClusterOptions } from "./options.ts";
import type { ApiEndpoint } from "./processes.ts";

export interface ProcessState {
  pid?: number;
  startedAt?: string;
  restarts: number;
  lastExit?: string;
  /** Size of the log file when this run of the process started: its ready line comes after it. */
  logOffset?: number;
}

export interface ClusterState {
  version: 1;
  stateDir: string;
  options: ClusterOptions;
  api: ApiEndpoint;
  status: "starting" | "running" | "stopping" | "down";
  supervisor?: { pid: number; startedAt: string };
  processes: Record<string, ProcessState>;
  /** Last measured `up` (start to every node Ready), ms. */
  upDurationMs?: number;
  createdAt: string;
}

export function readState(file: string): ClusterState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as ClusterState;
    if (s.version !== 1 || !s.options) throw new Error("unknown format");
    return s;
  } catch (e) {
    throw new HwError("FAILED_PRECONDITION", "BadClusterState", `${file} cannot be read: ${(e as Error).message}`, {
      hint: "run `hwameistor cluster down --purge` for this state dir to start over",
    });
  }
}

export function writeState(file: string, s: ClusterState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n");
  renameSync(tmp, file);
}

/** Read-modify-write (the supervisor and `up`/`down` touch different fields; the last write of a field wins). */
export function updateState(file: string, fn: (s: ClusterState) => void): ClusterState | undefined {
  const s = readState(file);
  if (!s) return undefined;
  fn(s);
  writeState(file, s);
  return s;
}
