import { test } from "node:test";
import assert from "node:assert/strict";
import { ruleSelects } from "./reserve-rule.ts";
import { matchesGlob } from "./glob.ts";

const GiB = 2 ** 30;

test("reserve rules select disks smaller than min or larger than max, as the original's code does", () => {
  const disk = (capacity: number, devicePath = "/dev/sdb") => ({ capacity, devicePath });
  assert.equal(ruleSelects({ minCapacity: 10 * GiB }, disk(5 * GiB)), true);
  assert.equal(ruleSelects({ minCapacity: 10 * GiB }, disk(20 * GiB)), false);
  assert.equal(ruleSelects({ maxCapacity: 10 * GiB }, disk(20 * GiB)), true);
  assert.equal(ruleSelects({ maxCapacity: 10 * GiB }, disk(5 * GiB)), false);
  assert.equal(ruleSelects({ devicePath: "/dev/sd*" }, disk(1, "/dev/sdc")), true);
  assert.equal(ruleSelects({ devicePath: "/dev/sd*" }, disk(1, "/dev/nvme0n1")), false);
  assert.equal(ruleSelects({ maxCapacity: GiB, devicePath: "/dev/loop?" }, disk(2 * GiB, "/dev/loop3")), true);
  assert.equal(ruleSelects({}, disk(1)), false, "an empty rule selects nothing");
});

test("glob follows filepath.Match: * does not cross /, classes and escapes work", () => {
  assert.equal(matchesGlob("/dev/*", "/dev/sda"), true);
  assert.equal(matchesGlob("/dev/*", "/dev/disk/by-id/x"), false);
  assert.equal(matchesGlob("/dev/sd[a-c]", "/dev/sdb"), true);
  assert.equal(matchesGlob("/dev/sd[!a-c]", "/dev/sdb"), false);
  assert.equal(matchesGlob("/dev/loop\\*", "/dev/loop*"), true);
  assert.equal(matchesGlob("/dev/sd[a", "/dev/sda"), false);
  assert.equal(matchesGlob("/dev/sd.", "/dev/sdx"), false, "a dot is literal");
});
