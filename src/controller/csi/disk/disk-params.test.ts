import { test } from "node:test";
import assert from "node:assert/strict";
import type { HwError } from "../../../api/errors.ts";
import { ScParams, TopologyKeys } from "../../../api/names.ts";
import { chooseDisk, describeDisks, nodeFromTopology, parseDiskParams } from "./disk-params.ts";

const isInvalid = (re: RegExp) => (e: HwError) => e.code === "INVALID_ARGUMENT" && re.test(e.message);

test("parseDiskParams: diskType required and exact, minCap positive bytes, pvc ns/name", () => {
  assert.deepEqual(parseDiskParams({ diskType: "SSD" }), { diskType: "SSD" });
  assert.deepEqual(
    parseDiskParams({ diskType: "HDD", minCap: "1024", [ScParams.PvcName]: "data", [ScParams.PvcNamespace]: "ns1" }),
    { diskType: "HDD", minCapBytes: 1024, pvc: "ns1/data" },
  );
  assert.throws(() => parseDiskParams({}), isInvalid(/diskType is required/));
  assert.throws(() => parseDiskParams({ diskType: "ssd" }), isInvalid(/not one of/));
  for (const bad of ["0", "-5", "1Gi", "1.5"]) assert.throws(() => parseDiskParams({ diskType: "SSD", minCap: bad }), isInvalid(/minCap/), bad);
});

test("nodeFromTopology: preferred first, else the single requisite; none or ambiguous → INVALID_ARGUMENT naming it", () => {
  const seg = (n: string) => ({ segments: { [TopologyKeys.DiskNode]: n } });
  assert.equal(nodeFromTopology({ requisite: [seg("n1")] }), "n1");
  assert.equal(nodeFromTopology({ requisite: [seg("n1"), seg("n2")], preferred: [seg("n2"), seg("n1")] }), "n2");
  assert.throws(() => nodeFromTopology({ requisite: [seg("n1"), seg("n2")] }), isInvalid(/2 requisite nodes/));
  assert.throws(() => nodeFromTopology(undefined), isInvalid(/topology\.disk\.hwameistor\.io\/node/));
  assert.throws(() => nodeFromTopology({ requisite: [{ segments: { other: "x" } }] }), isInvalid(/accessibility_requirements/));
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
