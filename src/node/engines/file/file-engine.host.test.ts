// The file engine on real kernel objects: a btrfs pool over two loop disks (a third added later), replicas as
// sparse files on loop devices, data through the replica device surviving a simulated reboot (detach +
// unmount, then activateAll), RESOURCE_EXHAUSTED leaving nothing behind, crash leftovers converging, and
// idempotency of every call. Needs root. Everything lives under one temp dir and one /dev/hwtest-<pid> link
// root, and is removed in `after`, also when a step fails.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readlink, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { StoragePools } from "../../../api/names.ts";
import { deviceSizeBytes } from "../../../host/blkdev.ts";
import { attachLoop, createSparseFile, detachLoop, findLoopsByBackingFile, listLoops, type LoopDevice } from "../../../host/loop/loop.ts";
import { listMounts } from "../../../host/mount/mount.ts";
import { forgetDevices } from "../../../host/btrfs/btrfs.ts";
import { cleanupUnder, isCode, sha, writeAt } from "../host-test-helpers.ts";
import { FileEngine } from "./file-engine.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const POOL = StoragePools.HDD;

describe("file engine (btrfs) on real loop devices", () => {
  let dir = "";
  const linkRoot = `/dev/hwtest-${process.pid}`;
  const disks: LoopDevice[] = [];
  let engine!: FileEngine;
  let sumA = "";
  let sumA2 = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hw-file-engine-"));
    for (const n of ["d1", "d2", "d3"]) {
      await createSparseFile(join(dir, `${n}.img`), GiB);
      disks.push(await attachLoop(join(dir, `${n}.img`)));
    }
    engine = new FileEngine({ stateDir: join(dir, "state"), devLinkRoot: linkRoot });
  });

  after(async () => {
    if (dir) await cleanupUnder(dir, linkRoot);
  });

  test("ensurePool creates a btrfs pool over two disks; idempotent", async () => {
    const s = await engine.ensurePool(POOL, "HDD", [disks[0]!.name, disks[1]!.name]);
    assert.equal(s.name, POOL);
    assert.equal(s.class, "HDD");
    assert.deepEqual(
      s.disks.map((d) => d.devPath),
      [disks[0]!.name, disks[1]!.name],
    );
    assert.ok(s.totalCapacityBytes > 1.5 * GiB && s.totalCapacityBytes <= 2 * GiB, `total ${s.totalCapacityBytes}`);
    assert.equal(s.usedCapacityBytes, 0);
    assert.equal(s.freeCapacityBytes, s.totalCapacityBytes);
    assert.equal(s.totalVolumeCount, 1000);
    assert.deepEqual(s.volumes, []);
    const again = await engine.ensurePool(POOL, "HDD", [disks[1]!.name, disks[0]!.name]);
    assert.deepEqual(again, s);
    assert.deepEqual(await engine.listPools(), [POOL]);
    await assert.rejects(engine.ensurePool("LocalStorage_PoolFOO", "HDD", [disks[2]!.name]), isCode("INVALID_ARGUMENT", /HDD\|SSD\|NVMe/));
    await assert.rejects(engine.ensurePool(POOL, "SSD", [disks[2]!.name]), isCode("INVALID_ARGUMENT"));
  });

  test("createReplica: stable devPath symlink to a direct-I/O loop device; idempotent; names validated", async () => {
    const r = await engine.createReplica(POOL, "pvc-a", 100 * MiB - 1);
    assert.equal(r.devPath, join(linkRoot, POOL, "pvc-a"));
    assert.equal(r.storagePath, r.devPath);
    assert.equal(r.allocatedCapacityBytes, 100 * MiB);
    assert.match(r.kernelDevice, /^\/dev\/loop\d+$/);
    assert.equal(await readlink(r.devPath), r.kernelDevice);
    assert.equal(await deviceSizeBytes(r.devPath), 100 * MiB);
    const lo = (await listLoops()).find((l) => l.name === r.kernelDevice)!;
    assert.equal(lo.directIo, true);
    assert.deepEqual(await engine.createReplica(POOL, "pvc-a", 100 * MiB), r);
    assert.deepEqual(await engine.createReplica(POOL, "pvc-a", 8 * MiB), r); // smaller: the existing one
    await assert.rejects(engine.createReplica(POOL, "pvc-a", 200 * MiB), isCode("ALREADY_EXISTS"));
    assert.equal((await findLoopsByBackingFile(lo.backFile)).length, 1);
    for (const bad of ["../x", "-rf", ".hidden", "a b", ""]) await assert.rejects(engine.createReplica(POOL, bad, MiB), isCode("INVALID_ARGUMENT"));
    await assert.rejects(engine.createReplica(POOL, "pvc-z", 0), isCode("INVALID_ARGUMENT"));
    assert.deepEqual(await engine.getReplica(POOL, "pvc-a"), r);
    assert.equal(await engine.getReplica(POOL, "pvc-none"), undefined);
    const s = await engine.poolStats(POOL);
    assert.equal(s.usedCapacityBytes, 100 * MiB);
    assert.deepEqual(s.volumes, ["pvc-a"]);
  });

  test("data written through the replica survives expand", async () => {
    const r = (await engine.getReplica(POOL, "pvc-a"))!;
    await writeAt(r.devPath, 0, randomBytes(4 * MiB));
    await writeAt(r.devPath, 96 * MiB, randomBytes(4 * MiB));
    sumA = await sha(r.devPath, 0, 4 * MiB);
    sumA2 = await sha(r.devPath, 96 * MiB, 4 * MiB);
    const x = await engine.expandReplica(POOL, "pvc-a", 150 * MiB);
    assert.equal(x.allocatedCapacityBytes, 152 * MiB); // rounded up to 4 MiB
    assert.equal(x.kernelDevice, r.kernelDevice);
    assert.equal(await deviceSizeBytes(r.devPath), 152 * MiB);
    assert.deepEqual(await engine.expandReplica(POOL, "pvc-a", 152 * MiB), x);
    assert.deepEqual(await engine.expandReplica(POOL, "pvc-a", 10 * MiB), x); // never shrinks
    await assert.rejects(engine.expandReplica(POOL, "pvc-none", 10 * MiB), isCode("NOT_FOUND"));
    assert.equal(await sha(r.devPath, 0, 4 * MiB), sumA);
    assert.equal(await sha(r.devPath, 96 * MiB, 4 * MiB), sumA2);
  });

  test("concurrent creates that fill the pool exactly: each is promised once while its file is being written, the next is refused", async () => {
    // The files are written outside the pool lock: only the in-memory promise keeps the next check honest.
    const free = (await engine.poolStats(POOL)).freeCapacityBytes;
    const size = Math.floor(free / 4 / (4 * MiB)) * 4 * MiB;
    const names = Array.from({ length: 5 }, (_, i) => `pvc-fill-${i}`);
    const res = await Promise.allSettled(names.map((n) => engine.createReplica(POOL, n, size)));
    const refused = res.filter((r) => r.status === "rejected");
    assert.equal(refused.length, 1, `4 of 5 fit: ${refused.map((r) => String((r as PromiseRejectedResult).reason)).join("; ")}`);
    assert.match(String((refused[0] as PromiseRejectedResult).reason), /insufficient free space/);
    const stats = await engine.poolStats(POOL);
    assert.ok(stats.usedCapacityBytes <= stats.totalCapacityBytes, `used ${stats.usedCapacityBytes} > total ${stats.totalCapacityBytes}`);
    for (const n of names) await engine.deleteReplica(POOL, n);
    assert.equal((await engine.poolStats(POOL)).freeCapacityBytes, free);
  });

  test("RESOURCE_EXHAUSTED 'insufficient free space' leaves nothing behind", async () => {
    const before = await engine.poolStats(POOL);
    const loopsBefore = (await listLoops()).length;
    await assert.rejects(engine.createReplica(POOL, "pvc-big", before.freeCapacityBytes + 4 * MiB), isCode("RESOURCE_EXHAUSTED", /insufficient free space/));
    await assert.rejects(
      engine.expandReplica(POOL, "pvc-a", 152 * MiB + before.freeCapacityBytes + 4 * MiB),
      isCode("RESOURCE_EXHAUSTED", /insufficient free space/),
    );
    assert.deepEqual(await engine.poolStats(POOL), before);
    assert.equal((await listLoops()).length, loopsBefore);
    assert.deepEqual((await readdir(join(before.path, "volumes"))).sort(), ["pvc-a.img"]);
    assert.deepEqual(await readdir(join(linkRoot, POOL)), ["pvc-a"]);
    assert.equal(await engine.getReplica(POOL, "pvc-big"), undefined);
    // Exactly the free space fits.
    const fit = await engine.createReplica(POOL, "pvc-fit", before.freeCapacityBytes);
    assert.equal((await engine.poolStats(POOL)).freeCapacityBytes, 0);
    await engine.deleteReplica(POOL, fit.volumeName);
  });

  test("crash leftovers converge: partial file, complete file never attached, attached but never linked", async () => {
    const vols = join((await engine.poolStats(POOL)).path, "volumes");
    // 1. crash while sizing the file: only the partial exists.
    await writeFile(join(vols, ".pvc-c.img.partial"), "torn");
    // 2. crash after the file was complete but before attach.
    await createSparseFile(join(vols, "pvc-d.img"), 8 * MiB);
    // 3. crash after attach, before the symlink.
    await createSparseFile(join(vols, "pvc-e.img"), 8 * MiB);
    const pre = await attachLoop(join(vols, "pvc-e.img"));

    const c = await engine.createReplica(POOL, "pvc-c", 8 * MiB);
    assert.equal((await stat(join(vols, "pvc-c.img"))).size, 8 * MiB);
    await assert.rejects(stat(join(vols, ".pvc-c.img.partial")));
    assert.equal(c.active, true);
    const before = await engine.getReplica(POOL, "pvc-d");
    assert.equal(before?.active, false);
    const d = await engine.createReplica(POOL, "pvc-d", 8 * MiB);
    assert.equal(d.active, true);
    const e = await engine.createReplica(POOL, "pvc-e", 8 * MiB);
    assert.equal(e.kernelDevice, pre.name); // the existing attachment was re-used, not a second one
    assert.equal((await findLoopsByBackingFile(join(vols, "pvc-e.img"))).length, 1);
    for (const v of ["pvc-c", "pvc-d", "pvc-e"]) await engine.deleteReplica(POOL, v);
  });

  test("concurrent creates and deletes in one pool: one loop device each, nothing leaked", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `pvc-par-${i}`);
    const reps = await Promise.all(names.map((n) => engine.createReplica(POOL, n, 8 * MiB)));
    assert.equal(new Set(reps.map((r) => r.kernelDevice)).size, names.length);
    const again = await Promise.all(names.map((n) => engine.createReplica(POOL, n, 8 * MiB)));
    assert.deepEqual(
      again.map((r) => r.kernelDevice),
      reps.map((r) => r.kernelDevice),
    );
    await Promise.all(names.map((n) => engine.deleteReplica(POOL, n)));
    assert.deepEqual(
      (await engine.listReplicas(POOL)).map((r) => r.volumeName),
      ["pvc-a"],
    );
    assert.equal(
      (await listLoops()).some((l) => l.backFile.includes("pvc-par-")),
      false,
    );
  });

  test("reflink clone and snapshot/restore", async () => {
    const c = await engine.cloneReplica(POOL, "pvc-a", "pvc-clone");
    assert.equal(c.allocatedCapacityBytes, 152 * MiB);
    assert.equal(await sha(c.devPath, 0, 4 * MiB), sumA);
    assert.deepEqual(await engine.cloneReplica(POOL, "pvc-a", "pvc-clone"), c);
    const snap = await engine.createSnapshot(POOL, "pvc-clone", "snap-1");
    assert.equal(snap.sourceVolume, "pvc-clone");
    assert.deepEqual(await engine.createSnapshot(POOL, "pvc-clone", "snap-1"), snap);
    await writeAt(c.devPath, 0, Buffer.alloc(4 * MiB, 7));
    assert.notEqual(await sha(c.devPath, 0, 4 * MiB), sumA);
    assert.equal(await sha((await engine.getReplica(POOL, "pvc-a"))!.devPath, 0, 4 * MiB), sumA); // the source is untouched
    await engine.rollbackSnapshot(POOL, "snap-1");
    assert.equal(await sha(c.devPath, 0, 4 * MiB), sumA);
    assert.deepEqual(
      (await engine.listSnapshots(POOL)).map((s) => s.snapshotName),
      ["snap-1"],
    );
    await engine.deleteSnapshot(POOL, "snap-1");
    await engine.deleteSnapshot(POOL, "snap-1");
    await engine.deleteReplica(POOL, "pvc-clone");
    assert.deepEqual(await engine.listSnapshots(POOL), []);
  });

  test("reboot: deactivateAll, then activateAll brings back the same devPath with the data", async () => {
    const r = (await engine.getReplica(POOL, "pvc-a"))!;
    await engine.deactivateAll();
    assert.equal(
      (await listMounts()).some((m) => m.target === r.devPath || m.target.startsWith(dir)),
      false,
    );
    assert.equal(
      (await listLoops()).some((l) => l.name === r.kernelDevice),
      false,
    );
    await assert.rejects(readlink(r.devPath)); // /dev is empty after a reboot
    // An unmounted pool is UNAVAILABLE, not empty (a reconciler must not re-create what it cannot see).
    await assert.rejects(engine.getReplica(POOL, "pvc-a"), isCode("UNAVAILABLE", /not mounted/));
    await assert.rejects(engine.createReplica(POOL, "pvc-new", MiB), isCode("UNAVAILABLE"));
    // Take the old loop number so activation must pick another one: the path must still come back.
    await createSparseFile(join(dir, "squat.img"), MiB);
    const squat = await attachLoop(join(dir, "squat.img"));
    try {
      const report = await engine.activateAll();
      assert.deepEqual(report.errors, []);
      assert.deepEqual(report.pools, [POOL]);
      assert.deepEqual(report.activated, ["pvc-a"]);
      const back = (await engine.getReplica(POOL, "pvc-a"))!;
      assert.equal(back.devPath, r.devPath);
      assert.equal(back.active, true);
      assert.equal(await readlink(back.devPath), back.kernelDevice);
      assert.equal(await sha(back.devPath, 0, 4 * MiB), sumA);
      assert.equal(await sha(back.devPath, 96 * MiB, 4 * MiB), sumA2);
      const again = await engine.activateAll();
      assert.deepEqual(again.activated, ["pvc-a"]);
      assert.equal((await engine.getReplica(POOL, "pvc-a"))!.kernelDevice, back.kernelDevice);
    } finally {
      await detachLoop(squat.name);
    }
  });

  test("reboot that renumbers the pool's disks: activateAll finds them by filesystem UUID", async () => {
    const r = (await engine.getReplica(POOL, "pvc-a"))!;
    await engine.deactivateAll();
    // Detach both pool disks and attach them again behind a squatter, so both get other loop numbers.
    const files = [disks[0]!.backFile, disks[1]!.backFile];
    await forgetDevices([disks[0]!.name, disks[1]!.name]);
    for (const d of [disks[0]!, disks[1]!]) await detachLoop(d.name);
    await createSparseFile(join(dir, "squat2.img"), MiB);
    const squat = await attachLoop(join(dir, "squat2.img"));
    try {
      disks[0] = await attachLoop(files[0]!);
      disks[1] = await attachLoop(files[1]!);
      const report = await engine.activateAll();
      assert.deepEqual(report.errors, []);
      assert.deepEqual(report.activated, ["pvc-a"]);
      assert.equal(await sha(r.devPath, 0, 4 * MiB), sumA);
      const s = await engine.ensurePool(POOL, "HDD", [disks[0]!.name, disks[1]!.name]);
      assert.deepEqual(s.disks.map((d) => d.devPath).sort(), [disks[0]!.name, disks[1]!.name].sort());
    } finally {
      await detachLoop(squat.name);
    }
  });

  test("the pool grows online when a third disk is added; idempotent", async () => {
    const before = await engine.poolStats(POOL);
    const s = await engine.ensurePool(
      POOL,
      "HDD",
      disks.map((d) => d.name),
    );
    assert.equal(s.disks.length, 3);
    assert.ok(s.totalCapacityBytes >= before.totalCapacityBytes + 0.9 * GiB, `${before.totalCapacityBytes} → ${s.totalCapacityBytes}`);
    assert.equal(s.usedCapacityBytes, before.usedCapacityBytes);
    assert.deepEqual(
      await engine.ensurePool(
        POOL,
        "HDD",
        disks.map((d) => d.name),
      ),
      s,
    );
    // The volume kept working across the grow.
    assert.equal(await sha((await engine.getReplica(POOL, "pvc-a"))!.devPath, 0, 4 * MiB), sumA);
  });

  test("deleteReplica keeps the file under its loop device when losetup fails", async () => {
    // The only fake: a `losetup` first on PATH that fails as a broken one would; the real runner spawns it.
    // Loop devices are listed from sysfs, so the command that fails is the detach: the file under the still
    // attached device must stay (the devPath link is already gone; the caller's retry finishes the delete).
    const bin = join(dir, "failing-bin");
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, "losetup"), "#!/bin/sh\necho 'losetup: cannot open /dev/loop-control: Input/output error' >&2\nexit 1\n", { mode: 0o755 });
    const broken = new FileEngine({ stateDir: join(dir, "state"), devLinkRoot: linkRoot, run: { env: { PATH: `${bin}:${process.env.PATH}` } } });
    const r = (await engine.getReplica(POOL, "pvc-a"))!;
    await assert.rejects(broken.deleteReplica(POOL, "pvc-a"), /loop-control/);
    const still = await engine.getReplica(POOL, "pvc-a"); // undefined if the file had been removed
    assert.equal(still?.kernelDevice, r.kernelDevice, "the loop device stays attached to the file");
    assert.ok((await listLoops()).some((l) => l.name === r.kernelDevice && l.backFile.endsWith("/pvc-a.img") && !l.backFileDeleted));
  });

  test("deleteReplica refuses an in-use device, then deletes; idempotent", async () => {
    const r = (await engine.getReplica(POOL, "pvc-a"))!;
    const holder = await open(r.kernelDevice, constants.O_RDONLY | constants.O_EXCL);
    try {
      await assert.rejects(engine.deleteReplica(POOL, "pvc-a"), isCode("FAILED_PRECONDITION", /in use/));
    } finally {
      await holder.close();
    }
    await engine.deleteReplica(POOL, "pvc-a");
    await engine.deleteReplica(POOL, "pvc-a");
    assert.equal(await engine.getReplica(POOL, "pvc-a"), undefined);
    assert.equal(
      (await listLoops()).some((l) => l.name === r.kernelDevice && l.backFile.includes("pvc-a")),
      false,
    );
    await assert.rejects(readlink(r.devPath));
    const s = await engine.poolStats(POOL);
    assert.equal(s.usedCapacityBytes, 0);
    assert.deepEqual(s.volumes, []);
    assert.deepEqual(await engine.listReplicas(), []);
  });
});
