import { test } from "node:test";
import assert from "node:assert/strict";
import { HwError } from "../../api/errors.ts";
import { assertPoolName, assertVolumeName, insufficientSpace, requestedSize } from "./common.ts";
import { EXTENT_BYTES, roundToExtent } from "./engine.ts";

const MiB = 1024 * 1024;
const invalid = (e: unknown) => e instanceof HwError && e.code === "INVALID_ARGUMENT";

test("assertPoolName: the original's pool names only, class must match", () => {
  assert.equal(assertPoolName("LocalStorage_PoolHDD"), "HDD");
  assert.equal(assertPoolName("LocalStorage_PoolNVMe", "NVMe"), "NVMe");
  for (const bad of ["LocalStorage_PoolFOO", "LocalStorage_Pool", "pool", "../LocalStorage_PoolHDD", "LocalDisk_PoolHDD"])
    assert.throws(() => assertPoolName(bad), invalid, bad);
  assert.throws(() => assertPoolName("LocalStorage_PoolHDD", "SSD"), /holds class HDD/);
});

test("assertVolumeName: LVM charset, no hidden names", () => {
  assert.equal(assertVolumeName("pvc-0a1b2c3d-aaaa-bbbb-cccc-000000000000"), "pvc-0a1b2c3d-aaaa-bbbb-cccc-000000000000");
  for (const bad of ["", ".x", "..", "-x", "a/b", "a b", "x".repeat(128)]) assert.throws(() => assertVolumeName(bad), invalid, bad);
});

test("sizes round up to 4 MiB, minimum one extent; bad sizes are INVALID_ARGUMENT", () => {
  assert.equal(EXTENT_BYTES, 4 * MiB);
  assert.equal(roundToExtent(0), 4 * MiB);
  assert.equal(roundToExtent(1), 4 * MiB);
  assert.equal(roundToExtent(4 * MiB), 4 * MiB);
  assert.equal(roundToExtent(4 * MiB + 1), 8 * MiB);
  assert.equal(requestedSize(150 * MiB, "v"), 152 * MiB);
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 60]) assert.throws(() => requestedSize(bad, "v"), invalid, String(bad));
});

test("insufficientSpace carries the text the original's CSI checks", () => {
  const e = insufficientSpace("LocalStorage_PoolHDD", "pvc-a", 10, 5);
  assert.equal(e.code, "RESOURCE_EXHAUSTED");
  assert.match(e.message, /insufficient free space/);
  assert.match(e.message, /LocalStorage_PoolHDD/);
  assert.match(e.message, /pvc-a/);
});
