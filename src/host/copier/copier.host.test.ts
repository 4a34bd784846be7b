// The native migration copier (hwameistor-copy, dataplane/src/copier*.c) between two real loop devices over a real
// TCP socket: only the chunks the ranges touch are copied, an all-zero chunk travels as a record (and zeroes a
// target chunk that held data), both sides' chunk-CRC tables agree and equal a whole O_DIRECT re-read (with and without --read-back); a byte
// flipped in transit (a TCP relay in the middle) fails the copy on both sides; a missing binary names the fix.
// What this cannot inject: a write that the target's disk stores wrongly (the per-chunk read-back's case) — that
// needs a faulty device (dm-flakey; no device-mapper here). Needs root (loop devices). Cleans up in `after`.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { attachLoop, createSparseFile, detachLoop } from "../loop/loop.ts";
import { chunkTableChecksum, copierBinary, CopySender, receiveWithCopier } from "./copier.ts";

const MiB = 1024 * 1024;
const SIZE = 12 * MiB;
const skip = process.getuid?.() !== 0 ? "needs root" : false;

/** Runs `fn` on an open handle of `dev`, then syncs and closes it. */
async function withDev<T>(dev: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
  const fh = await open(dev, "r+");
  try {
    const r = await fn(fh);
    await fh.sync();
    return r;
  } finally {
    await fh.close();
  }
}
const writeAt = (dev: string, offset: number, data: Buffer) => withDev(dev, (fh) => fh.write(data, 0, data.length, offset));
const readAt = (dev: string, offset: number, len: number) => withDev(dev, async (fh) => (await fh.read(Buffer.alloc(len), 0, len, offset)).buffer);

/** A listening socket whose first connection gets a CopySender, and the connected client end. */
async function pair(relay?: (from: net.Socket, to: net.Socket) => void): Promise<{ sender: Promise<CopySender>; client: net.Socket; close(): void }> {
  let give!: (s: CopySender) => void;
  const sender = new Promise<CopySender>((r) => (give = r));
  const srv = net.createServer((sock) => give(new CopySender(sock, { size: SIZE, chunkBytes: MiB, what: "test source" })));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  let port = (srv.address() as net.AddressInfo).port;
  let mid: net.Server | undefined;
  if (relay) {
    mid = net.createServer((a) => {
      const b = net.connect({ host: "127.0.0.1", port: (srv.address() as net.AddressInfo).port });
      relay(b, a); // source → target direction through `relay`
      a.pipe(b);
      a.on("error", () => b.destroy());
      b.on("error", () => a.destroy());
    });
    await new Promise<void>((r) => mid!.listen(0, "127.0.0.1", r));
    port = (mid.address() as net.AddressInfo).port;
  }
  const client = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((r, j) => (client.once("connect", r), client.once("error", j)));
  return { sender, client, close: () => (srv.close(), mid?.close()) };
}

describe("hwameistor-copy on loop devices", { skip }, () => {
  let dir = "";
  const loops: string[] = [];
  let src = "";
  const data = { c0: randomBytes(MiB), c2: randomBytes(MiB), c5: randomBytes(4096), c8: randomBytes(MiB) };

  before(async () => {
    copierBinary(); // a clear error if the data plane was not built
    dir = await mkdtemp(join(tmpdir(), "hw-copier-"));
    for (const n of ["src", "dst", "dst2", "dst3"]) {
      await createSparseFile(join(dir, n), SIZE);
      loops.push((await attachLoop(join(dir, n))).name);
    }
    src = loops[0]!;
    await writeAt(src, 0, data.c0);
    await writeAt(src, MiB, Buffer.alloc(MiB)); // written, but zeros
    await writeAt(src, 2 * MiB, data.c2);
    await writeAt(src, 5 * MiB + 8192, data.c5);
    await writeAt(src, 8 * MiB, data.c8); // outside every range below: never copied
  });
  after(async () => {
    for (const l of loops) await detachLoop(l).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const readBack of [false, true])
    test(`ranges pick the chunks; zero chunks are records; tables agree with a whole re-read (read-back ${readBack ? "on" : "off"})`, async () => {
      const dst = readBack ? loops[3]! : loops[1]!; // each run its own zeroed target
      await writeAt(src, 2 * MiB, data.c2); // an earlier run zeroed it on the source
      const p = await pair();
      try {
        const rounds: number[] = [];
        const recv = receiveWithCopier(p.client, {
          size: SIZE,
          chunkBytes: MiB,
          path: dst,
          what: "test target",
          readBack,
          onRound: (r) => rounds.push(r.bytes),
        });
        const sender = await p.sender;
        const r0 = await sender.round(0, false, src, [
          { offset: 0, length: 3 * MiB },
          { offset: 5 * MiB + 100, length: 10 },
        ]);
        assert.deepEqual([r0.chunks, r0.zeroChunks, r0.bytes], [3, 1, 3 * MiB], "chunks 0, 2, 5 with data, chunk 1 a zero record");
        assert.equal(r0.direct, true, "O_DIRECT reads of a loop device");
        // Round 1: chunk 2 became zeros on the source: its zero record must zero the target's copy too.
        await writeAt(src, 2 * MiB, Buffer.alloc(MiB));
        const r1 = await sender.round(1, true, src, [{ offset: 2 * MiB + 4096, length: 1 }]);
        assert.deepEqual([r1.chunks, r1.zeroChunks], [0, 1]);
        const sums = await sender.finish();
        const got = await recv;
        assert.equal(got.direct, true, "O_DIRECT writes to a loop device");
        assert.equal(got.readBack, readBack);
        assert.equal(got.bytes, 3 * MiB);
        assert.deepEqual(rounds, [3 * MiB, 0]);
        assert.equal(sums.checksum, sums.targetChecksum);
        assert.equal(got.checksum, sums.checksum);
        assert.match(got.checksum, /^crc32c:12:[0-9a-f]{8}$/);
        assert.equal(await chunkTableChecksum(dst, SIZE, MiB), got.checksum, "the target re-read whole");
        assert.notEqual(await chunkTableChecksum(src, SIZE, MiB), got.checksum, "the source's chunk 8 was in no range");
        assert.ok((await readAt(dst, 0, MiB)).equals(data.c0));
        assert.ok((await readAt(dst, 2 * MiB, MiB)).equals(Buffer.alloc(MiB)), "chunk 2 zeroed by its zero record");
        assert.ok((await readAt(dst, 5 * MiB + 8192, 4096)).equals(data.c5));
        assert.ok((await readAt(dst, 8 * MiB, MiB)).equals(Buffer.alloc(MiB)), "chunk 8 not copied");
        // One byte changed on the target: a whole re-read sees it (O_DIRECT: the device, not a cache).
        await writeAt(dst, 5 * MiB + 9000, Buffer.from([data.c5[9000 - 8192]! ^ 1]));
        assert.notEqual(await chunkTableChecksum(dst, SIZE, MiB), got.checksum);
      } finally {
        p.close();
      }
    });

  test("a byte flipped in transit fails both sides; the target is never confirmed", async () => {
    let seen = 0;
    const p = await pair((from, to) => {
      from.on("data", (d: Buffer) => {
        const at = 5000 - seen; // inside the first chunk's bytes (after the 13-byte record header)
        if (at >= 0 && at < d.length) d[at] = d[at]! ^ 0x40;
        seen += d.length;
        to.write(d);
      });
    });
    try {
      const recv = receiveWithCopier(p.client, { size: SIZE, chunkBytes: MiB, path: loops[2]!, what: "test target" });
      const sender = await p.sender;
      const round = sender.round(0, true, src, [{ offset: 0, length: MiB }]);
      // Both awaited together: the source may fail first (the target's copier exits), and a rejection nobody
      // awaits yet fails the test as unhandled.
      await Promise.all([
        assert.rejects(recv, (e: Error & { reason?: string }) => e.reason === "SyncVerifyFailed" && /damaged in transit/.test(e.message)),
        assert.rejects(round, (e: Error & { reason?: string }) => e.reason === "SyncStreamBroken"),
      ]);
      await sender.stop();
    } finally {
      p.close();
    }
  });
});

/** CRC32C bit by bit (Castagnoli, reflected 0x82F63B78): an independent reference for the copier's SSE4.2 lanes. */
function crc32c(buf: Buffer, crc = 0): number {
  crc = ~crc >>> 0;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

test("the copier's CRC32C (carry-less folding where the CPU has it; three interleaved lanes) equals a bit-by-bit reference", async () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283, "the reference: CRC32C's check value");
  const dir = await mkdtemp(join(tmpdir(), "hw-copier-crc-"));
  const was = process.env.HWAMEISTOR_CRC_NO_FOLD;
  try {
    // 1 MiB chunks, then a short last chunk that is not 4 KiB-aligned (folded 256 bytes at a time, the rest by the
    // crc32 instruction); 12 KiB chunks; each with the folding (AVX-512 VPCLMULQDQ CPUs) and without it.
    const data = randomBytes(2 * MiB + 12345);
    await writeFile(join(dir, "f"), data);
    for (const chunk of [MiB, 12 * 1024]) {
      const n = Math.ceil(data.length / chunk);
      const table = Buffer.alloc(n * 4);
      for (let i = 0; i < n; i++) table.writeUInt32BE(crc32c(data.subarray(i * chunk, (i + 1) * chunk)), i * 4);
      const want = `crc32c:${n}:${crc32c(table).toString(16).padStart(8, "0")}`;
      for (const noFold of [undefined, "1"]) {
        if (noFold) process.env.HWAMEISTOR_CRC_NO_FOLD = noFold;
        else delete process.env.HWAMEISTOR_CRC_NO_FOLD;
        assert.equal(await chunkTableChecksum(join(dir, "f"), data.length, chunk), want, `chunk ${chunk}, folding ${noFold ? "off" : "on"}`);
      }
    }
  } finally {
    if (was === undefined) delete process.env.HWAMEISTOR_CRC_NO_FOLD;
    else process.env.HWAMEISTOR_CRC_NO_FOLD = was;
    await rm(dir, { recursive: true, force: true });
  }
});

test("a connection the other side already closed is a clear SyncStreamBroken, not a spawn TypeError", async () => {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const accepted = new Promise<net.Socket>((r) => srv.once("connection", r));
  const client = net.connect({ host: "127.0.0.1", port: (srv.address() as net.AddressInfo).port });
  const sock = await accepted;
  client.destroy();
  await new Promise((r) => sock.once("close", r));
  try {
    assert.throws(
      () => new CopySender(sock, { size: MiB, chunkBytes: MiB, what: "test source" }),
      (e: Error & { reason?: string }) => e.reason === "SyncStreamBroken" && /test source: .*closed by the other side/.test(e.message),
    );
  } finally {
    srv.close();
  }
});

test("a missing copier binary names the fix", () => {
  const was = process.env.HWAMEISTOR_COPY_BIN;
  process.env.HWAMEISTOR_COPY_BIN = "/nonexistent/hwameistor-copy";
  try {
    assert.throws(copierBinary, (e: Error & { reason?: string; hint?: string }) => e.reason === "CopierNotBuilt" && /install-deps\.sh/.test(e.hint ?? ""));
  } finally {
    if (was === undefined) delete process.env.HWAMEISTOR_COPY_BIN;
    else process.env.HWAMEISTOR_COPY_BIN = was;
  }
});
