// Snapshots of lvm.hwameistor.io (reference §3.1, §5.7): CreateSnapshot / DeleteSnapshot / ListSnapshots,
// CreateVolume from a snapshot (restore) or from a volume (clone), and DeleteVolume's deferral while a volume
// has snapshots. The work is done by the controller's and node agents' snapshot reconcilers; these handlers
// create objects and wait for them, like CreateVolume does for a LocalVolume.
//
// Idempotency:
// - CreateSnapshot is keyed by the snapshot id = request name with the first `snapshot` replaced by
//   `snapcontent` (the original's rule). An existing LocalVolumeSnapshot of the same source is the answer
//   (waited for); of another source ALREADY_EXISTS; one being deleted ABORTED. Refusals (unknown source →
//   NOT_FOUND, not Ready / HA → FAILED_PRECONDITION, bad `snapsize` → INVALID_ARGUMENT) create nothing.
// - DeleteSnapshot: unknown → OK; otherwise spec.delete=true (again, harmlessly) and wait until it is gone.
// - ListSnapshots: filters snapshot_id / source_volume_id (the original ignores them), pages by a numeric
//   index into the id-sorted list; a bad token is ABORTED.
// - CreateVolume from a source: the new volume is placed on the source's node and pool (in place only, as the
//   original); the LocalVolumeSnapshotRestore `snaprestore-<vol>` is created once (carries the finalizer
//   `provisioner.hwameistor.io/restoring-protection` while we wait) and the target's annotation
//   `hwameistor.io/snapshot-restore-completed` short-circuits a retry after success. A clone goes through a
//   temporary snapshot `snapshot-for-<vol>`, deleted afterwards. Too small a request is OUT_OF_RANGE before
//   anything is created.
// - DeleteVolume of a volume with snapshots: annotated DELETE_DEFERRED_ANNOTATION and answered OK; the
//   controller deletes it when its last snapshot is gone (the original: ToBeDeleted + the node waits).

import { HwError, fromErrorStatus, invalid, notFound } from "../../../api/errors.ts";
import { Annotations, Finalizers, ObjectNames, RestoreTypes, SnapshotClassParams, TopologyKeys, VolumeStates } from "../../../api/names.ts";
import { DELETE_DEFERRED_ANNOTATION, nodesOfVolume } from "../../snapshot/reconciler.ts";
import type { KubeClient } from "../../../kube/client.ts";
import { isNotFound } from "../../../kube/transport.ts";
import { hwameistorClients, type LocalVolumeSnapshotObject as Lvs, type LocalVolumeSnapshotRestoreObject as Lvsr, type Lv } from "../../../kube/hwameistor.ts";
import { silentLogger, type Logger } from "../../../kube/types.ts";
import type { CallContext } from "../../../csi/server.ts";
import type * as T from "../../../csi/types.ts";
import { isVolumeId, pageOf, requireField, validateVolumeId } from "../../../csi/validate.ts";
import { assertSameCsiName, csiNameAnnotation, objectNameFor } from "../../../csi/volume-name.ts";
import type { LvmParams } from "./params.ts";
import type { ProvisionRequest } from "./provision.ts";
import { waitUntil } from "../../../csi/wait.ts";

export interface CsiSnapshot {
  size_bytes: string;
  snapshot_id: string;
  source_volume_id: string;
  creation_time?: { seconds: string; nanos: number };
  ready_to_use: boolean;
}
export interface CreateSnapshotRequest {
  source_volume_id?: string;
  name?: string;
  secrets?: Record<string, string>;
  parameters?: Record<string, string>;
}
export interface ListSnapshotsRequest {
  max_entries?: number;
  starting_token?: string;
  source_volume_id?: string;
  snapshot_id?: string;
}
type ContentSource = { snapshot?: { snapshot_id?: string } | null; volume?: { volume_id?: string } | null; type?: string };

/** What CreateVolume already parsed, handed over for a request with volume_content_source. */
export interface ParsedCreate {
  name: string;
  csiName: string;
  params: LvmParams;
  requiredBytes: number;
  limitBytes?: number;
  topology: ProvisionRequest["topology"];
}

export interface SnapshotServiceOptions {
  client: KubeClient;
  log?: Logger;
  maxWaitMs?: number;
  pollMs?: number;
  /** provisionVolume under the controller's placement lock. */
  provision(r: ProvisionRequest): Promise<Lv>;
}

/** §3.1: the request name with the first `snapshot` replaced by `snapcontent`. */
export function snapshotIdOf(name: string): string {
  return name.replace("snapshot", ObjectNames.SnapContentPrefix);
}

/** VolumeSnapshotClass `snapsize` (bytes, integer string); undefined when absent. */
export function parseSnapsize(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < 4194304) {
    throw invalid(`parameter ${SnapshotClassParams.SnapSize} ${JSON.stringify(v)} must be an integer number of bytes ≥ 4194304`);
  }
  return Number(v);
}

export function toCsiSnapshot(s: Lvs): CsiSnapshot {
  const ms = Date.parse(s.status?.creationTime ?? s.metadata?.creationTimestamp ?? "") || 0;
  return {
    size_bytes: String(s.status?.allocatedCapacityBytes ?? s.spec?.requiredCapacityBytes ?? 0),
    snapshot_id: s.metadata!.name!,
    source_volume_id: s.spec?.sourceVolume ?? "",
    creation_time: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
    ready_to_use: s.status?.state === VolumeStates.Ready,
  };
}

export function snapshotService(o: SnapshotServiceOptions) {
  const c = hwameistorClients(o.client);
  const log = o.log ?? silentLogger;
  const pollMs = o.pollMs ?? 200;
  const maxWaitMs = o.maxWaitMs ?? 60_000;

  const wait = (ctx: CallContext, what: string, done: () => Promise<boolean>, status?: () => string) =>
    waitUntil(ctx, what, { maxWaitMs, pollMs, status }, done);

  /** The checks every snapshot source volume passes; returns the volume. */
  async function snapshottableVolume(source: string): Promise<Lv> {
    const lv = await c.lv.get(source);
    if (!lv?.spec) throw notFound(`source volume ${source}`);
    if (lv.spec.delete || lv.status?.state === VolumeStates.ToBeDeleted || lv.status?.state === VolumeStates.Deleted) {
      throw new HwError("FAILED_PRECONDITION", "VolumeBeingDeleted", `source volume ${source} is being deleted`);
    }
    if (lv.status?.state !== VolumeStates.Ready) {
      throw new HwError("FAILED_PRECONDITION", "VolumeNotReady", `source volume ${source} is not Ready (state ${lv.status?.state || "new"})`, {
        hint: "retry when the volume is Ready",
      });
    }
    const nodes = nodesOfVolume(lv);
    if (nodes.length !== 1)
      throw new HwError(
        "FAILED_PRECONDITION",
        "HaVolume",
        `source volume ${source} has replicas on ${nodes.join(", ")}: Haven't support take snapshot on HA-Volume`,
      );
    return lv;
  }

  /** Creates (or finds) the LocalVolumeSnapshot `id` of `source` and waits until it is Ready. */
  async function ensureSnapshot(ctx: CallContext, id: string, source: string, snapsize: number | undefined, csiName = id): Promise<Lvs> {
    let lvs = await c.lvs.get(id);
    if (lvs) {
      assertSameCsiName(lvs, csiName, "snapshot");
      if (lvs.spec?.sourceVolume !== source)
        throw new HwError("ALREADY_EXISTS", "SnapshotExists", `snapshot ${id} already exists for volume ${lvs.spec?.sourceVolume}, not ${source}`);
      if (lvs.spec.delete) throw new HwError("ABORTED", "BeingDeleted", `snapshot ${id} is being deleted`, { hint: "retry after the delete finished" });
    } else {
      const lv = await snapshottableVolume(source);
      const required = snapsize ?? lv.status?.allocatedCapacityBytes ?? lv.spec!.requiredCapacityBytes;
      lvs = await c.lvs.create({
        metadata: { name: id, annotations: csiNameAnnotation(csiName) },
        spec: { sourceVolume: source, accessibility: { nodes: nodesOfVolume(lv) }, requiredCapacityBytes: required, delete: false },
      } as Lvs);
      log.info({ snapshot: id, volume: source }, "LocalVolumeSnapshot created");
    }
    let last: Lvs = lvs;
    await wait(
      ctx,
      `snapshot ${id} of volume ${source}`,
      async () => {
        const cur = await c.lvs.get(id);
        if (!cur) throw new HwError("ABORTED", "Deleted", `snapshot ${id} was deleted while being created`);
        last = cur;
        if (cur.status?.state === VolumeStates.Ready) return true;
        // The node's error, as raised (LocalVolumeReplicaSnapshot → LocalVolumeSnapshot status.error).
        const err = cur.status?.error;
        if (err?.code === "RESOURCE_EXHAUSTED") throw fromErrorStatus(err, `snapshot ${id} of volume ${source}`);
        return false;
      },
      () => last.status?.message || `snapshot is ${last.status?.state || "new"}`,
    );
    return last;
  }

  async function deleteSnapshotAndWait(ctx: CallContext, id: string): Promise<void> {
    const lvs = await c.lvs.get(id);
    if (!lvs) return;
    if (!lvs.spec?.delete) {
      await c.lvs.patch(id, { spec: { delete: true } }).catch((e: unknown) => {
        if ((e as HwError).code !== "NOT_FOUND") throw e;
      });
      log.info({ snapshot: id }, "LocalVolumeSnapshot marked for deletion");
    }
    await wait(ctx, `deleting snapshot ${id}`, async () => !(await c.lvs.get(id)));
  }

  /** Restore snapshot `snap` (Ready) into the new volume `p.name` on the snapshot's node; returns the volume. */
  async function restoreInto(ctx: CallContext, p: ParsedCreate, snap: Lvs, minBytes: number): Promise<Lv> {
    const snapId = snap.metadata!.name!;
    if (p.requiredBytes < minBytes) {
      throw new HwError(
        "OUT_OF_RANGE",
        "TooSmall",
        `volume ${p.name} of ${p.requiredBytes} bytes is smaller than its source ${snap.spec?.sourceVolume} (${minBytes} bytes)`,
        {
          hint: "request at least the source's size",
        },
      );
    }
    if (p.limitBytes !== undefined && p.limitBytes < minBytes)
      throw new HwError("OUT_OF_RANGE", "TooSmall", `capacity_range.limit_bytes ${p.limitBytes} is below the source's ${minBytes} bytes`);
    const node = snap.spec?.accessibility?.nodes?.[0] ?? "";
    const pool = (await c.lvrs.list()).items.find((x) => x.spec?.volumeSnapshotName === snapId)?.spec?.poolName ?? p.params.poolName;
    if (p.topology.requisite && !p.topology.requisite.includes(node)) {
      throw new HwError(
        "FAILED_PRECONDITION",
        "InPlaceOnly",
        `volume ${p.name} must be on node ${node}, where its source ${snap.spec?.sourceVolume} is (restore and clone are in place only); the request allows ${p.topology.requisite.join(", ")}`,
      );
    }
    let lv = await c.lv.get(p.name);
    if (lv?.metadata?.annotations?.[Annotations.SnapshotRestoreCompleted]) return lv; // a retry after success
    if (!lv) {
      lv = await o.provision({
        name: p.name,
        csiName: p.csiName,
        params: { ...p.params, poolName: pool, replicaNumber: 1 },
        requiredBytes: p.requiredBytes,
        topology: { requisite: [node], preferred: [node] },
      });
      log.info({ volume: p.name, snapshot: snapId, node }, "LocalVolume created for a restore");
    }
    await wait(ctx, `creating volume ${p.name} on ${node}`, async () => (await c.lv.get(p.name))?.status?.state === VolumeStates.Ready);
    const rname = ObjectNames.SnapRestorePrefix + p.name;
    if (!(await c.lvsrestore.get(rname))) {
      await c.lvsrestore.create({
        metadata: { name: rname, finalizers: [Finalizers.RestoringProtection] },
        spec: { targetVolume: p.name, targetPoolName: pool, sourceVolumeSnapshot: snapId, restoreType: RestoreTypes.Create, abort: false },
      } as Lvsr);
    }
    let state = "";
    let message = "";
    await wait(
      ctx,
      `restoring snapshot ${snapId} into volume ${p.name}`,
      async () => {
        const r = await c.lvsrestore.get(rname);
        state = r?.status?.state ?? "";
        message = r?.status?.message ?? "";
        return state === "Completed" || state === "Failed";
      },
      () => `restore is ${state || "new"}`,
    );
    // The restore object has done its job either way: drop our finalizer and delete it.
    await c.lvsrestore.patch(rname, { metadata: { finalizers: [] } }).catch(() => undefined);
    await c.lvsrestore.delete(rname).catch(() => undefined);
    if (state === "Failed") {
      await c.lv.patch(p.name, { spec: { delete: true } }).catch(() => undefined);
      throw new HwError("FAILED_PRECONDITION", "RestoreFailed", `restoring snapshot ${snapId} into volume ${p.name} failed: ${message}`, {
        hint: "the new volume is being removed; a retry starts over",
      });
    }
    return (await c.lv.get(p.name)) ?? lv;
  }

  return {
    async CreateSnapshot(req: CreateSnapshotRequest, ctx: CallContext): Promise<{ snapshot: CsiSnapshot }> {
      const name = requireField(req.name, "name");
      const source = validateVolumeId(req.source_volume_id, "source_volume_id");
      // The original's rule (snapshot-<uid> → snapcontent-<uid>), then any string → an object name.
      const id = objectNameFor(snapshotIdOf(name));
      const snapsize = parseSnapsize(req.parameters?.[SnapshotClassParams.SnapSize]);
      return { snapshot: toCsiSnapshot(await ensureSnapshot(ctx, id, source, snapsize, name)) };
    },

    async DeleteSnapshot(req: { snapshot_id?: string }, ctx: CallContext): Promise<object> {
      const id = requireField(req.snapshot_id, "snapshot_id");
      if (isVolumeId(id)) await deleteSnapshotAndWait(ctx, id); // else: never one of ours, so it does not exist (OK)
      return {};
    },

    async ListSnapshots(req: ListSnapshotsRequest): Promise<{ entries: Array<{ snapshot: CsiSnapshot }>; next_token: string }> {
      const items = (await c.lvs.list()).items
        .filter((s) => !req.snapshot_id || s.metadata?.name === req.snapshot_id)
        .filter((s) => !req.source_volume_id || s.spec?.sourceVolume === req.source_volume_id)
        .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
      const { page, next_token } = pageOf(items, req);
      return { entries: page.map((s) => ({ snapshot: toCsiSnapshot(s) })), next_token };
    },

    /** CreateVolume with volume_content_source (snapshot → restore, volume → clone). */
    async createVolumeFromSource(req: T.CreateVolumeRequest, p: ParsedCreate, ctx: CallContext): Promise<T.CreateVolumeResponse> {
      const src = req.volume_content_source as ContentSource;
      let lv: Lv;
      let context: Record<string, string>;
      if (src.snapshot?.snapshot_id !== undefined || src.type === "snapshot") {
        const snapId = validateVolumeId(src.snapshot?.snapshot_id, "volume_content_source.snapshot.snapshot_id");
        const snap = await c.lvs.get(snapId);
        if (!snap?.spec || snap.spec.delete) throw notFound(`snapshot ${snapId}`);
        if (snap.status?.state !== VolumeStates.Ready)
          throw new HwError("FAILED_PRECONDITION", "SnapshotNotReady", `snapshot ${snapId} is not Ready (state ${snap.status?.state || "new"})`);
        const srcLv = await c.lv.get(snap.spec.sourceVolume);
        const minBytes = srcLv?.spec?.requiredCapacityBytes ?? snap.status.allocatedCapacityBytes ?? 0;
        lv = await restoreInto(ctx, p, snap, minBytes);
        context = { [Annotations.SourceSnapshot]: snapId };
      } else if (src.volume?.volume_id !== undefined || src.type === "volume") {
        const srcName = validateVolumeId(src.volume?.volume_id, "volume_content_source.volume.volume_id");
        const done = await c.lv.get(p.name);
        if (done?.metadata?.annotations?.[Annotations.SnapshotRestoreCompleted]) {
          lv = done;
        } else {
          const srcLv = await snapshottableVolume(srcName);
          const minBytes = srcLv.spec?.requiredCapacityBytes ?? 0;
          if (p.requiredBytes < minBytes)
            throw new HwError(
              "OUT_OF_RANGE",
              "TooSmall",
              `volume ${p.name} of ${p.requiredBytes} bytes is smaller than its source ${srcName} (${minBytes} bytes)`,
            );
          const snap = await ensureSnapshot(ctx, ObjectNames.CloneSnapshotPrefix + p.name, srcName, undefined);
          lv = await restoreInto(ctx, p, snap, minBytes);
        }
        await deleteSnapshotAndWait(ctx, ObjectNames.CloneSnapshotPrefix + p.name);
        context = {};
      } else {
        throw invalid("volume_content_source: neither snapshot nor volume is set");
      }
      return {
        volume: {
          volume_id: p.name,
          capacity_bytes: String(lv.status?.allocatedCapacityBytes || lv.spec?.requiredCapacityBytes || 0),
          volume_context: { ...(req.parameters ?? {}), ...context },
          content_source: req.volume_content_source,
          accessible_topology: nodesOfVolume(lv).map((n) => ({ segments: { [TopologyKeys.LvmNode]: n } })),
        } as T.Volume,
      };
    },

    /** DeleteVolume: true when the volume has snapshots and its deletion is deferred (answer OK). */
    async deferDeleteIfSnapshots(lv: Lv): Promise<boolean> {
      const name = lv.metadata!.name!;
      if (lv.spec?.delete) return false;
      // A server without the snapshot kind has no snapshots (not an error for DeleteVolume).
      const all = await c.lvs.list().catch((e: unknown) => {
        if (isNotFound(e)) return { items: [] as Lvs[] };
        throw e;
      });
      const snaps = all.items.filter((s) => s.spec?.sourceVolume === name);
      if (!snaps.length) return false;
      if (!lv.metadata?.annotations?.[DELETE_DEFERRED_ANNOTATION]) {
        await c.lv.patch(name, { metadata: { annotations: { [DELETE_DEFERRED_ANNOTATION]: "true" } } });
        log.info({ volume: name, snapshots: snaps.map((s) => s.metadata?.name) }, "volume has snapshots: deletion deferred until they are gone");
      }
      return true;
    },
  };
}
