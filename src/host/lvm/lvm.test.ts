import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  lvcreateArgv,
  lvextendArgv,
  parseLvs,
  parsePvs,
  parseVgs,
  pvmoveArgv,
  roundUpToExtent,
  vgcreateArgv,
  vgreduceArgv,
  NO_ACTIVATION_CONFIG,
} from "./lvm.ts";
import { HwError } from "../../api/errors.ts";

const fixture = (f: string) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8");

test("parsePvs (captured: two loop PVs)", () => {
  const pvs = parsePvs(fixture("pvs.json"));
  assert.equal(pvs.length, 2);
  assert.deepEqual(pvs[0], {
    name: "/dev/loop0",
    vgName: "hwtestvg_LocalStorage",
    sizeBytes: 264241152,
    freeBytes: 251658240,
    uuid: "MGoSpv-oGnc-t9p0-1jSX-7IBy-bRAZ-bNLcEF",
    devSizeBytes: 268435456,
    peStartBytes: 1048576,
  });
});

test("parseVgs", () => {
  const [vg] = parseVgs(fixture("vgs.json"));
  assert.equal(vg!.name, "hwtestvg_LocalStorage");
  assert.equal(vg!.sizeBytes, 528482304);
  assert.equal(vg!.extentSizeBytes, 4194304);
  assert.equal(vg!.freeExtentCount, 123);
  assert.equal(vg!.pvCount, 2);
  assert.equal(vg!.lvCount, 1);
});

test("parseLvs: an LV created with activation off", () => {
  const [lv] = parseLvs(fixture("lvs.json"));
  assert.equal(lv!.path, "/dev/hwtestvg_LocalStorage/pvc-test");
  assert.equal(lv!.sizeBytes, 12582912);
  assert.equal(lv!.attr, "-wi-XX----"); // state unknown: no device-mapper
  assert.equal(lv!.active, false);
  assert.equal(lv!.segStartPe, 0);
  assert.equal(lv!.devices, "/dev/loop0(0)");
  assert.equal(lv!.dataPercent, null);
  assert.deepEqual(parseLvs(""), []);
});

test("command builders", () => {
  assert.deepEqual(vgcreateArgv("LocalStorage_PoolHDD", ["/dev/loop0"]), ["vgcreate", "LocalStorage_PoolHDD", "-y", "/dev/loop0"]);
  assert.deepEqual(lvcreateArgv("LocalStorage_PoolHDD", "pvc-1", 8388608, { noActivation: true }), [
    "lvcreate",
    "--config",
    NO_ACTIVATION_CONFIG,
    "--size",
    "8388608B",
    "--stripes",
    "1",
    "LocalStorage_PoolHDD",
    "-n",
    "pvc-1",
    "-y",
  ]);
  assert.deepEqual(lvextendArgv("VG", "pvc-1", 16777216), ["lvextend", "--size", "16777216b", "VG/pvc-1", "-y"]);
  assert.throws(() => lvcreateArgv("VG", "name; rm -rf /", 1), HwError);
  assert.throws(() => vgcreateArgv("VG", ["/dev/../etc/passwd"]), HwError);
});

test("roundUpToExtent", () => {
  assert.equal(roundUpToExtent(0), 4194304);
  assert.equal(roundUpToExtent(1), 4194304);
  assert.equal(roundUpToExtent(4194304), 4194304);
  assert.equal(roundUpToExtent(4194305), 8388608);
});

test("disk replacement command lines: pvmove OLD NEW, vgreduce VG OLD (validated; they need device-mapper and never ran here)", () => {
  assert.deepEqual(pvmoveArgv("/dev/sdb", "/dev/sdc"), ["pvmove", "-i", "0", "/dev/sdb", "/dev/sdc"]);
  assert.deepEqual(vgreduceArgv("LocalStorage_PoolHDD", "/dev/sdb"), ["vgreduce", "LocalStorage_PoolHDD", "/dev/sdb"]);
  assert.throws(() => pvmoveArgv("--config=x", "/dev/sdc"));
  assert.throws(() => vgreduceArgv("bad name", "/dev/sdb"));
});
