import { test } from "node:test";
import assert from "node:assert/strict";
import { findKind } from "./index.ts";

const columns = (kind: string) => findKind(kind)!.printerColumns;
const colOf = (kind: string, name: string) => columns(kind).find((c) => c.name === name);

test("LocalDisk columns per §1.1, priority-1 columns only with -o wide", () => {
  assert.deepEqual(
    columns("ld").map((c) => [c.name, c.jsonPath, c.priority ?? 0]),
    [
      ["NodeMatch", ".spec.nodeName", 0],
      ["Capacity", ".spec.capacity", 1],
      ["PreNodeMatch", ".spec.preNodeName", 1],
      ["DevicePath", ".spec.devicePath", 0],
      ["PreDevicePath", ".spec.preDevicePath", 1],
      ["Owner", ".spec.owner", 0],
      ["Phase", ".status.claimState", 0],
      ["Health", ".spec.smartInfo.overallHealth", 1],
      ["Reserved", ".spec.reserved", 1],
      ["State", ".spec.state", 0],
      ["Age", ".metadata.creationTimestamp", 0],
    ],
  );
  assert.equal(colOf("ld", "Reserved")!.type, "boolean");
  assert.equal(colOf("ld", "Age")!.type, "date");
});

test("LocalVolume columns per §1.1", () => {
  assert.deepEqual(
    columns("lv").map((c) => [c.name, c.type, c.jsonPath, c.priority ?? 0]),
    [
      ["pool", "string", ".spec.poolName", 0],
      ["replicas", "integer", ".spec.replicaNumber", 0],
      ["capacity", "integer", ".spec.requiredCapacityBytes", 0],
      ["used", "integer", ".status.usedCapacityBytes", 0],
      ["state", "string", ".status.state", 0],
      ["resource", "integer", ".spec.config.resourceID", 1],
      ["published", "string", ".status.publishedNode", 0],
      ["fstype", "string", ".status.fsType", 1],
      ["group", "string", ".spec.volumegroup", 1],
      ["age", "date", ".metadata.creationTimestamp", 0],
    ],
  );
});

test("LocalStorageNode pool free-capacity columns are priority 1", () => {
  assert.equal(colOf("lsn", "ip")!.jsonPath, ".spec.storageIP");
  for (const cls of ["HDD", "SSD", "NVMe"]) {
    const c = colOf("lsn", `Pool${cls} FreeCap`)!;
    assert.equal(c.jsonPath, `.status.pools.LocalStorage_Pool${cls}.freeCapacityBytes`);
    assert.equal(c.priority, 1);
  }
});

test("snapshot Age columns use .status.creationTime; LVRS SourceVolumeReplica is priority 1", () => {
  for (const k of ["lvs", "lvrs"]) {
    const age = colOf(k, "Age")!;
    assert.equal(age.jsonPath, ".status.creationTime");
    assert.equal(age.type, "date");
  }
  assert.equal(colOf("lvs", "Merging")!.jsonPath, ".status.attr.merging");
  assert.equal(colOf("lvrs", "SourceVolumeReplica")!.priority, 1);
  assert.equal(columns("lvrs").filter((c) => c.priority).length, 1);
});

test("other kinds' key columns", () => {
  assert.equal(colOf("ldc", "Phase")!.jsonPath, ".status.status");
  assert.equal(colOf("ldv", "Node")!.jsonPath, ".spec.accessibility.nodes[0]");
  assert.equal(colOf("lda", "MaxCapacity")!.jsonPath, ".spec.rule.maxCapacity");
  assert.equal(colOf("ldn", "FreeCapacity")!.jsonPath, ".status.freeCapacity");
  assert.equal(colOf("lvr", "synced")!.type, "boolean");
  assert.equal(colOf("lvg", "pod")!.jsonPath, ".spec.pods");
  assert.equal(colOf("lvmigrate", "to")!.jsonPath, ".status.targetNode");
  assert.equal(colOf("lvconvert", "abort")!.jsonPath, ".spec.abort");
  assert.equal(colOf("lvexpand", "subs")!.jsonPath, ".status.subs");
  assert.equal(colOf("lvsrestore", "sourcesnapshot")!.jsonPath, ".spec.sourceVolumeSnapshot");
  assert.equal(colOf("lvrsrestore", "nodeName")!.jsonPath, ".spec.nodeName");
  assert.equal(colOf("tpc", "Phase")!.jsonPath, ".status.status");
  assert.equal(colOf("evt", "type")!.jsonPath, ".spec.resourceType");
  assert.deepEqual(columns("resizepolicies"), []);
  assert.deepEqual(columns("hmcluster"), []);
});
