// Builders and parsers for what needs device-mapper (snapshots, merges, thin pools), against recorded lvs JSON
// of real LVM metadata (testdata/record-dm-metadata.sh) and SYNTHETIC kernel columns (testdata/README.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { HwError } from "../../api/errors.ts";
import { CommandError } from "../runner.ts";
import {
  ddCopyArgv,
  isNoDeviceMapper,
  lvchangeRefreshArgv,
  lvconvertMergeArgv,
  lvcreateThinArgv,
  lvcreateThinCloneArgv,
  lvSnapshotArgv,
  NO_ACTIVATION_CONFIG,
  parseLvs,
  parseMergeOutput,
  thinPoolCreateArgv,
  thinPoolExtendArgv,
  THIN_POOL_LV,
} from "./lvm.ts";

const fixture = (f: string) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8");
const byName = (f: string) => new Map(parseLvs(fixture(f)).map((l) => [l.name, l]));

test("the original's argv (reference §5.3) for snapshots, merge, thin pools and thin volumes", () => {
  const VG = "LocalStorage_PoolHDD";
  // [what the builder gives, the command line it must be: words split at spaces, no argument holds one]
  const cases: Array<[string[], string]> = [
    [
      lvSnapshotArgv(VG, "pvc-1", "snapcontent-1", 1073741824),
      "lvcreate --size 1073741824B --snapshot --name snapcontent-1 --permission r -k n LocalStorage_PoolHDD/pvc-1",
    ],
    // thin: no size (a size would make a COW snapshot of the thin volume)
    [lvSnapshotArgv(VG, "pvc-1", "snapcontent-1", undefined), "lvcreate --snapshot --name snapcontent-1 --permission r -k n LocalStorage_PoolHDD/pvc-1"],
    [lvconvertMergeArgv(VG, "snapcontent-1"), "lvconvert --merge --background LocalStorage_PoolHDD/snapcontent-1"],
    [lvchangeRefreshArgv(VG, "pvc-1"), "lvchange --refresh LocalStorage_PoolHDD/pvc-1"],
    [thinPoolCreateArgv(VG, 10, 1), "lvcreate LocalStorage_PoolHDD --type thin-pool -n LocalStorage_ThinPool -y --poolmetadatasize=1G --size=10G"],
    [thinPoolExtendArgv(VG, { capacityGiB: 20 }), "lvextend LocalStorage_PoolHDD/LocalStorage_ThinPool -y --size=20G"],
    [thinPoolExtendArgv(VG, { capacityGiB: 20, metadataGiB: 2 }), "lvextend LocalStorage_PoolHDD/LocalStorage_ThinPool -y --size=20G --poolmetadatasize=2G"],
    [lvcreateThinArgv(VG, "pvc-2", 8388608), "lvcreate -V 8388608B --thin --thinpool LocalStorage_ThinPool -W y LocalStorage_PoolHDD -n pvc-2 -y"],
    [lvcreateThinCloneArgv(VG, "snapcontent-1", "pvc-3"), "lvcreate -s -k n --thinpool LocalStorage_ThinPool LocalStorage_PoolHDD/snapcontent-1 -n pvc-3 -y"],
    [ddCopyArgv("/dev/VG/snap", "/dev/VG/pvc-4"), "dd if=/dev/VG/snap of=/dev/VG/pvc-4 bs=10M conv=fsync"],
  ];
  for (const [argv, line] of cases) assert.deepEqual(argv, line.split(" "));
  assert.equal(lvSnapshotArgv(VG, "a", "b", 4194304, { noActivation: true })[2], NO_ACTIVATION_CONFIG);
  assert.equal(THIN_POOL_LV, "LocalStorage_ThinPool");
});

test("builders refuse bad input before any command exists", () => {
  assert.throws(() => lvSnapshotArgv("VG", "pvc-1", "snap;reboot", 4194304), HwError);
  assert.throws(() => lvSnapshotArgv("VG", "pvc-1", "s", 0), /snapshot size must be positive/);
  assert.throws(() => lvSnapshotArgv("VG", "pvc-1", "s", 1.5), HwError);
  assert.throws(() => thinPoolCreateArgv("VG", 0, 1), /thin pool size must be positive/);
  assert.throws(() => thinPoolExtendArgv("VG", {}), /nothing to extend/);
  assert.throws(() => lvcreateThinCloneArgv("VG", "../x", "y"), HwError);
  assert.throws(() => ddCopyArgv("/dev/VG/a", "of=/etc/passwd"), HwError);
});

test("recorded: a thick COW snapshot of an LV (metadata restored on a real PV, no kernel)", () => {
  const lvs = byName("lvs-snapshot-thick.json");
  const origin = lvs.get("pvc-thick")!;
  const snap = lvs.get("snapcontent-thick")!;
  assert.equal(origin.kind, "o");
  assert.equal(snap.kind, "s");
  assert.equal(snap.origin, "pvc-thick");
  assert.equal(snap.sizeBytes, 20971520); // the COW area, not the origin's size
  assert.equal(snap.attr, "sri-XXs---"); // read-only, state unknown without device-mapper
  assert.equal(snap.hidden, false);
  assert.equal(snap.merging, false);
  assert.equal(snap.snapshotInvalid, false); // "unknown" here
  assert.equal(snap.time, "2026-12-04 16:01:00 +0000");
});

test("recorded: a merging snapshot is listed in brackets with lv_merging on both LVs", () => {
  const lvs = byName("lvs-snapshot-merging.json");
  const snap = lvs.get("snapcontent-thick")!;
  assert.equal(snap.hidden, true);
  assert.equal(snap.path, "");
  assert.equal(snap.kind, "S");
  assert.equal(snap.merging, true);
  assert.equal(lvs.get("pvc-thick")!.kind, "O");
  assert.equal(lvs.get("pvc-thick")!.merging, true);
});

test("recorded: thin pool, thin volume, thin snapshot and thin clone", () => {
  const lvs = byName("lvs-thin.json");
  const pool = lvs.get("LocalStorage_ThinPool")!;
  assert.equal(pool.segtype, "thin-pool");
  assert.equal(pool.kind, "t");
  assert.equal(pool.sizeBytes, 209715200);
  assert.equal(pool.metadataSizeBytes, 8388608);
  assert.equal(lvs.get("LocalStorage_ThinPool_tdata")!.hidden, true);
  assert.equal(lvs.get("lvol0_pmspare")!.hidden, true);
  const thin = lvs.get("pvc-thin")!;
  assert.equal(thin.segtype, "thin");
  assert.equal(thin.poolLv, "LocalStorage_ThinPool");
  assert.equal(thin.kind, "V");
  assert.equal(thin.sizeBytes, 314572800); // virtual size: more than the pool
  assert.equal(lvs.get("snapcontent-thin")!.origin, "pvc-thin");
  assert.equal(lvs.get("snapcontent-thin")!.attr[1], "r");
  assert.equal(lvs.get("pvc-thin-clone")!.origin, "snapcontent-thin");
});

test("SYNTHETIC kernel columns: active, open, invalid, merge delayed, thin usage", () => {
  const a = byName("lvs-snapshot-active-SYNTHETIC.json");
  assert.equal(a.get("pvc-thick")!.deviceOpen, true);
  assert.equal(a.get("pvc-thick")!.active, true);
  assert.equal(a.get("snapcontent-thick")!.snapPercent, 12.5);
  assert.equal(a.get("snapcontent-thick")!.snapshotInvalid, false);
  assert.equal(byName("lvs-snapshot-invalid-SYNTHETIC.json").get("snapcontent-thick")!.snapshotInvalid, true);
  const d = byName("lvs-merge-delayed-SYNTHETIC.json");
  assert.equal(d.get("snapcontent-thick")!.merging, true);
  assert.equal(d.get("pvc-thick")!.deviceOpen, true);
  assert.equal(byName("lvs-merge-done-SYNTHETIC.json").has("snapcontent-thick"), false);
  const t = byName("lvs-thin-active-SYNTHETIC.json").get("LocalStorage_ThinPool")!;
  assert.equal(t.dataPercent, 23.41);
  assert.equal(t.metadataPercent, 10.55);
});

test("lvconvert --merge output: started vs delayed to the next activation", () => {
  assert.equal(parseMergeOutput(fixture("lvconvert-merge-started-SYNTHETIC.txt")), "started");
  assert.equal(parseMergeOutput(fixture("lvconvert-merge-delayed-SYNTHETIC.txt")), "delayed");
});

test("recorded: every dm-only command's refusal here is classified NoDeviceMapper", () => {
  const blocks = fixture("no-dm-stderr.txt").split(/^\$ /m).filter(Boolean);
  assert.equal(blocks.length, 6);
  for (const b of blocks) {
    const [cmd, ...err] = b.split("\n");
    const e = new CommandError({ argv: cmd!.split(" "), exitCode: 5, signal: null, timedOut: false, stderr: err.join("\n"), stdout: "" });
    assert.ok(isNoDeviceMapper(e), `not classified: ${cmd}`);
  }
});
