import { test } from "node:test";
import assert from "node:assert/strict";
import * as N from "./names.ts";

test("pool names and classes", () => {
  assert.equal(N.storagePoolName("HDD"), "LocalStorage_PoolHDD");
  assert.equal(N.diskPoolName("NVMe"), "LocalDisk_PoolNVMe");
  assert.equal(N.poolClassOf("LocalStorage_PoolSSD"), "SSD");
  assert.equal(N.poolClassOf("LocalDisk_PoolHDD"), "HDD");
  assert.equal(N.poolClassOf("LocalStorage_PoolXYZ"), undefined);
  assert.equal(N.isPoolClass("nvme"), false);
});

test("wire names of the original", () => {
  assert.equal(N.API_VERSION, "hwameistor.io/v1alpha1");
  assert.equal(N.VolumeStates.ToBeUnmount, "ToBeMounted");
  assert.equal(N.OperationStates.Aborting, "Cancelled");
  assert.equal(N.Finalizers.LocalDisk, "localdisk.hwameistor.io/finalizer");
  assert.equal(N.TopologyKeys.LvmNode, "topology.lvm.hwameistor.io/node");
  assert.equal(N.localStorageWorkerLease("n1"), "hwameistor-local-storage-worker-n1");
  assert.equal(N.crdName("localvolumes"), "localvolumes.hwameistor.io");
  assert.equal(N.KindNamesTable.ResizePolicy.plural, "resizepolicies");
});
