import { test } from "node:test";
import assert from "node:assert/strict";
import { decidePhase, healthOf, type PhaseInput } from "./states.ts";

const healthy = { desired: 3, available: 3 };
const partial = { desired: 3, available: 2 };

test("phase table", () => {
  const cases: Array<[PhaseInput, string, string[]]> = [
    [{ phase: undefined, notClaimDisk: false, localDiskManager: partial }, "", []],
    [{ phase: "", notClaimDisk: false, localDiskManager: { desired: 0, available: 0 } }, "", []],
    [{ phase: "", notClaimDisk: false, localDiskManager: healthy }, "ToReserve", []],
    [{ phase: "ToReserve", notClaimDisk: false, localDiskManager: healthy }, "Reserved", ["reserveDisks"]],
    [{ phase: "Reserved", notClaimDisk: false, localDiskManager: healthy }, "CreatedLDC", ["createClaims"]],
    [{ phase: "Reserved", notClaimDisk: true, localDiskManager: healthy }, "CreatedLDC", []],
    [{ phase: "CreatedLDC", notClaimDisk: false, localDiskManager: partial }, "CreatedLDC", ["reserveDisks", "createClaims", "createStorageClasses"]],
    [{ phase: "CreatedLDC", notClaimDisk: true, localDiskManager: healthy }, "CreatedLDC", ["reserveDisks", "createStorageClasses"]],
    [{ phase: "Bogus", notClaimDisk: false, localDiskManager: healthy }, "", []],
  ];
  for (const [input, next, actions] of cases) assert.deepEqual(decidePhase(input), { next, actions }, JSON.stringify(input));
});

test("health", () => {
  assert.equal(healthOf(healthy), "Normal");
  assert.equal(healthOf(partial), "Abnormal");
  assert.equal(healthOf({ desired: 0, available: 0 }), "Abnormal");
});
