// Node-to-node copy of a replica for a migration (docs/migration.md). The source node serves its replica over one
// TCP connection on its storage IP; the target node writes it into its new replica. Two modes:
//   online  (the replica is a loop device over a file on a reflink filesystem, precopy.ts): rounds while the pod
//           runs — round 0 sends every chunk with data in a reflink clone of the volume file, each later round
//           only the chunks whose extents changed since the previous clone — until the caller says the volume
//           is no longer in use; then one final round (the cut-over pause) and the checksum comparison;
//   offline (any other device): one round reading the device itself, which must not be in use.
// Wire format (version 2):
//   target → source  "HWSYNC2 <token>\n"                         (token: 32 random bytes hex, from the sync ConfigMap)
//   source → target  JSON line {"size": N, "chunk": C, "mode": "online"|"offline"}\n
//   source → target  records: 'D' u64 index, u32 length, the chunk's bytes, its sha256 (32 bytes)
//                             'Z' u64 index, u32 length                   (the chunk is all zeros)
//                             'R' u32 round, u8 final                     (end of a round)
//                             'E' sha256 over the source's chunk-hash table (after the final round)
//   target → source  "ACK <round>\n" after each round, "OK <checksum>\n" after 'E' (or "MISMATCH …\n")
// The target first zeroes its whole device (it is new and unused), so chunks that are holes need no bytes.
// Checksums: both sides keep a table of one sha256 per 1 MiB chunk of the volume (a chunk never sent is zeros,
// whose hash is known). The source hashes what it read from its clone; the target, after each round, fsyncs,
// drops the device's buffer cache and RE-READS every chunk of that round, checks it against the source's hash
// and records the re-read hash. The volume checksum is the sha256 over the table. What makes the final comparison
// cover the whole volume without re-reading it in the pause: a chunk not re-sent in a later round did not change
// on the source (no extent of it moved, fiemap.ts) and cannot change on the target (only this stream writes the
// unpublished target replica), so its entry, verified when it was last sent, still holds on both sides.
// Hashing (webcrypto digest) and file I/O run on libuv's thread pool, several chunks in flight, off the event loop.
// Nothing here decides anything: the node agent's sync reconciler (sync.ts) runs these, the controller compares.

import { randomBytes, timingSafeEqual, webcrypto } from "node:crypto";
import { open, realpath, stat, truncate, type FileHandle } from "node:fs/promises";
import net from "node:net";
import { HwError } from "../../api/errors.ts";
import { deviceSizeBytes, flushDeviceBuffers, zeroOutDevice } from "../../host/blkdev.ts";
import { SnapshotSeries, sweepSnapshots } from "./precopy.ts";

/** Unit of transfer and of the checksum table (1 MiB: a small write costs at most this much to re-send). */
export const CHUNK_BYTES = 1024 * 1024;
const MAGIC = "HWSYNC2";
const HASH = 32;
/** Chunks read and hashed ahead on the source, and writes in flight on the target. */
const IN_FLIGHT = 8;
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

const sha = async (b: Buffer): Promise<Buffer> => Buffer.from(await webcrypto.subtle.digest("SHA-256", b));

/** Buffered reader over a socket: exact byte counts and lines. */
class SocketReader {
  private bufs: Buffer[] = [];
  private len = 0;
  private waiter?: () => void;
  private ended = false;
  private err?: Error;

  constructor(private readonly sock: net.Socket) {
    sock.on("data", (d: Buffer) => {
      this.bufs.push(d);
      this.len += d.length;
      if (this.len > 16 * CHUNK_BYTES) sock.pause();
      this.wake();
    });
    sock.on("end", () => ((this.ended = true), this.wake()));
    sock.on("close", () => ((this.ended = true), this.wake()));
    sock.on("error", (e) => ((this.err = e), this.wake()));
  }

  private wake() {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The first n buffered bytes, copying only what spans several socket reads. */
  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.bufs[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.bufs.shift();
      else this.bufs[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const b = this.bufs[0]!;
        const k = Math.min(b.length, n - off);
        b.copy(out, off, 0, k);
        off += k;
        if (k === b.length) this.bufs.shift();
        else this.bufs[0] = b.subarray(k);
      }
    }
    this.len -= n;
    if (this.len <= 8 * CHUNK_BYTES) this.sock.resume();
    return out;
  }

  private async more(what: string): Promise<void> {
    if (this.err) throw this.err;
    if (this.ended) throw new HwError("UNAVAILABLE", "SyncStreamBroken", `the block stream ended early while reading ${what}`);
    await new Promise<void>((r) => (this.waiter = r));
  }

  async exactly(n: number, what: string): Promise<Buffer> {
    while (this.len < n) await this.more(what);
    return this.take(n);
  }

  async line(what: string, max = 4096): Promise<string> {
    for (;;) {
      const all = Buffer.concat(this.bufs, this.len);
      this.bufs = all.length ? [all] : [];
      const i = all.indexOf(10);
      if (i >= 0)
        return this.take(i + 1)
          .toString("utf8")
          .trimEnd();
      if (this.len > max) throw new HwError("INVALID_ARGUMENT", "SyncProtocolError", `${what}: line longer than ${max} bytes`);
      await this.more(what);
    }
  }
}

function write(sock: net.Socket, b: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) return reject(new HwError("UNAVAILABLE", "SyncStreamBroken", "the block stream was closed by the other side"));
    const ok = sock.write(b, (e) => (e ? reject(e) : undefined));
    if (ok) return resolve();
    const closed = () => reject(new HwError("UNAVAILABLE", "SyncStreamBroken", "the block stream was closed by the other side"));
    sock.once("close", closed);
    sock.once("drain", () => {
      sock.off("close", closed);
      resolve();
    });
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
}

export interface ServeResult {
  bytes: number;
  /** sha256 over the chunk-hash table of what was read. */
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

const zeroHashes = new Map<number, Promise<Buffer>>();
const zeroHash = (n: number): Promise<Buffer> => {
  let h = zeroHashes.get(n);
  if (!h) zeroHashes.set(n, (h = sha(Buffer.alloc(n))));
  return h;
};
const isZero = (b: Buffer): boolean => {
  for (let i = 0; i < b.length; i += 8192) if (!b.subarray(i, i + 8192).equals(ZERO.subarray(0, Math.min(8192, b.length - i)))) return false;
  return true;
};
const ZERO = Buffer.alloc(8192);

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

/** Runs `fn` over `items` with at most `k` in flight, delivering results in order to `sink`. */
async function ordered<T, R>(items: T[], k: number, fn: (t: T) => Promise<R>, sink: (r: R, t: T) => Promise<void>): Promise<void> {
  const q: Array<Promise<R>> = [];
  let next = 0;
  while (next < items.length && q.length < k) q.push(fn(items[next++]!));
  for (let i = 0; i < items.length; i++) {
    const r = await q.shift()!;
    if (next < items.length) q.push(fn(items[next++]!));
    await sink(r, items[i]!);
  }
}

/**
 * Serves `devPath` (read-only) to whoever presents `token`, once per connection; `onDone` is told about every
 * stream the target confirmed with "OK", `onError` about every failed one. A connection's clones are removed
 * when it ends, however it ends.
 */
export async function serveDevice(o: ServeOptions): Promise<DeviceServer> {
  const chunk = o.chunkBytes ?? CHUNK_BYTES;
  const want = Buffer.from(o.token);
  const conns = new Set<net.Socket>();
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
    const rd = new SocketReader(sock);
    const hello = await rd.line("the hello line", 256);
    const [magic, token] = hello.split(" ");
    const got = Buffer.from(token ?? "");
    if (magic !== MAGIC || got.length !== want.length || !timingSafeEqual(got, want)) {
      sock.destroy();
      throw new HwError("PERMISSION_DENIED", "SyncTokenInvalid", `a connection from ${sock.remoteAddress} presented a wrong sync token; refused`);
    }
    const size = await sizeOf(o.devPath);
    const series = o.precopy ? new SnapshotSeries(o.precopy.file, tag, size) : undefined;
    await write(sock, `${JSON.stringify({ size, chunk, mode: series ? "online" : "offline" })}\n`);
    const nChunks = Math.ceil(size / chunk);
    const lenOf = (i: number) => Math.min(chunk, size - i * chunk);
    const table: Buffer[] = [];
    for (let i = 0; i < nChunks; i++) table.push(await zeroHash(lenOf(i)));
    let total = 0;
    let finalMs = 0;
    let round = 0;
    for (; ; round++) {
      const t0 = performance.now();
      const final = !series || (round > 0 && !!o.isFinal?.());
      const r = series ? await series.next() : { path: o.devPath, changed: [{ offset: 0, length: size }] };
      const idx = chunksOf(r.changed, chunk);
      const fh = await open(r.path, "r");
      let sent = 0;
      let bytes = 0;
      try {
        await ordered(
          idx,
          IN_FLIGHT,
          async (i) => {
            const buf = Buffer.allocUnsafe(lenOf(i));
            await readFully(fh, buf, i * chunk, r.path);
            const zero = isZero(buf);
            return { buf, zero, h: zero ? await zeroHash(buf.length) : await sha(buf) };
          },
          async (c, i) => {
            table[i] = c.h;
            const head = Buffer.allocUnsafe(13);
            head.write(c.zero ? "Z" : "D", 0, "latin1");
            head.writeBigUInt64BE(BigInt(i), 1);
            head.writeUInt32BE(c.buf.length, 9);
            if (c.zero) return write(sock, head);
            sent++;
            bytes += c.buf.length;
            await write(sock, head);
            await write(sock, c.buf);
            await write(sock, c.h);
          },
        );
      } finally {
        await fh.close();
      }
      const end = Buffer.allocUnsafe(6);
      end.write("R", 0, "latin1");
      end.writeUInt32BE(round, 1);
      end.writeUInt8(final ? 1 : 0, 5);
      await write(sock, end);
      const ack = await rd.line(`the target's acknowledgement of round ${round}`, 512);
      if (ack !== `ACK ${round}`) throw new HwError("DATA_LOSS", "SyncVerifyFailed", `the target did not verify round ${round}: ${ack.slice(0, 300)}`);
      total += bytes;
      const ms = performance.now() - t0;
      o.onRound?.({ round, final, chunks: sent, bytes, changedBytes: r.changed.reduce((n, x) => n + x.length, 0), ms });
      if (final) {
        finalMs = ms;
        break;
      }
      // Between rounds: wait out the minimum round time, but start the final round as soon as it is asked for
      // (that wait would be part of the cut-over pause).
      const until = performance.now() + (o.minRoundMs ?? MIN_ROUND_MS) - ms;
      while (performance.now() < until && !o.isFinal?.() && !sock.destroyed) await new Promise((res) => setTimeout(res, 50));
      if (sock.destroyed) throw new HwError("UNAVAILABLE", "SyncStreamBroken", "the block stream was closed by the other side");
    }
    const checksum = Buffer.from(await webcrypto.subtle.digest("SHA-256", Buffer.concat(table)));
    await write(sock, Buffer.concat([Buffer.from("E", "latin1"), checksum]));
    const reply = await rd.line("the target's confirmation", 256);
    sock.end();
    const [ok, digest] = reply.split(" ");
    if (ok !== "OK" || !digest) throw new HwError("DATA_LOSS", "SyncVerifyFailed", `the target did not confirm the copy: ${reply.slice(0, 200)}`);
    await series?.removeAll();
    return { bytes: total, checksum: checksum.toString("hex"), targetChecksum: digest, rounds: round + 1, finalMs };
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, o.host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    host: o.host,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of conns) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function readFully(fh: FileHandle, buf: Buffer, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new HwError("DATA_LOSS", "SyncShortRead", `${what} ended at byte ${position + done}, before its size`);
    done += bytesRead;
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let w = 0;
  while (w < buf.length) w += (await fh.write(buf, w, buf.length - w, position + w)).bytesWritten;
}

export interface ReceiveResult {
  /** Bytes received with data (zero chunks and holes are not sent). */
  bytes: number;
  /** sha256 over the chunk-hash table of what was re-read from the target. */
  checksum: string;
  rounds: RoundReport[];
  /** Connect to the final confirmation; of it, the re-reads (verification). */
  copyMs: number;
  verifyMs: number;
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
    const rd = new SocketReader(sock);
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
    const nChunks = Math.ceil(size / chunk);
    const lenOf = (i: number) => Math.min(chunk, size - i * chunk);
    const table: Buffer[] = [];
    for (let i = 0; i < nChunks; i++) table.push(await zeroHash(lenOf(i)));
    const rounds: RoundReport[] = [];
    let bytes = 0;
    let verifyMs = 0;
    const fh = await open(o.devPath, "r+");
    try {
      let roundStart = performance.now();
      let pending = new Map<number, Buffer>();
      let roundBytes = 0;
      let roundChunks = 0;
      const writes = new Set<Promise<void>>();
      const track = async (p: Promise<void>) => {
        writes.add(p);
        p.finally(() => writes.delete(p)).catch(() => undefined);
        if (writes.size >= IN_FLIGHT) await Promise.race(writes);
      };
      for (;;) {
        const type = (await rd.exactly(1, "a record type")).toString("latin1");
        if (type === "D" || type === "Z") {
          const h = await rd.exactly(12, "a record header");
          const i = Number(h.readBigUInt64BE(0));
          const n = h.readUInt32BE(8);
          if (i >= nChunks || n !== lenOf(i))
            throw new HwError("INVALID_ARGUMENT", "SyncProtocolError", `record for chunk ${i} of ${n} bytes does not fit a ${size}-byte volume`);
          if (type === "Z") {
            const zh = await zeroHash(n);
            if (pending.has(i) || !table[i]!.equals(zh)) await track(writeFully(fh, Buffer.alloc(n), i * chunk));
            pending.set(i, zh);
            continue;
          }
          const data = await rd.exactly(n, `chunk ${i}`);
          pending.set(i, await rd.exactly(HASH, `hash of chunk ${i}`));
          await track(writeFully(fh, data, i * chunk));
          roundBytes += n;
          roundChunks++;
          o.onProgress?.(bytes + roundBytes, size);
        } else if (type === "R") {
          const h = await rd.exactly(5, "a round trailer");
          const round = h.readUInt32BE(0);
          const final = h.readUInt8(4) === 1;
          await Promise.all(writes);
          await fh.sync();
          const v0 = performance.now();
          await verifyChunks(o.devPath, [...pending.keys()], chunk, lenOf, async (i, got) => {
            if (!got.equals(pending.get(i)!)) {
              await write(sock, `MISMATCH chunk ${i}\n`).catch(() => {});
              throw new HwError("DATA_LOSS", "SyncVerifyFailed", `chunk ${i} of ${o.devPath} re-read after round ${round} differs from what the source sent`);
            }
            table[i] = got;
          });
          verifyMs += performance.now() - v0;
          bytes += roundBytes;
          const r: RoundReport = { round, final, chunks: roundChunks, bytes: roundBytes, changedBytes: roundBytes, ms: performance.now() - roundStart };
          rounds.push(r);
          o.onRound?.(r);
          await write(sock, `ACK ${round}\n`);
          pending = new Map();
          roundBytes = 0;
          roundChunks = 0;
          roundStart = performance.now();
        } else if (type === "E") {
          const theirs = await rd.exactly(HASH, "the source checksum");
          const mine = Buffer.from(await webcrypto.subtle.digest("SHA-256", Buffer.concat(table)));
          if (!mine.equals(theirs)) {
            await write(sock, `MISMATCH ${mine.toString("hex")}\n`).catch(() => {});
            throw new HwError(
              "DATA_LOSS",
              "SyncVerifyFailed",
              `the checksum of ${o.devPath} (${mine.toString("hex")}) differs from the source's (${theirs.toString("hex")})`,
            );
          }
          await write(sock, `OK ${mine.toString("hex")}\n`);
          sock.end();
          return { bytes, checksum: mine.toString("hex"), rounds, copyMs: performance.now() - started, verifyMs };
        } else throw new HwError("INVALID_ARGUMENT", "SyncProtocolError", `unknown record type ${JSON.stringify(type)}`);
      }
    } finally {
      await fh.close();
    }
  } finally {
    o.signal?.removeEventListener("abort", abort);
    sock.destroy();
  }
}

/** Re-reads chunks from the device itself (its buffer cache dropped first) and hands each one's sha256 to `check`. */
async function verifyChunks(
  path: string,
  idx: number[],
  chunk: number,
  lenOf: (i: number) => number,
  check: (i: number, h: Buffer) => Promise<void>,
): Promise<void> {
  if (idx.length === 0) return;
  const real = await realpath(path);
  if ((await stat(real)).isBlockDevice()) await flushDeviceBuffers(real);
  const fh = await open(real, "r");
  try {
    await ordered(
      idx.sort((a, b) => a - b),
      IN_FLIGHT,
      async (i) => {
        const b = Buffer.allocUnsafe(lenOf(i));
        await readFully(fh, b, i * chunk, path);
        return sha(b);
      },
      (h, i) => check(i, h),
    );
  } finally {
    await fh.close();
  }
}

/** The volume checksum of the first `size` bytes (sha256 over the chunk-hash table), read from the device. */
export async function checksumOf(path: string, size: number, chunk = CHUNK_BYTES): Promise<string> {
  const n = Math.ceil(size / chunk);
  const table: Buffer[] = new Array<Buffer>(n);
  const lenOf = (i: number) => Math.min(chunk, size - i * chunk);
  await verifyChunks(path, [...Array(n).keys()], chunk, lenOf, async (i, h) => void (table[i] = h));
  return Buffer.from(await webcrypto.subtle.digest("SHA-256", Buffer.concat(table))).toString("hex");
}
