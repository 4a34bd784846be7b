// The online pre-copy on this kernel, for both filesystems the file engine uses (btrfs with NOCOW volume files,
// XFS with reflink=1): a replica on a real loop device, written through that device.
//   1. the property the pre-copy rests on: after a reflink clone, a write to the live file (even NOCOW, in place
//      before the clone) moves to a new extent, so the next clone's extent map differs exactly around the writes;
//      nothing written → nothing changed;
//   2. a whole online stream: rounds while a writer writes through the device, then a final round; the target's
//      bytes equal the source's, both checksums agree, and no clone is left beside the volume file.
// Needs root. Everything under one temp dir and one link root, removed in `after`, also on failure.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { StoragePools } from "../../api/names.ts";
import { rangeBytes } from "../../host/fs/fiemap.ts";
import { attachLoop, createSparseFile } from "../../host/loop/loop.ts";
import { FileEngine } from "../engines/file/file-engine.ts";
import { cleanupUnder, sha, until, writeAt } from "../engines/host-test-helpers.ts";
import { backingFileOf, SnapshotSeries } from "./precopy.ts";
import { checksumOf, newToken, receiveDevice, serveDevice, type RoundReport, type ServeResult } from "./stream.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const POOL = StoragePools.HDD;
const skip = process.getuid?.() !== 0 ? "needs root" : false;

for (const fsType of ["btrfs", "xfs"] as const) {
  describe(`online pre-copy on ${fsType}`, { skip }, () => {
    let dir = "";
    const linkRoot = `/dev/hwtest-precopy-${fsType}-${process.pid}`;
    after(async () => {
      if (dir) await cleanupUnder(dir, linkRoot);
    });

    test("clones + FIEMAP find exactly the written ranges; a stream with a live writer copies every byte", async () => {
      dir = await mkdtemp(join(tmpdir(), `hw-precopy-${fsType}-`));
      const engines: FileEngine[] = [];
      for (const n of ["a", "b"]) {
        await createSparseFile(join(dir, `${n}.img`), GiB);
        const disk = (await attachLoop(join(dir, `${n}.img`))).name;
        const e = new FileEngine({ stateDir: join(dir, n), devLinkRoot: join(linkRoot, n), fsType });
        await e.ensurePool(POOL, "HDD", [disk]);
        engines.push(e);
      }
      const size = 64 * MiB;
      const src = await engines[0]!.createReplica(POOL, "pvc-pre", size);
      const dst = await engines[1]!.createReplica(POOL, "pvc-pre", size);
      const file = (await backingFileOf(src.devPath)) ?? "";
      assert.ok(file.endsWith("pvc-pre.img"), `backing file of ${src.devPath}: ${file}`);

      await writeAt(src.devPath, 0, randomBytes(16 * MiB));
      const s = new SnapshotSeries(file, "t1", size);
      const r0 = await s.next();
      assert.deepEqual(r0.changed, [{ offset: 0, length: 16 * MiB }], "round 0: the data");
      assert.deepEqual((await s.next()).changed, [], "nothing written: nothing changed");
      await writeAt(src.devPath, 5 * MiB, randomBytes(4096)); // inside data written before the clone
      await writeAt(src.devPath, 5 * MiB, randomBytes(4096)); // twice: the second lands in place (NOCOW)
      await writeAt(src.devPath, 40 * MiB, randomBytes(MiB)); // into a hole
      const r2 = await s.next();
      const covers = (off: number, len: number) => r2.changed.some((r) => r.offset <= off && r.offset + r.length >= off + len);
      assert.ok(covers(5 * MiB, 4096) && covers(40 * MiB, MiB), `changed ${JSON.stringify(r2.changed)}`);
      assert.ok(rangeBytes(r2.changed) <= 2 * MiB, `only around the writes: ${rangeBytes(r2.changed)} bytes`);
      assert.equal(await sha(r2.path, 5 * MiB, 4096), await sha(src.devPath, 5 * MiB, 4096), "the clone holds the write");
      await s.removeAll();
      assert.deepEqual(
        (await readdir(dirname(file))).filter((f) => f.includes(".migrate-")),
        [],
      );

      // A stream: round 0 while a writer writes; later rounds send only the changes; final after the writer stopped.
      const token = newToken();
      let writes = 0;
      const written = new Set<number>();
      let writtenByRound1 = 0;
      let final = false;
      let stop = false;
      const writer = (async () => {
        while (!stop) {
          const chunk = Math.floor(Math.random() * 60);
          written.add(chunk); // before the write: a round may see it before it returns; each lies inside one 1 MiB chunk
          await writeAt(src.devPath, chunk * MiB + 8192, randomBytes(64 * 1024));
          writes++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const rounds: RoundReport[] = [];
      const done: ServeResult[] = [];
      const errors: Error[] = [];
      const srv = await serveDevice({
        host: "127.0.0.1",
        devPath: src.devPath,
        token,
        precopy: { file, tag: "t2" },
        minRoundMs: 200,
        isFinal: () => final,
        onRound: (r) => {
          rounds.push(r);
          if (r.round === 1) writtenByRound1 = written.size;
          if (r.round >= 2 && !stop) {
            stop = true;
            void writer.then(() => (final = true)); // the pod stopped: the next round is the last
          }
        },
        onDone: (r) => done.push(r),
        onError: (e) => errors.push(e),
      });
      try {
        const r = await receiveDevice({ host: "127.0.0.1", port: srv.port, token, devPath: dst.devPath });
        await until(() => done.length + errors.length > 0, "the source's end of the stream");
        assert.deepEqual(errors, []);
        assert.ok(writes > 0 && rounds.length >= 4, `${writes} writes, ${rounds.length} rounds`);
        assert.ok(rounds[rounds.length - 1]!.final && !rounds[0]!.final);
        // Round 1 sends only chunks the writer changed (not the 16 MiB of data again): at most the distinct chunks
        // written so far. How many that is depends on how long round 0 took, i.e. on the machine's load.
        assert.ok(
          rounds[1]!.chunks <= writtenByRound1 && rounds[1]!.bytes === rounds[1]!.chunks * MiB,
          `round 1 sends only changes: ${rounds[1]!.chunks} chunks, ${writtenByRound1} chunks written by then; bytes per round ${rounds.map((x) => x.bytes).join(", ")}`,
        );
        assert.equal(done[0]?.checksum, r.checksum);
        assert.equal(await checksumOf(src.devPath, size), r.checksum, "the source device as it is now");
        assert.equal(await checksumOf(dst.devPath, size), r.checksum, "the target device re-read whole");
      } finally {
        stop = true;
        await writer;
        await srv.close();
      }
      await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual(
        (await readdir(dirname(file))).filter((f) => f.includes(".migrate-")),
        [],
        "no clone left",
      );
    });
  });
}
