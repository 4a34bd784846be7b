import { test } from "node:test";
import assert from "node:assert/strict";
import { isExplicitlySelected, parseDeviceList, selectsAll } from "./selector.ts";

test("--devices parses paths, globs and file: backing-file globs", () => {
  const s = parseDeviceList(" /dev/loop1, /dev/sd[b-c] ,file:/var/lib/n1/*.img,");
  assert.deepEqual(s, { devicePatterns: ["/dev/loop1", "/dev/sd[b-c]"], filePatterns: ["/var/lib/n1/*.img"] });
  assert.equal(selectsAll(s), false);
  assert.equal(selectsAll(parseDeviceList(undefined)), true);
  assert.equal(selectsAll(parseDeviceList("")), true);
});

test("selection by path, by glob and by loop backing file", () => {
  const s = parseDeviceList("/dev/loop1,/dev/sd[b-c],file:/var/lib/n1/*.img");
  assert.equal(isExplicitlySelected(s, { devPath: "/dev/loop1" }), true);
  assert.equal(isExplicitlySelected(s, { devPath: "/dev/loop11" }), false);
  assert.equal(isExplicitlySelected(s, { devPath: "/dev/sdc" }), true);
  assert.equal(isExplicitlySelected(s, { devPath: "/dev/sdd" }), false);
  assert.equal(isExplicitlySelected(s, { devPath: "/dev/loop7", loopBackingFile: "/var/lib/n1/a.img" }), true);
  assert.equal(isExplicitlySelected(s, { devPath: "/dev/loop7", loopBackingFile: "/var/lib/n2/a.img" }), false);
  assert.equal(isExplicitlySelected(s, { devPath: "/dev/loop7", loopBackingFile: "/var/lib/n1/sub/a.img" }), false, "* does not cross /");
});

test("bad entries are rejected with a hint", () => {
  assert.throws(() => parseDeviceList("sdb"), /neither a \/dev\/ path/);
  assert.throws(() => parseDeviceList("file:rel/*.img"), /absolute path/);
});
