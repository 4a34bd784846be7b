import { test } from "node:test";
import assert from "node:assert/strict";
import { ioMaxLine, parseIoMax, parseV1ThrottleFile } from "./cgroup.ts";

test("v1 throttle file parsing", () => {
  assert.equal(parseV1ThrottleFile("7:0 1048576\n8:0 100\n", "8:0"), 100);
  assert.equal(parseV1ThrottleFile("7:0 1048576\n", "7:1"), 0);
  assert.equal(parseV1ThrottleFile("", "7:1"), 0);
});

test("v2 io.max line and parsing (0 ↔ max)", () => {
  assert.equal(ioMaxLine("7:0", { readBps: 1048576, writeBps: 0, readIops: 500, writeIops: 500 }), "7:0 rbps=1048576 wbps=max riops=500 wiops=500");
  assert.equal(ioMaxLine("7:0", { writeIops: 10 }), "7:0 wiops=10");
  assert.deepEqual(parseIoMax("7:0 rbps=1048576 wbps=max riops=max wiops=500\n8:0 rbps=1 wbps=2 riops=3 wiops=4\n", "7:0"), {
    readBps: 1048576,
    writeBps: 0,
    readIops: 0,
    writeIops: 500,
  });
});
