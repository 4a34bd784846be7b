// The lvm engine on real PVs (loop devices over sparse files). Where device-mapper is missing (detected at
// runtime, not assumed), LVM runs with activation off and replicas are reached through loop windows; the
// tests that need an active LV, snapshots or thin pools skip with the detected reason. Needs root. The VG gets
// a per-process suffix so concurrent test runs on one machine do not share an LVM name.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdtemp, open, readlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HwError } from "../../../api/errors.ts";
import { StoragePools } from "../../../api/names.ts";
import { deviceSizeBytes } from "../../../host/blkdev.ts";
import { attachLoop, createSparseFile, listLoops, type LoopDevice } from "../../../host/loop/loop.ts";
import * as lvm from "../../../host/lvm/lvm.ts";
import { run } from "../../../host/runner.ts";
import { hasDeviceMapper } from "../dm.ts";
import { cleanupUnder, isCode, sha } from "../host-test-helpers.ts";
import { LvmEngine } from "./lvm-engine.ts";

const MiB = 1024 * 1024;
const POOL = StoragePools.SSD;
const SUFFIX = `_t${process.pid}`;
const VG = POOL + SUFFIX;

describe("lvm engine on real PVs", async () => {
  const dm = await hasDeviceMapper();
  let dir = "";
  const linkRoot = `/dev/hwtest-lvm-${process.pid}`;
  const disks: LoopDevice[] = [];
  let engine!: LvmEngine;
  let sum = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hw-lvm-engine-"));
    for (const n of ["p1", "p2", "p3"]) {
      await createSparseFile(join(dir, `${n}.img`), 128 * MiB);
      disks.push(await attachLoop(join(dir, `${n}.img`)));
    }
    engine = new LvmEngine({ devLinkRoot: linkRoot, vgSuffix: SUFFIX, stateDir: dir });
  });

  after(async () => {
    // Loop windows first (they are loops over the PV files), then the VG and PVs, then the disks.
    for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/") && l.offset > 0) await run(["losetup", "-d", l.name]).catch(() => undefined);
    await run(["vgremove", "--config", lvm.NO_ACTIVATION_CONFIG, "-ff", "-y", VG], { env: { LVM_SUPPRESS_FD_WARNINGS: "1" } }).catch(() => undefined);
    for (const d of disks) await lvm.pvremove([d.name]).catch(() => undefined);
    if (dir) await cleanupUnder(dir, linkRoot);
  });

  test("ensurePool: pvcreate + vgcreate, then vgextend online with a third disk; idempotent", async () => {
    const s = await engine.ensurePool(POOL, "SSD", [disks[0]!.name, disks[1]!.name]);
    assert.equal(s.path, `/dev/${VG}`);
    assert.deepEqual(s.disks.map((d) => d.devPath).sort(), [disks[0]!.name, disks[1]!.name].sort());
    assert.equal(s.totalCapacityBytes, 2 * 124 * MiB); // 128 MiB minus 1 MiB metadata area, in 4 MiB extents
    assert.equal(s.freeCapacityBytes, s.totalCapacityBytes);
    assert.deepEqual(await engine.ensurePool(POOL, "SSD", [disks[0]!.name, disks[1]!.name]), s);
    const grown = await engine.ensurePool(
      POOL,
      "SSD",
      disks.map((d) => d.name),
    );
    assert.equal(grown.disks.length, 3);
    assert.equal(grown.totalCapacityBytes, 3 * 124 * MiB);
    assert.deepEqual(await engine.listPools(), [POOL]);
  });

  test("createReplica: an LV (metadata); reachable through a loop window without device-mapper", async () => {
    const r = await engine.createReplica(POOL, "pvc-l1", 30 * MiB);
    assert.equal(r.allocatedCapacityBytes, 32 * MiB);
    const [lv] = (await lvm.listLvs(VG)).filter((l) => l.name === "pvc-l1");
    assert.equal(lv?.sizeBytes, 32 * MiB);
    assert.deepEqual(await engine.createReplica(POOL, "pvc-l1", 30 * MiB), r);
    if (dm.available) {
      assert.equal(r.devPath, `/dev/${VG}/pvc-l1`);
      return;
    }
    assert.equal(lv?.active, false, "without device-mapper the LV exists in metadata only");
    assert.equal(r.devPath, join(linkRoot, VG, "pvc-l1"));
    assert.equal(r.active, true);
    assert.equal(await readlink(r.devPath), r.kernelDevice);
    assert.equal(await deviceSizeBytes(r.devPath), 32 * MiB);
    const data = randomBytes(MiB);
    const fh = await open(r.devPath, "r+");
    await fh.write(data, 0, data.length, 0);
    await fh.sync();
    await fh.close();
    sum = createHash("sha256").update(data).digest("hex");
    // The bytes are where LVM's metadata says the LV starts on the PV.
    const [pv] = await lvm.listPvs([lv!.devices.replace(/\(\d+\)$/, "")]);
    const vg = (await lvm.getVg(VG))!;
    const pvLoop = disks.find((d) => d.name === pv!.name)!;
    const back = await open(pvLoop.backFile, constants.O_RDONLY);
    const buf = Buffer.alloc(MiB);
    await back.read(buf, 0, MiB, pv!.peStartBytes + (lv!.segStartPe ?? 0) * vg.extentSizeBytes);
    await back.close();
    assert.equal(createHash("sha256").update(buf).digest("hex"), sum);
  });

  test("RESOURCE_EXHAUSTED 'insufficient free space' leaves no LV behind", async () => {
    const before = await engine.poolStats(POOL);
    await assert.rejects(engine.createReplica(POOL, "pvc-huge", before.freeCapacityBytes + 4 * MiB), isCode("RESOURCE_EXHAUSTED", /insufficient free space/));
    assert.deepEqual(await engine.poolStats(POOL), before);
    assert.deepEqual(before.volumes, ["pvc-l1"]);
  });

  test("expand (window re-created at the same devPath), reboot re-activation, delete; idempotent", async (t) => {
    const r0 = (await engine.getReplica(POOL, "pvc-l1"))!;
    const r = await engine.expandReplica(POOL, "pvc-l1", 60 * MiB);
    assert.equal(r.allocatedCapacityBytes, 60 * MiB);
    assert.equal(r.devPath, r0.devPath);
    assert.deepEqual(await engine.expandReplica(POOL, "pvc-l1", 60 * MiB), r);
    if (!dm.available) {
      const segs = (await lvm.listLvs(VG)).filter((l) => l.name === "pvc-l1").length;
      t.diagnostic(`LV segments after lvextend: ${segs}`);
      if (segs === 1) {
        assert.equal(r.active, true);
        assert.equal(await deviceSizeBytes(r.devPath), 60 * MiB);
        assert.equal(await sha(r.devPath, 0, MiB), sum);
        await engine.deactivateAll();
        await assert.rejects(readlink(r.devPath));
        const rep = await engine.activateAll();
        assert.deepEqual(rep.activated, ["pvc-l1"]);
        assert.equal((await engine.getReplica(POOL, "pvc-l1"))!.devPath, r.devPath);
        assert.equal(await sha(r.devPath, 0, MiB), sum);
      } else {
        assert.equal(r.active, false);
        assert.match(r.inactiveReason ?? "", /segments/);
      }
    }
    await engine.deleteReplica(POOL, "pvc-l1");
    await engine.deleteReplica(POOL, "pvc-l1");
    assert.deepEqual(
      (await lvm.listLvs(VG)).filter((l) => l.name === "pvc-l1"),
      [],
    );
    assert.equal(
      (await listLoops()).some((l) => l.backFile.startsWith(dir + "/") && l.offset > 0),
      false,
    );
    assert.equal((await engine.poolStats(POOL)).usedCapacityBytes, 0);
  });

  test("without device-mapper: snapshots, thin volumes, thin pools refused before any command, nothing changed", async (t) => {
    if (dm.available) {
      t.skip("device-mapper present: the next tests exercise the real thing");
      return;
    }
    await engine.createReplica(POOL, "pvc-s1", 8 * MiB);
    const before = JSON.stringify(await lvm.listLvs(VG));
    await assert.rejects(
      engine.createSnapshot(POOL, "pvc-s1", "snapcontent-s1", { sizeBytes: 4 * MiB }),
      isCode(
        "FAILED_PRECONDITION",
        /snapshot snapcontent-s1 of volume pvc-s1 .*needs LVM snapshots \(dm-snapshot\), which this node lacks: device-mapper unavailable/,
      ),
    );
    await assert.rejects(
      engine.createReplica(POOL, "pvc-thin1", 8 * MiB, { thin: true }),
      isCode("FAILED_PRECONDITION", /thin volume pvc-thin1 in pool .* needs thin provisioning/),
    );
    await assert.rejects(engine.ensureThinPool(POOL, 1, 1), isCode("FAILED_PRECONDITION", /thin pool of .* needs thin provisioning/));
    await assert.rejects(engine.rollbackSnapshot(POOL, "snapcontent-s1"), isCode("NOT_FOUND", /snapshot snapcontent-s1 of volume \(unknown\) does not exist/));
    await assert.rejects(
      engine.createReplica(POOL, "pvc-c1", 8 * MiB, { sourceVolume: "pvc-s1" }),
      isCode("FAILED_PRECONDITION", /thick clones go through a snapshot and a restore/),
    );
    assert.equal(JSON.stringify(await lvm.listLvs(VG)), before, "no LV was created or changed");
    assert.deepEqual(await engine.listSnapshots(POOL, "pvc-s1"), []);
    const caps = engine.capabilities();
    for (const f of [caps.snapshots, caps.thin!, caps.encryption!]) {
      assert.equal(f.supported, false);
      assert.match(f.reason ?? "", /device-mapper unavailable/);
    }
    assert.equal((await engine.poolStats(POOL)).thinPool, undefined);
    await engine.deleteReplica(POOL, "pvc-s1");
  });

  // Written for machines with device-mapper; on this kernel they skip with the detected reason.
  test(
    "COW snapshot with snapsize, restore by dd, rollback by lvconvert --merge",
    { skip: dm.available ? false : `cannot run here: ${dm.reason}` },
    async () => {
      const r = await engine.createReplica(POOL, "pvc-snap", 16 * MiB);
      const fh = await open(r.devPath, constants.O_WRONLY | constants.O_DIRECT | constants.O_SYNC);
      const a = Buffer.alloc(MiB, 0xaa);
      await fh.write(a, 0, MiB, 0);
      const s = await engine.createSnapshot(POOL, "pvc-snap", "snapcontent-a", { sizeBytes: 8 * MiB });
      assert.equal(s.sizeBytes, 8 * MiB);
      assert.equal((await engine.createSnapshot(POOL, "pvc-snap", "snapcontent-a")).snapshotName, "snapcontent-a"); // idempotent
      await fh.write(Buffer.alloc(MiB, 0xbb), 0, MiB, 0);
      await fh.close();
      await engine.createReplica(POOL, "pvc-restored", 16 * MiB);
      await engine.restoreSnapshot(POOL, "snapcontent-a", "pvc-restored");
      assert.equal(await sha(`/dev/${VG}/pvc-restored`, 0, MiB), createHash("sha256").update(a).digest("hex"));
      for (let i = 0; i < 60; i++) {
        if (!(await engine.rollbackSnapshot(POOL, "snapcontent-a"))) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      assert.equal(await sha(r.devPath, 0, MiB), createHash("sha256").update(a).digest("hex"));
      assert.deepEqual(await engine.listSnapshots(POOL, "pvc-snap"), []); // the merge consumed the snapshot
      await engine.deleteReplica(POOL, "pvc-restored");
      await engine.deleteReplica(POOL, "pvc-snap");
    },
  );

  test(
    "thin pool, thin volume over-committed past its ratio refused, thin snapshot and clone",
    { skip: dm.available ? false : `cannot run here: ${dm.reason}` },
    async () => {
      const tp = await engine.ensureThinPool(POOL, 1, 1).catch((e: unknown) => e);
      if (tp instanceof HwError && tp.code === "RESOURCE_EXHAUSTED") return; // 3 × 128 MiB test disks: no room for a 1 GiB pool
      assert.ok(!(tp instanceof Error), String(tp));
      await engine.createReplica(POOL, "pvc-t1", 512 * MiB, { thin: true, overProvisionRatio: "1.0" });
      await assert.rejects(
        engine.createReplica(POOL, "pvc-t2", 1024 * MiB, { thin: true, overProvisionRatio: "1.0" }),
        isCode("RESOURCE_EXHAUSTED", /thin pool/),
      );
      await engine.createSnapshot(POOL, "pvc-t1", "snapcontent-t1");
      const c = await engine.createReplica(POOL, "pvc-t3", 512 * MiB, { thin: true, sourceVolume: "snapcontent-t1", overProvisionRatio: "2.0" });
      assert.equal(c.active, true);
      for (const v of ["pvc-t3"]) await engine.deleteReplica(POOL, v);
      await engine.deleteSnapshot(POOL, "snapcontent-t1");
      await engine.deleteReplica(POOL, "pvc-t1");
    },
  );

  test("active LVs at /dev/<VG>/<vol>", { skip: dm.available ? false : `cannot run here: ${dm.reason}` }, async () => {
    const r = await engine.createReplica(POOL, "pvc-act", 8 * MiB);
    assert.equal(r.devPath, `/dev/${VG}/pvc-act`);
    assert.equal(r.active, true);
    await engine.deleteReplica(POOL, "pvc-act");
  });
});
