// Node-to-node block copy for an offline migration (docs/migration.md). The source node serves its replica's
// device read-only over one TCP connection on its storage IP; the target node writes it into its new replica.
// Wire format (version 1):
//   target → source  "HWSYNC1 <token>\n"                      (token: 32 random bytes hex, from the sync ConfigMap)
//   source → target  JSON line {"size": N, "chunk": C}\n
//   source → target  for each chunk: the chunk's bytes (C, the last one shorter), then its sha256 (32 bytes)
//   target → source  "OK <digest>\n" once everything is written, fsynced and re-read (digest as below)
// Checksums: each 4 MiB chunk is hashed with sha256 on both sides; a volume's checksum is the sha256 over the
// concatenated chunk hashes. The source hashes what it read; the target checks each chunk against the source's
// hash as it arrives, then, after fsync and dropping the device's buffer cache, RE-READS its device and hashes
// that: the checksum it reports is of what is on its disk, not of what passed through memory.
// Nothing here decides anything: the node agent's sync reconciler (sync.ts) runs these, the controller compares.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { open, realpath, stat, type FileHandle } from "node:fs/promises";
import net from "node:net";
import { HwError } from "../../api/errors.ts";
import { deviceSizeBytes, flushDeviceBuffers } from "../../host/blkdev.ts";

export const CHUNK_BYTES = 4 * 1024 * 1024;
const MAGIC = "HWSYNC1";
const HASH = 32;

export const newToken = (): string => randomBytes(32).toString("hex");

/** Size of a block device (blockdev) or regular file (stat). */
export async function sizeOf(path: string): Promise<number> {
  const real = await realpath(path);
  const st = await stat(real);
  if (st.isBlockDevice()) return deviceSizeBytes(real);
  if (st.isFile()) return st.size;
  throw new HwError("FAILED_PRECONDITION", "NotABlockDevice", `${path} is neither a block device nor a file`);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest();

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
      if (this.len > 4 * CHUNK_BYTES) sock.pause();
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
    if (this.len <= CHUNK_BYTES) this.sock.resume();
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

export interface ServeResult {
  bytes: number;
  /** sha256 over the chunk hashes of what was read. */
  checksum: string;
  /** What the target reported. */
  targetChecksum: string;
}

export interface DeviceServer {
  port: number;
  host: string;
  close(): Promise<void>;
}

/**
 * Serves `devPath` (read-only) to whoever presents `token`, once per connection; `onDone` is told about every
 * stream the target confirmed with "OK", `onError` about every failed one.
 */
export async function serveDevice(o: {
  host: string;
  devPath: string;
  token: string;
  chunkBytes?: number;
  onDone(r: ServeResult): void;
  onError(e: Error): void;
}): Promise<DeviceServer> {
  const chunk = o.chunkBytes ?? CHUNK_BYTES;
  const want = Buffer.from(o.token);
  const conns = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.on("close", () => conns.delete(sock));
    sock.setNoDelay(true);
    serveOne(sock).then(
      (r) => (r ? o.onDone(r) : undefined),
      (e: unknown) => {
        sock.destroy();
        o.onError(e as Error);
      },
    );
  });
  async function serveOne(sock: net.Socket): Promise<ServeResult | undefined> {
    const rd = new SocketReader(sock);
    const hello = await rd.line("the hello line", 256);
    const [magic, token] = hello.split(" ");
    const got = Buffer.from(token ?? "");
    if (magic !== MAGIC || got.length !== want.length || !timingSafeEqual(got, want)) {
      sock.destroy();
      throw new HwError("PERMISSION_DENIED", "SyncTokenInvalid", `a connection from ${sock.remoteAddress} presented a wrong sync token; refused`);
    }
    const size = await sizeOf(o.devPath);
    await write(sock, `${JSON.stringify({ size, chunk })}\n`);
    const fh = await open(o.devPath, "r");
    const hashes: Buffer[] = [];
    try {
      for (let off = 0; off < size; off += chunk) {
        const n = Math.min(chunk, size - off);
        const buf = Buffer.allocUnsafe(n);
        await readFully(fh, buf, off, o.devPath);
        const h = sha(buf);
        hashes.push(h);
        await write(sock, buf);
        await write(sock, h);
      }
    } finally {
      await fh.close();
    }
    const checksum = createHash("sha256").update(Buffer.concat(hashes)).digest("hex");
    const reply = await rd.line("the target's confirmation", 256);
    sock.end();
    const [ok, digest] = reply.split(" ");
    if (ok !== "OK" || !digest) throw new HwError("DATA_LOSS", "SyncVerifyFailed", `the target did not confirm the copy: ${reply.slice(0, 200)}`);
    return { bytes: size, checksum, targetChecksum: digest };
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

export interface ReceiveResult {
  bytes: number;
  /** sha256 over the chunk hashes of what was re-read from the target after the copy. */
  checksum: string;
  /** Transfer time (connect to last byte written and fsynced), and the verification re-read. */
  copyMs: number;
  verifyMs: number;
}

/** Receives the source's device into `devPath` (which must be at least as large), verifies, confirms. */
export async function receiveDevice(o: {
  host: string;
  port: number;
  token: string;
  devPath: string;
  onProgress?(bytes: number, total: number): void;
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
    const fh = await open(o.devPath, "r+");
    const sent: Buffer[] = [];
    try {
      for (let off = 0; off < size; off += chunk) {
        const n = Math.min(chunk, size - off);
        const data = await rd.exactly(n, `chunk at byte ${off}`);
        const h = await rd.exactly(HASH, `hash of the chunk at byte ${off}`);
        if (!sha(data).equals(h)) throw new HwError("DATA_LOSS", "SyncChecksumMismatch", `chunk at byte ${off} arrived corrupted (sha256 differs)`);
        sent.push(h);
        let w = 0;
        while (w < n) w += (await fh.write(data, w, n - w, off + w)).bytesWritten;
        o.onProgress?.(off + n, size);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const copyMs = performance.now() - started;
    const verifyStart = performance.now();
    const checksum = await checksumOf(o.devPath, size, chunk);
    const verifyMs = performance.now() - verifyStart;
    const expected = createHash("sha256").update(Buffer.concat(sent)).digest("hex");
    if (checksum !== expected) {
      await write(sock, `MISMATCH ${checksum}\n`).catch(() => {});
      throw new HwError("DATA_LOSS", "SyncVerifyFailed", `re-reading ${o.devPath} after the copy gives ${checksum}, the source sent ${expected}`);
    }
    await write(sock, `OK ${checksum}\n`);
    sock.end();
    return { bytes: size, checksum, copyMs, verifyMs };
  } finally {
    o.signal?.removeEventListener("abort", abort);
    sock.destroy();
  }
}

/** The volume checksum of the first `size` bytes, read from the device (its buffer cache dropped first). */
export async function checksumOf(path: string, size: number, chunk = CHUNK_BYTES): Promise<string> {
  const real = await realpath(path);
  if ((await stat(real)).isBlockDevice()) await flushDeviceBuffers(real);
  const fh = await open(real, "r");
  const hashes: Buffer[] = [];
  try {
    const buf = Buffer.allocUnsafe(chunk);
    for (let off = 0; off < size; off += chunk) {
      const n = Math.min(chunk, size - off);
      const b = buf.subarray(0, n);
      await readFully(fh, b, off, path);
      hashes.push(sha(b));
    }
  } finally {
    await fh.close();
  }
  return createHash("sha256").update(Buffer.concat(hashes)).digest("hex");
}
