// The native data plane, replication (docs/dataplane.md): two data plane processes in two network namespaces
// joined by a veth pair, each on its own loop device. Protocol C (both backings equal after large writes and
// small ones one at a time and many at once, verify finds no mismatch), suspend on disconnect until
// outdate-peer, resync of only the dirty regions after a kill -9 of the secondary, and epoch fencing: an old
// primary that comes back is fenced, then rejoins as a secondary and is resynced, including the region it wrote
// alone; a peer restarted on another port is followed (and a data plane answering for another node refused).
// Needs root, /dev/fuse, loop devices, netns.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runFio } from "../../src/host/fio/fio.ts";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../../src/host/loop/loop.ts";
import { MiB, buildDataplane, cleanupFuse, createNetnsPair, Dataplane, deleteNetnsPair, sleep, until, type NetnsPair } from "./harness.ts";

const SIZE = 192 * MiB;
const stages = (st: Record<string, unknown>) => st.stages as Record<string, { count: number; totalUs: number } | undefined>;
const PORT = 43000;

async function sha(path: string): Promise<string> {
  const fh = await open(path, "r");
  try {
    const h = createHash("sha256");
    const b = Buffer.alloc(8 * MiB);
    for (let off = 0; off < SIZE; off += b.length) {
      const { bytesRead } = await fh.read(b, 0, b.length, off);
      h.update(b.subarray(0, bytesRead));
    }
    return h.digest("hex");
  } finally {
    await fh.close();
  }
}

/** dd of random bytes with O_DIRECT + fsync; resolves with the exit code. `started` lets a test watch it block. */
function dd(dev: string, offsetMiB: number, countMiB: number): { done: Promise<number | null>; exited: () => boolean } {
  const p = spawn(
    "dd",
    ["if=/dev/urandom", `of=${dev}`, "bs=1M", `count=${countMiB}`, `seek=${offsetMiB}`, "oflag=direct", "conv=fsync,notrunc", "status=none"],
    {
      stdio: "ignore",
    },
  );
  let exited = false;
  const done = new Promise<number | null>((r) => p.once("exit", (c) => ((exited = true), r(c))));
  return { done, exited: () => exited };
}

describe("data plane: two replicas over a veth pair", () => {
  let dir = "";
  let net: NetnsPair | undefined;
  const backing: LoopDevice[] = [];
  let a!: Dataplane; // replaced by one on another port when "a" moves
  let b!: Dataplane;
  let volA = "";
  let volB = "";

  const peerOf = async (dp: Dataplane) => (await dp.volume("v")).peers[0]!;

  before(async () => {
    buildDataplane();
    dir = await mkdtemp(join(tmpdir(), "hw-dp2-"));
    net = createNetnsPair("r");
    for (const n of ["a", "b"]) {
      await mkdir(join(dir, n));
      await createSparseFile(join(dir, `${n}.img`), SIZE);
      backing.push(await attachLoop(join(dir, `${n}.img`)));
    }
    a = new Dataplane({ node: "a", dir: join(dir, "a"), listen: `${net.ips[0]}:${PORT}`, netns: net.names[0] });
    b = new Dataplane({ node: "b", dir: join(dir, "b"), listen: `${net.ips[1]}:${PORT}`, netns: net.names[1] });
  });

  after(async () => {
    // A loop over a killed data plane's FUSE file shows only the file's name ("/v") once the mount is gone: the
    // loops this test attached are detached by name too, when their backing is still that file.
    for (const l of await listLoops())
      if (l.backFile.includes(`${dir}/a/fuse`) || l.backFile.includes(`${dir}/b/fuse`) || ([volA, volB].includes(l.name) && l.backFile === "/v"))
        await detachLoop(l.name).catch(() => undefined);
    for (const dp of [a, b]) {
      await dp?.stop("SIGKILL").catch(() => undefined);
      if (dp) cleanupFuse(dp.fuseDir);
    }
    for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/")) await detachLoop(l.name).catch(() => undefined);
    deleteNetnsPair(net);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const configure = (dp: Dataplane, epoch: number, role: string, peer: Dataplane) =>
    dp.must("configure", { volume: "v", epoch, role, peers: [{ node: peer.o.node, address: peer.o.listen }] });

  test("protocol C: the secondary holds every byte the primary acknowledged; verify finds no mismatch", async () => {
    await a.start();
    await b.start();
    for (const [dp, l] of [[a, backing[0]!] as const, [b, backing[1]!] as const])
      await dp.must("ensure", { volume: "v", sizeBytes: SIZE, backingPath: l.name });
    await configure(b, 1, "secondary", a);
    await configure(a, 1, "primary", b);
    await until(async () => (await peerOf(a)).state === "UpToDate", 10_000, "peer b UpToDate");
    await a.must("expose", { volume: "v" });
    volA = (await attachLoop(join(a.fuseDir, "v"))).name;
    assert.equal(await dd(volA, 0, 8).done, 0);
    // 1 MiB writes take turns over the main connection and its write lanes. A sequential stream into regions whose
    // activity-log bits were cleared (idle) marks regions ahead: far fewer bitmap fdatasyncs than regions (32
    // without the look-ahead; `written`, exact, is set by the first pass). Counted are the syncs (bitmapSyncs), not
    // the writes that waited: the loop device sends each 1 MiB as two 512 KiB writes, and every write that arrives
    // while a sync is in flight waits for that same sync, so the waiters grow with the disk's fdatasync latency
    // (10–21 for 8–10 syncs under load 15) while the syncs do not.
    assert.equal((await peerOf(a)).lanes, 3, "write lanes open");
    assert.equal(await dd(volA, 120, 32).done, 0);
    await until(async () => (await peerOf(a)).dirtyBytes === 0, 15_000, "activity log cleared");
    const al0 = stages(await a.volume("v")).activityLog!.count;
    const syncs0 = (await peerOf(a)).bitmapSyncs as number;
    assert.equal(await dd(volA, 120, 32).done, 0);
    const syncs = ((await peerOf(a)).bitmapSyncs as number) - syncs0;
    const al = stages(await a.volume("v")).activityLog!.count - al0;
    assert.ok(syncs >= 1 && syncs <= 12, `a 32 MiB sequential stream synced the activity log ${syncs} times (${al} writes waited for it)`);
    // Small writes: one at a time, the secondary's receiver writes and acks each itself (rxInline); many at once,
    // its loop batches them. Both paths must leave the same bytes on both replicas. Nearly all at depth 1: the
    // backoff that a write arriving during an inline one arms (the stream above, a FLUSH) ends at the first lull;
    // counted down over 256 frames, it once took 213 of these writes, twice that 439 (73 of 512 inline).
    const inline0 = stages(await b.volume("v")).rxInline?.count ?? 0;
    const small = (name: string, iodepth: number) =>
      runFio({ name, filename: volA, rw: "randwrite", blockSizeBytes: 4096, iodepth, runtimeSec: 60, timeBased: false, sizeBytes: 2 * MiB });
    assert.equal((await small("qd1", 1)).write.ios, 512);
    const inlined = (stages(await b.volume("v")).rxInline?.count ?? 0) - inline0;
    assert.ok(inlined >= 448, `${inlined} of 512 writes at depth 1 written by the secondary's receiver`);
    console.log(`32 MiB stream: ${syncs} activity-log syncs, ${al} writes waited; depth 1: ${inlined} of 512 written inline`);
    assert.equal((await small("qd16", 16)).write.ios, 512);
    const st = await a.volume("v");
    assert.ok((st.bytesReplicated as number) >= 8 * MiB, JSON.stringify(st));
    const ver = await a.must("verify", { volume: "v" });
    assert.equal(ver.checkedBytes, SIZE);
    assert.deepEqual(ver.mismatchedRegions, { b: [] });
    // Idle regions leave the activity log, the ones marked ahead of the stream included (the next test counts
    // what a resync copies).
    await until(async () => (await peerOf(a)).dirtyBytes === 0, 15_000, "activity log cleared");
  });

  test("secondary killed: writes suspend until outdate-peer, then only the dirty regions are resynced", async () => {
    // A 16 MiB sequential stream right before the kill: its regions are dirty (not idle yet) and its activity-log
    // writes marked regions beyond its end, which it never reached: those are in sync and must not be copied.
    assert.equal(await dd(volA, 20, 16).done, 0);
    await b.stop("SIGKILL");
    await until(async () => (await peerOf(a)).state === "Disconnected", 5_000, "peer b Disconnected");
    const w = dd(volA, 64, 2);
    await sleep(1000);
    assert.equal(w.exited(), false, "a write waits while the disconnected peer is not outdated");
    assert.equal((await a.volume("v")).suspended, true);
    const out = await a.must("outdate-peer", { volume: "v", peer: "b" });
    assert.equal(out.suspended, false);
    assert.equal(await w.done, 0);
    assert.equal(await dd(volA, 100, 3).done, 0);
    const dirty = (await peerOf(a)).dirtyBytes as number;
    assert.ok(dirty >= 5 * MiB, `dirty ${dirty}`);
    cleanupFuse(b.fuseDir);
    await b.start();
    await configure(b, 1, "secondary", a); // as its node agent does after a restart: peers and bitmaps reloaded
    await until(async () => (await peerOf(a)).state === "UpToDate", 15_000, "peer b UpToDate after resync");
    const p = await peerOf(a);
    // At most the 16 + 2 + 3 regions written (fewer if some went idle before the kill); a region marked only
    // ahead of the stream would make it more.
    assert.ok((p.resyncDoneBytes as number) >= 5 * MiB && (p.resyncDoneBytes as number) <= 21 * MiB, `resynced ${p.resyncDoneBytes} of ${SIZE}`);
    assert.equal(await sha(backing[0]!.name), await sha(backing[1]!.name));
    assert.deepEqual((await a.must("verify", { volume: "v" })).mismatchedRegions, { b: [] });
    console.log(`resync after a kill -9 of the secondary: ${p.resyncDoneBytes} bytes of a ${SIZE}-byte volume`);
  });

  test("epoch fencing: the old primary comes back fenced, rejoins as secondary and is resynced", async () => {
    // b dies; a writes alone at 120 MiB (consented), then a dies too.
    await b.stop("SIGKILL");
    await until(async () => (await peerOf(a)).state === "Disconnected", 5_000, "peer b Disconnected");
    await a.must("outdate-peer", { volume: "v", peer: "b" });
    assert.equal(await dd(volA, 120, 2).done, 0);
    await detachLoop(volA);
    await a.stop("SIGKILL");
    cleanupFuse(a.fuseDir);
    cleanupFuse(b.fuseDir);
    // The control plane fails over to b with epoch 2; a is down, so b is outdated-consented and writes alone.
    await b.start();
    await configure(b, 2, "primary", a);
    await until(async () => (await peerOf(b)).state === "Disconnected", 5_000, "peer a Disconnected on b");
    await b.must("outdate-peer", { volume: "v", peer: "a" });
    await b.must("expose", { volume: "v" });
    volB = (await attachLoop(join(b.fuseDir, "v"))).name;
    assert.equal(await dd(volB, 140, 2).done, 0);
    // A stream that ends right before a's lone regions: its look-ahead marks them too. They are a's own writes (its
    // bitmap at the rejoin names them) and must be copied back, not skipped as "only marked ahead, never written".
    assert.equal(await dd(volB, 104, 16).done, 0);
    // a comes back still believing it is primary at epoch 1: it is fenced.
    await a.start();
    assert.deepEqual([(await a.volume("v")).role, (await a.volume("v")).epoch], ["primary", 1]);
    await until(async () => (await a.volume("v")).fenced === true, 10_000, "old primary a fenced");
    const stale = await a.call("configure", { volume: "v", epoch: 1, role: "primary", peers: [{ node: "b", address: b.o.listen }] });
    assert.equal(stale.error?.reason, "StaleEpoch", JSON.stringify(stale));
    // The control plane makes it a secondary at epoch 2: b resyncs the union (its writes and a's lone one).
    await configure(a, 2, "secondary", b);
    await until(async () => (await peerOf(b)).state === "UpToDate", 15_000, "a UpToDate on b");
    assert.equal((await a.volume("v")).localState, "UpToDate");
    assert.equal(await sha(backing[0]!.name), await sha(backing[1]!.name), "one history after the rejoin");
    assert.deepEqual((await b.must("verify", { volume: "v" })).mismatchedRegions, { a: [] });
  });

  test("a peer that moved: restarted on another port, the primary follows the new address; another node's data plane there is refused", async () => {
    const peerOn = async (dp: Dataplane, node: string) => (await dp.volume("v")).peers.find((p) => p.node === node)!;
    await a.stop("SIGKILL");
    cleanupFuse(a.fuseDir);
    await until(async () => (await peerOf(b)).state === "Disconnected", 5_000, "peer a Disconnected on b");
    await b.must("outdate-peer", { volume: "v", peer: "a" });
    assert.equal(await dd(volB, 60, 2).done, 0);
    // Its node agent reports the new address before anything listens there: the same peer, still outdated, so
    // writes go on (a new peer object would be Connecting and suspend them again).
    a = new Dataplane({ ...a.o, listen: `${net!.ips[0]}:${PORT + 17}` });
    await configure(b, 2, "primary", a);
    const moved = await peerOf(b);
    assert.deepEqual([moved.address, moved.state], [a.o.listen, "Outdated"], JSON.stringify(moved));
    const w = dd(volB, 70, 1);
    await until(async () => w.exited(), 10_000, "a write while the moved peer is not there yet");
    assert.equal(await w.done, 0);
    await a.start();
    await configure(a, 2, "secondary", b);
    await until(async () => (await peerOf(b)).state === "UpToDate", 15_000, "a UpToDate at its new address");
    const p = await peerOf(b);
    assert.ok((p.resyncDoneBytes as number) >= 3 * MiB && (p.resyncDoneBytes as number) < SIZE / 4, `resynced ${p.resyncDoneBytes} of ${SIZE}`);
    assert.equal(await sha(backing[0]!.name), await sha(backing[1]!.name));
    // A peer "c" configured at a's address (a stale address: a's data plane is there now) is refused by a before its
    // connection could replace b's connection to a.
    await b.must("configure", {
      volume: "v",
      epoch: 2,
      role: "primary",
      peers: [
        { node: "a", address: a.o.listen },
        { node: "c", address: a.o.listen },
      ],
    });
    await until(async () => /node a's data plane for peer c/.test(String((await peerOn(b, "c")).lastError)), 10_000, "peer c refused by node a");
    await sleep(1500);
    const stillA = await peerOn(b, "a");
    assert.deepEqual([stillA.state, stillA.connected], ["UpToDate", true], `a's connection kept: ${JSON.stringify(stillA)}`);
    await configure(b, 2, "primary", a);
    assert.equal((await b.volume("v")).suspended, false);
    console.log(`peer moved to ${a.o.listen}: resynced ${p.resyncDoneBytes} bytes; a data plane answering for another node refused`);
  });

  test("a resync cut by a kill -9 of its target resumes where it stopped, without consent (the target is Inconsistent)", async (t) => {
    await a.stop("SIGKILL");
    cleanupFuse(a.fuseDir);
    await until(async () => (await peerOf(b)).state === "Disconnected", 5_000, "peer a Disconnected on b");
    await b.must("outdate-peer", { volume: "v", peer: "a" });
    assert.equal(await dd(volB, 0, 96).done, 0);
    // What b holds dirty for a before they meet; the first resync's total adds what a's HELLO bitmap reports.
    const dirtyBefore = (await peerOf(b)).dirtyBytes as number;
    await a.start();
    await configure(a, 2, "secondary", b);
    let seen: Record<string, unknown> | undefined;
    await until(
      async () => {
        const p = await peerOf(b);
        // At least 2 regions done: with one, the write below (1 region) would make the resumed total equal, not smaller.
        if (p.state === "SyncTarget" && (p.resyncDoneBytes as number) >= 2 * MiB) seen = p;
        return seen !== undefined || p.state === "UpToDate";
      },
      15_000,
      "a resync in progress",
    );
    if (!seen) {
      t.skip("the resync finished before it could be cut (a fast machine); nothing to resume");
      return;
    }
    await a.stop("SIGKILL");
    cleanupFuse(a.fuseDir);
    await until(async () => (await peerOf(b)).state === "Outdated", 5_000, "peer a Outdated (lost mid-resync)");
    // Where it stopped: every region resynced before the cut stays clean (bits clear as regions land).
    const cut = await peerOf(b);
    const left = (seen.resyncTotalBytes as number) - (seen.resyncDoneBytes as number);
    assert.ok((cut.dirtyBytes as number) <= left, `after the cut ${cut.dirtyBytes} bytes dirty, ${left} were left when seen`);
    assert.equal(await dd(volB, 180, 1).done, 0, "writes go on without consent: the target cannot be promoted");
    const dirtyAtRestart = (await peerOf(b)).dirtyBytes as number;
    await a.start();
    assert.equal((await a.volume("v")).localState, "Inconsistent", "the cut target stays Inconsistent across its restart");
    await configure(a, 2, "secondary", b);
    await until(async () => (await peerOf(b)).state === "UpToDate", 20_000, "a UpToDate after the resumed resync");
    const p = await peerOf(b);
    // The resumed resync copies what is dirty now (what was left, the write since, regions a sequential write
    // marked ahead) plus what a's HELLO reports again: not the regions done before the cut. Comparing it with the
    // first total is not that: the write since and its marked-ahead regions can add as many as were done.
    const hello = (seen.resyncTotalBytes as number) - dirtyBefore;
    assert.ok(
      (p.resyncTotalBytes as number) <= dirtyAtRestart + Math.max(0, hello),
      `resumed: ${p.resyncTotalBytes} <= ${dirtyAtRestart} dirty at the restart + ${hello} from a's HELLO (first total ${seen.resyncTotalBytes}, ${seen.resyncDoneBytes} done before the cut)`,
    );
    assert.equal(await sha(backing[0]!.name), await sha(backing[1]!.name));
    assert.deepEqual((await b.must("verify", { volume: "v" })).mismatchedRegions, { a: [] });
    console.log(
      `resync cut after ${seen.resyncDoneBytes} of ${seen.resyncTotalBytes} bytes (${cut.dirtyBytes} left dirty, ${dirtyAtRestart} after a write); resumed with ${p.resyncTotalBytes}`,
    );
    await detachLoop(volB);
    // The kernel sends FUSE's RELEASE after the detach returns: Busy until it arrives (as in dataplane.host.test.ts).
    await until(async () => (await b.call("unexpose", { volume: "v" })).ok, 5_000, "v released after the loop detach");
  });
});
