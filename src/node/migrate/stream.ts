// Node-to-node copy of a replica for a migration (docs/migration.md). The source node serves its replica over one
// TCP connection on its storage IP; the target node writes it into its new replica. Two modes:
//   online  (the replica is a loop device over a file on a reflink filesystem, precopy.ts): rounds while the pod
//           runs — round 0 sends every chunk with data in a reflink clone of the volume file, each later round
//           only the chunks whose extents changed since the previous clone — until the caller says the volume
//           is no longer in use; then one final round (the cut-over pause) and the checksum comparison;
//   offline (any other device): one round reading the device itself, which must not be in use.
// This file decides and authenticates; the bytes are moved by the native copier `hwameistor-copy` on both sides
// (src/host/copier/, dataplane/src/copier*.c), to which each side hands the connected socket.
// Wire format (version 3):
//   target → source  "HWSYNC3 <token>\n"                         (token: 32 random bytes hex, from the sync ConfigMap)
//   --- the socket passes to the copiers ---
//   source → target  JSON line {"size": N, "chunk": C, "mode": "online"|"offline"}\n
//   target → source  "GO\n"                                        (the target's copier owns its end now)
//   source → target  records: 'D' u64 index, u32 length, the chunk's bytes, its CRC32C (u32)
//                             'Z' u64 index, u32 length                   (the chunk is all zeros)
//                             'R' u32 round, u8 final                     (end of a round)
//                             'E' u32 n, n × u32: the source's chunk-CRC table (after the final round)
//   target → source  "ACK <round>\n" after each round, "OK <checksum>\n" after 'E' (or "MISMATCH …\n")
// The target first zeroes its whole device (it is new and unused), so chunks that are holes need no bytes.
// Checksums: both sides keep a table of one CRC32C per 1 MiB chunk of the volume (a chunk never sent is zeros,
// whose CRC is known). The source computes it over what it read from its clone (O_DIRECT); the target computes it
// over the buffer it received, checks it against the source's, and writes that same buffer with O_DIRECT, so its
// entry is the CRC of the bytes its disk took (with HWAMEISTOR_COPY_READ_BACK=1 it also reads each chunk back with
// O_DIRECT and records the re-read's CRC); at the end of a round everything is flushed before "ACK". After the
// final round the source sends its whole table and the target compares it entry by entry; the volume checksum both
// report is "crc32c:<chunks>:<CRC32C over the table>". What makes the final comparison cover the whole volume
// without re-reading it in the pause: a chunk not re-sent in a later round did not change on the source (no extent
// of it moved, fiemap.ts) and cannot change on the target (only this stream writes the unpublished target
// replica), so its entry, verified when it was last sent, still holds on both sides.
// Nothing here decides anything: the node agent's sync reconciler (sync.ts) runs these, the controller compares.

import { randomBytes, timingSafeEqual } from "node:crypto";
import { realpath, stat, truncate } from "node:fs/promises";
import net from "node:net";
import { HwError } from "../../api/errors.ts";
import { deviceSizeBytes, zeroOutDevice } from "../../host/blkdev.ts";
import { chunkTableChecksum, CopySender, receiveWithCopier } from "../../host/copier/copier.ts";
import { SnapshotSeries, sweepSnapshots } from "./precopy.ts";

/** Unit of transfer and of the checksum table (1 MiB: a small write costs at most this much to re-send). */
export const CHUNK_BYTES = 1024 * 1024;
const MAGIC = "HWSYNC3";
/** Least time between the start of two pre-copy rounds (a round with nothing changed is one clone + FIEMAP). */
export const MIN_ROUND_MS = 1_000;

export const newToken = (): string => randomBytes(32).toString("hex");

/** Size of a block device (blockdev) or regular file (stat). */
export async function sizeOf(path: string): Promise<number> {
  const real = await realpath(path);
  const st = await stat(real);
  if (st.isBlockDevice()) return deviceSizeBytes(real);
  if (st.isFile()) return st.size;
  throw new HwError("FAILED_PRECONDITION", "NotABlockDevice", `${path} is neither a block device nor a file`);
}

/** Reads the short lines that precede the copiers on a socket; hands the socket over only with nothing buffered. */
class LineReader {
  private buf = Buffer.alloc(0);
  private waiter?: () => void;
  private ended = false;
  private err?: Error;
  private readonly onData = (d: Buffer) => ((this.buf = Buffer.concat([this.buf, d])), this.wake());
  private readonly onEnd = () => ((this.ended = true), this.wake());
  private readonly onError = (e: Error) => ((this.err = e), this.wake());

  constructor(private readonly sock: net.Socket) {
    sock.on("data", this.onData);
    sock.on("end", this.onEnd);
    sock.on("close", this.onEnd);
    sock.on("error", this.onError);
  }

  private wake() {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async line(what: string, max = 4096): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf(10);
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString("utf8");
        this.buf = this.buf.subarray(i + 1);
        return l.trimEnd();
      }
      if (this.buf.length > max) throw new HwError("INVALID_ARGUMENT", "SyncProtocolError", `${what}: line longer than ${max} bytes`);
      if (this.err) throw this.err;
      if (this.ended) throw new HwError("UNAVAILABLE", "SyncStreamBroken", `the block stream ended early while reading ${what}`);
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** Stops reading; the protocol guarantees nothing more was sent yet (the other side waits for an answer). */
  release(): net.Socket {
    this.sock.off("data", this.onData);
    this.sock.off("end", this.onEnd);
    this.sock.off("close", this.onEnd);
    this.sock.off("error", this.onError);
    this.sock.pause();
    if (this.err) throw this.err;
    if (this.ended) throw new HwError("UNAVAILABLE", "SyncStreamBroken", "the block stream was closed by the other side before the copy started");
    if (this.buf.length) throw new HwError("INVALID_ARGUMENT", "SyncProtocolError", `the other side sent ${this.buf.length} bytes out of turn`);
    this.sock.on("error", () => undefined); // errors of the copier's connection are the copier's to report
    return this.sock;
  }
}

function write(sock: net.Socket, b: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) return reject(new HwError("UNAVAILABLE", "SyncStreamBroken", "the block stream was closed by the other side"));
    sock.write(b, (e) => (e ? reject(e) : resolve()));
  });
}

export interface RoundReport {
  round: number;
  final: boolean;
  /** Chunks sent with data, and their bytes. */
  chunks: number;
  bytes: number;
  /** Bytes of the ranges found changed (before rounding to chunks). */
  changedBytes: number;
  ms: number;
  /** This side's copier, where the time went (src/host/copier/copier.ts CopierRound). */
  netWaitMs?: number;
  ioWaitMs?: number;
  submitMs?: number;
  cpuMs?: number;
  queueWaitMs?: Record<string, number>;
  threads?: Record<string, [number, number]>;
}

export interface ServeResult {
  bytes: number;
  /** The chunk-CRC table's digest of what was read. */
  checksum: string;
  /** What the target reported. */
  targetChecksum: string;
  rounds: number;
  /** The final round: from its clone to the target's confirmation. */
  finalMs: number;
}

export interface DeviceServer {
  port: number;
  host: string;
  close(): Promise<void>;
}

interface ServeOptions {
  host: string;
  devPath: string;
  token: string;
  chunkBytes?: number;
  /** Online pre-copy: the volume file behind devPath and a tag for its clones (precopy.ts). Without: offline. */
  precopy?: { file: string; tag: string };
  /** Asked before every round after the first: true once the volume is no longer in use (that round is the last). */
  isFinal?(): boolean;
  minRoundMs?: number;
  onRound?(r: RoundReport): void;
  onDone(r: ServeResult): void;
  onError(e: Error): void;
}

/** Chunk indices touched by some byte ranges, ascending, each once. */
export function chunksOf(ranges: Array<{ offset: number; length: number }>, chunk: number): number[] {
  const out: number[] = [];
  for (const r of ranges) {
    if (r.length <= 0) continue;
    const first = Math.max(Math.floor(r.offset / chunk), out.length ? out[out.length - 1]! + 1 : 0);
    for (let i = first; i <= Math.floor((r.offset + r.length - 1) / chunk); i++) out.push(i);
  }
  return out;
}

/**
 * Serves `devPath` (read-only) to whoever presents `token`, once per connection; `onDone` is told about every
 * stream the target confirmed with "OK", `onError` about every failed one. A connection's clones are removed
 * and its copier stopped when it ends, however it ends.
 */
export async function serveDevice(o: ServeOptions): Promise<DeviceServer> {
  const chunk = o.chunkBytes ?? CHUNK_BYTES;
  const want = Buffer.from(o.token);
  const conns = new Set<net.Socket>();
  const senders = new Set<CopySender>();
  let closed = false;
  let streams = 0;
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.on("close", () => conns.delete(sock));
    sock.setNoDelay(true);
    const tag = `${o.precopy?.tag ?? "offline"}-${streams++}`;
    serveOne(sock, tag)
      .then(
        (r) => (r ? o.onDone(r) : undefined),
        (e: unknown) => {
          sock.destroy();
          o.onError(e as Error);
        },
      )
      .finally(() => void (o.precopy ? sweepSnapshots(o.precopy.file, undefined, tag) : Promise.resolve()).catch((e: unknown) => o.onError(e as Error)));
  });

  async function serveOne(sock: net.Socket, tag: string): Promise<ServeResult | undefined> {
    const rd = new LineReader(sock);
    const hello = await rd.line("the hello line", 256);
    const [magic, token] = hello.split(" ");
    const got = Buffer.from(token ?? "");
    if (magic !== MAGIC || got.length !== want.length || !timingSafeEqual(got, want)) {
      sock.destroy();
      throw new HwError(
        "PERMISSION_DENIED",
        "SyncTokenInvalid",
        `a connection from ${sock.remoteAddress} presented a wrong sync token${magic === MAGIC ? "" : ` or protocol (${JSON.stringify(magic)}, this node speaks ${MAGIC})`}; refused`,
      );
    }
    const size = await sizeOf(o.devPath);
    const series = o.precopy ? new SnapshotSeries(o.precopy.file, tag, size) : undefined;
    const header = JSON.stringify({ size, chunk, mode: series ? "online" : "offline" });
    if (closed) throw new HwError("CANCELLED", "SyncCancelled", "the server was closed");
    const sender = new CopySender(rd.release(), { size, chunkBytes: chunk, header, what: `serving ${o.devPath}` });
    senders.add(sender);
    try {
      let total = 0;
      let finalMs = 0;
      let round = 0;
      for (; ; round++) {
        const t0 = performance.now();
        const final = !series || (round > 0 && !!o.isFinal?.());
        const r = series ? await series.next() : { path: o.devPath, changed: [{ offset: 0, length: size }] };
        const sent = await sender.round(round, final, r.path, r.changed);
        total += sent.bytes;
        const ms = performance.now() - t0;
        o.onRound?.({
          round,
          final,
          chunks: sent.chunks,
          bytes: sent.bytes,
          changedBytes: r.changed.reduce((n, x) => n + x.length, 0),
          ms,
          netWaitMs: sent.netWaitMs,
          ioWaitMs: sent.ioWaitMs,
          submitMs: sent.submitMs,
          cpuMs: sent.cpuMs,
          queueWaitMs: sent.queueWaitMs,
          threads: sent.threads,
        });
        if (final) {
          finalMs = ms;
          break;
        }
        // Between rounds: wait out the minimum round time, but start the final round as soon as it is asked for
        // (that wait would be part of the cut-over pause).
        const until = performance.now() + (o.minRoundMs ?? MIN_ROUND_MS) - ms;
        while (performance.now() < until && !o.isFinal?.() && !closed) await new Promise((res) => setTimeout(res, 50));
        if (closed) throw new HwError("CANCELLED", "SyncCancelled", "the server was closed");
      }
      const { checksum, targetChecksum } = await sender.finish();
      await series?.removeAll();
      return { bytes: total, checksum, targetChecksum, rounds: round + 1, finalMs };
    } finally {
      senders.delete(sender);
      await sender.stop();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, o.host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    host: o.host,
    close: async () => {
      closed = true;
      for (const s of conns) s.destroy();
      await Promise.all([...senders].map((s) => s.stop()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ReceiveResult {
  /** Bytes received with data (zero chunks and holes are not sent). */
  bytes: number;
  /** The volume's size (the source's) and the chunk of the checksum table. */
  size: number;
  chunk: number;
  /** The chunk-CRC table's digest of what the target wrote (re-read, with read-back). */
  checksum: string;
  rounds: RoundReport[];
  /** Connect to the final confirmation; of it, waiting at round ends for the last writes (re-reads) and the flush. */
  copyMs: number;
  verifyMs: number;
  /** The target was written with O_DIRECT. */
  direct: boolean;
  /** Every chunk was also read back and checked. */
  readBack: boolean;
}

/** Zero a new target: BLKZEROOUT for a device, truncation for a file (tests). */
async function zeroTarget(path: string, size: number): Promise<void> {
  const real = await realpath(path);
  if ((await stat(real)).isBlockDevice()) return zeroOutDevice(real);
  await truncate(real, 0);
  await truncate(real, size);
}

/** Receives the source's replica into `devPath` (which must be at least as large), round by round, verified. */
export async function receiveDevice(o: {
  host: string;
  port: number;
  token: string;
  devPath: string;
  onProgress?(bytes: number, total: number): void;
  onRound?(r: RoundReport): void;
  signal?: AbortSignal;
}): Promise<ReceiveResult> {
  const started = performance.now();
  const sock = net.connect({ host: o.host, port: o.port });
  const abort = () => sock.destroy(new HwError("CANCELLED", "SyncCancelled", "the copy was cancelled"));
  o.signal?.addEventListener("abort", abort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    sock.setNoDelay(true);
    const rd = new LineReader(sock);
    await write(sock, `${MAGIC} ${o.token}\n`);
    const header = JSON.parse(await rd.line("the stream header")) as { size?: unknown; chunk?: unknown };
    const size = Number(header.size);
    const chunk = Number(header.chunk);
    if (!Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(chunk) || chunk <= 0 || chunk > 64 * 1024 * 1024)
      throw new HwError("INVALID_ARGUMENT", "SyncProtocolError", `bad stream header ${JSON.stringify(header)}`);
    const room = await sizeOf(o.devPath);
    if (room < size)
      throw new HwError("FAILED_PRECONDITION", "SyncTargetTooSmall", `target ${o.devPath} holds ${room} bytes, the source sends ${size}`, {
        hint: "the target replica must be at least the source's size",
      });
    await zeroTarget(o.devPath, room);
    o.signal?.removeEventListener("abort", abort);
    if (o.signal?.aborted) throw new HwError("CANCELLED", "SyncCancelled", "the copy was cancelled");
    const rounds: RoundReport[] = [];
    const r = await receiveWithCopier(rd.release(), {
      size,
      chunkBytes: chunk,
      path: o.devPath,
      what: `copying into ${o.devPath}`,
      signal: o.signal,
      onProgress: (bytes) => o.onProgress?.(bytes, size),
      onRound: (x) => {
        const rep: RoundReport = {
          round: x.round,
          final: x.final,
          chunks: x.chunks,
          bytes: x.bytes,
          changedBytes: x.bytes,
          ms: x.ms,
          netWaitMs: x.netWaitMs,
          ioWaitMs: x.ioWaitMs,
          submitMs: x.submitMs,
          cpuMs: x.cpuMs,
          queueWaitMs: x.queueWaitMs,
          threads: x.threads,
        };
        rounds.push(rep);
        o.onRound?.(rep);
      },
    });
    o.onProgress?.(r.bytes, size);
    return {
      bytes: r.bytes,
      size,
      chunk,
      checksum: r.checksum,
      rounds,
      copyMs: performance.now() - started,
      verifyMs: r.verifyMs,
      direct: r.direct,
      readBack: r.readBack,
    };
  } finally {
    o.signal?.removeEventListener("abort", abort);
    sock.destroy();
  }
}

/** The volume checksum of the first `size` bytes (the digest of the chunk-CRC table), read from the device. */
export async function checksumOf(path: string, size: number, chunk = CHUNK_BYTES): Promise<string> {
  return chunkTableChecksum(path, size, chunk);
}
