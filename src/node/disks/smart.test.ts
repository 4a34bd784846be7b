import { test } from "node:test";
import assert from "node:assert/strict";
import { smartFields } from "./smart.ts";
import type { SmartResult } from "../../host/smart/smart.ts";

const r = (over: Partial<SmartResult>): SmartResult => ({
  device: "/dev/sda",
  supportSmart: true,
  enabled: true,
  healthPassed: true,
  modelName: null,
  serialNumber: null,
  firmwareVersion: null,
  wwn: null,
  rotationRate: null,
  powerOnHours: null,
  temperatureCelsius: null,
  userCapacityBytes: null,
  exitStatus: 0,
  messages: [],
  raw: {},
  ...over,
});

test("SMART fields: loop/unsupported → false; health Passed/Failed; unknown health leaves smartInfo out", () => {
  assert.deepEqual(smartFields(undefined), { supportSmart: false });
  assert.deepEqual(smartFields(r({ supportSmart: false })), { supportSmart: false });
  assert.deepEqual(smartFields(r({})), { supportSmart: true, smartInfo: { overallHealth: "Passed" } });
  assert.deepEqual(smartFields(r({ healthPassed: false })), { supportSmart: true, smartInfo: { overallHealth: "Failed" } });
  assert.deepEqual(smartFields(r({ healthPassed: null })), { supportSmart: true });
});
