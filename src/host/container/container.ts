// A pod's container as a host process (no image, no chroot): the container's command runs with the host's
// binaries in a private mount namespace where each volume is bind-mounted at its mountPath, as the user
// the securityContext names, with exactly the container's environment and working directory.
//
//   unshare --mount --propagation slave -- sh -c SHIM sh <rcFile> [<src> <dst> <ro>]... -- \
//     setpriv --reuid U --regid G --clear-groups -- env -i --chdir=DIR -- K=V... <command> <args>...
//
// SHIM is a CONSTANT script (never built from input; every name travels as a positional argument). It does
// the bind mounts inside the new namespace (read-only ones remounted ro), runs the command as its child,
// forwards SIGTERM/SIGINT to it, and writes the exit status atomically to <rcFile> — so a node agent that
// crashed and restarted can still learn how a container ended (it is not the parent any more). The shim
// leads its own process group (detached); SIGKILL goes to the whole group. stdout and stderr append to the
// container's log file, not a pipe, so the process outlives the agent (as containers outlive a kubelet).
// `--propagation slave`: mounts made on the host later (a grown filesystem stays the same mount) still reach
// the container, and nothing the container mounts leaks back.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { HwError } from "../../api/errors.ts";
import { commandLineOf, isAlive, signalProcess, startDaemon } from "../netns/daemon.ts";
import { run } from "../runner.ts";

/** The shim (see the header). $1 = rc file; then triples src dst ro until "--"; then the command. */
export const SHIM = [
  "rc_file=$1; shift",
  "child=; stop=",
  'finish() { echo "$1" > "$rc_file.tmp" && mv -f "$rc_file.tmp" "$rc_file"; exit "$1"; }',
  // Traps first: a signal that arrives before the command runs must not kill the shim without a status.
  `trap 'stop=TERM; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM`,
  `trap 'stop=INT; [ -z "$child" ] || kill -INT "$child" 2>/dev/null' INT`,
  'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do',
  '  mount --bind -- "$1" "$2" || finish 125',
  '  if [ "$3" = ro ]; then mount -o remount,bind,ro -- "$2" || finish 125; fi',
  "  shift 3",
  "done",
  "shift",
  '[ -z "$stop" ] || finish 143',
  '"$@" &',
  "child=$!",
  '[ -z "$stop" ] || kill -"$stop" "$child" 2>/dev/null',
  "while :; do",
  '  wait "$child"; rc=$?',
  '  kill -0 "$child" 2>/dev/null || break',
  "done",
  'finish "$rc"',
].join("\n");

/** Exit status the shim reports when a bind mount failed before the command started. */
export const SHIM_MOUNT_FAILED = 125;

export interface BindSpec {
  /** Host path (a published volume, a file for block). */
  source: string;
  /** Path the container sees. */
  target: string;
  readOnly?: boolean;
}

export interface ContainerProcessSpec {
  command: string[];
  env: Record<string, string>;
  workingDir?: string;
  runAsUser?: number;
  runAsGroup?: number;
  binds: BindSpec[];
  /** Where the shim writes the exit status. */
  rcFile: string;
  /** stdout + stderr are appended here. */
  logFile: string;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** The argv of a container process (pure; validates before anything runs). */
export function containerArgv(s: ContainerProcessSpec): string[] {
  if (!s.command.length || !s.command[0])
    throw new HwError("INVALID_ARGUMENT", "NoCommand", "the container has no command: without images, command (or args) must name a host program");
  for (const b of s.binds) {
    if (!b.target.startsWith("/")) throw new HwError("INVALID_ARGUMENT", "InvalidMountPath", `mountPath ${JSON.stringify(b.target)} must be absolute`);
    if (b.target.split("/").includes(".."))
      throw new HwError("INVALID_ARGUMENT", "InvalidMountPath", `mountPath ${JSON.stringify(b.target)} must not contain ".."`);
    if (b.target === "/") throw new HwError("INVALID_ARGUMENT", "InvalidMountPath", "mountPath / would hide the host's binaries");
  }
  if (s.workingDir !== undefined && !s.workingDir.startsWith("/"))
    throw new HwError("INVALID_ARGUMENT", "InvalidWorkingDir", `workingDir ${JSON.stringify(s.workingDir)} must be absolute`);
  const binds = s.binds.flatMap((b) => [b.source, b.target, b.readOnly ? "ro" : "rw"]);
  return ["unshare", "--mount", "--propagation", "slave", "--", "sh", "-c", SHIM, "sh", s.rcFile, ...binds, "--", ...userEnvCommand(s)];
}

/** `[setpriv …] env -i [--chdir] K=V… command…`: the command as the container's user with exactly its env. */
function userEnvCommand(s: Pick<ContainerProcessSpec, "command" | "env" | "workingDir" | "runAsUser" | "runAsGroup">): string[] {
  if (!s.command.length || !s.command[0]) throw new HwError("INVALID_ARGUMENT", "NoCommand", "the command is empty");
  for (const k of Object.keys(s.env))
    if (!ENV_NAME.test(k)) throw new HwError("INVALID_ARGUMENT", "InvalidEnvName", `environment variable name ${JSON.stringify(k)} is not valid`);
  const uid = s.runAsUser;
  if (uid !== undefined && (!Number.isInteger(uid) || uid < 0))
    throw new HwError("INVALID_ARGUMENT", "InvalidUser", `runAsUser ${uid} must be a non-negative integer`);
  const gid = s.runAsGroup ?? 0;
  const user = uid !== undefined ? ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"] : [];
  // env parses NAME=VALUE pairs after its options, up to the first word without "=": that is the command.
  if (s.command[0]!.includes("=")) throw new HwError("INVALID_ARGUMENT", "InvalidCommand", `command ${JSON.stringify(s.command[0])} must not contain "="`);
  const env = ["env", "-i", ...(s.workingDir ? [`--chdir=${s.workingDir}`] : []), "--", ...Object.entries(s.env).map(([k, v]) => `${k}=${v}`)];
  return [...user, ...env, ...s.command];
}

/**
 * The argv of an exec probe (the kubelet's `exec` readinessProbe): `command` run inside the mount namespace of
 * the container whose shim is `pid` (so it sees the container's volumes), as its user, with its env.
 */
export function probeArgv(pid: number, s: Pick<ContainerProcessSpec, "command" | "env" | "workingDir" | "runAsUser" | "runAsGroup">): string[] {
  if (!Number.isInteger(pid) || pid <= 1) throw new HwError("INVALID_ARGUMENT", "InvalidPid", `pid ${pid} is not a container process`);
  return ["nsenter", `--target=${pid}`, "--mount", "--", ...userEnvCommand(s)];
}

/** Runs an exec probe; true when it exited 0 within `timeoutMs`. */
export async function execProbe(
  pid: number,
  s: Pick<ContainerProcessSpec, "command" | "env" | "workingDir" | "runAsUser" | "runAsGroup">,
  timeoutMs: number,
): Promise<{ ok: boolean; output: string }> {
  try {
    const r = await run(probeArgv(pid, s), { timeoutMs });
    return { ok: true, output: r.stdout };
  } catch (e) {
    if (e instanceof HwError && e.reason === "InvalidPid") throw e;
    return { ok: false, output: (e as Error).message };
  }
}

export interface StartedContainer {
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the container process; resolves once it exists. Mount targets must exist (see ensureTarget). */
export async function startContainerProcess(s: ContainerProcessSpec): Promise<StartedContainer> {
  const argv = containerArgv(s);
  const h = await startDaemon(argv, { logFile: s.logFile, env: {} });
  return { pid: h.pid, exited: h.exited };
}

/** Whether `pid` is still the shim of this container (the rc file path is in its command line). */
export function isContainerAlive(pid: number, rcFile: string): boolean {
  // While a process execs (unshare → the shim's sh), its command line reads empty for a moment: the new image's
  // argument area is not set up yet. Read again rather than take a live container for a dead one (a zombie's stays
  // empty: false after ~20 ms).
  for (let i = 0; i < 20 && isAlive(pid); i++) {
    const argv = commandLineOf(pid);
    if (argv.length) return argv.includes(rcFile);
    Atomics.wait(EXEC_PAUSE, 0, 0, 1);
  }
  return false;
}
const EXEC_PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** The exit status the shim wrote, or undefined if it has not. */
export function readExitStatus(rcFile: string): number | undefined {
  try {
    const n = Number(readFileSync(rcFile, "utf8").trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * SIGTERM (or another signal) to the shim, which forwards it to the command. In the few milliseconds between
 * the spawn and the shell's trap, a signal ends the shim without a status file (nothing was started yet);
 * callers read a missing status as 137.
 */
export function signalContainer(pid: number, rcFile: string, signal: NodeJS.Signals): boolean {
  if (!isContainerAlive(pid, rcFile)) return false;
  return signalProcess(pid, signal, false);
}

/** SIGKILL to the container's whole process group. */
export function killContainer(pid: number, rcFile: string): boolean {
  if (!isContainerAlive(pid, rcFile)) return false;
  return signalProcess(pid, "SIGKILL", true);
}

/**
 * Makes sure a bind target exists on the host (a directory, or an empty file for a block device); answers
 * every path it created, outermost first (missing parents too), so the caller can record them and remove
 * them again in reverse order. Refuses to create under /dev, /proc and /sys.
 */
export function ensureTarget(target: string, kind: "dir" | "file"): string[] {
  if (existsSync(target)) return [];
  if (/^\/(dev|proc|sys)(\/|$)/.test(target)) {
    throw new HwError("FAILED_PRECONDITION", "TargetMissing", `${target} does not exist and is not created under /dev, /proc or /sys`, {
      hint: "use a devicePath/mountPath that exists on the host, or one outside those trees",
    });
  }
  const created: string[] = [];
  const parts = target.split("/").filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const p = `/${parts.slice(0, i).join("/")}`;
    if (!existsSync(p)) created.push(p);
  }
  const dir = kind === "dir" ? target : target.slice(0, target.lastIndexOf("/")) || "/";
  mkdirSync(dir, { recursive: true });
  if (kind === "file") writeFileSync(target, "", { flag: "wx" }); // an empty regular file is a valid bind target for a device
  created.push(target);
  return created;
}

/** Container shims whose status file lies under `prefix` (from /proc): for crash sweeps and `cluster down`. */
export function findContainerProcesses(prefix: string): Array<{ pid: number; rcFile: string }> {
  const out: Array<{ pid: number; rcFile: string }> = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const argv = commandLineOf(pid);
    // unshare execs sh: the shim's argv is sh -c SHIM sh <rcFile> …
    if (argv[0] !== "sh" || argv[1] !== "-c" || argv[2] !== SHIM) continue;
    const rcFile = argv[4];
    if (rcFile?.startsWith(prefix)) out.push({ pid, rcFile });
  }
  return out;
}
