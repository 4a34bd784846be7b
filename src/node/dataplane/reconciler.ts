// The node agent's control of its data plane (docs/replication.md): for every replicated LocalVolume with a
// live replica on this node, the engine's device of that replica is handed to the data plane (`ensure`),
// configured with the volume's epoch, this node's role and its peers (`configure`); on the primary the data
// plane exposes the volume as a FUSE file and a loop device with direct I/O over it is the volume's device,
// linked at `<devLinkRoot>/<pool>-HA/<volume>` (LocalVolumeReplica status.devPath, what CSI publishes).
// The data plane keeps serving I/O when this process dies; on restart everything here is re-derived.
//
// Who writes what (one writer per field, so a late write cannot undo a fact):
// - this node's LocalVolumeReplica: devPath, haState, haRole, haEpoch (its own view of its data plane);
// - `synced` and `resync` of EVERY replica of a volume: the agent of the node whose data plane is the
//   primary at the current epoch (only the primary knows whether a peer has every acknowledged write);
// - consent for degraded mode: when the primary suspends I/O because an UpToDate peer disconnected, the
//   peer's LocalVolumeReplica is written `synced: false` FIRST, and only then is `outdate-peer` called. A
//   primary cut off from the API server cannot get that write done, so it never acknowledges a write the
//   peer lacks, and a failover to that peer loses nothing.
//
// Crash windows: every data plane op is idempotent (a crash after `ensure`/`configure`/`expose` re-runs it);
// attachLoop returns an existing loop over the same file; the link is replaced atomically (rename).

import { lstat, mkdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { HwError, isHwError } from "../../api/errors.ts";
import type { ReplicationStatus } from "../../api/kinds/local-storage-node.ts";
import type { LocalVolumeReplicaStatus } from "../../api/kinds/local-volume-replica.ts";
import { HAStates, NodeStates, VolumeStates } from "../../api/names.ts";
import { haDevPath, isReplicatedVolume, outdatedReplicas, peerAddress } from "../../api/replication.ts";
import { DataplaneClient } from "../../host/dataplane/client.ts";
import type { DpVolumeStatus } from "../../host/dataplane/protocol.ts";
import { attachLoop, detachLoop, findLoopsByBackingFile, listLoops } from "../../host/loop/loop.ts";
import { findMountsBySource } from "../../host/mount/mount.ts";
import { Controller, type ReconcileResult } from "../../kube/controller.ts";
import type { HwameistorClients, Lsn, Lv, Lvr } from "../../kube/hwameistor.ts";
import { Informer } from "../../kube/informer.ts";
import { isConflict } from "../../kube/transport.ts";
import type { NodeContext, Service } from "../context.ts";
import type { NodeReplicas } from "../storage/replicas.ts";
import { consumerOrOwn, type InformerFactory } from "../../kube/informer-factory.ts";
import { roundToExtent, type StorageEngine } from "../engines/engine.ts";
import { desiredConfig, haStateOf, needsConfigure, peerSynced, peersAwaitingConsent, primarySynced, resyncOf, type HaState } from "./ha.ts";

export interface ReplicationOptions {
  ctx: NodeContext;
  c: HwameistorClients;
  engine: StorageEngine;
  /** The data plane's control socket (`--dataplane-socket`). */
  socketPath: string;
  /** Root of the HA device links (`<root>/<pool>-HA/<volume>`). */
  devLinkRoot: string;
  /** Called when availability or the data plane's address changes (the LocalStorageNode status is rewritten). */
  onStatusChange?: () => void;
  /** How often `hello` is re-tried (default 10 s). */
  helloEveryMs?: number;
  /** This node's replica cache and a live read of a volume's peers (storage/replicas.ts); default: cache all. */
  replicas?: NodeReplicas;
  /** The agent's shared informers (LocalVolumes, LocalStorageNodes); default: its own. */
  informers?: InformerFactory;
}

export interface Replication extends Service {
  client: DataplaneClient;
  /** For the LocalStorageNode status. */
  status(): ReplicationStatus;
  /** Whether this part owns devPath/synced of the volume's replica on this node. */
  manages(volume: string): boolean;
  /** Stops serving the volume here (before the engine deletes its backing device). */
  release(volume: string): Promise<void>;
  start(): Promise<void>;
}

const LIVE_STATES: string[] = [VolumeStates.Ready, VolumeStates.NotReady, VolumeStates.Creating, VolumeStates.Empty];

export function replicationController(o: ReplicationOptions): Replication {
  const { ctx, c, engine } = o;
  const me = ctx.nodeName;
  const dp = new DataplaneClient(o.socketPath, { node: me });
  const lvInf = consumerOrOwn<Lv>(o.informers, c.lv, { log: ctx.log, name: "localvolumes(replication)", resyncPeriodMs: 30_000 });
  // This node's replicas (cached); a volume's peers are read live where the primary needs them (replicasOf).
  const lvrInf = o.replicas?.informer() ?? new Informer<Lvr>(c.lvr, { log: ctx.log, name: "localvolumereplicas(replication)" });
  const replicasOf = async (volume: string): Promise<Lvr[]> =>
    o.replicas ? o.replicas.ofVolume(volume) : lvrInf.list().filter((r) => r.spec?.volumeName === volume);
  const lsnInf = consumerOrOwn<Lsn>(o.informers, c.lsn, { log: ctx.log, name: "localstoragenodes(replication)" });
  const ctl = new Controller({ name: "replication", log: ctx.log, workers: 2, reconcile: (key) => reconcile(key) });
  let fuseDir = "";
  /** When this agent first saw a peer Connecting (volume/peer): a primary waits CONNECTING_GRACE_MS for it. */
  const connectingSince = new Map<string, number>();
  let avail: ReplicationStatus = { available: false, reason: `the data plane at ${o.socketPath} has not answered yet` };

  const onThisNode = (lv: Lv) => !!lv.spec?.config?.replicas.some((r) => r.hostname === me);
  const myVolumes = () =>
    lvInf
      .list()
      .filter((lv) => isReplicatedVolume(lv) && onThisNode(lv))
      .map((lv) => lv.metadata!.name!);
  ctl.watch(lvInf, (lv) => (isReplicatedVolume(lv) ? lv.metadata?.name : undefined));
  ctl.watch(lvrInf, (r) => r.spec?.volumeName);
  ctl.watch(lsnInf, (lsn) => (lsn.metadata?.name === me ? undefined : myVolumes()));

  const liveReplica = (volume: string, node: string, replicas = lvrInf.list()): Lvr | undefined =>
    replicas.find((r) => r.spec?.volumeName === volume && r.spec?.nodeName === node && !r.spec?.delete && LIVE_STATES.includes(r.status?.state ?? ""));

  function manages(volume: string): boolean {
    const lv = lvInf.getByName(volume);
    return !!lv && isReplicatedVolume(lv) && onThisNode(lv);
  }

  async function hello(): Promise<void> {
    let next: ReplicationStatus;
    try {
      const h = await dp.hello();
      next = {
        available: true,
        frontends: h.frontends ?? [],
        ...(h.listen ? { address: h.listen } : {}),
        ...(h.version ? { version: String(h.version) } : {}),
        ...(h.protocolVersion !== undefined ? { protocolVersion: String(h.protocolVersion) } : {}),
      };
      if (typeof h.fuseDir === "string") fuseDir = h.fuseDir;
    } catch (e) {
      if (!isHwError(e)) throw e;
      next = { available: false, reason: e.message };
    }
    if (JSON.stringify(next) !== JSON.stringify(avail)) {
      ctx.log.info({ replication: next }, "data plane availability");
      const wasAvailable = avail.available;
      avail = next;
      o.onStatusChange?.();
      if (next.available && !wasAvailable) for (const v of myVolumes()) ctl.enqueue(v);
    }
  }

  async function dpStatus(volume: string): Promise<DpVolumeStatus | undefined> {
    try {
      return (await dp.status(volume)).find((v) => v.volume === volume);
    } catch (e) {
      if (isHwError(e) && e.code === "NOT_FOUND") return undefined;
      throw e;
    }
  }

  /** get → mutate → updateStatus, again on a conflict (other writers touch other fields of the same status). */
  async function mutateLvr(name: string, fn: (st: LocalVolumeReplicaStatus) => boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const cur = await c.lvr.get(name);
      if (!cur) return;
      const st: LocalVolumeReplicaStatus = { ...(cur.status ?? {}) };
      if (!fn(st)) return;
      try {
        await c.lvr.updateStatus({ ...cur, status: st });
        return;
      } catch (e) {
        if (!isConflict(e) || attempt >= 4) throw e;
      }
    }
  }

  async function writeMine(lvr: Lvr, f: { devPath?: string; haState: HaState; dp?: DpVolumeStatus; synced?: boolean }): Promise<void> {
    await mutateLvr(lvr.metadata!.name!, (st) => {
      const before = JSON.stringify(st);
      if (f.devPath) st.devPath = f.devPath;
      st.haState = f.haState;
      if (f.dp) {
        st.haRole = String(f.dp.role);
        st.haEpoch = f.dp.epoch;
      }
      if (f.synced !== undefined) st.synced = f.synced;
      return JSON.stringify(st) !== before;
    });
  }

  async function linkTo(link: string, dev: string): Promise<void> {
    if ((await readlink(link).catch(() => "")) === dev) return;
    await mkdir(dirname(link), { recursive: true });
    const tmp = `${link}.tmp-${process.pid}`;
    await rm(tmp, { force: true });
    await symlink(dev, tmp);
    await rename(tmp, link);
  }

  async function exposeLocal(volume: string, st: DpVolumeStatus, link: string): Promise<void> {
    if (!st.exposed) await detachStaleLoops(volume, link, true);
    const path = st.exposed && st.path ? st.path : await dp.expose(volume);
    const loop = (await findLoopsByBackingFile(path))[0] ?? (await attachLoop(path, { directIo: true }));
    await linkTo(link, loop.name);
  }

  /**
   * A loop device left over a FUSE file of an earlier data plane process (it was killed and restarted; exposure
   * is not persisted): its FUSE connection is dead and it answers EIO. It goes before the volume is exposed
   * again, and on a node that is a secondary now (a failed-over primary's node came back), unless something
   * still mounts it: then the pod must let go first — Busy (`orThrow`), or false, and the link that finds it stays.
   */
  async function detachStaleLoops(volume: string, link: string, orThrow: boolean): Promise<boolean> {
    const target = await readlink(link).catch(() => "");
    const file = fuseDir ? join(fuseDir, volume) : undefined;
    // Over this node's FUSE file, or the link's loop showing the file's bare name (its FUSE mount is gone). Not
    // any loop the link names: loop numbers are reused, and another volume's device must never be detached.
    const stale = (await listLoops()).filter((l) => (file && l.backFile === file) || (l.name === target && l.backFile === `/${volume}`));
    for (const l of stale) {
      const m = await findMountsBySource(l.name);
      if (m.length) {
        if (!orThrow) {
          ctx.log.warn(
            { volume, loop: l.name, mounts: m.map((x) => x.target) },
            "a loop device over a dead data plane is still mounted: detached once unpublished",
          );
          return false;
        }
        throw new HwError(
          "FAILED_PRECONDITION",
          "Busy",
          `volume ${volume} on node ${me}: ${l.name} is still mounted at ${m.map((x) => x.target).join(", ")} over a data plane process that is gone (I/O there fails)`,
          { hint: "unpublish the volume here (restart the pod); the next publish uses the new data plane process" },
        );
      }
      await detachLoop(l.name);
      ctx.log.warn({ volume, loop: l.name }, "stale loop device over a dead FUSE connection detached");
    }
    return true;
  }

  /** Not (or no longer) the primary here: the loop over the FUSE file goes, unless something still mounts it. */
  async function unexposeLocal(volume: string, st: DpVolumeStatus | undefined, link: string): Promise<void> {
    if (st?.path) {
      for (const l of await findLoopsByBackingFile(st.path)) {
        const m = await findMountsBySource(l.name);
        if (m.length) {
          throw new HwError(
            "FAILED_PRECONDITION",
            "Busy",
            `volume ${volume} is still mounted at ${m.map((x) => x.target).join(", ")} on node ${me} (${l.name})`,
            {
              hint: "this node is no longer the volume's primary: unpublish the volume here (delete the pod) so it can rejoin as a secondary",
            },
          );
        }
        await detachLoop(l.name);
      }
    } else if (!(await detachStaleLoops(volume, link, false))) return;
    if (await lstat(link).catch(() => undefined)) await rm(link, { force: true });
    if (st?.exposed) await dp.unexpose(volume);
  }

  async function release(volume: string): Promise<void> {
    if (!avail.available) await hello();
    if (!avail.available) return; // no data plane here: nothing to release (it keeps no state it could serve)
    const st = await dpStatus(volume);
    const lvr = lvrInf.list().find((r) => r.spec?.volumeName === volume && r.spec?.nodeName === me);
    const link = haDevPath(o.devLinkRoot, lvr?.spec?.poolName ?? "", volume);
    await unexposeLocal(volume, st, link);
    if (st) await dp.remove(volume);
    ctx.log.info({ volume }, "replica released from the data plane");
  }

  /** The primary's report: every replica's `synced` and resync progress (this node is the only writer). */
  async function reportAsPrimary(volume: string, st: DpVolumeStatus, mine: Lvr): Promise<void> {
    await mutateLvr(mine.metadata!.name!, (s) => {
      const synced = primarySynced(st);
      if (s.synced === synced && !s.resync) return false;
      s.synced = synced;
      delete s.resync;
      return true;
    });
    const replicas = st.peers?.length ? await replicasOf(volume) : [];
    for (const p of st.peers ?? []) {
      const r = liveReplica(volume, p.node, replicas);
      if (!r || newerEpoch(r, st.epoch)) continue;
      const synced = peerSynced(p);
      const resync = resyncOf(p);
      // In sync again: it leaves the outdated list first (a failover needs both: synced, and not listed).
      if (synced && outdatedReplicas(lvInf.getByName(volume) ?? {}, st.epoch).has(p.node) && !(await recordOutdated(volume, st.epoch, p.node, false))) continue;
      await mutateLvr(r.metadata!.name!, (s) => {
        if (s.synced === synced && JSON.stringify(s.resync) === JSON.stringify(resync)) return false;
        s.synced = synced;
        if (resync) s.resync = resync;
        return true;
      });
    }
  }

  /** A replica whose own agent reports a newer epoch than our data plane's: this node's view is stale (failed over). */
  const newerEpoch = (r: Lvr, epoch: number) => (r.status?.haEpoch ?? 0) > epoch;

  /**
   * Records (or clears) `node` in the LocalVolume's status.outdatedReplicas, only while the API server's
   * LocalVolume (read now, not the cache: a cut-off agent's cache predates the failover) has this node as the
   * primary at `epoch`. The write carries the resourceVersion read, as a failover's does: if the two race, one
   * of them gets a conflict and re-reads. False when this node is not that primary (nothing written).
   */
  async function recordOutdated(volume: string, epoch: number, node: string, outdated: boolean): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const lv = await c.lv.get(volume);
      const cfg = lv?.spec?.config;
      if (!lv || !cfg || cfg.version !== epoch || cfg.replicas.find((r) => r.primary)?.hostname !== me) return false;
      const nodes = outdatedReplicas(lv, epoch);
      if (nodes.has(node) === outdated) return true;
      if (outdated) nodes.add(node);
      else nodes.delete(node);
      const status = { ...lv.status!, outdatedReplicas: { epoch, nodes: [...nodes].sort() } };
      try {
        await c.lv.updateStatus({ ...lv, status });
        return true;
      } catch (e) {
        if (!isConflict(e) || attempt >= 4) throw e;
      }
    }
  }

  /** Consent for degraded mode: the API server learns first that the peer is behind, then the primary resumes. */
  async function consent(volume: string, st: DpVolumeStatus): Promise<boolean> {
    const now = Date.now();
    for (const p of st.peers ?? []) {
      const key = `${volume}/${p.node}`;
      if (p.state !== "Connecting") connectingSince.delete(key);
      else if (!connectingSince.has(key)) connectingSince.set(key, now);
    }
    // A peer whose node is Offline gets no grace: it is not being set up, it is gone.
    const waiting = peersAwaitingConsent(st, (peer) =>
      lsnInf.getByName(peer)?.status?.state === NodeStates.Offline ? Infinity : now - (connectingSince.get(`${volume}/${peer}`) ?? now),
    );
    for (const p of waiting) {
      if (!(await recordOutdated(volume, st.epoch, p.node, true))) {
        ctx.log.warn({ volume, peer: p.node, epoch: st.epoch }, "not the primary at this epoch any more (failed over meanwhile): no consent to go on degraded");
        return false;
      }
      const r = (await replicasOf(volume)).find((x) => x.spec?.nodeName === p.node);
      if (r && !newerEpoch(r, st.epoch)) {
        await mutateLvr(r.metadata!.name!, (s) => {
          if (s.synced === false) return false;
          s.synced = false;
          return true;
        });
      }
      await dp.outdatePeer(volume, p.node);
      ctx.log.warn({ volume, peer: p.node, epoch: st.epoch }, "peer disconnected: recorded as not synced, then outdated; the primary continues degraded");
      void ctx.recorder.recordEvent(
        r ?? mine(volume)!,
        "Warning",
        "ReplicaOutdated",
        `volume ${volume}: replica on node ${p.node} disconnected from the primary on ${me}; recorded as not synced, writes continue degraded`,
      );
    }
    return waiting.length > 0;
  }

  const mine = (volume: string) => liveReplica(volume, me);

  async function reconcile(volume: string): Promise<ReconcileResult | void> {
    const lv = lvInf.getByName(volume);
    const lvr = mine(volume);
    const cfg = lv?.spec?.config;
    const managed = !!lv && !lv.spec?.delete && isReplicatedVolume(lv) && !!cfg && !!lvr && onThisNode(lv);
    if (!avail.available) {
      if (managed) await writeMine(lvr!, { haState: { state: HAStates.Down, reason: avail.reason ?? "data plane unavailable" } });
      return { requeueAfterMs: 10_000 };
    }
    let st = await dpStatus(volume);
    if (!managed) {
      // A volume the data plane serves here that no longer has a live replica on this node: released.
      if (st && (!lv || lv.spec?.delete || !lvr || !onThisNode(lv))) await release(volume);
      return;
    }
    const pool = lvr!.spec?.poolName ?? "";
    const link = haDevPath(o.devLinkRoot, pool, volume);
    const rep = await engine.getReplica(pool, volume);
    const size = roundToExtent(cfg!.requiredCapacityBytes);
    if (!rep?.active || rep.allocatedCapacityBytes < size) {
      await writeMine(lvr!, {
        haState: { state: HAStates.Down, reason: `the replica's device is not ready (${rep?.inactiveReason ?? "being created or grown"})` },
      });
      return { requeueAfterMs: 3_000 };
    }
    if (!st) st = await dp.ensure(volume, size, rep.devPath);
    else if (st.sizeBytes < size) await dp.resize(volume, size);
    const using = new Map((st.peers ?? []).map((p) => [p.node, p.address]));
    const want = desiredConfig(cfg!, me, (node, ip) => peerAddress(lsnInf.getByName(node), ip, using.get(node)));
    if ("error" in want) {
      await writeMine(lvr!, { haState: { state: HAStates.Down, reason: want.error } });
      return { requeueAfterMs: 10_000 };
    }
    st = await dpStatus(volume);
    // Demoting a data plane that still exposes the volume is refused (Busy): the loop device goes first.
    if (want.role === "secondary" && st?.exposed) await unexposeLocal(volume, st, link);
    if (needsConfigure(st, want)) {
      await dp.configure(volume, want.epoch, want.role, want.peers);
      ctx.log.info({ volume, epoch: want.epoch, role: want.role, peers: want.peers }, "replica configured in the data plane");
    }
    st = await dpStatus(volume);
    if (!st) throw new Error(`data plane lost volume ${volume} right after configure`);
    if (want.role === "primary") {
      // Consent first: a suspended primary holds every FUSE request, and attaching a loop device to its file
      // issues some (losetup would hang, and this pass with it).
      if (await consent(volume, st)) st = (await dpStatus(volume)) ?? st;
      if (!st.suspended) await exposeLocal(volume, st, link);
      await reportAsPrimary(volume, st, lvr!);
    } else {
      await unexposeLocal(volume, st, link);
    }
    await writeMine(lvr!, { devPath: link, haState: haStateOf(st), dp: st });
    const settling = st.role === "primary" && (st.suspended || (st.peers ?? []).some((p) => p.state !== "UpToDate"));
    return { requeueAfterMs: settling ? (st.suspended ? 1_000 : 2_000) : 30_000 };
  }

  let sub: { close: () => void } | undefined;
  let helloTimer: NodeJS.Timeout | undefined;
  return {
    client: dp,
    status: () => avail,
    manages,
    release,
    async start() {
      await hello();
      sub = dp.subscribe((e) => {
        if (e.event === "connected" || e.event === "disconnected") {
          void hello().catch(() => {});
          for (const v of myVolumes()) ctl.enqueue(v);
        } else if (typeof e.volume === "string") ctl.enqueue(e.volume);
      });
      helloTimer = setInterval(() => void hello().catch(() => {}), o.helloEveryMs ?? 10_000);
      await ctl.start();
    },
    async stop() {
      clearInterval(helloTimer);
      sub?.close();
      await ctl.stop();
      dp.close();
    },
  };
}
