import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_OPTIONS, diffOptions, parseGiven, resolveOptions } from "./options.ts";
import { exitCodeOf } from "../api/errors.ts";

test("parseGiven keeps only the flags that were given", () => {
  assert.deepEqual(parseGiven({}), {});
  assert.deepEqual(parseGiven({ nodes: "2", diskSize: "1Gi", diskClass: "SSD" }), { nodes: 2, diskSizeBytes: 2 ** 30, diskClass: "SSD" });
});

test("bad flags explain the valid values (exit 2)", () => {
  assert.throws(
    () => parseGiven({ nodes: "0" }),
    (e: any) => /--nodes must be an integer from 1/.test(e.message) && exitCodeOf(e) === 2,
  );
  assert.throws(
    () => parseGiven({ diskClass: "hdd" }),
    (e: any) => /HDD, SSD, NVMe/.test(e.hint),
  );
  assert.throws(
    () => parseGiven({ diskSize: "2GB" }),
    (e: any) => /2Gi/.test(e.hint),
  );
  assert.throws(() => parseGiven({ diskSize: "100Mi" }), /too small/);
});

test("a second up inherits stored options and refuses different ones, naming each difference", () => {
  const stored = { ...DEFAULT_OPTIONS, nodes: 2 };
  assert.deepEqual(resolveOptions(stored, {}, "/s"), stored);
  assert.deepEqual(resolveOptions(stored, { nodes: 2 }, "/s"), stored);
  assert.deepEqual(diffOptions(stored, { nodes: 3, diskSizeBytes: 2 ** 30 }), [
    "--nodes: the cluster has 2, this command asks for 3",
    "--disk-size: the cluster has 2Gi, this command asks for 1Gi",
  ]);
  assert.throws(
    () => resolveOptions(stored, { nodes: 3 }, "/s"),
    (e: any) => /other options/.test(e.message) && /down --purge/.test(e.hint) && exitCodeOf(e) === 4,
  );
  assert.deepEqual(resolveOptions(undefined, { nodes: 1 }, "/s"), { ...DEFAULT_OPTIONS, nodes: 1 });
});

test("--file-fs: btrfs or xfs, anything else refused; a cluster made with one refuses the other", () => {
  assert.deepEqual(parseGiven({ fileFs: "xfs" }), { fileFs: "xfs" });
  assert.throws(() => parseGiven({ fileFs: "ext4" }), /--file-fs "ext4" is not btrfs or xfs/);
  const stored = { ...DEFAULT_OPTIONS, fileFs: "xfs" as const };
  assert.deepEqual(diffOptions(stored, { fileFs: "btrfs" }), ["--file-fs: the cluster has xfs, this command asks for btrfs"]);
});
