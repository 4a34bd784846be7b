import { test } from "node:test";
import assert from "node:assert/strict";
import { isUnlimited, qosLimits } from "./limits.ts";
import { parseQuantity } from "../../../api/quantity.ts";

test("qos: quantities", () => {
  const cases: Array<[string, number]> = [
    ["500", 500],
    ["10Mi", 10 * 2 ** 20],
    ["1.5k", 1500],
    ["1G", 1e9],
    ["1e3", 1000],
    ["100m", 1],
    ["0", 0],
    [" 20Mi ", 20 * 2 ** 20],
  ];
  for (const [q, want] of cases) assert.equal(parseQuantity(q, "x"), want, q);
  for (const bad of ["ten", "10MB", "-5", "1.2.3", "Mi", "10 Mi"]) {
    assert.throws(
      () => parseQuantity(bad, "volume v: spec.volumeQoS.iops"),
      (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT" && e.message.includes("spec.volumeQoS.iops") && e.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
});

test("qos: volumeQoS → limits; empty = unlimited", () => {
  assert.deepEqual(qosLimits("v", { iops: "500", throughput: "10Mi" }), { readIops: 500, writeIops: 500, readBps: 10 * 2 ** 20, writeBps: 10 * 2 ** 20 });
  assert.ok(isUnlimited(qosLimits("v", {})));
  assert.ok(isUnlimited(qosLimits("v", { iops: "", throughput: "" })));
  assert.ok(isUnlimited(qosLimits("v", undefined)));
  assert.throws(() => qosLimits("v", { iops: "500", throughput: "ten" }), /volume v: spec.volumeQoS.throughput "ten"/);
});
