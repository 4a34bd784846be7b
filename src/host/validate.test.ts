import { test } from "node:test";
import assert from "node:assert/strict";
import { assertAbsolutePath, assertDevicePath, assertMajorMinor, assertSafeName } from "./validate.ts";
import { HwError } from "../api/errors.ts";

const rejects = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof HwError && e.code === "INVALID_ARGUMENT");

test("assertDevicePath accepts device nodes and udev links", () => {
  for (const p of [
    "/dev/loop0",
    "/dev/nvme0n1p1",
    "/dev/disk/by-id/ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K123456A",
    "/dev/disk/by-path/pci-0000:00:1f.2-ata-1.0",
    "/dev/LocalStorage_PoolHDD/pvc-1",
  ]) {
    assert.equal(assertDevicePath(p), p);
  }
});

test("assertDevicePath rejects escapes, spaces, control chars and non-/dev paths", () => {
  for (const p of [
    "/dev/../etc/passwd",
    "/dev/sda/..",
    "/etc/passwd",
    "/dev/",
    "dev/sda",
    "/dev/sd a",
    "/dev/sda\n",
    "/dev//sda",
    "/dev/./sda",
    "/dev/sda\u0000",
  ]) {
    rejects(() => assertDevicePath(p));
  }
});

test("assertSafeName accepts k8s and LVM names, rejects shell-ish input", () => {
  for (const n of ["pvc-0a1b", "LocalStorage_PoolHDD", "snapcontent-1.2", "a+b"]) assert.equal(assertSafeName(n), n);
  for (const n of ["name; rm -rf /", "-rf", "", ".", "..", "a/b", "a b", "x".repeat(128), "$(id)", "a\tb"]) rejects(() => assertSafeName(n));
});

test("assertAbsolutePath", () => {
  assert.equal(
    assertAbsolutePath("/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/pvc-1/mount"),
    "/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/pvc-1/mount",
  );
  assert.equal(assertAbsolutePath("/tmp/with space"), "/tmp/with space");
  for (const p of ["relative", "/a/../b", "/a\nb", ""]) rejects(() => assertAbsolutePath(p));
});

test("assertMajorMinor", () => {
  assert.equal(assertMajorMinor("259:1048575"), "259:1048575");
  for (const p of ["7:0 1", "7", "a:b", " 7:0"]) rejects(() => assertMajorMinor(p));
});
