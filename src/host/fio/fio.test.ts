import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { extractJson, fioArgv, parseFioJson } from "./fio.ts";

const td = (f: string) => readFileSync(join(import.meta.dirname, "testdata", f), "utf8");

test("parseFioJson: random write", () => {
  const r = parseFioJson(td("fio-randwrite-loop.json"));
  assert.equal(r.jobname, "randrw");
  assert.equal(r.error, 0);
  assert.ok(r.write.iops > 1000, `write iops ${r.write.iops}`);
  assert.ok(r.write.bwBytesPerSec > 0);
  assert.ok(r.write.clatP99Ns >= r.write.clatP50Ns && r.write.clatP50Ns > 0);
  assert.equal(r.read.iops, 0);
});

test("parseFioJson: random read; garbage is UnparseableOutput", () => {
  const r = parseFioJson(td("fio-randread-loop.json"));
  assert.ok(r.read.iops > 1000);
  assert.equal(r.write.ios, 0);
  assert.throws(() => parseFioJson("fio: oops"), /cannot parse JSON/);
  assert.throws(() => parseFioJson("{}"), /no job results/);
  assert.equal(extractJson('note: x\n{"a":1}'), '{"a":1}');
});

test("fioArgv", () => {
  assert.deepEqual(fioArgv({ name: "rr", filename: "/dev/loop3", rw: "randread", blockSizeBytes: 4096, iodepth: 32, runtimeSec: 5 }), [
    "fio",
    "--name=rr",
    "--filename=/dev/loop3",
    "--rw=randread",
    "--bs=4096",
    "--iodepth=32",
    "--ioengine=libaio",
    "--direct=1",
    "--time_based",
    "--runtime=5",
    "--numjobs=1",
    "--group_reporting",
    "--output-format=json",
  ]);
  // A size-based write measured until durable (the migration bench's disk baseline).
  const durable = fioArgv({
    name: "w",
    filename: "/dev/loop3",
    rw: "write",
    blockSizeBytes: 1 << 20,
    iodepth: 32,
    runtimeSec: 600,
    timeBased: false,
    sizeBytes: 1 << 30,
    endFsync: true,
  });
  assert.ok(!durable.includes("--time_based"));
  assert.deepEqual(durable.slice(-2), ["--size=1073741824", "--end_fsync=1"]);
  assert.throws(() => fioArgv({ name: "a b", filename: "/dev/x", rw: "read", blockSizeBytes: 1, iodepth: 1, runtimeSec: 1 }), /job name/);
  assert.throws(() => fioArgv({ name: "a", filename: "/dev/x:y", rw: "read", blockSizeBytes: 1, iodepth: 1, runtimeSec: 1 }), /":"/);
  assert.throws(() => fioArgv({ name: "a", filename: "/dev/x", rw: "read", blockSizeBytes: 1, iodepth: 0, runtimeSec: 1 }), /positive/);
});
