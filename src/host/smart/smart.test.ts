import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseSmartAll, parseSmartScan } from "./smart.ts";

const fixture = (f: string) => JSON.parse(readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8"));

test("loop device: smartctl exits 1 'Unable to detect device type' → supportSmart false, no throw", () => {
  const r = parseSmartAll("/dev/loop0", fixture("smartctl-all-loop.json"));
  assert.equal(r.supportSmart, false);
  assert.equal(r.enabled, false);
  assert.equal(r.healthPassed, null);
  assert.equal(r.exitStatus, 1);
  assert.deepEqual(r.messages, ["/dev/loop0: Unable to detect device type"]);
});

test("healthy SATA SSD (synthetic fixture)", () => {
  const r = parseSmartAll("/dev/sda", fixture("smartctl-all-sata-SYNTHETIC.json"));
  assert.equal(r.supportSmart, true);
  assert.equal(r.enabled, true);
  assert.equal(r.healthPassed, true);
  assert.equal(r.serialNumber, "S3Z1NB0K123456A");
  assert.equal(r.wwn, "0x5002538e40a1b2c3"); // same spelling as udev's ID_WWN
  assert.equal(r.rotationRate, 0);
  assert.equal(r.powerOnHours, 12345);
  assert.equal(r.temperatureCelsius, 31);
  assert.equal(r.userCapacityBytes, 500107862016);
});

test("failing disk: exit bit 3 and smart_status.passed=false", () => {
  const doc = fixture("smartctl-all-sata-SYNTHETIC.json");
  doc.smartctl.exit_status = 8;
  doc.smart_status.passed = false;
  const r = parseSmartAll("/dev/sda", doc);
  assert.equal(r.supportSmart, true);
  assert.equal(r.healthPassed, false);
});

test("scan: empty here, two devices in the synthetic fixture", () => {
  assert.deepEqual(parseSmartScan(fixture("smartctl-scan-empty.json")), []);
  assert.deepEqual(
    parseSmartScan(fixture("smartctl-scan-SYNTHETIC.json")).map((d) => [d.name, d.type]),
    [
      ["/dev/sda", "sat"],
      ["/dev/nvme0", "nvme"],
    ],
  );
});
