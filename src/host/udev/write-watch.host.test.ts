// DeviceWriteWatch on a real loop device: a write through the device node is reported once the writer is quiet,
// reads are not, a node that is no longer wanted is no longer reported. Needs root. The loop device and its file
// are removed in `after`, also when a step fails.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../loop/loop.ts";
import { probeFilesystem } from "../fs/fs.ts";
import { DeviceWriteWatch } from "./write-watch.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir = "";
let lo!: LoopDevice;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-write-watch-"));
  await createSparseFile(join(dir, "d.img"), 16 * 2 ** 20);
  lo = await attachLoop(join(dir, "d.img"));
});

after(async () => {
  for (const l of await listLoops()) if (l.backFile.startsWith(dir + "/")) await detachLoop(l.name).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("writes through the node are reported once, after the writer was quiet; reads are not", async () => {
  const seen: { path: string; at: number }[] = [];
  const w = new DeviceWriteWatch((path) => seen.push({ path, at: Date.now() }), 300);
  try {
    w.set([lo.name, "/dev/hw-write-watch-no-such-device", "/dev/../etc/hostname"]);
    assert.deepEqual(w.paths(), [lo.name], "a missing node and a path outside /dev are not watched (and do not throw)");
    await probeFilesystem(lo.name); // blkid reads the device
    await sleep(600);
    assert.equal(seen.length, 0, "a read is not a write");
    const fh = await open(lo.name, "r+");
    let last = 0;
    try {
      for (let i = 0; i < 5; i++) {
        await fh.write(Buffer.alloc(4096, i + 1), 0, 4096, i * 4096);
        last = Date.now();
        await sleep(100); // a writer that goes on: no report while it does
      }
    } finally {
      await fh.close();
    }
    await sleep(1000);
    assert.equal(seen.length, 1, `one report for the burst: ${JSON.stringify(seen)}`);
    assert.equal(seen[0]!.path, lo.name);
    assert.ok(seen[0]!.at - last >= 250, "reported only after the quiet period");
    w.set([]);
    const fh2 = await open(lo.name, "r+");
    await fh2.write(Buffer.alloc(512, 9), 0, 512, 0).finally(() => fh2.close());
    await sleep(700);
    assert.equal(seen.length, 1, "a node no longer wanted is not reported");
  } finally {
    w.close();
  }
});
