// The node agent's side of a migration copy: watches the sync ConfigMaps (label hwameistor.io/volume-sync)
// that name this node as source or target, and runs the stream of stream.ts.
//   source: decides `mode`: online when its replica is a loop device over a file that can be reflink-cloned
//           (precopy.ts), else offline. Online it serves at once (pre-copy rounds while the pod runs; after each
//           round precopyRound/precopyDeltaBytes, precopyReady=yes once a round sent < 64 MiB (or from round 8); the round after
//           the controller wrote final=yes is the last); offline it serves only after final=yes (the volume is
//           unpublished). It serves on the storage IP with a fresh token, writes sourceEndpoint/sourceToken
//           (+ sourceReady=yes); when the target confirms, writes sourceChecksum/sourceAttempt/sourceCompleted.
//           Pre-copy clones are removed when a stream ends, before a new server starts (an earlier incarnation's)
//           and, at start-up, for every volume with no sync ConfigMap naming this node (the agent was killed).
//   target: once an endpoint is there, copies into its own replica (CRC-checked chunks), writes progress while copying,
//           freezes the final state (verify.ts: a reflink clone of its volume file), then writes
//           targetChecksum/targetAttempt/targetCompleted and bytesPerSecond, and re-reads the frozen state from disk
//           (O_DIRECT) into targetDiskChecksum/targetDiskAttempt — without a clone, the device before targetChecksum;
//           a failure is written to `error` and retried after 3 s. Nothing here decides: the controller compares
//           the checksums and deletes the source replica only after the on-disk one matched.
// Level-triggered and restart-safe: servers and copies live in memory keyed by (volume, attempt, endpoint); an
// agent that restarts serves again under a new token (the target's stale connection fails and it reconnects),
// a target that restarts copies the whole device again. A ConfigMap deleted or moved to a new attempt stops
// whatever ran for the old one.

import { HWAMEISTOR_NAMESPACE, ObjectNames, VolumeStates } from "../../api/names.ts";
import { SYNC_LABEL, SyncKeys } from "../../api/volume-sync.ts";
import { isHwError } from "../../api/errors.ts";
import { Controller } from "../../kube/controller.ts";
import type { NodeReplicas } from "../storage/replicas.ts";
import { Informer } from "../../kube/informer.ts";
import { CONFIG_MAP } from "../../kube/resources.ts";
import { isConflict, isNotFound } from "../../kube/transport.ts";
import type { KubeObject } from "../../kube/types.ts";
import type { NodeContext } from "../context.ts";
import { CHUNK_BYTES, checksumOf, newToken, receiveDevice, serveDevice, sizeOf, type DeviceServer } from "./stream.ts";
import { freezeTarget, frozenClone, onDiskChecksum, releaseFrozen, type Frozen } from "./verify.ts";
import { backingFileOf, snapshotsIn, SnapshotSeries, sweepSnapshots } from "./precopy.ts";
import { listLoopsSysfs } from "../../host/loop/loop.ts";
import { basename, dirname, join } from "node:path";
import { realpath } from "node:fs/promises";
import { volumeRecords, type VolumeRecord } from "../../csi/volume-record.ts";

/** The lvm driver's volume records (src/node/csi/lvm/node.ts names the same directory). */
const records = volumeRecords("lvm-volume");
const SOURCE_RECORD = "sourceRecord";

type ConfigMap = KubeObject & { data?: Record<string, string> };

const RETRY_MS = 3_000;
const errorText = (e: unknown): string => (isHwError(e) ? e.fullMessage : e instanceof Error ? e.message : String(e));
const PROGRESS_EVERY_MS = 1_000;
/** A pre-copy round that sent less than this is "small": the cut-over (pod stopped) may start. */
const READY_DELTA_BYTES = 64 * 1024 * 1024;
/** Or after this many rounds: a workload that changes more than that per round would keep the pre-copy going
 * forever (live migration's convergence problem); the final round then copies a larger delta in the pause. */
const READY_AFTER_ROUNDS = 8;

/** Whether a pre-copy round lets the cut-over start (round 0 copies everything, so it never does). */
export const precopyRoundReady = (r: { round: number; bytes: number }): boolean =>
  r.round > 0 && (r.bytes < READY_DELTA_BYTES || r.round >= READY_AFTER_ROUNDS);

/**
 * What a source agent with no server of its own (it restarted) does for this attempt: `serve` (again); `done`
 * (both sides reported; nothing to serve); `reread` — the target confirmed the final round but this side never
 * wrote its checksum (it died in between): the target will not connect again, so serving would wait forever; the
 * unpublished, final source is re-read instead and that digest reported.
 */
export function sourceStep(d: Record<string, string>): "serve" | "done" | "reread" {
  const attempt = d[SyncKeys.Attempt] ?? "1";
  const targetDone = d[SyncKeys.TargetAttempt] === attempt && !!d[SyncKeys.TargetChecksum];
  if (d[SyncKeys.SourceAttempt] === attempt && d[SyncKeys.SourceChecksum] && targetDone) return "done";
  if (targetDone && d[SyncKeys.Final] === "yes") return "reread";
  return "serve";
}

export function volumeSyncController(o: {
  ctx: NodeContext;
  /** This node's replicas (the agent's cache; a miss is read live). */
  replicas: Pick<NodeReplicas, "mine">;
  storageIP: () => Promise<string>;
  namespace?: string;
}) {
  const { ctx } = o;
  const me = ctx.nodeName;
  const ns = o.namespace ?? HWAMEISTOR_NAMESPACE;
  const cms = ctx.client.forKind<ConfigMap>(CONFIG_MAP);
  const inf = new Informer<ConfigMap>(cms, {
    log: ctx.log,
    name: "sync-configmaps",
    namespace: ns,
    labelSelector: `${SYNC_LABEL}=true`,
    resyncPeriodMs: 30_000,
  });
  const servers = new Map<string, { attempt: string; server: DeviceServer }>();
  const copies = new Map<string, { id: string; abort: AbortController }>();
  /** On-disk verifications running (ConfigMap → attempt), and the volume file each froze (to release its clone). */
  const verifies = new Map<string, string>();
  const frozenFiles = new Map<string, string>();
  const ctl = new Controller({ name: "volume-sync", log: ctx.log, reconcile: (k) => reconcile(k) });
  ctl.watch(inf, (cm) => cm.metadata?.name);

  /** My replica's device of a volume (Ready, not being deleted). */
  async function myDevice(volume: string): Promise<string | undefined> {
    const r = await o.replicas.mine(volume, (x) => !x.spec?.delete && x.status?.state === VolumeStates.Ready && !!x.status.devPath);
    return r?.status?.devPath;
  }

  async function patch(name: string, data: Record<string, string>): Promise<void> {
    try {
      await cms.patch(name, { data }, { namespace: ns, type: "merge" });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async function stopServer(name: string): Promise<void> {
    const s = servers.get(name);
    servers.delete(name);
    await s?.server.close();
  }

  async function source(name: string, d: Record<string, string>): Promise<{ requeueAfterMs: number } | void> {
    const attempt = d[SyncKeys.Attempt] ?? "1";
    const step = sourceStep(d);
    if (step === "done") return void (await stopServer(name));
    const cur = servers.get(name);
    if (cur && cur.attempt === attempt && d[SyncKeys.SourceEndpoint] === `${cur.server.host}:${cur.server.port}`) return;
    await stopServer(name);
    const volume = d[SyncKeys.LocalVolume] ?? "";
    const dev = await myDevice(volume);
    if (!dev) {
      await patch(name, { [SyncKeys.Error]: `source node ${me} has no Ready replica of ${volume} to serve; retrying` });
      return { requeueAfterMs: RETRY_MS };
    }
    if (step === "reread") {
      // (A server of this attempt still running returned above: its own confirmation is on its way.) The source
      // has not changed since (unpublished, final): its digest is a re-read of its device (O_DIRECT), which the
      // controller compares with the target's.
      const checksum = await checksumOf(dev, await sizeOf(dev));
      ctx.log.info({ volume, checksum }, "migration: the source's checksum re-read after a restart (the target had confirmed)");
      await patch(name, { [SyncKeys.SourceChecksum]: checksum, [SyncKeys.SourceAttempt]: attempt, [SyncKeys.SourceCompleted]: "yes" });
      return;
    }
    const file = await precopyFile(dev);
    if (file) await sweepSnapshots(file); // an earlier incarnation's clones (killed mid-stream)
    const final = d[SyncKeys.Final] === "yes";
    if (!file && !final) {
      // Offline: nothing to do while the pod runs; the controller says when the volume is unpublished.
      if (d[SyncKeys.Mode] !== "offline") await patch(name, { [SyncKeys.Mode]: "offline" });
      return;
    }
    let ready = d[SyncKeys.PrecopyReady] === "yes";
    const token = newToken();
    const server = await serveDevice({
      host: await o.storageIP(),
      devPath: dev,
      token,
      precopy: file ? { file, tag: `a${attempt}` } : undefined,
      isFinal: () => inf.getByName(name, ns)?.data?.[SyncKeys.Final] === "yes",
      onRound: (r) => {
        ready ||= precopyRoundReady(r);
        const data: Record<string, string> = r.final
          ? { [SyncKeys.FinalRoundMs]: String(Math.round(r.ms)) }
          : { [SyncKeys.PrecopyRound]: String(r.round), [SyncKeys.PrecopyDeltaBytes]: String(r.bytes), [SyncKeys.PrecopyReady]: ready ? "yes" : "" };
        void patch(name, data).catch(() => undefined);
      },
      onDone: (r) => {
        ctx.log.info({ volume, bytes: r.bytes, checksum: r.checksum }, "migration: source stream confirmed by the target");
        void patch(name, { [SyncKeys.SourceChecksum]: r.checksum, [SyncKeys.SourceAttempt]: attempt, [SyncKeys.SourceCompleted]: "yes" }).catch((e: unknown) =>
          ctx.log.warn({ volume, err: String(e) }, "could not record the source checksum"),
        );
      },
      onError: (e) => ctx.log.warn({ volume, err: errorText(e) }, "migration: a source stream failed (the target retries)"),
    });
    servers.set(name, { attempt, server });
    // The filesystem this system created travels with the data: the target adopts the record once verified.
    const rec = records.read(ctx.stateDir, volume);
    await patch(name, {
      [SOURCE_RECORD]: rec ? JSON.stringify({ accessType: rec.accessType, formatted: rec.formatted, firstPublishedAt: rec.firstPublishedAt }) : "",
      [SyncKeys.SourceEndpoint]: `${server.host}:${server.port}`,
      [SyncKeys.SourceToken]: token,
      [SyncKeys.SourceReady]: "yes",
      [SyncKeys.Mode]: file ? "online" : "offline",
    });
    ctx.log.info({ volume, endpoint: `${server.host}:${server.port}`, device: dev }, "migration: serving the replica to the target");
  }

  async function target(name: string, d: Record<string, string>): Promise<{ requeueAfterMs: number } | void> {
    const attempt = d[SyncKeys.Attempt] ?? "1";
    if (d[SyncKeys.TargetAttempt] === attempt && d[SyncKeys.TargetChecksum]) {
      if (d[SyncKeys.TargetDiskAttempt] === attempt && d[SyncKeys.TargetDiskChecksum]) return;
      return resumeVerify(name, d, attempt);
    }
    const endpoint = d[SyncKeys.SourceEndpoint];
    const token = d[SyncKeys.SourceToken];
    if (!endpoint || !token) return;
    const id = `${attempt}|${endpoint}|${token}`;
    const cur = copies.get(name);
    if (cur?.id === id) return;
    cur?.abort.abort();
    const abort = new AbortController();
    copies.set(name, { id, abort });
    void copy(name, d, attempt, endpoint, token, abort.signal).finally(() => {
      if (copies.get(name)?.id === id) copies.delete(name);
    });
  }

  async function copy(name: string, d: Record<string, string>, attempt: string, endpoint: string, token: string, signal: AbortSignal): Promise<void> {
    const volume = d[SyncKeys.LocalVolume] ?? "";
    const i = endpoint.lastIndexOf(":");
    const host = endpoint.slice(0, i);
    const port = Number(endpoint.slice(i + 1));
    try {
      const dev = await myDevice(volume);
      if (!dev) throw new Error(`target node ${me} has no Ready replica of ${volume} yet`);
      let lastWrite = 0;
      ctx.log.info({ volume, from: endpoint, device: dev }, "migration: copying from the source");
      const r = await receiveDevice({
        host,
        port,
        token,
        devPath: dev,
        signal,
        onProgress: (bytes, total) => {
          if (Date.now() - lastWrite < PROGRESS_EVERY_MS && bytes < total) return;
          lastWrite = Date.now();
          void patch(name, { [SyncKeys.ProgressBytes]: String(bytes), [SyncKeys.TotalBytes]: String(total) }).catch(() => {});
        },
      });
      const bps = Math.round(r.bytes / (r.copyMs / 1000));
      // Freeze what the disk took before the target can go live (it cannot before targetChecksum is written).
      const frozen = await freezeTarget(dev, attempt);
      if (frozen.file) frozenFiles.set(name, frozen.file);
      // No clone (lvm, no reflink): the device is re-read now, in the pause, while nothing else writes it.
      const disk = frozen.file ? undefined : await onDiskChecksum(frozen, r.size, r.chunk);
      adoptRecord(volume, dev, d[SOURCE_RECORD]);
      await patch(name, {
        [SyncKeys.VolumeBytes]: String(r.size),
        freezeMs: String(Math.round(frozen.ms)),
        ...(disk
          ? {
              [SyncKeys.TargetDiskChecksum]: disk.checksum,
              [SyncKeys.TargetDiskAttempt]: attempt,
              diskVerifyMs: String(Math.round(disk.ms)),
              diskVerifyInPause: "yes",
            }
          : {}),
        [SyncKeys.ProgressBytes]: String(r.bytes),
        [SyncKeys.TotalBytes]: String(r.bytes),
        [SyncKeys.TargetChecksum]: r.checksum,
        [SyncKeys.TargetAttempt]: attempt,
        [SyncKeys.TargetCompleted]: "yes",
        [SyncKeys.BytesPerSecond]: String(bps),
        copyMs: String(Math.round(r.copyMs)),
        verifyMs: String(Math.round(r.verifyMs)),
        [SyncKeys.Error]: "",
      });
      ctx.log.info(
        {
          volume,
          bytes: r.bytes,
          checksum: r.checksum,
          bytesPerSecond: bps,
          copyMs: r.copyMs,
          verifyMs: r.verifyMs,
          freezeMs: frozen.ms,
          onDisk: disk?.checksum,
        },
        "migration: copy written and verified",
      );
      if (frozen.file) verify(name, volume, attempt, frozen, r.size, r.checksum);
    } catch (e) {
      if (signal.aborted) return;
      const msg = `copy attempt ${attempt} from ${endpoint} into node ${me} failed: ${errorText(e)}; retrying in ${RETRY_MS / 1000} s`;
      ctx.log.warn({ volume, err: msg }, "migration: copy failed");
      await patch(name, { [SyncKeys.Error]: msg }).catch(() => {});
      setTimeout(() => ctl.enqueue(name), RETRY_MS).unref();
    }
  }

  /**
   * Re-reads the frozen final state from disk (in the background: the target may be live already) and writes the
   * digest; the clone is removed once it matched, kept on a mismatch (so an operator may have it read again by
   * removing targetDiskChecksum). Keyed per ConfigMap, one at a time.
   */
  function verify(name: string, volume: string, attempt: string, frozen: Frozen, size: number, expected: string): void {
    if (verifies.has(name)) return;
    verifies.set(name, attempt);
    void (async () => {
      try {
        const v = await onDiskChecksum(frozen, size, CHUNK_BYTES);
        if (inf.getByName(name, ns)?.data?.[SyncKeys.Attempt] !== attempt && frozen.file) return void (await releaseFrozen(frozen.file));
        await patch(name, { [SyncKeys.TargetDiskChecksum]: v.checksum, [SyncKeys.TargetDiskAttempt]: attempt, diskVerifyMs: String(Math.round(v.ms)) });
        const ok = v.checksum === expected;
        if (ok && frozen.file) await releaseFrozen(frozen.file);
        const log = { volume, onDisk: v.checksum, copied: expected, ms: Math.round(v.ms), clone: frozen.path };
        if (ok) ctx.log.info(log, "migration: the target's disk read back equal to the copy");
        else ctx.log.error(log, "migration: the target's disk reads back DIFFERENT from what was copied; the frozen clone is kept");
      } catch (e) {
        const msg = `re-reading the copy of ${volume} on node ${me} from disk failed: ${errorText(e)}; retrying in ${RETRY_MS / 1000} s`;
        ctx.log.warn({ volume, err: msg }, "migration: on-disk verification failed");
        await patch(name, { [SyncKeys.Error]: msg }).catch(() => {});
        setTimeout(() => ctl.enqueue(name), RETRY_MS).unref();
      } finally {
        verifies.delete(name);
      }
    })();
  }

  /** targetChecksum written, no on-disk digest yet: an earlier incarnation was killed mid-read, or an operator asked again. */
  async function resumeVerify(name: string, d: Record<string, string>, attempt: string): Promise<{ requeueAfterMs: number } | void> {
    if (verifies.has(name)) return;
    const volume = d[SyncKeys.LocalVolume] ?? "";
    const dev = await myDevice(volume);
    if (!dev) return { requeueAfterMs: RETRY_MS };
    const frozen = await frozenClone(dev, attempt);
    const size = Number(d[SyncKeys.VolumeBytes]);
    if (!frozen || !Number.isSafeInteger(size) || size <= 0) {
      // Nothing frozen to read (removed by hand, or written by an agent without it): the controller keeps the source.
      await patch(name, {
        [SyncKeys.TargetDiskChecksum]: `unverifiable: the state of node ${me}'s copy at the cut-over (clone of attempt ${attempt}) is gone`,
        [SyncKeys.TargetDiskAttempt]: attempt,
      });
      return;
    }
    frozenFiles.set(name, frozen.file!);
    verify(name, volume, attempt, frozen, size, d[SyncKeys.TargetChecksum] ?? "");
  }

  /** The volume file behind this node's replica of `volume` (a verification clone may sit beside it). */
  async function verifiedFileOf(volume: string): Promise<string | undefined> {
    const r = await o.replicas.mine(volume, (x) => !!x.status?.devPath);
    return r?.status?.devPath ? backingFileOf(r.status.devPath) : undefined;
  }

  /** The volume file behind a replica device when it can be reflink-cloned (a probe clone), else undefined. */
  async function precopyFile(dev: string): Promise<string | undefined> {
    const file = await backingFileOf(dev);
    if (!file) return undefined;
    const probe = new SnapshotSeries(file, "probe", 0);
    try {
      await probe.next();
      return file;
    } catch (e) {
      ctx.log.info({ device: dev, err: errorText(e) }, "migration: no online pre-copy for this replica (copied offline)");
      return undefined;
    } finally {
      await probe.removeAll();
    }
  }

  /** Start-up: remove pre-copy clones of volumes no sync ConfigMap names this node the source of (crash leftovers). */
  async function sweepOrphans(): Promise<void> {
    await inf.waitForSync();
    // …and keep a target's frozen clone while its migration lasts (a verification resumes from it).
    const serving = new Set(
      inf
        .list()
        .filter((cm) => cm.data?.[SyncKeys.SourceNode] === me || cm.data?.[SyncKeys.TargetNode] === me)
        .map((cm) => cm.data?.[SyncKeys.LocalVolume] ?? ""),
    );
    // Only this agent's pools (under its state dir): loop devices are machine-wide, and on a one-machine dev
    // cluster another agent's clones sit in another node's pool.
    const mine = await realpath(ctx.stateDir).catch(() => ctx.stateDir);
    const dirs = new Set((await listLoopsSysfs()).map((l) => dirname(l.backFile)).filter((d) => d.startsWith(mine + "/")));
    for (const dir of dirs) {
      for (const snap of await snapshotsIn(dir)) {
        const base = basename(snap).slice(1, basename(snap).indexOf(".migrate-"));
        if (serving.has(base.replace(/\.img$/, ""))) continue;
        const removed = await sweepSnapshots(join(dir, base));
        if (removed.length) ctx.log.info({ removed }, "migration: removed pre-copy clones left by an earlier run");
      }
    }
  }

  /** Writes the target's volume record from the source's, so NodePublish mounts the copied filesystem. */
  function adoptRecord(volume: string, devPath: string, json: string | undefined): void {
    if (!json) return;
    const src = JSON.parse(json) as Partial<VolumeRecord>;
    if (!src.accessType) return;
    records.write(ctx.stateDir, {
      volume,
      devPath,
      accessType: src.accessType,
      ...(src.formatted ? { formatted: src.formatted } : {}),
      firstPublishedAt: src.firstPublishedAt ?? new Date().toISOString(),
    });
  }

  async function reconcile(name: string): Promise<{ requeueAfterMs: number } | void> {
    const cm = inf.getByName(name, ns);
    if (!cm || cm.metadata?.deletionTimestamp) {
      await stopServer(name);
      copies.get(name)?.abort.abort();
      copies.delete(name);
      // The migration ended (completed, accepted or aborted): its verification clone goes. Not in memory (this
      // agent restarted after the re-read): found from the replica, if it still has one here.
      const frozen = frozenFiles.get(name) ?? (await verifiedFileOf(name.slice(ObjectNames.SyncConfigMapPrefix.length)));
      frozenFiles.delete(name);
      if (frozen) await releaseFrozen(frozen);
      return;
    }
    const d = cm.data ?? {};
    try {
      if (d[SyncKeys.SourceNode] === me) return await source(name, d);
      if (d[SyncKeys.TargetNode] === me) return await target(name, d);
    } catch (e) {
      if (isConflict(e)) throw e;
      ctx.log.warn({ configMap: name, err: errorText(e) }, "volume sync pass failed");
      return { requeueAfterMs: RETRY_MS };
    }
  }

  return {
    start: async () => {
      await ctl.start();
      void sweepOrphans().catch((e: unknown) => ctx.log.warn({ err: errorText(e) }, "migration: start-up sweep of pre-copy clones failed"));
    },
    async stop(): Promise<void> {
      for (const c of copies.values()) c.abort.abort();
      await ctl.stop();
      for (const n of [...servers.keys()]) await stopServer(n);
    },
  };
}
