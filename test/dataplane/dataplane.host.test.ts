// The native data plane, stage 1 (docs/dataplane.md): one process, a volume on a real loop device, exposed as a
// FUSE file, a loop device with direct I/O over that file, a filesystem on it; the bytes land in the backing;
// kill -9 and restart reopen the state and clean the stale FUSE mount; SIGTERM shuts down cleanly; a corrupt
// bitmap makes the volume refuse to start (CorruptMetadata). Needs root, /dev/fuse and loop devices.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../../src/host/loop/loop.ts";
import { mkfs } from "../../src/host/fs/fs.ts";
import { listMounts, mount, unmount } from "../../src/host/mount/mount.ts";
import { MiB, buildDataplane, cleanupFuse, Dataplane, fuseMounted, until } from "./harness.ts";

const SIZE = 256 * MiB;

async function readRange(path: string, off: number, len: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const b = Buffer.alloc(len);
    await fh.read(b, 0, len, off);
    return b;
  } finally {
    await fh.close();
  }
}

describe("data plane: one replica through FUSE", () => {
  let dir = "";
  let backing!: LoopDevice;
  let dp!: Dataplane;
  let volDev = "";
  let mnt = "";

  before(async () => {
    buildDataplane();
    dir = await mkdtemp(join(tmpdir(), "hw-dp1-"));
    await createSparseFile(join(dir, "backing.img"), SIZE);
    backing = await attachLoop(join(dir, "backing.img"));
    mnt = join(dir, "mnt");
    await mkdir(mnt);
    dp = new Dataplane({ node: "dp1", dir, listen: "127.0.0.1:0" });
  });

  after(async () => {
    for (const m of (await listMounts()).filter((m) => m.target.startsWith(mnt)).reverse()) await unmount(m.target).catch(() => undefined);
    // The volume's loop device first (its file is served by the process), then the process, then the backing.
    for (const l of await listLoops()) if (l.backFile.startsWith(join(dir, "fuse"))) await detachLoop(l.name).catch(() => undefined);
    await dp.stop("SIGKILL").catch(() => undefined);
    cleanupFuse(dp.fuseDir);
    for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/")) await detachLoop(l.name).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("hello, ensure, configure, expose; bad requests answer clear errors", async () => {
    await dp.start();
    await dp.must("subscribe");
    const hello = await dp.must("hello");
    assert.equal(hello.node, "dp1");
    assert.deepEqual(hello.frontends, ["fuse"]);
    const ensured = await dp.must("ensure", { volume: "v1", sizeBytes: SIZE, backingPath: backing.name });
    assert.equal(ensured.volume, "v1");
    assert.equal(ensured.localState, "UpToDate");
    assert.ok((await dp.call("ensure", { volume: "v1", sizeBytes: SIZE, backingPath: backing.name })).ok, "ensure is idempotent");
    const mismatch = await dp.call("ensure", { volume: "v1", sizeBytes: SIZE / 2, backingPath: backing.name });
    assert.equal(mismatch.error?.reason, "VolumeMismatch");
    const tooBig = await dp.call("ensure", { volume: "v2", sizeBytes: 2 * SIZE, backingPath: backing.name });
    assert.equal(tooBig.error?.reason, "DeviceTooSmall");
    assert.match(tooBig.error!.message, /v2.*grow/);
    assert.equal((await dp.call("expose", { volume: "v1" })).error?.reason, "NotPrimary");
    assert.equal((await dp.call("expose", { volume: "nope" })).error?.code, "NOT_FOUND");
    assert.equal((await dp.call("bogus")).error?.code, "UNIMPLEMENTED");
    const conf = await dp.must("configure", { volume: "v1", epoch: 3, role: "primary", peers: [] });
    assert.equal(conf.role, "primary");
    assert.equal(conf.epoch, 3);
    const stale = await dp.call("configure", { volume: "v1", epoch: 2, role: "primary", peers: [] });
    assert.deepEqual([stale.error?.code, stale.error?.reason], ["FAILED_PRECONDITION", "StaleEpoch"]);
    const exposed = await dp.must("expose", { volume: "v1" });
    assert.equal(exposed.path, join(dp.fuseDir, "v1"));
    await until(() => dp.events.some((e) => e.event === "exposed"), 2000, "the exposed event");
    assert.deepEqual(
      dp.events.map((e) => `${e.event} ${e.volume}`),
      ["created v1", "configured v1", "exposed v1"],
    );
  });

  test("a loop device with direct I/O over the FUSE file: mkfs, mount, write, read back; bytes land in the backing", async () => {
    const vol = await attachLoop(join(dp.fuseDir, "v1"));
    volDev = vol.name;
    assert.equal(vol.directIo, true, "the kernel accepted direct I/O on the FUSE file");
    assert.equal((await dp.call("unexpose", { volume: "v1" })).error?.reason, "Busy", "unexpose refuses while the loop device holds the file");
    await mkfs(volDev, "ext4");
    await mount(volDev, mnt);
    const data = randomBytes(3 * MiB);
    await writeFile(join(mnt, "data.bin"), data, { flush: true });
    await unmount(mnt);
    // The same bytes through the volume and directly from the backing device.
    const a = createHash("sha256")
      .update(await readRange(volDev, 0, 64 * MiB))
      .digest("hex");
    const b = createHash("sha256")
      .update(await readRange(backing.name, 0, 64 * MiB))
      .digest("hex");
    assert.equal(a, b);
    const st = await dp.volume("v1");
    assert.ok((st.writesTotal as number) > 0 && (st.bytesWritten as number) >= 3 * MiB, JSON.stringify(st));
    assert.ok((st.writtenBytes as number) > 0 && (st.writtenBytes as number) < SIZE, "the written map is sparse");
    await mount(volDev, mnt);
    assert.ok(data.equals(await readFile(join(mnt, "data.bin"))));
    await unmount(mnt);
  });

  test("replication listener: a HELLO of another protocol major is refused with ProtocolMismatch, an unknown volume with NotFound", async () => {
    const listen = (await dp.must("hello")).listen as string;
    const [host, port] = [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))];
    const hello = async (fields: Record<string, unknown>) => {
      const payload = Buffer.from(
        JSON.stringify({ volume: "v1", sizeBytes: SIZE, regionBytes: MiB, epoch: 3, node: "intruder", uuid: "x", role: "primary", ...fields }),
      );
      const h = Buffer.alloc(40); // magic, type, flags, seq, offset, length, epoch, crc32c (little-endian, packed)
      h.writeUInt32LE(0x50445748, 0);
      h.writeUInt16LE(1, 4); // HELLO
      h.writeUInt32LE(payload.length, 24);
      const sock = connect(port, host);
      sock.write(Buffer.concat([h, payload]));
      const chunks: Buffer[] = [];
      await new Promise<void>((res) => {
        sock.on("data", (d) => chunks.push(d));
        sock.on("close", () => res());
        sock.on("error", () => res());
      });
      const r = Buffer.concat(chunks);
      return { type: r.readUInt16LE(4), reason: r.readUInt16LE(6) & 0xff, message: r.subarray(40).toString() };
    };
    const mismatch = await hello({ protocolMajor: 2, protocolMinor: 0 });
    assert.deepEqual([mismatch.type, mismatch.reason], [5, 2], "NACK ProtocolMismatch");
    assert.match(mismatch.message, /speaks replication protocol 2, node dp1 speaks 1: install the same data plane build on both/);
    const unknown = await hello({ protocolMajor: 1, protocolMinor: 0, volume: "nope" });
    assert.deepEqual([unknown.type, unknown.reason], [5, 3], "NACK NotFound");
  });

  test("resize grows the volume and its bitmaps (kept across a restart), refuses to shrink or outgrow the backing", async () => {
    await dp.must("ensure", { volume: "v2", sizeBytes: SIZE / 2, backingPath: backing.name });
    assert.equal((await dp.call("resize", { volume: "v2", sizeBytes: SIZE / 4 })).error?.reason, "ShrinkRefused");
    assert.equal((await dp.call("resize", { volume: "v2", sizeBytes: 2 * SIZE })).error?.reason, "DeviceTooSmall");
    const grown = await dp.must("resize", { volume: "v2", sizeBytes: (3 * SIZE) / 4 });
    assert.equal(grown.sizeBytes, (3 * SIZE) / 4);
  });

  test("kill -9 and restart: stale FUSE mount cleaned, state reopened, data still there", async () => {
    await dp.stop("SIGKILL");
    await detachLoop(volDev); // its FUSE connection died with the process
    assert.ok(fuseMounted(dp.fuseDir), "the killed process left its mount behind");
    await dp.start();
    const st = await dp.volume("v1");
    assert.deepEqual([st.role, st.epoch, st.localState, st.exposed], ["primary", 3, "UpToDate", false]);
    assert.equal((await dp.volume("v2")).sizeBytes, (3 * SIZE) / 4, "the grown size and bitmaps reopen");
    await dp.must("remove", { volume: "v2" });
    assert.equal((await dp.call("expose", { volume: "v1" })).error?.reason, "NotConfigured", "a reopened volume waits for configure (its peers)");
    await dp.must("configure", { volume: "v1", epoch: 3, role: "primary", peers: [] });
    await dp.must("expose", { volume: "v1" });
    volDev = (await attachLoop(join(dp.fuseDir, "v1"))).name;
    await mount(volDev, mnt);
    const back = await readFile(join(mnt, "data.bin"));
    assert.equal(back.length, 3 * MiB);
    await unmount(mnt);
  });

  test("SIGTERM unmounts and exits 0; a corrupt bitmap header refuses the volume (CorruptMetadata)", async () => {
    await detachLoop(volDev);
    // The kernel sends FUSE's RELEASE after the detach returns: Busy until it arrives, as the node agent sees it.
    await until(async () => (await dp.call("unexpose", { volume: "v1" })).ok, 5_000, "v1 released after the loop detach");
    assert.equal(await dp.stop("SIGTERM"), 0);
    assert.equal(fuseMounted(dp.fuseDir), false);
    const bm = await open(join(dp.stateDir, "v1", "written"), "r+");
    await bm.write(Buffer.from("garbage!"), 0, 8, 0);
    await bm.close();
    await dp.start();
    assert.deepEqual((await dp.must("status")).volumes, []);
    assert.match(dp.log, /CorruptMetadata: volume v1: bitmap .* fails its header checksum/);
    assert.equal(await dp.stop("SIGTERM"), 0);
  });
});
