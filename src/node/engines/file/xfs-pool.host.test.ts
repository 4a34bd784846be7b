// The file engine with `--file-fs xfs` on real kernel objects: one XFS (reflink=1) per loop disk, a volume on
// the emptiest disk's filesystem, snapshots/clones by reflink on their source's filesystem, a restore across
// disks by copy, pool growth by a new filesystem, crash windows of a member's creation (record written, mkfs
// not run; mkfs run, record not updated), a reboot, and a missing disk reported as UNAVAILABLE (never as an
// empty pool). Needs root and xfsprogs. Everything lives under one temp dir and one /dev link root, removed in
// `after`, also when a step fails.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, mkdtemp, readlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { StoragePools } from "../../../api/names.ts";
import { getXfsHints, mkfs, probeFilesystem } from "../../../host/fs/fs.ts";
import { attachLoop, createSparseFile, detachLoop, type LoopDevice } from "../../../host/loop/loop.ts";
import { listMounts } from "../../../host/mount/mount.ts";
import { cleanupUnder, isCode, sha, writeAt } from "../host-test-helpers.ts";
import { FileEngine } from "./file-engine.ts";
import { registryFile, XFS_COWEXTSIZE_BYTES, type PoolRecord } from "./pool-fs.ts";
import { writeJsonAtomic } from "../common.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const POOL = StoragePools.HDD;

describe("file engine, one XFS per disk (--file-fs xfs)", () => {
  let dir = "";
  const linkRoot = `/dev/hwtest-xfs-${process.pid}`;
  const disks: LoopDevice[] = [];
  let engine!: FileEngine;
  let state = "";
  const record = async (): Promise<PoolRecord> => JSON.parse(await readFile(registryFile(state, POOL), "utf8")) as PoolRecord;
  /** Which member filesystem holds a volume: the mount point its loop device's backing file is under. */
  const storeOf = async (vol: string): Promise<string> => {
    const rep = (await engine.getReplica(POOL, vol))!;
    const back = await readFile(`/sys/block/${rep.kernelDevice.replace("/dev/", "")}/loop/backing_file`, "utf8");
    return back.trim().split("/volumes/")[0]!;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hw-file-engine-xfs-"));
    state = join(dir, "state");
    for (const n of ["d1", "d2", "d3", "d4"]) {
      await createSparseFile(join(dir, `${n}.img`), GiB);
      disks.push(await attachLoop(join(dir, `${n}.img`)));
    }
    engine = new FileEngine({ stateDir: state, devLinkRoot: linkRoot, fsType: "xfs" });
  });

  after(async () => {
    if (dir) await cleanupUnder(dir, linkRoot);
  });

  test("ensurePool makes one reflink XFS per disk; capacity is the sum, a volume is limited to one disk; idempotent", async () => {
    const s = await engine.ensurePool(POOL, "HDD", [disks[0]!.name, disks[1]!.name]);
    assert.deepEqual(
      s.disks.map((d) => d.devPath),
      [disks[0]!.name, disks[1]!.name],
    );
    const rec = await record();
    assert.equal(rec.fsType, "xfs");
    assert.equal(rec.members!.length, 2);
    assert.equal(
      rec.members!.some((m) => m.pending),
      false,
    );
    for (const [i, m] of rec.members!.entries()) {
      const p = await probeFilesystem(disks[i]!.name).catch(() => null); // mounted: blkid may refuse, the mount shows it
      if (p) assert.equal(p.uuid, m.uuid);
      assert.ok((await listMounts()).some((x) => x.target.endsWith(`/disks/${m.uuid}`) && x.fstype === "xfs"));
    }
    assert.ok(s.totalCapacityBytes > 1.8 * GiB && s.totalCapacityBytes <= 2 * GiB, `total ${s.totalCapacityBytes}`);
    assert.ok(s.volumeCapacityBytesLimit <= GiB && s.volumeCapacityBytesLimit > 0.9 * GiB, `limit ${s.volumeCapacityBytesLimit}`);
    assert.equal(engine.capabilities().multiDiskPools, true);
    assert.deepEqual(await engine.ensurePool(POOL, "HDD", [disks[0]!.name, disks[1]!.name]), s);
    assert.deepEqual(await record(), rec);
  });

  test("volumes go to the emptiest disk; one larger than any disk's free space is refused and leaves nothing", async () => {
    const a = await engine.createReplica(POOL, "pvc-a", 300 * MiB);
    const b = await engine.createReplica(POOL, "pvc-b", 200 * MiB);
    assert.notEqual(await storeOf("pvc-a"), await storeOf("pvc-b"));
    await writeAt(a.devPath, 0, Buffer.alloc(4 * MiB, 1));
    await writeAt(b.devPath, 0, Buffer.alloc(4 * MiB, 2));
    // ~1.5 GiB free in the pool, but no disk has 900 MiB.
    const s = await engine.poolStats(POOL);
    assert.ok(s.freeCapacityBytes > 1400 * MiB);
    await assert.rejects(engine.createReplica(POOL, "pvc-big", 900 * MiB), isCode("RESOURCE_EXHAUSTED", /insufficient free space.*emptiest disk/));
    await assert.rejects(engine.expandReplica(POOL, "pvc-a", 1100 * MiB), isCode("RESOURCE_EXHAUSTED", /insufficient free space/));
    assert.deepEqual((await engine.poolStats(POOL)).volumes, ["pvc-a", "pvc-b"]);
    const grown = await engine.expandReplica(POOL, "pvc-b", 248 * MiB);
    assert.equal(grown.allocatedCapacityBytes, 248 * MiB);
    assert.equal(await sha(grown.devPath, 0, 4 * MiB), await sha(b.devPath, 0, 4 * MiB));
  });

  test("snapshot and clone by reflink on the source's disk (cowextsize hint set); rollback; restore across disks copies", async () => {
    const a = (await engine.getReplica(POOL, "pvc-a"))!;
    const sumA = await sha(a.devPath, 0, 4 * MiB);
    const storeA = await storeOf("pvc-a");
    assert.equal((await getXfsHints(join(storeA, "volumes"))).cowextsizeBytes, XFS_COWEXTSIZE_BYTES);
    const snap = await engine.createSnapshot(POOL, "pvc-a", "snap-a");
    assert.equal(snap.sourceVolume, "pvc-a");
    assert.deepEqual(await engine.createSnapshot(POOL, "pvc-a", "snap-a"), snap);
    const clone = await engine.cloneReplica(POOL, "pvc-a", "pvc-a-clone");
    assert.equal(await storeOf("pvc-a-clone"), storeA);
    assert.equal(await sha(clone.devPath, 0, 4 * MiB), sumA);
    await engine.deleteReplica(POOL, "pvc-a-clone");
    await writeAt(a.devPath, 0, Buffer.alloc(4 * MiB, 9));
    assert.notEqual(await sha(a.devPath, 0, 4 * MiB), sumA);
    await engine.rollbackSnapshot(POOL, "snap-a");
    assert.equal(await sha(a.devPath, 0, 4 * MiB), sumA);
    // pvc-b lives on the other disk: the restore copies the data (no reflink between filesystems).
    const storeB = await storeOf("pvc-b");
    assert.notEqual(storeB, storeA);
    await engine.restoreSnapshot(POOL, "snap-a", "pvc-b");
    const b = (await engine.getReplica(POOL, "pvc-b"))!;
    assert.equal(await storeOf("pvc-b"), storeB);
    assert.equal(b.allocatedCapacityBytes, 300 * MiB); // the snapshot's size (larger than the target's 248 MiB)
    assert.equal(await sha(b.devPath, 0, 4 * MiB), sumA);
    assert.deepEqual(
      (await engine.listSnapshots(POOL)).map((s) => s.snapshotName),
      ["snap-a"],
    );
    await engine.deleteSnapshot(POOL, "snap-a");
    await engine.deleteSnapshot(POOL, "snap-a");
    assert.deepEqual(await engine.listSnapshots(POOL), []);
  });

  test("pool growth: a new disk is a new filesystem (crash after the record, before mkfs, converges)", async () => {
    const before = await engine.poolStats(POOL);
    // The crash window: the member is recorded (pending) but mkfs never ran.
    const rec = await record();
    await writeJsonAtomic(registryFile(state, POOL), {
      ...rec,
      members: [...rec.members!, { uuid: "5f0c2a64-3a43-4f0e-9d51-0c6f1f1e2a01", device: disks[2]!.name, pending: true }],
    });
    // activateAll never formats: a pending member is skipped, the pool's other disks serve.
    assert.deepEqual((await engine.activateAll()).errors, []);
    const s = await engine.ensurePool(POOL, "HDD", [disks[0]!.name, disks[1]!.name, disks[2]!.name]);
    assert.ok((await listMounts()).some((m) => m.target.endsWith("/disks/5f0c2a64-3a43-4f0e-9d51-0c6f1f1e2a01") && m.fstype === "xfs"));
    const after = await record();
    assert.deepEqual(
      after.members!.map((m) => [m.uuid, m.pending ?? false]),
      [...rec.members!.map((m) => [m.uuid, false]), ["5f0c2a64-3a43-4f0e-9d51-0c6f1f1e2a01", false]],
    );
    assert.ok(s.totalCapacityBytes > before.totalCapacityBytes + 0.9 * GiB);
    assert.deepEqual(await engine.ensurePool(POOL, "HDD", [disks[0]!.name, disks[1]!.name, disks[2]!.name]), s);
    // The new disk is the emptiest: the next volume goes there.
    await engine.createReplica(POOL, "pvc-c", 500 * MiB);
    assert.match(await storeOf("pvc-c"), /5f0c2a64-3a43-4f0e-9d51-0c6f1f1e2a01$/);
  });

  test("crash after mkfs, before the record: the member is adopted, not formatted again", async () => {
    const rec = await record();
    const uuid = "0b6c7f0e-8a1d-4d4f-a3c2-6f7e2b9d4c11";
    // Format the disk with the UUID first (as the interrupted call did), then record it pending.
    await mkfs(disks[3]!.name, "xfs", { reflink: true, uuid, label: "hwspHDD" });
    await writeJsonAtomic(registryFile(state, POOL), { ...rec, members: [...rec.members!, { uuid, device: disks[3]!.name, pending: true }] });
    const s = await engine.ensurePool(
      POOL,
      "HDD",
      disks.map((d) => d.name),
    );
    assert.equal(s.disks.length, 4);
    assert.equal((await record()).members!.find((m) => m.uuid === uuid)?.pending, undefined);
  });

  test("reboot: deactivateAll, activateAll brings every volume back on its disk; a missing disk makes the pool UNAVAILABLE", async () => {
    const vols = ["pvc-a", "pvc-b", "pvc-c"];
    const before = await Promise.all(vols.map(async (v) => [(await engine.getReplica(POOL, v))!.devPath, await storeOf(v)]));
    const sums = await Promise.all(vols.map(async (v) => sha((await engine.getReplica(POOL, v))!.devPath, 0, 4 * MiB)));
    await engine.deactivateAll();
    assert.equal(
      (await listMounts()).some((m) => m.target.startsWith(dir)),
      false,
    );
    // Disk 2 is gone (pvc-b's): the pool is not mounted at all, and nothing reads as "absent".
    const file2 = disks[1]!.backFile;
    await detachLoop(disks[1]!.name);
    const r1 = await engine.activateAll();
    assert.match(r1.errors.map((e) => e.message).join(";"), /not present/);
    await assert.rejects(engine.getReplica(POOL, "pvc-b"), isCode("UNAVAILABLE"));
    disks[1] = await attachLoop(file2);
    const r2 = await engine.activateAll();
    assert.deepEqual(r2.errors, []);
    assert.deepEqual(r2.activated, vols);
    for (const [i, v] of vols.entries()) {
      const rep = (await engine.getReplica(POOL, v))!;
      assert.deepEqual([rep.devPath, await storeOf(v)], before[i]);
      assert.equal(await readlink(rep.devPath), rep.kernelDevice);
      assert.equal(await sha(rep.devPath, 0, 4 * MiB), sums[i]);
    }
    for (const v of vols) await engine.deleteReplica(POOL, v);
    assert.equal((await engine.poolStats(POOL)).usedCapacityBytes, 0);
    await engine.deactivateAll();
  });
});
