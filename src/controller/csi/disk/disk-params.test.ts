import { test } from "node:test";
import assert from "node:assert/strict";
import type { HwError } from "../../../api/errors.ts";
import { ScParams, TopologyKeys } from "../../../api/names.ts";
import { chooseDisk, describeDisks, nodePreference, nodesInOrder, parseDiskParams } from "./disk-params.ts";

const isInvalid = (re: RegExp) => (e: HwError) => e.code === "INVALID_ARGUMENT" && re.test(e.message);

test("parseDiskParams: diskType required and exact, minCap positive bytes, pvc ns/name", () => {
  assert.deepEqual(parseDiskParams({ diskType: "SSD" }), { diskType: "SSD" });
  assert.deepEqual(parseDiskParams({ diskType: "HDD", minCap: "1024", [ScParams.PvcName]: "data", [ScParams.PvcNamespace]: "ns1" }), {
    diskType: "HDD",
    minCapBytes: 1024,
    pvc: "ns1/data",
  });
  assert.deepEqual(parseDiskParams({}), { diskType: "HDD" }, "parameters are optional: the default StorageClass's diskType");
  assert.deepEqual(parseDiskParams(undefined), { diskType: "HDD" });
  assert.throws(() => parseDiskParams({ diskType: "ssd" }), isInvalid(/not one of/));
  for (const bad of ["0", "-5", "1Gi", "1.5"]) assert.throws(() => parseDiskParams({ diskType: "SSD", minCap: bad }), isInvalid(/minCap/), bad);
});

test("nodePreference/nodesInOrder: requisite restricts, preferred orders, none means any node", () => {
  const seg = (n: string) => ({ segments: { [TopologyKeys.DiskNode]: n } });
  const known = ["n3", "n1", "n2"];
  assert.deepEqual(nodesInOrder(nodePreference({ requisite: [seg("n1")] }), known), ["n1"]);
  assert.deepEqual(nodesInOrder(nodePreference({ requisite: [seg("n1"), seg("n2")], preferred: [seg("n2"), seg("n1")] }), known), ["n2", "n1"]);
  assert.deepEqual(nodesInOrder(nodePreference({ requisite: [seg("n1"), seg("n2")] }), known), ["n1", "n2"]);
  assert.deepEqual(nodesInOrder(nodePreference(undefined), known), ["n1", "n2", "n3"], "no requirement: any node");
  assert.deepEqual(nodesInOrder(nodePreference({ preferred: [seg("n3")] }), known), ["n3", "n1", "n2"], "preferred alone only orders");
  assert.deepEqual(nodesInOrder(nodePreference({ requisite: [{ segments: { other: "x" } }] }), known), ["n1", "n2", "n3"]);
});

test("chooseDisk: the smallest disk that fits, within the limit", () => {
  const G = 1 << 30;
  const disks = [
    { localDiskName: "ld-c", devPath: "/dev/c", capacityBytes: 4 * G },
    { localDiskName: "ld-a", devPath: "/dev/a", capacityBytes: 1 * G },
    { localDiskName: "ld-b", devPath: "/dev/b", capacityBytes: 2 * G },
    { localDiskName: "ld-b0", devPath: "/dev/b0", capacityBytes: 2 * G },
  ];
  assert.equal(chooseDisk(disks, 0)?.devPath, "/dev/a");
  assert.equal(chooseDisk(disks, G + 1)?.localDiskName, "ld-b", "tie on size → name order");
  assert.equal(chooseDisk(disks, 3 * G)?.devPath, "/dev/c");
  assert.equal(chooseDisk(disks, 5 * G), undefined);
  assert.equal(chooseDisk(disks, 3 * G, 3 * G), undefined, "a limit below every fitting disk");
  assert.equal(describeDisks(disks.slice(0, 1)), "/dev/c (4Gi)");
  assert.equal(describeDisks([]), "none");
});
