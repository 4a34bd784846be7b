// Migration benchmark: the online migration copy (src/node/migrate/stream.ts + precopy.ts, the bytes moved by the
// native copier hwameistor-copy, dataplane/src/copier*.c) against the target disk's own sequential write, in the
// same run, and the data part of the cut-over pause.
//
// Two "nodes" on this machine: two file-engine pools (the default filesystem), each on its own loop disk. A replica
// of SIZE (4 GiB full, 1 GiB quick) is created on the source and half filled with random data (fio, 1 MiB
// sequential). Then:
//   1. the target replica's sequential write (fio 1 MiB, QD16, O_DIRECT, one pass over SIZE): the disk's speed;
//   2. the online copy, serveDevice (pre-copy from reflink clones) on 127.0.0.1 → receiveDevice into the target
//      replica, while a writer (the "pod") writes 64 KiB at random offsets through the source device every 10 ms.
//      Round 0 copies every chunk with data; each later round the chunks the writer changed. Once a round's
//      delta is small, the writer stops (the pod is stopped) and the final round runs: clone, FIEMAP diff,
//      send, target write + read-back + fdatasync, comparison of the whole chunk-CRC tables.
// Reported: round-0 throughput (bytes of data / time until written, fsynced AND re-read-verified on the target)
// and its ratio to (1) (target ≥ 0.8); rounds and their bytes; the final round (the data part of the cut-over
// pause, target < 2 s; on a cluster the pause adds stopping the pod and starting it on the target — the e2e
// reports that). Loopback TCP, not a network. Everything is removed in `finally`, also on failure.

import { randomBytes } from "node:crypto";
import { mkdtemp, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StoragePools } from "../src/api/names.ts";
import { runFio } from "../src/host/fio/fio.ts";
import { attachLoop, createSparseFile } from "../src/host/loop/loop.ts";
import { FileEngine } from "../src/node/engines/file/file-engine.ts";
import { cleanupUnder, until } from "../src/node/engines/host-test-helpers.ts";
import { backingFileOf } from "../src/node/migrate/precopy.ts";
import { CHUNK_BYTES, checksumOf, newToken, receiveDevice, serveDevice, type RoundReport } from "../src/node/migrate/stream.ts";
import { machineFacts, metric, type CaseResult } from "./lib/report.ts";
import { round } from "./lib/stats.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const POOL = StoragePools.HDD;
/** A round whose delta is below this ends the pre-copy (the pod is stopped, the final round runs). */
const SMALL_DELTA = 32 * MiB;

/** A copier's round: time in socket calls, waiting for disk completions, in io_uring submissions; its CPU time. */
const spent = (x: RoundReport | undefined): string =>
  x ? `socket ${x.netWaitMs ?? "?"} ms, disk waits ${x.ioWaitMs ?? "?"} ms, submissions ${x.submitMs ?? "?"} ms, CPU ${x.cpuMs ?? "?"} ms` : "?";

export async function benchMigration({ quick }: { quick: boolean }): Promise<CaseResult> {
  const started = Date.now();
  const size = quick ? 1 * GiB : 4 * GiB;
  const dir = await mkdtemp(join(tmpdir(), "hw-bench-mig-"));
  const linkRoot = `/dev/hwbench-mig-${process.pid}`;
  try {
    const engines: FileEngine[] = [];
    for (const n of ["src", "dst"]) {
      await createSparseFile(join(dir, `${n}.img`), size + 2 * GiB);
      const disk = (await attachLoop(join(dir, `${n}.img`))).name;
      const e = new FileEngine({ stateDir: join(dir, n), devLinkRoot: join(linkRoot, n) });
      await e.ensurePool(POOL, "HDD", [disk]);
      engines.push(e);
    }
    const src = await engines[0]!.createReplica(POOL, "pvc-mig-src", size);
    const dst = await engines[1]!.createReplica(POOL, "pvc-mig-src", size);
    const file = await backingFileOf(src.devPath);
    if (!file) throw new Error(`${src.devPath} is not a loop device over a volume file`);
    const fio = (name: string, filename: string, sizeBytes: number) =>
      runFio({ name, filename, rw: "write", blockSizeBytes: MiB, iodepth: 16, runtimeSec: 600, sizeBytes, timeBased: false });
    await fio("fill", src.devPath, size / 2);
    const diskBps = (await fio("seqwrite", dst.devPath, size)).write.bwBytesPerSec;

    // The pod: 64 KiB writes at random 4 KiB-aligned offsets of the filled half, every 10 ms, synced.
    let stopWriter = false;
    let writes = 0;
    const writer = (async () => {
      const fh = await open(src.devPath, "r+");
      try {
        while (!stopWriter) {
          await fh.write(randomBytes(64 * 1024), 0, 64 * 1024, Math.floor((Math.random() * (size / 2 - 64 * 1024)) / 4096) * 4096);
          await fh.datasync();
          writes++;
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        await fh.close();
      }
    })();

    const token = newToken();
    const rounds: RoundReport[] = [];
    let final = false;
    let sourceChecksum = "";
    const server = await serveDevice({
      host: "127.0.0.1",
      devPath: src.devPath,
      token,
      precopy: { file, tag: "bench" },
      isFinal: () => final,
      onRound: (r) => {
        rounds.push(r);
        if (r.round >= 1 && r.bytes < SMALL_DELTA && !stopWriter) {
          stopWriter = true;
          void writer.then(() => (final = true));
        }
      },
      onDone: (r) => (sourceChecksum = r.checksum),
      onError: () => undefined,
    });
    let r;
    try {
      r = await receiveDevice({ host: "127.0.0.1", port: server.port, token, devPath: dst.devPath });
      await until(() => sourceChecksum !== "", "the source's confirmation");
    } finally {
      stopWriter = true;
      await writer;
      await server.close();
    }
    if (sourceChecksum !== r.checksum) throw new Error(`checksums differ: source ${sourceChecksum}, target ${r.checksum}`);
    const whole = await checksumOf(dst.devPath, size);
    if (whole !== (await checksumOf(src.devPath, size))) throw new Error("a whole re-read of both replicas differs after the copy");
    const r0 = rounds[0]!;
    const last = rounds[rounds.length - 1]!;
    const copyBps = r0.bytes / (r0.ms / 1000);
    return {
      case: "migration",
      title: "Migration: online copy (reflink pre-copy) vs the disk's sequential write; cut-over pause",
      mode: quick ? "quick" : "full",
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      machine: machineFacts(),
      params: {
        volumeBytes: size,
        filledBytes: size / 2,
        chunkBytes: CHUNK_BYTES,
        transport: "TCP 127.0.0.1",
        copier: "hwameistor-copy: O_DIRECT via io_uring, 16 chunks in flight per side, CRC32C per chunk, each written chunk read back",
        targetDirect: r.direct,
        writer: "64 KiB random write + fdatasync every 10 ms",
      },
      metrics: [
        metric("disk sequential write (target replica, fio 1 MiB QD16 direct)", round(diskBps / MiB, 1), "MiB/s"),
        metric("copy throughput, round 0 (data written, fsynced, re-read and verified)", round(copyBps / MiB, 1), "MiB/s"),
        metric("copy / disk sequential write", round(copyBps / diskBps, 2), "ratio", ">= 0.8"),
        metric(
          "pre-copy rounds (the writer running)",
          rounds.length - 1,
          "rounds",
          undefined,
          rounds.map((x) => `${x.round}: ${round(x.bytes / MiB, 1)} MiB in ${Math.round(x.ms)} ms`).join("; "),
        ),
        metric("writes by the writer during the pre-copy", writes, "writes"),
        metric("final round bytes (changed since the last pre-copy round)", round(last.bytes / MiB, 1), "MiB"),
        metric(
          "cut-over pause, data part (final clone + diff + send + verify + checksum)",
          round(last.ms / 1000, 2),
          "s",
          "< 2",
          "a cluster adds stopping the pod and starting it on the target",
        ),
        metric("target: waiting at round ends for the last read-backs and fdatasync, all rounds", round(r.verifyMs / 1000, 2), "s"),
        metric("round 0, where the time went", round(r0.ms / 1000, 2), "s", undefined, [`source ${spent(r0)}`, `target ${spent(r.rounds[0])}`].join("; ")),
      ],
      notes: [
        `the 1 MiB chunk-CRC32C tables equal entry by entry on both sides, and equal to a whole O_DIRECT re-read of both replicas: ${r.checksum}`,
        "both replicas are on loop disks of this machine; a real migration adds the network between two nodes",
      ],
    };
  } finally {
    await cleanupUnder(dir, linkRoot);
  }
}
