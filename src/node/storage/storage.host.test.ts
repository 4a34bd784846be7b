// Local storage on REAL loop devices against the REAL embedded API server: the node agent (disk manager +
// local storage, file engine) turns a local-storage claim into a pool, reports it in the LocalStorageNode,
// realises LocalVolumeReplicas (devPath, expansion, a full pool, delete), grows the pool online when a disk is
// added later; a second storage node whose claimed disk holds foreign data shows the ExpandFailure with the
// engine's error text. Needs root, btrfs-progs. Every loop device, mount and temp dir is removed in `after`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, open, realpath, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { mkfs } from "../../host/fs/fs.ts";
import { deviceSizeBytes } from "../../host/blkdev.ts";
import { attachLoop, createSparseFile, listLoops } from "../../host/loop/loop.ts";
import { listMounts } from "../../host/mount/mount.ts";
import { startServerWithCrds, TestServer, waitFor } from "../../../test/helpers/api-server.ts";
import { EventRecorder } from "../../kube/events.ts";
import { Informer } from "../../kube/informer.ts";
import { silentLogger } from "../../kube/types.ts";

import type { NodeAgent } from "../agent.ts";
import { startLoopDiskAgent } from "../host-test-helpers.ts";
import type { NodeContext } from "../context.ts";
import { FileEngine } from "../engines/file/file-engine.ts";
import { cleanupUnder } from "../engines/host-test-helpers.ts";
import { hwameistorClients as storageClients, type HwameistorClients as StorageClients, type Lsn, type Lvr } from "../../kube/hwameistor.ts";
import { startLocalStorage, type LocalStorage } from "./index.ts";

const MiB = 2 ** 20;
const POOL = "LocalStorage_PoolHDD";

describe("local storage on real loop devices", () => {
  let srv: TestServer | undefined;
  let dir = "";
  let agent: NodeAgent | undefined;
  let other: LocalStorage | undefined;
  const otherAbort = new AbortController();
  let c!: StorageClients;
  const linkRoot = () => join(dir, "dev");
  const lvr = (name: string, volume: string, bytes: number, pool = POOL): Lvr =>
    ({ metadata: { name }, spec: { volumeName: volume, poolName: pool, nodeName: "n1", requiredCapacityBytes: bytes } }) as Lvr;
  const cond = (r: Lvr | undefined, type: string) => r?.status?.conditions?.find((x) => x.type === type);

  before(async () => {
    srv = await startServerWithCrds();
    c = storageClients(srv.client);
    dir = await mkdtemp(join(tmpdir(), "hw-storage-"));
    await mkdir(join(dir, "disks"));
    await mkdir(join(dir, "later"));
    await mkdir(join(dir, "other"));
    for (const f of ["d1", "d2"]) {
      await createSparseFile(join(dir, "disks", `${f}.img`), 512 * MiB);
      await attachLoop(join(dir, "disks", `${f}.img`));
    }
    const t0 = Date.now();
    agent = await startLoopDiskAgent(srv.client, dir, { localStorage: true, engine: "file", devLinkRoot: linkRoot() });
    console.log(`# node agent with local storage started in ${Date.now() - t0} ms (activateAll ${agent.storage!.activation.ms} ms)`);
  });

  after(async () => {
    await agent?.stop().catch(() => {});
    otherAbort.abort();
    await other?.stop().catch(() => {});
    if (dir) await cleanupUnder(dir, linkRoot());
    await srv?.dispose();
    const leftovers = [
      ...(await listLoops()).filter((l) => l.backFile.startsWith(dir + "/")),
      ...(await listMounts()).filter((m) => m.target.startsWith(dir + "/")),
    ];
    assert.deepEqual(leftovers, [], "no loop device or mount left behind");
  });

  test("a local-storage claim becomes pool LocalStorage_PoolHDD; the LocalStorageNode reports it; the claim is Consumed", async () => {
    await waitFor("2 Available disks", async () => (await c.ld.list()).items.filter((d) => d.status?.claimState === "Available").length === 2, 15_000);
    const t0 = Date.now();
    await c.ldc.create({ metadata: { name: "hdd" }, spec: { nodeName: "n1", owner: "local-storage", description: { diskType: "HDD" } } } as never);
    await waitFor("pool reported", async () => ((await c.lsn.get("n1"))?.status?.pools?.[POOL]?.disks ?? []).length === 2, 30_000);
    console.log(`# claim created → pool of 2 disks in the LocalStorageNode in ${Date.now() - t0} ms`);
    const lsn = (await c.lsn.get("n1"))!;
    assert.equal(lsn.spec?.hostname, "n1");
    assert.deepEqual(lsn.spec?.topogoly, { zone: "default", region: "default" });
    assert.equal(lsn.status?.state, "Ready");
    const pool = lsn.status!.pools![POOL]!;
    assert.equal(pool.class, "HDD");
    assert.equal(pool.type, "REGULAR");
    assert.equal(pool.totalVolumeCount, 1000);
    assert.ok(pool.totalCapacityBytes! > 900 * MiB && pool.totalCapacityBytes! <= 1024 * MiB, `total ${pool.totalCapacityBytes}`);
    assert.equal(pool.freeCapacityBytes, pool.totalCapacityBytes);
    assert.ok(pool.disks!.every((d) => d.state === "InUse" && d.type === "HDD" && d.capacityBytes === 512 * MiB));
    assert.equal(lsn.status!.poolExtendRecords![POOL]!.length, 1);
    const avail = lsn.status!.conditions!.find((x) => x.type === "Available")!;
    assert.equal(avail.status, "True");
    assert.match(avail.message!, /engine file/);
    assert.equal(lsn.status!.engine?.filesystem, "btrfs"); // the file engine's filesystem for new pools (--file-fs)
    assert.equal(lsn.status!.conditions!.find((x) => x.type === "ExpandSuccess")?.status, "True");
    await waitFor("claim consumed", async () => {
      const s = (await c.ldc.get("hdd"))?.status?.status;
      return s === undefined || ["Consumed", "ToBeDeleted", "Deleted"].includes(s);
    });
  });

  test("a replica is realised: Creating → Ready with devPath, conditions, synced; it grows; a full pool says why; delete removes it", async () => {
    const t0 = Date.now();
    await c.lvr.create(lvr("pvc-a-abc123", "pvc-a", 100 * MiB));
    await waitFor("replica Ready", async () => (await c.lvr.get("pvc-a-abc123"))?.status?.state === "Ready", 15_000);
    console.log(`# LocalVolumeReplica created → Ready in ${Date.now() - t0} ms`);
    let r = (await c.lvr.get("pvc-a-abc123"))!;
    assert.equal(r.status!.devPath, join(linkRoot(), POOL, "pvc-a"));
    assert.equal(r.status!.storagePath, r.status!.devPath);
    assert.equal(r.status!.allocatedCapacityBytes, 100 * MiB);
    assert.equal(r.status!.synced, true);
    for (const t of ["Submit", "Create", "Ready"]) assert.equal(cond(r, t)?.status, "True", t);
    assert.ok((await stat(r.status!.devPath!)).isBlockDevice());
    const fh = await open(r.status!.devPath!, "r+");
    await fh.write(Buffer.from("hello replica"), 0, 13, 0);
    await fh.close();

    await c.lvr.patch("pvc-a-abc123", { spec: { requiredCapacityBytes: 200 * MiB } });
    await waitFor("replica grown", async () => (await c.lvr.get("pvc-a-abc123"))?.status?.allocatedCapacityBytes === 200 * MiB, 15_000);
    await waitFor("Ready again", async () => (await c.lvr.get("pvc-a-abc123"))?.status?.state === "Ready");
    assert.equal(await deviceSizeBytes(await realpath(r.status!.devPath!)), 200 * MiB);
    const buf = Buffer.alloc(13);
    const fh2 = await open(r.status!.devPath!, "r");
    await fh2.read(buf, 0, 13, 0);
    await fh2.close();
    assert.equal(buf.toString(), "hello replica");
    await waitFor("pool used", async () => (await c.lsn.get("n1"))?.status?.pools?.[POOL]?.usedCapacityBytes === 200 * MiB, 20_000);
    assert.deepEqual((await c.lsn.get("n1"))!.status!.pools![POOL]!.volumes, ["pvc-a"]);

    await c.lvr.create(lvr("pvc-big-xyz789", "pvc-big", 5 * 1024 * MiB));
    await waitFor("Create=False", async () => cond(await c.lvr.get("pvc-big-xyz789"), "Create")?.status === "False", 15_000);
    r = (await c.lvr.get("pvc-big-xyz789"))!;
    assert.equal(r.status!.state, "Creating");
    assert.match(cond(r, "Create")!.message, /insufficient free space/);
    await c.lvr.patch("pvc-big-xyz789", { spec: { delete: true } });
    await waitFor("full-pool replica gone", async () => !(await c.lvr.get("pvc-big-xyz789")), 15_000);

    const t1 = Date.now();
    await c.lvr.patch("pvc-a-abc123", { spec: { delete: true } });
    await waitFor("replica object gone", async () => !(await c.lvr.get("pvc-a-abc123")), 15_000);
    console.log(`# spec.delete → replica and object gone in ${Date.now() - t1} ms`);
    assert.equal(await stat(join(linkRoot(), POOL, "pvc-a")).catch(() => undefined), undefined);
    await waitFor("space returned", async () => (await c.lsn.get("n1"))?.status?.pools?.[POOL]?.usedCapacityBytes === 0, 20_000);
    assert.equal((await listLoops()).filter((l) => l.backFile.includes("/volumes/")).filter((l) => l.backFile.startsWith(dir)).length, 0);
  });

  test("a burst of replica changes refreshes the LocalStorageNode once per window, and it lists them within the bound", async () => {
    // Every LocalStorageNode status write of n1, seen by the test's own informer.
    const writes: number[] = [];
    const inf = new Informer<Lsn>(c.lsn, { fieldSelector: "metadata.name=n1", log: silentLogger });
    inf.addHandlers({ update: (o, n) => void (o.metadata?.resourceVersion !== n.metadata?.resourceVersion && writes.push(Date.now())) });
    inf.start();
    try {
      await inf.waitForSync();
      const volumes = Array.from({ length: 8 }, (_, i) => `pvc-burst${i}`);
      const t0 = Date.now();
      await Promise.all(volumes.map((v) => c.lvr.create(lvr(`${v}-bbbbbb`, v, 8 * MiB))));
      await waitFor(
        "burst Ready",
        async () => (await c.lvr.list()).items.filter((r) => r.spec?.volumeName?.startsWith("pvc-burst") && r.status?.state === "Ready").length === 8,
        30_000,
      );
      const ready = Date.now();
      const listed = async () => volumes.every((v) => inf.getByName("n1")?.status?.pools?.[POOL]?.volumes?.includes(v));
      // The bound: one pass after the last change (its btrfs commands and one write), queued at once.
      await waitFor("the pool lists the burst", listed, 5_000);
      const elapsed = Date.now() - t0;
      console.log(
        `# 8 replicas: Ready after ${ready - t0} ms, listed in the LocalStorageNode ${Date.now() - ready} ms later; ${writes.length} status writes in ${elapsed} ms`,
      );
      // A burst collapses in the work queue (the node's key queued once) and a pass's own write does not start
      // another: at most one write per change, plus the pass of a periodic refresh.
      assert.ok(writes.length <= volumes.length + 1, `${writes.length} writes for ${volumes.length} replicas`);
      for (const v of volumes) await c.lvr.patch(`${v}-bbbbbb`, { spec: { delete: true } });
      await waitFor("burst gone from the pool", async () => !volumes.some((v) => inf.getByName("n1")?.status?.pools?.[POOL]?.volumes?.includes(v)), 30_000);
    } finally {
      await inf.stop();
    }
  });

  test("a disk added later grows the pool online", async () => {
    const before = (await c.lsn.get("n1"))!.status!.pools![POOL]!.totalCapacityBytes!;
    await c.lvr.create(lvr("pvc-b-aaaaaa", "pvc-b", 64 * MiB));
    await waitFor("replica b Ready", async () => (await c.lvr.get("pvc-b-aaaaaa"))?.status?.state === "Ready", 15_000);
    // The new disk is selected by the agent's --devices glob only once it is attached under disks/.
    await createSparseFile(join(dir, "disks", "d3.img"), 512 * MiB);
    await attachLoop(join(dir, "disks", "d3.img"));
    await waitFor("d3 Available", async () => (await c.ld.list()).items.filter((d) => d.status?.claimState === "Available").length === 1, 20_000);
    const t0 = Date.now();
    await c.ldc.create({ metadata: { name: "hdd-more" }, spec: { nodeName: "n1", owner: "local-storage", description: { diskType: "HDD" } } } as never);
    await waitFor("pool of 3 disks", async () => ((await c.lsn.get("n1"))?.status?.pools?.[POOL]?.disks ?? []).length === 3, 30_000);
    console.log(`# disk added → pool grown online in ${Date.now() - t0} ms`);
    const after = (await c.lsn.get("n1"))!.status!.pools![POOL]!;
    assert.ok(after.totalCapacityBytes! >= before + 450 * MiB, `${before} → ${after.totalCapacityBytes}`);
    assert.equal((await c.lvr.get("pvc-b-aaaaaa"))?.status?.state, "Ready", "an existing replica is untouched by the growth");
    assert.equal((await c.lsn.get("n1"))!.status!.poolExtendRecords![POOL]!.length, 2);
    await c.lvr.patch("pvc-b-aaaaaa", { spec: { delete: true } });
    await waitFor("replica b gone", async () => !(await c.lvr.get("pvc-b-aaaaaa")), 15_000);
  });

  test("a failed pool expansion shows the engine's error text in the ExpandFailure condition; the claim stays Bound", async () => {
    // Node n2 without a disk manager: the test plays it (a LocalDisk and a Bound claim for a disk that holds
    // an ext4 filesystem the disk manager did not report as partitioned, e.g. written after the last scan).
    const file = join(dir, "other", "foreign.img");
    await createSparseFile(file, 256 * MiB);
    const loop = await attachLoop(file);
    await mkfs(loop.name, "ext4");
    await c.ld.create({
      metadata: { name: "localdisk-n2-foreign" },
      spec: { nodeName: "n2", devicePath: loop.name, state: "Active", capacity: 256 * MiB, diskAttributes: { type: "HDD", devType: "disk" } },
    } as never);
    const claim = await c.ldc.create({
      metadata: { name: "n2-hdd" },
      spec: { nodeName: "n2", owner: "local-storage", diskRefs: [{ name: "localdisk-n2-foreign" }] },
    } as never);
    await c.ldc.updateStatus({ ...claim, status: { status: "Bound" } } as never);
    const ctx: NodeContext = {
      nodeName: "n2",
      client: srv!.client,
      recorder: new EventRecorder(srv!.client, { component: "test", host: "n2", log: silentLogger }),
      log: silentLogger,
      stateDir: join(dir, "s2"),
      csiSocketDir: join(dir, "s2", "csi"),
      signal: otherAbort.signal,
    };
    const engine = new FileEngine({ stateDir: ctx.stateDir, devLinkRoot: linkRoot() });
    other = await startLocalStorage(ctx, { engineInstance: { engine, reason: "test" }, csi: false });
    await waitFor("ExpandFailure", async () => (await c.lsn.get("n2"))?.status?.conditions?.find((x) => x.type === "ExpandFailure")?.status === "True", 20_000);
    const ef = (await c.lsn.get("n2"))!.status!.conditions!.find((x) => x.type === "ExpandFailure")!;
    console.log(`# ExpandFailure message: ${ef.message}`);
    assert.match(ef.message!, new RegExp(loop.name));
    assert.match(ef.message!, /ext4|signature|not empty|DeviceNotEmpty/i);
    assert.equal((await c.ldc.get("n2-hdd"))?.status?.status, "Bound");
    assert.deepEqual((await c.lsn.get("n2"))!.status!.pools ?? {}, {});
  });
});
