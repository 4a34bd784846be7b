// The command runner: the one function in the project that starts processes (STYLE.md "One place touches
// the machine"). Every call takes an argument ARRAY (never a shell string), runs with LC_ALL=C so tool output
// is parseable, has a deadline (the whole process group is killed when it passes), can be prefixed with
// `nsenter --net=PATH`, and logs its argv at debug level with secrets redacted. A failed command throws a
// CommandError (an HwError) carrying argv, exit code and the useful tail of stderr; each tool's folder
// classifies those (`isNotFound`, `isBusy`, `isNoSpace`).

import { spawn } from "node:child_process";
import type { Socket } from "node:net";
import { HwError, type ErrorCode } from "../api/errors.ts";

export interface RunOptions {
  /** Deadline; the process group is killed (SIGKILL) when it passes. Default 60 000 ms. */
  timeoutMs?: number;
  /** Written to stdin, then stdin is closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Extra environment; merged over process.env. LC_ALL is always forced to C. */
  env?: Record<string, string>;
  /** Run inside this network namespace only: prefixes `nsenter --net=PATH --`. */
  nsenterNetPath?: string;
  /** Exit codes that count as success besides 0 (e.g. blkid's 2 = "nothing found"). */
  allowedExitCodes?: number[];
  /** Strings replaced by `***` in logs and errors (passphrases, tokens). */
  redact?: string[];
  /** Working directory. */
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Output past this is dropped (and noted) so a runaway tool cannot exhaust memory. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------
// Logging: a hook, so the node agent can route it into its logger; HWAMEISTOR_DEBUG_HOST=1 prints to stderr.

export type RunLogger = (event: { argv: string[]; durationMs?: number; exitCode?: number | null; error?: string }) => void;

let logger: RunLogger | undefined = process.env.HWAMEISTOR_DEBUG_HOST ? (e) => process.stderr.write(`[host] ${JSON.stringify(e)}\n`) : undefined;

/** Install (or remove, with undefined) the debug logger that sees every command's redacted argv. */
export function setRunLogger(fn: RunLogger | undefined): void {
  logger = fn;
}

// ---------------------------------------------------------------------------------------------------------
// Errors

export interface CommandErrorFields {
  argv: string[];
  exitCode: number | null;
  stderr: string;
  stdout?: string;
  signal?: NodeJS.Signals | null;
  timedOut?: boolean;
}

/** A command that ran and failed (non-zero exit, signal, or deadline). `stderr` is the useful tail only. */
export class CommandError extends HwError {
  readonly argv: string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  readonly stdout: string;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;

  constructor(f: CommandErrorFields, opts: { code?: ErrorCode; reason?: string; hint?: string; cause?: unknown } = {}) {
    const what = f.timedOut ? "timed out" : f.signal ? `was killed by ${f.signal}` : `exited with code ${f.exitCode}`;
    const tail = f.stderr ? `: ${f.stderr}` : "";
    super(
      opts.code ?? (f.timedOut ? "DEADLINE_EXCEEDED" : "INTERNAL"),
      opts.reason ?? (f.timedOut ? "CommandTimedOut" : "CommandFailed"),
      `command \`${f.argv.join(" ")}\` ${what}${tail}`,
      { hint: opts.hint, cause: opts.cause },
    );
    this.name = "CommandError";
    this.argv = f.argv;
    this.exitCode = f.exitCode;
    this.stderr = f.stderr;
    this.stdout = f.stdout ?? "";
    this.signal = f.signal ?? null;
    this.timedOut = f.timedOut ?? false;
  }

  /** A copy with a classified code/reason (what a tool folder returns once it knows what the failure means). */
  reclassify(code: ErrorCode, reason: string, hint?: string): CommandError {
    return new CommandError(
      { argv: this.argv, exitCode: this.exitCode, stderr: this.stderr, stdout: this.stdout, signal: this.signal, timedOut: this.timedOut },
      { code, reason, hint: hint ?? this.hint, cause: this },
    );
  }
}

export function isCommandError(e: unknown): e is CommandError {
  return e instanceof CommandError;
}

/**
 * The lines of stderr that say something: the last maxLines, after dropping a usage banner that follows the
 * cause (mkfs.xfs prints "Filesystem must be larger than 300MB." and then 30 lines of usage).
 */
export function trimStderr(stderr: string, maxLines = 8, maxChars = 2000): string {
  let lines = stderr
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  const usage = lines.findIndex((l) => /^\s*usage:/i.test(l));
  if (usage > 0) lines = lines.slice(0, usage);
  let out = lines.slice(-maxLines).join("\n");
  if (out.length > maxChars) out = "…" + out.slice(out.length - maxChars);
  return out;
}

export function redactArgv(argv: string[], secrets: string[] | undefined): string[] {
  if (!secrets?.length) return argv;
  return argv.map((a) => redactText(a, secrets));
}

function redactText(s: string, secrets: string[] | undefined): string {
  if (!secrets?.length) return s;
  let out = s;
  for (const secret of secrets) if (secret) out = out.split(secret).join("***");
  return out;
}

// Which Debian package provides a binary, for the "not installed" message.
const PACKAGE_OF: Record<string, string> = {
  "mkfs.xfs": "xfsprogs",
  xfs_growfs: "xfsprogs",
  xfs_info: "xfsprogs",
  xfs_admin: "xfsprogs",
  xfs_repair: "xfsprogs",
  "mkfs.ext4": "e2fsprogs",
  mke2fs: "e2fsprogs",
  resize2fs: "e2fsprogs",
  e2fsck: "e2fsprogs",
  tune2fs: "e2fsprogs",
  btrfs: "btrfs-progs",
  "mkfs.btrfs": "btrfs-progs",
  smartctl: "smartmontools",
  udevadm: "udev",
  fio: "fio",
  lvm: "lvm2",
  pvs: "lvm2",
  vgs: "lvm2",
  lvs: "lvm2",
  pvcreate: "lvm2",
  vgcreate: "lvm2",
  vgextend: "lvm2",
  vgreduce: "lvm2",
  vgremove: "lvm2",
  pvremove: "lvm2",
  lvcreate: "lvm2",
  lvextend: "lvm2",
  lvremove: "lvm2",
  lvrename: "lvm2",
  lvconvert: "lvm2",
  losetup: "mount",
  mount: "mount",
  umount: "mount",
  lsblk: "util-linux",
  blkid: "util-linux",
  findmnt: "util-linux",
  wipefs: "util-linux",
  fsfreeze: "util-linux",
  fstrim: "util-linux",
  blockdev: "util-linux",
  nsenter: "util-linux",
};

/** FAILED_PRECONDITION "<pkg> is not installed (<bin> not found): run scripts/install-deps.sh". */
export function missingBinaryError(bin: string, cause?: unknown): HwError {
  const base = bin.split("/").pop() ?? bin;
  const pkg = PACKAGE_OF[base] ?? base;
  return new HwError("FAILED_PRECONDITION", "ToolNotInstalled", `${pkg} is not installed (${base} not found): run scripts/install-deps.sh`, {
    cause,
  });
}

// ---------------------------------------------------------------------------------------------------------
// run / runJson

function buildArgv(argv: string[], opts: RunOptions): string[] {
  if (argv.length === 0 || !argv[0]) throw new Error("run: empty argv");
  return opts.nsenterNetPath ? ["nsenter", `--net=${opts.nsenterNetPath}`, "--", ...argv] : argv;
}

function buildEnv(opts: RunOptions): NodeJS.ProcessEnv {
  return { ...process.env, ...(opts.env ?? {}), LC_ALL: "C" };
}

/** Kill the whole process group (the child was started detached, so its pid is the group id). */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Run a command to completion. Resolves on exit 0 (or an allowed exit code); otherwise throws CommandError.
 * A missing binary throws HwError FAILED_PRECONDITION naming the package to install.
 */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = buildArgv(argv, opts);
  const shown = redactArgv(full, opts.redact);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = Date.now();

  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), {
      env: buildEnv(opts),
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      detached: true, // own process group, so a timeout kills grandchildren too (mkfs helpers, nsenter's child)
      windowsHide: true,
    });

    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    let settled = false;

    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, "SIGKILL");
    }, timeoutMs);

    child.stdout!.on("data", (b: Buffer) => {
      if (outBytes < MAX_OUTPUT_BYTES) out.push(b);
      outBytes += b.length;
    });
    child.stderr!.on("data", (b: Buffer) => {
      if (errBytes < MAX_OUTPUT_BYTES) err.push(b);
      errBytes += b.length;
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {
        /* EPIPE when the tool exits without reading: its exit status tells the story */
      });
      child.stdin.end(opts.input);
    }

    child.on("error", (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      logger?.({ argv: shown, error: e.code ?? e.message });
      if (e.code === "ENOENT") reject(missingBinaryError(full[0]!, e));
      else reject(new HwError("INTERNAL", "CommandSpawnFailed", `cannot start \`${shown.join(" ")}\`: ${e.message}`, { cause: e }));
    });

    child.on("close", (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      logger?.({ argv: shown, durationMs: Date.now() - started, exitCode: code });
      const ok = !timedOut && code !== null && (code === 0 || (opts.allowedExitCodes ?? []).includes(code));
      if (ok) {
        resolve({ stdout, stderr, exitCode: code });
        return;
      }
      // nsenter reports a missing target binary as exit 127 "failed to execute X: No such file or directory".
      if (opts.nsenterNetPath && code === 127 && /failed to execute .*No such file or directory/.test(stderr)) {
        reject(missingBinaryError(argv[0]!));
        return;
      }
      reject(
        new CommandError({
          argv: shown,
          exitCode: code,
          stderr: redactText(trimStderr(stderr), opts.redact),
          stdout: redactText(stdout.slice(-4000), opts.redact),
          signal,
          timedOut,
        }),
      );
    });
  });
}

/** Run and parse stdout as JSON. Unparseable output is an INTERNAL HwError naming the command. */
export async function runJson<T>(argv: string[], opts: RunOptions = {}): Promise<T> {
  const r = await run(argv, opts);
  return parseJsonOutput<T>(r.stdout, redactArgv(argv, opts.redact));
}

export function parseJsonOutput<T>(stdout: string, argv: string[]): T {
  try {
    return JSON.parse(stdout) as T;
  } catch (e) {
    throw new HwError("INTERNAL", "UnparseableOutput", `cannot parse JSON output of \`${argv.join(" ")}\`: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// spawnStream: long-running commands read line by line (udevadm monitor).

export interface StreamHandle {
  pid: number | undefined;
  /** Resolves when the process has exited (after stop() or on its own). */
  done: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** SIGTERM the process group, SIGKILL after graceMs; resolves once it exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Writes to the child's stdin (only with `stdin: true`); resolves once handed to the pipe. */
  write(data: string): Promise<void>;
}

export interface StreamOptions extends Pick<RunOptions, "env" | "nsenterNetPath" | "redact" | "cwd"> {
  /** Keep the child's stdin open as a pipe that write() feeds (default: /dev/null). */
  stdin?: boolean;
  /**
   * Connected sockets handed to the child as fds 3, 4, …: the child owns their bytes from here (Node stops
   * reading them; the caller should destroy its copy, which closes only this process's descriptor).
   */
  passSockets?: Socket[];
}

export function spawnStream(argv: string[], onLine: (line: string) => void, opts: StreamOptions = {}): StreamHandle {
  const full = buildArgv(argv, opts);
  logger?.({ argv: redactArgv(full, opts.redact) });
  const child = spawn(full[0]!, full.slice(1), {
    env: buildEnv(opts),
    cwd: opts.cwd,
    stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe", ...(opts.passSockets ?? [])],
    detached: true,
  });
  child.stdin?.on("error", () => {
    /* EPIPE when the child exited: its exit status tells the story */
  });
  let pending = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine(line);
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const done = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(e.code === "ENOENT" ? missingBinaryError(full[0]!, e) : e);
    });
    child.on("close", (exitCode, signal) => {
      if (pending) onLine(pending);
      pending = "";
      resolve({ exitCode, signal, stderr: trimStderr(stderr) });
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid,
    done,
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        if (!child.stdin || child.stdin.destroyed) return reject(new Error(`\`${full[0]}\` has no open stdin`));
        child.stdin.write(data, (e) => (e ? reject(e) : resolve()));
      }),
    stop(graceMs = 2000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        killGroup(child.pid, "SIGTERM");
        const t = setTimeout(() => killGroup(child.pid, "SIGKILL"), graceMs);
        try {
          await done.catch(() => undefined);
        } finally {
          clearTimeout(t);
        }
      })();
      return stopping;
    },
  };
}
