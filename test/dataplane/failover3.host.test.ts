// The native data plane with three replicas (docs/dataplane.md "Failover suspects"): a primary dies with a write
// that reached one secondary and not the other (never acknowledged). Whichever secondary becomes the primary, the
// two survivors end up equal: the promoted one marks the regions its old primary wrote there lately for every peer,
// and a secondary meeting a primary other than the one whose writes it got last reports those regions in its
// BITMAP. Without either, the third replica would keep a region the new primary never had.
// Setup: primary a and secondary c in one network namespace, secondary b in the other, joined by a veth pair;
// b's end of the veth set down cuts b alone while a writes. Needs root, /dev/fuse, loop devices, netns.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../../src/host/loop/loop.ts";
import { MiB, buildDataplane, cleanupFuse, createNetnsPair, Dataplane, deleteNetnsPair, sleep, until, type NetnsPair } from "./harness.ts";

const SIZE = 64 * MiB;
const sha = (dev: string) => createHash("sha256").update(readFileSync(dev)).digest("hex");

describe("data plane: three replicas, the primary dies with a write on one secondary only", () => {
  let dir = "";
  let net: NetnsPair | undefined;
  const loops: LoopDevice[] = [];
  const dps: Dataplane[] = [];
  let run = 0;

  before(async () => {
    buildDataplane();
    dir = await mkdtemp(join(tmpdir(), "hw-dp3-"));
    net = createNetnsPair("f");
  });

  after(async () => {
    for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/") || l.backFile === "/w") await detachLoop(l.name).catch(() => undefined);
    for (const dp of dps) {
      await dp.stop("SIGKILL").catch(() => undefined);
      cleanupFuse(dp.fuseDir);
    }
    for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/")) await detachLoop(l.name).catch(() => undefined);
    deleteNetnsPair(net);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** a (primary) and c in namespace 0, b in namespace 1; each on its own loop device; w written and in sync. */
  async function setup() {
    const r = `${dir}/run${++run}`;
    const node = async (name: string, ns: 0 | 1, port: number) => {
      await mkdir(join(r, name), { recursive: true });
      await createSparseFile(join(r, `${name}.img`), SIZE);
      const loop = await attachLoop(join(r, `${name}.img`));
      loops.push(loop);
      const dp = new Dataplane({ node: name, dir: join(r, name), listen: `${net!.ips[ns]}:${port}`, netns: net!.names[ns] });
      dps.push(dp);
      await dp.start();
      await dp.must("ensure", { volume: "w", sizeBytes: SIZE, backingPath: loop.name });
      return { dp, loop };
    };
    const a = await node("a", 0, 43100 + run);
    const b = await node("b", 1, 43100 + run);
    const c = await node("c", 0, 43200 + run);
    const peersOf = (me: string, epoch: number, role: string) => ({
      volume: "w",
      epoch,
      role,
      peers: [a, b, c].filter((x) => x.dp.o.node !== me).map((x) => ({ node: x.dp.o.node, address: x.dp.o.listen })),
    });
    await b.dp.must("configure", peersOf("b", 1, "secondary"));
    await c.dp.must("configure", peersOf("c", 1, "secondary"));
    await a.dp.must("configure", peersOf("a", 1, "primary"));
    const peer = async (dp: Dataplane, n: string) => (await dp.volume("w")).peers.find((p) => p.node === n)!;
    await until(async () => (await peer(a.dp, "b")).state === "UpToDate" && (await peer(a.dp, "c")).state === "UpToDate", 15_000, "b and c UpToDate");
    await a.dp.must("expose", { volume: "w" });
    const dev = (await attachLoop(join(a.dp.fuseDir, "w"))).name;
    execFileSync("dd", ["if=/dev/urandom", `of=${dev}`, "bs=1M", "count=4", "oflag=direct", "conv=fsync,notrunc", "status=none"]);
    return { a, b, c, dev, peersOf, peer };
  }

  for (const promote of ["b", "c"] as const) {
    test(`the secondary ${promote === "b" ? "without" : "with"} the write becomes the primary: the two survivors end up equal`, async () => {
      const { a, b, c, dev, peersOf, peer } = await setup();
      // b cut off; a 1 MiB write at 32 MiB reaches c (same namespace), not b: never acknowledged.
      execFileSync("ip", ["-n", net!.names[1], "link", "set", net!.ifs[1], "down"]);
      const rx0 = (await c.dp.volume("w")).bytesReplicated as number;
      const w = spawn("dd", ["if=/dev/urandom", `of=${dev}`, "bs=1M", "count=1", "seek=32", "oflag=direct", "status=none"], { stdio: "ignore" });
      const wExit = new Promise((r) => w.once("exit", r));
      try {
        await until(async () => ((await c.dp.volume("w")).bytesReplicated as number) >= rx0 + MiB, 10_000, "the write on c");
        await sleep(500); // its local write on c completes
        assert.equal(w.exitCode, null, "the write is not acknowledged while b lacks it");
        await a.dp.stop("SIGKILL");
      } finally {
        execFileSync("ip", ["-n", net!.names[1], "link", "set", net!.ifs[1], "up"]);
        w.kill("SIGKILL");
        await wExit;
      }
      await detachLoop(dev).catch(() => undefined);
      cleanupFuse(a.dp.fuseDir);
      // The failover, as the control plane does it: the promoted one at epoch 2 (a outdated: it is gone), the other
      // its secondary at epoch 2.
      const [p, s] = promote === "b" ? [b, c] : [c, b];
      await s.dp.must("configure", peersOf(s.dp.o.node, 2, "secondary"));
      await p.dp.must("configure", peersOf(p.dp.o.node, 2, "primary"));
      await until(async () => (await peer(p.dp, "a")).state === "Disconnected", 10_000, "a Disconnected");
      await p.dp.must("outdate-peer", { volume: "w", peer: "a" });
      const sName = s.dp.o.node;
      await until(async () => (await peer(p.dp, sName)).state === "UpToDate", 15_000, `${sName} UpToDate with the new primary`);
      const resynced = (await p.dp.volume("w")).bytesResynced as number;
      assert.equal(sha(p.loop.name), sha(s.loop.name), `${p.dp.o.node} and ${sName} hold the same bytes`);
      assert.ok(resynced >= 1 * MiB && resynced < SIZE / 2, `resynced ${resynced}: the suspect regions only`);
      assert.deepEqual((await p.dp.must("verify", { volume: "w" })).mismatchedRegions, { [sName]: [] });
      console.log(`promoted ${p.dp.o.node}: ${resynced} bytes resynced to ${sName}; the survivors are equal`);
      await p.dp.stop("SIGKILL");
      await s.dp.stop("SIGKILL");
      for (const x of [p, s]) cleanupFuse(x.dp.fuseDir);
    });
  }
});
