// The on-disk verification of a migration's target (verify.ts) on this kernel: a file-engine replica on btrfs (NOCOW
// volume files, the engine's default) on a real loop device, filled by a real stream (stream.ts, the native copier):
//   - the final state frozen in a reflink clone re-reads equal to the copy's checksum, and keeps doing so while the
//     live target is written (the pod already runs there);
//   - one 4 KiB block of the target's backing file changed behind the copier's back between the final round and the
//     freeze (a disk that stored something else): the copy's own checksum does not see it, the re-read does;
//   - only verification clones are released; without a volume file (lvm, a plain device) the device itself is read.
// Needs root. Everything under one temp dir and one link root, removed in `after`, also on failure.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { mkdtemp, open, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, test } from "node:test";
import { StoragePools } from "../../api/names.ts";
import { attachLoop, createSparseFile } from "../../host/loop/loop.ts";
import { FileEngine } from "../engines/file/file-engine.ts";
import { cleanupUnder, until, writeAt } from "../engines/host-test-helpers.ts";
import { backingFileOf, clonePath } from "./precopy.ts";
import { CHUNK_BYTES, newToken, receiveDevice, serveDevice, type ServeResult } from "./stream.ts";
import { freezeTarget, frozenClone, onDiskChecksum, releaseFrozen } from "./verify.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const skip = process.getuid?.() !== 0 ? "needs root" : false;
let dir = "";
const linkRoot = `/dev/hwtest-verify-${process.pid}`;
after(async () => {
  if (dir) await cleanupUnder(dir, linkRoot);
});

test("a frozen clone of the target re-read from disk: equal after a clean copy, different after one block changed under it", { skip }, async () => {
  dir = await mkdtemp(join(tmpdir(), "hw-verify-"));
  const engines: FileEngine[] = [];
  for (const n of ["a", "b"]) {
    await createSparseFile(join(dir, `${n}.img`), GiB);
    const disk = (await attachLoop(join(dir, `${n}.img`))).name;
    const e = new FileEngine({ stateDir: join(dir, n), devLinkRoot: join(linkRoot, n), fsType: "btrfs" });
    await e.ensurePool(StoragePools.HDD, "HDD", [disk]);
    engines.push(e);
  }
  const size = 32 * MiB;
  const src = await engines[0]!.createReplica(StoragePools.HDD, "pvc-verify", size);
  const dst = await engines[1]!.createReplica(StoragePools.HDD, "pvc-verify", size);
  await writeAt(src.devPath, 0, randomBytes(12 * MiB));
  await writeAt(src.devPath, 20 * MiB, randomBytes(3 * MiB));

  const token = newToken();
  const done: ServeResult[] = [];
  const srv = await serveDevice({ host: "127.0.0.1", devPath: src.devPath, token, onDone: (r) => done.push(r), onError: () => undefined });
  const copy = async () => {
    const r = await receiveDevice({ host: "127.0.0.1", port: srv.port, token, devPath: dst.devPath });
    await until(() => done.length > 0, "the source's confirmation");
    assert.equal(done.pop()!.checksum, r.checksum, "the copy's own comparison (tables entry by entry)");
    return r;
  };
  const file = (await backingFileOf(dst.devPath))!;
  try {
    // A clean copy: the frozen final state reads back equal, also after the live target is written.
    const r = await copy();
    assert.equal(r.size, size);
    const frozen = await freezeTarget(dst.devPath, "1");
    assert.equal(frozen.file, file, "frozen as a reflink clone of the volume file");
    assert.equal(frozen.path, clonePath(file, "verify-a1", 0));
    assert.ok(frozen.ms < 5_000, `the freeze (in the pause) took ${frozen.ms} ms`);
    await writeAt(dst.devPath, 2 * MiB, randomBytes(MiB)); // the pod runs on the target already
    assert.equal((await onDiskChecksum(frozen, r.size, r.chunk)).checksum, r.checksum, "the frozen state re-read whole");
    assert.deepEqual(await frozenClone(dst.devPath, "1"), { path: frozen.path, file, ms: 0 }, "found again after a restart");
    assert.equal(await frozenClone(dst.devPath, "2"), undefined, "never another attempt's");

    // Copied again; then one block of the target's backing file changes behind the copier (what a disk that
    // acknowledged a write and stored something else leaves), before the freeze: only the re-read sees it.
    const r2 = await copy();
    assert.equal(r2.checksum, r.checksum, "the same source");
    const fh = await open(file, "r+");
    try {
      await fh.write(randomBytes(4096), 0, 4096, 7 * MiB + 8192);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    const frozen2 = await freezeTarget(dst.devPath, "2");
    const v = await onDiskChecksum(frozen2, r2.size, CHUNK_BYTES);
    assert.notEqual(v.checksum, r2.checksum, "the changed block is found on disk");
    assert.match(v.checksum, /^crc32c:32:[0-9a-f]{8}$/);

    // Only verification clones are released.
    const precopyClone = clonePath(file, "a1-0", 3);
    writeFileSync(precopyClone, "");
    assert.deepEqual((await releaseFrozen(file)).map((p) => basename(p)).sort(), [basename(frozen.path), basename(frozen2.path)].sort());
    assert.ok(existsSync(precopyClone), "a pre-copy clone is not the verification's");
    assert.deepEqual(
      (await readdir(dirname(file))).filter((f) => f.includes(".migrate-")),
      [basename(precopyClone)],
    );
  } finally {
    await srv.close();
  }

  // No volume file behind the device (lvm; here a plain file): nothing to clone, the device itself is read.
  const plain = join(dir, "plain");
  writeFileSync(plain, Buffer.alloc(MiB));
  const f = await freezeTarget(plain, "1");
  assert.deepEqual([f.path, f.file], [plain, undefined]);
});
