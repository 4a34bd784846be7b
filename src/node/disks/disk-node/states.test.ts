import { test } from "node:test";
import assert from "node:assert/strict";
import { buildDiskNodeStatus, withExtendRecord } from "./states.ts";
import type { LocalDisk } from "../../../api/kinds/local-disk.ts";
import type { LocalDiskVolume } from "../../../api/kinds/local-disk-volume.ts";

const GiB = 2 ** 30;
const disk = (name: string, type: string, cap: number, spec: Partial<NonNullable<LocalDisk["spec"]>> = {}): LocalDisk => ({
  metadata: { name },
  spec: {
    nodeName: "n1",
    devicePath: `/dev/${name}`,
    capacity: cap,
    state: "Active",
    owner: "local-disk-manager",
    claimRef: { name: "c" },
    diskAttributes: { type, devType: "disk" },
    ...spec,
  },
});

test("pools per class with counts and capacities; InUse from LocalDiskVolumes; Offline when Inactive", () => {
  const disks = [
    disk("a", "HDD", 2 * GiB),
    disk("b", "HDD", 4 * GiB),
    disk("c", "SSD", GiB),
    disk("d", "SSD", 3 * GiB, { state: "Inactive", devicePath: undefined, preDevicePath: "/dev/d" }),
    disk("e", "HDD", 9 * GiB, { owner: "", claimRef: undefined }), // not claimed by the disk manager
    disk("f", "HDD", 9 * GiB, { nodeName: "n2" }),
    disk("g", "HDD", 9 * GiB, { reserved: true }), // reserved: out of the pool
  ];
  const vols: LocalDiskVolume[] = [
    { metadata: { name: "pvc-1" }, status: { localDiskName: "b", devPath: "/dev/b", state: "Ready" } },
    { metadata: { name: "pvc-old" }, status: { localDiskName: "a", state: "Deleted" } },
  ];
  const s = buildDiskNodeStatus("n1", disks, vols, { poolExtendRecords: { x: [] } }, "/etc/hwameistor");
  assert.equal(s.state, "Ready");
  assert.deepEqual(s.poolExtendRecords, { x: [] }, "kept");
  assert.equal(s.totalDisk, 4);
  assert.equal(s.freeDisk, 2);
  assert.equal(s.totalCapacity, 10 * GiB);
  assert.equal(s.freeCapacity, 3 * GiB);
  const hdd = s.pools!.LocalDisk_PoolHDD!;
  assert.deepEqual(hdd.disks, [
    { devPath: "/dev/a", type: "HDD", capacityBytes: 2 * GiB, state: "Available" },
    { devPath: "/dev/b", type: "HDD", capacityBytes: 4 * GiB, state: "InUse" },
  ]);
  assert.equal(hdd.path, "/etc/hwameistor/LocalDisk_PoolHDD");
  assert.equal(hdd.volumeCapacityBytesLimit, 2 * GiB);
  assert.equal(hdd.usedCapacityBytes, 4 * GiB);
  assert.deepEqual(hdd.volumes, ["pvc-1"]);
  assert.equal(s.pools!.LocalDisk_PoolSSD!.disks![1]!.state, "Offline");
  assert.equal(s.pools!.LocalDisk_PoolNVMe, undefined);
});

test("an empty node has Ready status with zero totals", () => {
  const s = buildDiskNodeStatus("n1", [], [], undefined, "/s");
  assert.deepEqual(s, { pools: {}, state: "Ready", totalDisk: 0, freeDisk: 0, totalCapacity: 0, freeCapacity: 0 });
});

test("extend records are appended once", () => {
  const rec = { nodeName: "n1", owner: "local-disk-manager", description: { diskType: "HDD" } };
  const s1 = withExtendRecord(undefined, "LocalDisk_PoolHDD", rec);
  const s2 = withExtendRecord(s1, "LocalDisk_PoolHDD", rec);
  assert.deepEqual(s2.poolExtendRecords, { LocalDisk_PoolHDD: [rec] });
});
