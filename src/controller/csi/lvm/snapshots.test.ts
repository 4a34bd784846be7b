import { test } from "node:test";
import assert from "node:assert/strict";
import type { HwError } from "../../../api/errors.ts";
import type { LocalVolumeSnapshotObject } from "../../../kube/hwameistor.ts";
import { parseSnapsize, snapshotIdOf, toCsiSnapshot } from "./snapshots.ts";

test("snapshot id: the first `snapshot` becomes `snapcontent` (§3.1)", () => {
  assert.equal(snapshotIdOf("snapshot-3f2a"), "snapcontent-3f2a");
  assert.equal(snapshotIdOf("my-snapshot-of-snapshot"), "my-snapcontent-of-snapshot");
  assert.equal(snapshotIdOf("nightly"), "nightly");
});

test("snapsize: absent → undefined; an integer ≥ 4 MiB; anything else INVALID_ARGUMENT naming the parameter", () => {
  assert.equal(parseSnapsize(undefined), undefined);
  assert.equal(parseSnapsize(""), undefined);
  assert.equal(parseSnapsize("1073741824"), 1073741824);
  for (const bad of ["1Gi", "-5", "1.5", "4194303", "99999999999999999999"]) {
    assert.throws(
      () => parseSnapsize(bad),
      (e: HwError) => e.code === "INVALID_ARGUMENT" && /snapsize/.test(e.message),
      bad,
    );
  }
});

test("toCsiSnapshot: size, source, creation time as a Timestamp, ready only when Ready", () => {
  const s = {
    metadata: { name: "snapcontent-1" },
    spec: { sourceVolume: "pvc-a", accessibility: { nodes: ["n1"] }, requiredCapacityBytes: 4194304 },
    status: { state: "Ready", allocatedCapacityBytes: 1073741824, creationTime: "2026-01-02T03:04:05.678Z" },
  } as LocalVolumeSnapshotObject;
  assert.deepEqual(toCsiSnapshot(s), {
    size_bytes: "1073741824",
    snapshot_id: "snapcontent-1",
    source_volume_id: "pvc-a",
    creation_time: { seconds: String(Date.parse("2026-01-02T03:04:05Z") / 1000), nanos: 678_000_000 },
    ready_to_use: true,
  });
  assert.equal(toCsiSnapshot({ ...s, status: { state: "NotReady" } }).ready_to_use, false);
  assert.equal(toCsiSnapshot({ ...s, status: { state: "NotReady" } }).size_bytes, "4194304");
});
