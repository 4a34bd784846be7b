import { test } from "node:test";
import assert from "node:assert/strict";
import { inCgroupArgv } from "./exec.ts";

test("inCgroupArgv: names reach sh as positional parameters, never inside the script", () => {
  const argv = inCgroupArgv("/sys/fs/cgroup/blkio/hwameistor/pvc-1", ["fio", "--name=x; rm -rf /"]);
  assert.deepEqual(argv.slice(0, 2), ["sh", "-c"]);
  assert.equal(argv[2], 'echo $$ > "$1" && shift && exec "$@"');
  assert.deepEqual(argv.slice(3), ["sh", "/sys/fs/cgroup/blkio/hwameistor/pvc-1/cgroup.procs", "fio", "--name=x; rm -rf /"]);
  assert.throws(() => inCgroupArgv("relative/dir", ["true"]));
});
