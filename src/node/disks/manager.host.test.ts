// The disk manager on REAL loop devices against the REAL embedded API server (CRDs applied through the
// client): discovery with attributes, protection of a pre-formatted disk, claims (bind by type and
// capacity, a Pending one with its reasons, a disk-manager claim consumed and cleaned up), reserve actions,
// LocalDiskNode totals, detach → Inactive, re-attach on another loop number → the same LocalDisk Active, a
// filesystem written onto a free disk seen without a full scan, no lsblk/blkid for a loop device not ours.
// Needs root. Every loop device, file and server is removed in `after`, also when a step fails.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { mkfs } from "../../host/fs/fs.ts";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../../host/loop/loop.ts";
import { setRunLogger } from "../../host/runner.ts";
import { startServerWithCrds, TestServer, waitFor } from "../../../test/helpers/api-server.ts";
import { EVENT } from "../../kube/resources.ts";
import type { KubeObject } from "../../kube/types.ts";

import type { NodeAgent } from "../agent.ts";
import { startLoopDiskAgent } from "../host-test-helpers.ts";
import { localDiskName } from "./identity.ts";
import { hwameistorClients as diskManagerClients, type HwameistorClients as DiskManagerClients, type Ld } from "../../kube/hwameistor.ts";

const MiB = 2 ** 20;

describe("disk manager on real loop devices", () => {
  let srv: TestServer | undefined;
  let dir = "";
  let agent: NodeAgent | undefined;
  let c!: DiskManagerClients;
  const files: Record<string, string> = {};
  const loops: Record<string, LoopDevice> = {};
  const name = (f: string) => localDiskName({ hostname: "n1", byPathLinks: [], loopBackingFile: files[f]! })!;
  const ld = (f: string) => c.ld.get(name(f));

  before(async () => {
    srv = await startServerWithCrds();
    c = diskManagerClients(srv.client);
    dir = await mkdtemp(join(tmpdir(), "hw-disks-"));
    await mkdir(join(dir, "disks"));
    for (const [f, size] of [
      ["big", 2048],
      ["mid", 1024],
      ["xfs", 512],
      ["small", 256],
    ] as const) {
      files[f] = join(dir, "disks", `${f}.img`);
      await createSparseFile(files[f], size * MiB);
      loops[f] = await attachLoop(files[f]);
    }
    await mkfs(loops.xfs!.name, "xfs"); // foreign data: must be protected
    agent = await startLoopDiskAgent(srv.client, dir, { unknownNodeGraceSeconds: 1 });
  });

  after(async () => {
    await agent?.stop().catch(() => {});
    for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/")) await detachLoop(l.name).catch(() => {});
    await srv?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("discovery: every selected loop disk with its attributes; the pre-formatted one Bound and reserved", async () => {
    await waitFor("claim states settle", async () => {
      const all = (await c.ld.list()).items;
      return all.length === 4 && all.every((d) => d.status?.claimState === "Available" || d.status?.claimState === "Bound");
    });
    const big = (await ld("big"))!;
    assert.equal(big.spec!.nodeName, "n1");
    assert.equal(big.spec!.devicePath, loops.big!.name);
    assert.equal(big.spec!.capacity, 2048 * MiB);
    assert.equal(big.spec!.diskAttributes!.type, "HDD", "loop devices are rotational");
    assert.equal(big.spec!.diskAttributes!.devType, "disk");
    assert.deepEqual([big.spec!.major, big.spec!.minor], loops.big!.majMin.split(":"));
    assert.equal(big.spec!.state, "Active");
    assert.equal(big.spec!.reserved, false);
    assert.equal(big.spec!.partitioned, false);
    assert.equal(big.spec!.supportSmart, false);
    assert.equal(big.status!.claimState, "Available");
    const xfs = (await ld("xfs"))!;
    assert.equal(xfs.spec!.partitioned, true);
    assert.equal(xfs.spec!.reserved, true);
    assert.deepEqual(xfs.spec!.partitionInfo, [{ path: loops.xfs!.name, hasFileSystem: true, filesystem: { fsType: "xfs" } }]);
    assert.equal(xfs.status!.claimState, "Bound");
    await waitFor("owner system on the protected disk", async () => (await ld("xfs"))!.spec!.owner === "system");
    const ldn = await c.ldn.get("n1");
    assert.equal(ldn?.status?.state, "Ready");
  });

  test("a claim binds by type and capacity; an impossible one stays Pending and says why per disk", async () => {
    await c.ldc.create({ metadata: { name: "fit" }, spec: { nodeName: "n1", owner: "local-storage", description: { diskType: "HDD", capacity: 1536 * MiB } } });
    await c.ldc.create({
      metadata: { name: "huge" },
      spec: { nodeName: "n1", owner: "local-storage", description: { diskType: "HDD", capacity: 100 * 1024 * MiB } },
    });
    await waitFor("claim fit Bound", async () => (await c.ldc.get("fit"))?.status?.status === "Bound");
    const fit = (await c.ldc.get("fit"))!;
    assert.deepEqual(
      fit.spec!.diskRefs!.map((r) => r.name),
      [name("big")],
    );
    const big = (await ld("big"))!;
    assert.equal(big.spec!.claimRef?.name, "fit");
    assert.equal(big.spec!.owner, "local-storage");
    await waitFor("big Bound", async () => (await ld("big"))!.status?.claimState === "Bound");
    const events = srv!.client.forKind<KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string } }>(EVENT);
    let msg = "";
    await waitFor("AssignFail event", async () => {
      const e = (await events.list({ namespace: "default" })).items.find((x) => x.involvedObject?.name === "huge" && x.reason === "LocalDiskClaimAssignFail");
      msg = e?.message ?? "";
      return !!e;
    });
    assert.equal((await c.ldc.get("huge"))!.status?.status, "Pending");
    assert.match(msg, new RegExp(`${name("mid")}: too small`));
    assert.match(msg, new RegExp(`${name("xfs")}: already|${name("xfs")}: reserved`));
    assert.match(msg, new RegExp(`${name("big")}: already bound to claim fit`));
  });

  test("a claim for a node nobody serves stays Pending with an explanation", async () => {
    await c.ldc.create({ metadata: { name: "ghost" }, spec: { nodeName: "no-such-node", owner: "local-storage" } });
    await waitFor("ghost Pending", async () => (await c.ldc.get("ghost"))?.status?.status === "Pending", 30_000);
    const events = srv!.client.forKind<KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string } }>(EVENT);
    let msg = "";
    await waitFor("explanation", async () => {
      msg = (await events.list({ namespace: "default" })).items.find((x) => x.involvedObject?.name === "ghost")?.message ?? "";
      return msg !== "";
    });
    assert.match(msg, /node no-such-node has no LocalDiskNode: no disk manager runs there \(known nodes: n1\)/);
  });

  test("a local-disk-manager claim joins the disk pool, is recorded, and the claim is cleaned up", async () => {
    const mid = (await ld("mid"))!;
    await c.ld.patch(name("mid"), { spec: { owner: "local-disk-manager" } }); // as users of the original do
    await c.ldc.create({ metadata: { name: "pool" }, spec: { nodeName: "n1", owner: "local-disk-manager", description: { diskType: "HDD" } } });
    await waitFor("claim consumed and deleted", async () => !(await c.ldc.get("pool")), 10_000);
    assert.equal(await readlink(join(dir, "state", "LocalDisk_PoolHDD", "disk", name("mid"))), mid.spec!.devicePath);
    await waitFor("LDN totals", async () => (await c.ldn.get("n1"))?.status?.totalDisk === 1);
    const st = (await c.ldn.get("n1"))!.status!;
    assert.equal(st.totalCapacity, 1024 * MiB);
    assert.equal(st.freeDisk, 1);
    assert.equal(st.freeCapacity, 1024 * MiB);
    assert.deepEqual(st.pools!.LocalDisk_PoolHDD!.disks, [{ devPath: mid.spec!.devicePath, type: "HDD", capacityBytes: 1024 * MiB, state: "Available" }]);
    assert.equal(st.poolExtendRecords!.LocalDisk_PoolHDD![0]!.owner, "local-disk-manager");
  });

  test("a LocalDiskAction reserves disks smaller than minCapacity and records them", async () => {
    await c.lda.create({ metadata: { name: "small-disks" }, spec: { action: "reserve", rule: { minCapacity: 300 * MiB } } });
    await waitFor("small reserved", async () => (await ld("small"))!.spec!.reserved === true);
    await waitFor("latestMatchedLds", async () => ((await c.lda.get("small-disks"))!.status?.latestMatchedLds ?? []).length === 1);
    assert.deepEqual((await c.lda.get("small-disks"))!.status!.latestMatchedLds, [name("small")]);
    assert.equal((await ld("mid"))!.spec!.reserved, false);
    // Unreserve works in any state (a spec edit the manager never reverts).
    await c.ld.patch(name("xfs"), { spec: { reserved: false } });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await ld("xfs"))!.spec!.reserved, false);
    assert.equal((await ld("xfs"))!.status!.claimState, "Bound", "still holds a filesystem");
  });

  test("detach → Inactive within seconds; re-attach on another loop number → the same LocalDisk Active", async () => {
    const old = loops.small!.name;
    await detachLoop(old);
    let t0 = Date.now();
    await waitFor("Inactive", async () => (await ld("small"))!.spec!.state === "Inactive", 30_000);
    const inactiveMs = Date.now() - t0;
    const gone = (await ld("small"))!;
    assert.equal(gone.spec!.devicePath, undefined);
    assert.equal(gone.spec!.preDevicePath, old);
    assert.equal(gone.spec!.major, undefined);
    // Occupy the old number so the disk comes back elsewhere.
    files.filler = join(dir, "filler.img");
    await createSparseFile(files.filler, 64 * MiB);
    const filler = await attachLoop(files.filler);
    const back = await attachLoop(files.small!);
    assert.notEqual(back.name, old, `filler took ${filler.name}`);
    loops.small = back;
    t0 = Date.now();
    await waitFor("Active again", async () => (await ld("small"))!.spec!.state === "Active", 30_000);
    const activeMs = Date.now() - t0;
    const again = (await ld("small"))!;
    assert.equal(again.spec!.devicePath, back.name);
    assert.equal(again.spec!.preDevicePath, old);
    assert.equal(again.spec!.reserved, true, "reservation survives");
    assert.equal((await c.ld.list()).items.length, 4, "no new LocalDisk");
    console.log(`# detach → Inactive ${inactiveMs} ms; re-attach → Active ${activeMs} ms`);
  });

  // The 2 s target is measured by `npm run bench -- --only discovery`; here a loaded machine must not fail the test.
  test("a new disk appears as a LocalDisk (latency printed; the 2 s target lives in the bench)", async () => {
    files.fresh = join(dir, "disks", "fresh.img");
    await createSparseFile(files.fresh, 128 * MiB);
    const t0 = Date.now();
    loops.fresh = await attachLoop(files.fresh);
    await waitFor("new LocalDisk", async () => !!(await ld("fresh")), 30_000);
    const ms = Date.now() - t0;
    await waitFor("Available", async () => (await ld("fresh"))!.status?.claimState === "Available", 30_000);
    console.log(`# attach → LocalDisk ${ms} ms`);
    const disk: Ld = (await ld("fresh"))!;
    assert.equal(disk.spec!.capacity, 128 * MiB);
  });

  test("a disk attached, given a filesystem and detached is followed by probes of that disk alone", async () => {
    files.life = join(dir, "disks", "life.img");
    await createSparseFile(files.life, 64 * MiB);
    loops.life = await attachLoop(files.life);
    await waitFor("Available", async () => (await ld("life"))?.status?.claimState === "Available", 30_000);
    const scans = agent!.disks.scanner.stats.scans;
    // No udevd here: only the agent's watch of the disk's node tells that a filesystem was written.
    let t0 = Date.now();
    await mkfs(loops.life.name, "ext4");
    await waitFor("partitioned", async () => (await ld("life"))!.spec!.partitioned === true, 30_000);
    const mkfsMs = Date.now() - t0;
    // The watch probes 1 s after the last write; a full scan (every 30 s) would take 15 s on average.
    assert.ok(mkfsMs < 10_000, `mkfs → partitioned took ${mkfsMs} ms: the write watch did not probe the disk`);
    assert.deepEqual((await ld("life"))!.spec!.partitionInfo, [{ path: loops.life.name, hasFileSystem: true, filesystem: { fsType: "ext4" } }]);
    await waitFor("Bound (holds data)", async () => (await ld("life"))!.status?.claimState === "Bound", 30_000);
    t0 = Date.now();
    await detachLoop(loops.life.name);
    await waitFor("Inactive", async () => (await ld("life"))!.spec!.state === "Inactive", 30_000);
    const detachMs = Date.now() - t0;
    console.log(`# mkfs → partitioned ${mkfsMs} ms; detach → Inactive ${detachMs} ms; full scans meanwhile: ${agent!.disks.scanner.stats.scans - scans}`);

    // A loop device that is not ours comes and goes: its events are probed (sysfs only), nothing is spawned for it.
    const foreign = join(dir, "foreign.img"); // not under disks/: not selected
    await createSparseFile(foreign, 64 * MiB);
    const argvs: string[][] = [];
    setRunLogger((e) => argvs.push(e.argv));
    let other: LoopDevice | undefined;
    try {
      const probes = agent!.disks.scanner.stats.deviceProbes;
      other = await attachLoop(foreign);
      await waitFor("its events probed", async () => agent!.disks.scanner.stats.deviceProbes > probes, 10_000);
      await detachLoop(other.name);
      const afterDetach = agent!.disks.scanner.stats.deviceProbes;
      await waitFor("its detach probed", async () => agent!.disks.scanner.stats.deviceProbes > afterDetach, 10_000);
      await new Promise((r) => setTimeout(r, 500)); // a late probe of it would show here
      const probing = argvs.filter((a) => /(^|\/)(lsblk|blkid)$/.test(a[0]!)); // (the test's own losetup is in argvs too)
      const touching = probing.filter((a) => a.some((x) => x === other!.name || x.startsWith(`${other!.name}p`)));
      assert.deepEqual(touching, [], "no lsblk/blkid for a device sysfs already refuses");
    } finally {
      setRunLogger(undefined);
      if (other) await detachLoop(other.name).catch(() => {});
    }
  });
});
