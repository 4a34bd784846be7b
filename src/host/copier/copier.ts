// The native migration copier `hwameistor-copy` (dataplane/src/copier*.c, docs/migration.md "The copy"): the
// per-byte path of a migration — aligned O_DIRECT reads and writes through io_uring, CRC32C per chunk (over the
// very buffer the target writes), zero chunks skipped; with HWAMEISTOR_COPY_READ_BACK=1 every written chunk is
// also read back and checked. The node agent keeps every decision (src/node/migrate/):
// it authenticates the TCP connection, takes the reflink clones, computes the ranges and hands the connected
// socket to the copier, which owns its bytes from then on. This file only starts it and reads its events (one JSON
// object per stdout line: progress, round, done, error).

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Socket } from "node:net";
import { HwError, hwError, isErrorReason } from "../../api/errors.ts";
import { run, spawnStream, type StreamHandle } from "../runner.ts";

/** Built by `make -C dataplane` (scripts/install-deps.sh, the image) beside the data plane. */
const BUILT = resolve(import.meta.dirname, "../../../dataplane/build/hwameistor-copy");

/** The copier binary: $HWAMEISTOR_COPY_BIN, else the checkout's (or image's) dataplane/build/. */
export function copierBinary(): string {
  const bin = process.env.HWAMEISTOR_COPY_BIN || BUILT;
  if (!existsSync(bin))
    throw new HwError("FAILED_PRECONDITION", "CopierNotBuilt", `the native migration copier ${bin} does not exist`, {
      hint: "build the data plane: scripts/install-deps.sh (or make -C dataplane), or set HWAMEISTOR_COPY_BIN",
    });
  return bin;
}

/**
 * Read every written chunk back from the target and check it again ($HWAMEISTOR_COPY_READ_BACK=1 on the target's
 * node agent). Off by default: it costs a third pass over the target disk; what it adds is in docs/migration.md.
 */
export const readBackWanted = (): boolean => process.env.HWAMEISTOR_COPY_READ_BACK === "1";

export interface CopierRound {
  round: number;
  final: boolean;
  /** Chunks and bytes sent (received) with data; all-zero chunks are 13-byte records. */
  chunks: number;
  bytes: number;
  zeroChunks?: number;
  ms: number;
  /** The source read its clone with O_DIRECT (false: the filesystem refused it, buffered). */
  direct?: boolean;
  /** Where the copier's time went: in socket calls, waiting for disk completions, in io_uring submissions; its CPU time. */
  netWaitMs?: number;
  ioWaitMs?: number;
  submitMs?: number;
  cpuMs?: number;
  /** Time one of the copier's two threads waited on the other (e.g. source noFreeBuffer: the socket is slower). */
  queueWaitMs?: Record<string, number>;
  /** Per thread of the copier: [CPU ms, ms runnable but waiting for a CPU] in this round (schedstat). */
  threads?: Record<string, [number, number]>;
}

interface Event {
  event: "progress" | "round" | "done" | "error";
  [k: string]: unknown;
}

/** The copier's error event as an HwError (its reason must be a registered one; else CopierFailed). */
function errorOf(e: Event | undefined, what: string, exit: { exitCode: number | null; signal: NodeJS.Signals | null; stderr: string }): HwError {
  const reason = typeof e?.reason === "string" ? e.reason : "";
  const message = typeof e?.message === "string" ? e.message : "";
  if (message && isErrorReason(reason)) return hwError(reason, `${what}: ${message}`);
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  return new HwError("INTERNAL", "CopierFailed", `${what}: hwameistor-copy ${how}${message || exit.stderr ? `: ${message || exit.stderr}` : ""}`);
}

/** One copier process: its events in order, a waiter for the next event of a kind, its failure. */
class Copier {
  private readonly queue: Event[] = [];
  private waiters: Array<() => void> = [];
  private lastError?: Event;
  private failure?: HwError;
  private exited = false;
  readonly handle: StreamHandle;

  constructor(
    argv: string[],
    sock: Socket,
    private readonly what: string,
    stdin: boolean,
    private readonly onProgress?: (e: Event) => void,
  ) {
    // A connection the other side closed has no descriptor left to hand over (spawn would throw a TypeError).
    if (sock.destroyed) throw new HwError("UNAVAILABLE", "SyncStreamBroken", `${what}: the block stream was closed by the other side before the copy started`);
    this.handle = spawnStream([copierBinary(), ...argv, "--fd", "3"], (l) => this.line(l), { stdin, passSockets: [sock] });
    sock.destroy(); // this process's descriptor only: the copier holds the connection now
    this.handle.done.then(
      (exit) => {
        this.exited = true;
        if (exit.exitCode !== 0) this.failure = errorOf(this.lastError, this.what, exit);
        this.wake();
      },
      (e: unknown) => {
        this.exited = true;
        this.failure = e instanceof HwError ? e : new HwError("INTERNAL", "CopierFailed", `${this.what}: ${String(e)}`);
        this.wake();
      },
    );
  }

  private line(l: string): void {
    let e: Event;
    try {
      e = JSON.parse(l) as Event;
    } catch {
      return; // not an event (never printed by the copier; ignore rather than fail a copy)
    }
    if (e.event === "progress") return this.onProgress?.(e);
    if (e.event === "error") this.lastError = e;
    this.queue.push(e);
    this.wake();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** The next event of `kind`; the copier's failure if it exits first. */
  async next(kind: Event["event"]): Promise<Event> {
    for (;;) {
      const i = this.queue.findIndex((e) => e.event === kind);
      if (i >= 0) return this.queue.splice(i, 1)[0]!;
      if (this.failure) throw this.failure;
      if (this.exited) throw new HwError("INTERNAL", "CopierFailed", `${this.what}: hwameistor-copy exited before its ${kind} event`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

const num = (v: unknown): number => (typeof v === "number" ? v : 0);
/** An object of numbers (or of number pairs) from an event, else undefined. */
function numbers<T extends number | [number, number]>(v: unknown, pair: boolean): Record<string, T> | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const out: Record<string, T> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (pair ? Array.isArray(x) && x.length === 2 && x.every((n) => typeof n === "number") : typeof x === "number") out[k] = x as T;
  }
  return out;
}
const roundOf = (e: Event): CopierRound => ({
  round: num(e.round),
  final: e.final === true,
  chunks: num(e.chunks),
  bytes: num(e.bytes),
  zeroChunks: typeof e.zeroChunks === "number" ? e.zeroChunks : undefined,
  ms: num(e.ms),
  direct: typeof e.direct === "boolean" ? e.direct : undefined,
  netWaitMs: num(e.netWaitMs),
  ioWaitMs: num(e.ioWaitMs),
  submitMs: num(e.submitMs),
  cpuMs: num(e.cpuMs),
  queueWaitMs: numbers<number>(e.queueWaitMs, false),
  threads: numbers<[number, number]>(e.threads, true),
});

/**
 * The source side of one stream. `sock` is connected and authenticated; the copier sends `header` (one line, if
 * given) and waits for the target's copier's "GO". Rounds one at a time; `finish` after the final one.
 */
export class CopySender {
  private readonly c: Copier;

  constructor(sock: Socket, o: { size: number; chunkBytes: number; header?: string; what: string }) {
    if (o.header !== undefined && /[\n\r]/.test(o.header))
      throw new HwError("INVALID_ARGUMENT", "Invalid", `stream header ${JSON.stringify(o.header)} holds a line break`);
    const header = o.header === undefined ? [] : ["--header", o.header];
    this.c = new Copier(["send", "--size", String(o.size), "--chunk", String(o.chunkBytes), ...header], sock, o.what, true);
  }

  /** Sends every chunk that `ranges` touch, read from `path`; resolves once the target acknowledged the round. */
  async round(n: number, final: boolean, path: string, ranges: Array<{ offset: number; length: number }>): Promise<CopierRound> {
    if (/[\n\r]/.test(path)) throw new HwError("INVALID_ARGUMENT", "Invalid", `path ${JSON.stringify(path)} holds a line break`);
    const lines = [`round ${n} ${final ? 1 : 0} ${path}`, ...ranges.map((r) => `${r.offset} ${r.length}`), "."];
    // Big range lists go in pieces: a pipe holds 64 KiB, and the copier reads them as they come.
    for (let i = 0; i < lines.length; i += 2000) await this.c.handle.write(lines.slice(i, i + 2000).join("\n") + "\n");
    return roundOf(await this.c.next("round"));
  }

  /** Sends the chunk-CRC table; resolves with both sides' digests once the target confirmed every entry equal. */
  async finish(): Promise<{ checksum: string; targetChecksum: string }> {
    await this.c.handle.write("finish\n");
    const e = await this.c.next("done");
    await this.c.handle.done;
    return { checksum: String(e.checksum), targetChecksum: String(e.targetChecksum) };
  }

  stop(): Promise<void> {
    return this.c.handle.stop();
  }
}

export interface ReceiveOutcome {
  bytes: number;
  checksum: string;
  /** Time spent at round ends waiting for the last writes (re-reads) and the flush (the rest overlaps the copy). */
  verifyMs: number;
  /** Written with O_DIRECT (false: the filesystem refused it; buffered and flushed). */
  direct: boolean;
  /** Every chunk was also read back and checked (its table entry is the re-read's CRC). */
  readBack: boolean;
}

/**
 * The target side of one stream: `sock` is connected and the header read (nothing else buffered); `path` is the
 * zeroed target. Resolves when the source's table matched this side's entry by entry.
 */
export async function receiveWithCopier(
  sock: Socket,
  o: {
    size: number;
    chunkBytes: number;
    path: string;
    what: string;
    onProgress?(bytes: number): void;
    onRound?(r: CopierRound): void;
    signal?: AbortSignal;
    /** Default: readBackWanted(). */
    readBack?: boolean;
  },
): Promise<ReceiveOutcome> {
  const readBack = (o.readBack ?? readBackWanted()) ? ["--read-back"] : [];
  const c = new Copier(["recv", "--size", String(o.size), "--chunk", String(o.chunkBytes), "--path", o.path, ...readBack], sock, o.what, false, (e) =>
    o.onProgress?.(num(e.bytes)),
  );
  const abort = () => void c.handle.stop();
  o.signal?.addEventListener("abort", abort, { once: true });
  try {
    const rounds = (async () => {
      for (;;) {
        const r = roundOf(await c.next("round")); // not inside `o.onRound?.(…)`: without a callback that never awaits
        o.onRound?.(r);
      }
    })();
    rounds.catch(() => undefined);
    const e = await c.next("done");
    await c.handle.done;
    return { bytes: num(e.bytes), checksum: String(e.checksum), verifyMs: num(e.verifyMs), direct: e.direct === true, readBack: e.readBack === true };
  } catch (e) {
    if (o.signal?.aborted) throw new HwError("CANCELLED", "SyncCancelled", `${o.what}: the copy was cancelled`);
    throw e;
  } finally {
    o.signal?.removeEventListener("abort", abort);
    await c.handle.stop();
  }
}

/** The copy's checksum of the first `size` bytes of a device or file, read whole (O_DIRECT where possible). */
export async function chunkTableChecksum(path: string, size: number, chunkBytes: number): Promise<string> {
  const r = await run([copierBinary(), "checksum", "--size", String(size), "--chunk", String(chunkBytes), "--path", path], { timeoutMs: 600_000 });
  const e = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Event;
  return String(e.checksum);
}
