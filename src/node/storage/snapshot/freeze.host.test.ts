// withFrozenFilesystem on a real loop device with a mounted XFS: writes block while the callback runs and
// complete after the thaw; an unmounted device runs the callback unfrozen. Needs root and xfsprogs.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkfs } from "../../../host/fs/fs.ts";
import { attachLoop, createSparseFile, detachLoop } from "../../../host/loop/loop.ts";
import { mount, unmountAll } from "../../../host/mount/mount.ts";
import { withFrozenFilesystem } from "./reconciler.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : !fs.existsSync("/usr/sbin/mkfs.xfs") ? "needs xfsprogs" : false;
let dir = "";
let dev = "";

after(async () => {
  if (!dir) return;
  await unmountAll(join(dir, "mnt")).catch(() => {});
  if (dev) await detachLoop(dev).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

test("a mounted filesystem is frozen for the callback only; an unmounted device is not frozen", { skip }, async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-freeze-"));
  await createSparseFile(join(dir, "d.img"), 320 * 2 ** 20);
  dev = (await attachLoop(join(dir, "d.img"))).name;
  await mkfs(dev, "xfs");
  const idle = await withFrozenFilesystem(dev, async () => "ran");
  assert.deepEqual(idle, { result: "ran", frozen: undefined });
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  await mount(dev, mnt, { fstype: "xfs" });
  let write: Promise<void> | undefined;
  const r = await withFrozenFilesystem(dev, async () => {
    write = writeFile(join(mnt, "during.txt"), "x")
      .then(() => fs.promises.open(join(mnt, "during.txt"), "r+"))
      .then(async (fh) => {
        await fh.sync();
        await fh.close();
      });
    const won = await Promise.race([write.then(() => "write"), new Promise((res) => setTimeout(() => res("timer"), 500))]);
    return won;
  });
  assert.equal(r.frozen, mnt);
  assert.equal(r.result, "timer", "the write waits while the filesystem is frozen");
  await write;
  assert.equal(await readFile(join(mnt, "during.txt"), "utf8"), "x", "and completes after the thaw");
});

test("a filesystem left frozen by an interrupted snapshot is thawed from its marker", { skip }, async () => {
  const mnt = join(dir, "mnt");
  const markers = join(dir, "markers");
  const { freeze } = await import("../../../host/fs/fs.ts");
  await withFrozenFilesystem(
    dev,
    async () => {
      // Simulate the crash: the marker is there while frozen; re-freeze after the thaw and keep the marker.
      await fs.promises.cp(markers, join(dir, "markers-copy"), { recursive: true });
    },
    markers,
  );
  assert.deepEqual(await fs.promises.readdir(markers), [], "marker removed after the thaw");
  await freeze(mnt);
  const { thawRecorded } = await import("./reconciler.ts");
  assert.deepEqual(await thawRecorded(join(dir, "markers-copy")), [mnt]);
  await writeFile(join(mnt, "after.txt"), "y"); // would hang if still frozen
  assert.deepEqual(await fs.promises.readdir(join(dir, "markers-copy")), []);
});
