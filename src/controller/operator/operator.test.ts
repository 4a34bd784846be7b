import { test } from "node:test";
import assert from "node:assert/strict";
import { claimsToCreate, disksToReserve, type LocalDisk } from "./claims.ts";
import { classesWithCapacity, desiredStorageClasses } from "./storage-classes.ts";

const ld = (name: string, node: string, o: Partial<LocalDisk["spec"]> & { claimState?: string } = {}): LocalDisk =>
  ({
    metadata: { name },
    spec: { nodeName: node, devicePath: `/dev/${name}`, state: "Active", diskAttributes: { type: "HDD" }, ...o },
    status: { claimState: o.claimState ?? "Available" },
  }) as LocalDisk;

test("one claim per node and disk type for free disks, named <node>-<type>-claim, owner local-storage", () => {
  const disks = [
    ld("a", "node-1"),
    ld("b", "node-1"),
    ld("c", "node-1", { diskAttributes: { type: "SSD" } }),
    ld("d", "node-2", { reserved: true }),
    ld("e", "node-2", { claimState: "Bound" }),
    ld("f", "node-3", { state: "Inactive" }),
    ld("g", "node-3"),
  ];
  const claims = claimsToCreate(disks, [{ metadata: { name: "node-3-hdd-claim" } }]);
  assert.deepEqual(
    claims.map((c) => [c.metadata!.name, c.spec.nodeName, c.spec.owner, c.spec.description?.diskType]),
    [
      ["node-1-hdd-claim", "node-1", "local-storage", "HDD"],
      ["node-1-ssd-claim", "node-1", "local-storage", "SSD"],
    ],
  );
});

test("diskReserveConfigurations select by node and device path", () => {
  const disks = [ld("loop1", "node-1"), ld("loop2", "node-1", { reserved: true }), ld("loop1b", "node-2", { devicePath: "/dev/loop1" })];
  const r = disksToReserve(disks, [{ nodeName: "node-1", devices: ["/dev/loop1", "/dev/loop2"] }]);
  assert.deepEqual(
    r.map((d) => d.metadata!.name),
    ["loop1"],
  );
});

test("StorageClasses only for classes with capacity, with the original's defaults", () => {
  const lsn = (pools: Record<string, unknown>) => ({ metadata: { name: "n" }, status: { pools } }) as any;
  assert.deepEqual(desiredStorageClasses({}, [lsn({})], [lsn({})]), []);
  assert.deepEqual(classesWithCapacity([lsn({ LocalStorage_PoolHDD: { totalCapacityBytes: 0 } })]), []);
  const scs = desiredStorageClasses(
    {},
    [lsn({ LocalStorage_PoolHDD: { class: "HDD", totalCapacityBytes: 2 ** 31 } }), lsn({ LocalStorage_PoolSSD: { totalCapacityBytes: 2 ** 30 } })],
    [lsn({ LocalDisk_PoolHDD: { disks: [{ devPath: "/dev/loop3" }] } })],
  );
  assert.deepEqual(
    scs.map((s) => s.metadata!.name),
    ["hwameistor-storage-lvm-hdd", "hwameistor-storage-lvm-ssd", "hwameistor-storage-disk-hdd"],
  );
  // no node can replicate: no -ha / -convertible class
  const hdd = scs[0]!;
  assert.equal(hdd.provisioner, "lvm.hwameistor.io");
  assert.equal(hdd.volumeBindingMode, "WaitForFirstConsumer");
  assert.equal(hdd.reclaimPolicy, "Retain");
  assert.equal(hdd.allowVolumeExpansion, true);
  assert.deepEqual(hdd.parameters, {
    replicaNumber: "1",
    poolClass: "HDD",
    poolType: "REGULAR",
    volumeKind: "LVM",
    striped: "true",
    convertible: "false",
    "csi.storage.k8s.io/fstype": "xfs",
  });
  assert.deepEqual(scs[2]!.parameters, { diskType: "HDD", "csi.storage.k8s.io/fstype": "xfs" });
  assert.equal(scs[2]!.provisioner, "disk.hwameistor.io");
  const custom = desiredStorageClasses(
    { storageClass: { reclaimPolicy: "Delete", allowVolumeExpansion: false, fsType: "ext4" } },
    [lsn({ LocalStorage_PoolHDD: { totalCapacityBytes: 1 } })],
    [],
  );
  assert.equal(custom[0]!.reclaimPolicy, "Delete");
  // -convertible with one replicating node, -ha (replicaNumber 2, convertible) with two
  const rep = (available: boolean) => ({
    ...lsn({ LocalStorage_PoolHDD: { totalCapacityBytes: 1 } }),
    status: { pools: { LocalStorage_PoolHDD: { totalCapacityBytes: 1 } }, replication: { available } },
  });
  assert.deepEqual(
    desiredStorageClasses({}, [rep(true), rep(false)], []).map((x) => x.metadata!.name),
    ["hwameistor-storage-lvm-hdd", "hwameistor-storage-lvm-hdd-convertible"],
  );
  const two = desiredStorageClasses({}, [rep(true), rep(true)], []);
  assert.deepEqual(
    two.map((x) => x.metadata!.name),
    ["hwameistor-storage-lvm-hdd", "hwameistor-storage-lvm-hdd-convertible", "hwameistor-storage-lvm-hdd-ha"],
  );
  assert.deepEqual([two[2]!.parameters!.replicaNumber, two[2]!.parameters!.convertible, two[1]!.parameters!.replicaNumber], ["2", "true", "1"]);
  assert.equal(custom[0]!.allowVolumeExpansion, false);
  assert.equal(custom[0]!.parameters!["csi.storage.k8s.io/fstype"], "ext4");
  assert.deepEqual(desiredStorageClasses({ storageClass: { disable: true } }, [lsn({ LocalStorage_PoolHDD: { totalCapacityBytes: 1 } })], []), []);
});
