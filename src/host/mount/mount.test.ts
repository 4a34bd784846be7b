import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mountArgv, mountTargets, parseFindmnt, parseMountinfoTargets } from "./mount.ts";
import { HwError } from "../../api/errors.ts";

const fixture = (f: string) => readFileSync(new URL(`./testdata/${f}`, import.meta.url), "utf8");

test("parseFindmnt: one mount", () => {
  assert.deepEqual(parseFindmnt(fixture("findmnt-one.json")), [
    {
      target: "/tmp/hwcap.YCkW/mnt",
      source: "/dev/loop0",
      fstype: "xfs",
      options: ["rw", "relatime", "inode64", "logbufs=8", "logbsize=32k", "noquota"],
      propagation: "private",
    },
  ]);
});

test("parseFindmnt: the machine's tree is flattened", () => {
  const all = parseFindmnt(fixture("findmnt-all.json"));
  assert.equal(all[0]!.target, "/");
  assert.equal(all[0]!.fstype, "ext4");
  assert.ok(all.some((m) => m.target === "/sys/fs/cgroup/blkio" && m.fstype === "cgroup"));
  assert.ok(all.some((m) => m.target === "/tmp/hwcap.YCkW/mnt"));
  assert.deepEqual(parseFindmnt(""), []);
});

test("mountArgv", () => {
  assert.deepEqual(mountArgv("/dev/loop0", "/mnt/x", { fstype: "xfs", options: ["nouuid"], readOnly: true }), [
    "mount",
    "-t",
    "xfs",
    "-o",
    "ro,nouuid",
    "--",
    "/dev/loop0",
    "/mnt/x",
  ]);
  assert.deepEqual(mountArgv("/dev/loop0", "/mnt/x"), ["mount", "--", "/dev/loop0", "/mnt/x"]);
  assert.throws(() => mountArgv("/dev/loop0", "/mnt/x", { options: ["rw,exec"] }), HwError);
  assert.throws(() => mountArgv("/dev/loop0", "/mnt/x", { fstype: "xfs -o x" }), HwError);
  assert.throws(() => mountArgv("/dev/loop0", "/mnt/../etc"), HwError);
});

test("parseMountinfoTargets: field 5 of a recorded /proc/self/mountinfo, escapes undone", () => {
  const t = parseMountinfoTargets(fixture("mountinfo.txt"));
  assert.equal(t.length, 8);
  assert.equal(t[0], "/proc");
  assert.ok(t.includes("/"));
  assert.ok(t.includes("/tmp/lat16/c1/nodes/node-1/state/pools/LocalStorage_PoolHDD"));
  assert.ok(t.includes("/tmp/lat16/mnt sp"), "\\040 is a space");
  assert.ok(!t.some((x) => x.includes("\\")));
  assert.deepEqual(parseMountinfoTargets(""), []);
});

test("mountTargets: this process's own table has / and /proc", () => {
  const t = mountTargets();
  assert.ok(t.has("/") && t.has("/proc"));
});
