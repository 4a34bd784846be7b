import assert from "node:assert/strict";
import { test } from "node:test";
import { eventName, newRecords, observeAll, type Observation, type Observed, type ResourceType } from "./records.ts";

const at = "2026-12-05T00:00:00Z";
let rv = 0;
const obj = (name: string, spec: object, status: object = {}) => ({
  kind: "object" as const,
  at,
  obj: { metadata: { name, uid: `uid-${name}`, resourceVersion: String(++rv) }, spec, status },
});
const gone = (name: string) => ({ kind: "deleted" as const, at, obj: { metadata: { name, uid: `uid-${name}`, resourceVersion: String(++rv) } } });
const op = (opKind: "LocalVolumeMigrate" | "LocalVolumeConvert" | "LocalVolumeExpand", name: string, state: string) => ({
  kind: "op" as const,
  opKind,
  at,
  obj: { metadata: { name }, spec: { volumeName: "v1" }, status: { state } },
});
const actions = (type: ResourceType, obs: Observation[], prev: Observed = {}) =>
  observeAll(type, prev, obs).records.map((r) => `${r.action}${r.state ? "/" + r.state : ""}`);

test("Event names as the original: lower(<resourceType>-<resourceName>)", () => {
  assert.equal(eventName("StorageNode", "Node-1"), "storagenode-node-1");
  assert.equal(eventName("Volume", "pvc-1"), "volume-pvc-1");
});

test("Volume: Create, Mount, Unmount, Delete; operations Submit/Start/Complete/Abort with id = the operation", () => {
  assert.deepEqual(
    actions("Volume", [
      obj("v1", {}, { state: "Creating" }),
      obj("v1", {}, { state: "Ready" }),
      obj("v1", {}, { state: "Ready", publishedNode: "n1" }),
      op("LocalVolumeMigrate", "migrate-v1", ""),
      op("LocalVolumeMigrate", "migrate-v1", "Submitted"),
      op("LocalVolumeMigrate", "migrate-v1", "InProgress"),
      op("LocalVolumeMigrate", "migrate-v1", "Completed"),
      op("LocalVolumeConvert", "convert-v1", "ToBeAborted"),
      op("LocalVolumeExpand", "v1", "Submitted"),
      obj("v1", {}, { state: "Ready" }),
      gone("v1"),
    ]),
    [
      "Create",
      "Mount",
      "Migrate/Submit",
      "Migrate/Start",
      "Migrate/Complete",
      "Convert/Submit",
      "Convert/Abort",
      "Expand/Submit",
      "Expand/Start",
      "Unmount",
      "Delete",
    ],
  );
  const r = observeAll("Volume", {}, [op("LocalVolumeExpand", "v1", "")]).records[0]!;
  assert.equal(r.id, "v1");
  assert.equal(r.time, at);
});

test("replaying what the snapshot already holds records nothing (idempotent across restarts)", () => {
  const obs = [obj("v1", {}, { publishedNode: "n1" }), op("LocalVolumeMigrate", "migrate-v1", "Submitted")];
  const first = observeAll("Volume", {}, obs);
  assert.equal(first.records.length, 4); // Create, Mount, Migrate/Submit, Migrate/Start
  const snapshot = JSON.parse(JSON.stringify(first.next)) as Observed;
  assert.deepEqual(observeAll("Volume", snapshot, obs).records, []);
  assert.deepEqual(newRecords(first.records, first.records), []);
});

test("StorageNode: Add, CapacityExpand for new pools and disks, StateChange with the old state, Remove", () => {
  const pool = (...devs: string[]) => ({ pools: { LocalStorage_PoolHDD: { disks: devs.map((devPath) => ({ devPath })) } } });
  const s = observeAll("StorageNode", {}, [
    obj("n1", { hostname: "n1" }, {}),
    obj("n1", {}, { state: "Ready", ...pool("/dev/sdb") }),
    obj("n1", {}, { state: "Ready", ...pool("/dev/sdb", "/dev/sdc") }),
    obj("n1", {}, { state: "Offline", ...pool("/dev/sdb", "/dev/sdc") }),
    gone("n1"),
  ]);
  assert.deepEqual(
    s.records.map((r) => r.action),
    ["Add", "StateChange", "CapacityExpand", "CapacityExpand", "StateChange", "Remove"],
  );
  assert.deepEqual(JSON.parse(s.records[3]!.actionContent!), { LocalStorage_PoolHDD: ["/dev/sdc"] });
  assert.deepEqual(JSON.parse(s.records[4]!.stateContent!), { state: "Ready" });
});

test("Disk: Add, Allocate, Relocate, Reserve, Release, Change", () => {
  assert.deepEqual(
    actions("Disk", [
      obj("ld", { nodeName: "n1", state: "Active" }),
      obj("ld", { nodeName: "n1", state: "Active", owner: "local-storage" }),
      obj("ld", { nodeName: "n2", state: "Active", owner: "local-storage" }),
      obj("ld", { nodeName: "n2", state: "Active", owner: "local-storage", reserved: true }),
      obj("ld", { nodeName: "n2", state: "Active", owner: "local-storage", reserved: false }),
      obj("ld", { nodeName: "n2", state: "Inactive", owner: "local-storage" }),
    ]),
    ["Add", "Allocate", "Relocate", "Reserve", "Release", "Change"],
  );
});

test("Cluster: Install when first seen, Change when admissionController/drbd disable flips", () => {
  assert.deepEqual(
    actions("Cluster", [
      obj("c", { admissionController: { disable: false }, drbd: { disable: true } }, {}),
      obj("c", { admissionController: { disable: true }, drbd: { disable: true } }, { installedCRDS: true }),
      obj("c", { admissionController: { disable: true }, drbd: { disable: false } }, { installedCRDS: true }),
    ]),
    ["Install", "Change", "Change"],
  );
  assert.deepEqual(actions("Cluster", [obj("c", {}, { installedCRDS: true })]), ["Install"], "first sight, even when already installed (ours)");
});
