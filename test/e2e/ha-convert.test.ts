// Issue 12's convert case on a 2-node dev cluster with --netns (a data plane per node): a convertible 1-replica
// volume holding 1 GiB of data is converted to 2 replicas online while an fsync'd checksummed writer runs; the
// initial sync copies the regions ever written (sparse-aware), then both copies are compared block for block
// (sha256 of both backing devices) and every acknowledged record is read back. Its own file (not in
// ha.test.ts) so each stays within the runner's per-file time on a loaded machine. Needs what ha.test.ts needs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { waitFor } from "../helpers/kubectl.ts";
import { verifyRecords } from "../helpers/records.ts";
import {
  MiB,
  backingsEqual,
  ctx,
  dpVolume,
  haClusterUp,
  haSkip,
  k,
  lvOf,
  ok,
  startWriter,
  stopWriter,
  useHaCluster,
  writeBulk,
} from "../helpers/ha-cluster.ts";

useHaCluster("hw-ha-convert-e2e-");

test(
  "HA convert: a 1-replica volume holding 1 GiB converted to 2 replicas online with a writer; both copies equal",
  { skip: haSkip, timeout: 560_000 },
  async () => {
    let t0 = Date.now();
    await haClusterUp(2, "2Gi", "hwameistor-storage-lvm-hdd-convertible");
    console.log(`# cluster up with data planes: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const live = ["node-1", "node-2"];
    // ---------------------------------------------------------------- convert 1 → 2 online, 1 GiB of data
    // The initial sync copies the regions ever written (1 GiB and the filesystem's), not the whole volume.
    await ok("hwameictl", ["volume", "create", "cv", "--class", "hwameistor-storage-lvm-hdd-convertible", "--size", "1152Mi", "--node", "node-1"]);
    const m3 = join(ctx.dir, "mnt", "cv");
    await ok("hwameictl", ["volume", "mount", "cv", "--node", "node-1", "--path", m3]);
    t0 = Date.now();
    await writeBulk(join(m3, "bulk"), 1024 * MiB);
    console.log(`# 1 GiB written and fsync'd on the 1-replica volume in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const w3 = startWriter(join(m3, "records"));
    await waitFor(() => w3.acked() >= 100, 120_000, "writes on the 1-replica volume");
    const cvResyncedBefore = (await dpVolume("node-1", "cv"))!.bytesResynced ?? 0;
    t0 = Date.now();
    await ok("hwameictl", ["volume", "convert", "cv"]);
    await waitFor(
      async () => (await k().run(["get", "localvolumeconvert", "convert-cv"])).code !== 0 && (await lvOf("cv")).status.state === "Ready",
      300_000,
      "convert-cv completed",
    );
    const convertMs = Date.now() - t0;
    const cvLv = await lvOf("cv");
    assert.equal(cvLv.spec.replicaNumber, 2);
    assert.deepEqual(cvLv.spec.config.replicas.map((r: any) => r.hostname).sort(), live);
    const during = w3.acked();
    await waitFor(() => w3.acked() >= during + 50, 60_000, "the writer kept writing after the conversion");
    await stopWriter(w3);
    await ok("hwameictl", ["volume", "unmount", "cv", "--node", "node-1", "--path", m3]);
    const cvSynced = ((await dpVolume("node-1", "cv"))!.bytesResynced ?? 0) - cvResyncedBefore;
    t0 = Date.now();
    const cvEq = await backingsEqual("cv", live);
    console.log(
      `# convert 1→2 online with a writer over 1 GiB of data: ${convertMs} ms; initial sync copied ${(cvSynced / MiB).toFixed(0)} MiB of ${cvEq.bytes / MiB} MiB; ${w3.acked() + 1} records; both copies equal block for block (compared in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
    assert.ok(cvSynced >= 1024 * MiB, `the initial sync copied the 1 GiB written (${cvSynced} bytes)`);
    const m4 = join(ctx.dir, "mnt", "cv-again");
    await ok("hwameictl", ["volume", "mount", "cv", "--node", "node-1", "--path", m4]);
    await verifyRecords(join(m4, "records"), w3.acked());
    await ok("hwameictl", ["volume", "unmount", "cv", "--node", "node-1", "--path", m4]);
  },
);
