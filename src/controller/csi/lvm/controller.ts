// CSI Controller service of lvm.hwameistor.io (runs in every `hwameistor controller` replica; the
// LocalVolume reconcilers behind it run in the elected leader only).
//
// Idempotency:
// - CreateVolume is keyed by the request name (= LocalVolume name, the PV name). A per-name try-lock makes a
//   concurrent call for the same name ABORTED (as the original). An existing LocalVolume with the same
//   pool, replica count and a capacity within the request is the answer (we wait for it like for a new
//   one); an incompatible one is ALREADY_EXISTS; one being deleted is ABORTED. Placement and the writes of
//   a new volume run under one in-process lock (provision.ts, which also names its crash windows).
// - RESOURCE_EXHAUSTED when no node fits leaves no object behind. When a node reports "insufficient free
//   space" for a replica, the volume is marked spec.delete (its objects are then removed by the
//   reconciler and node agent) and RESOURCE_EXHAUSTED is returned, so the provisioner reschedules.
// - DeleteVolume: unknown → OK; otherwise spec.delete=true (again, harmlessly, on a retry) and wait until
//   the LocalVolume is gone. Waits are bounded by the caller's deadline and maxWaitMs; running out is
//   UNAVAILABLE ("still in progress"), and the sidecar's retry continues where it stopped.
// - ControllerPublish sets status.publishedNode (+ fsType or rawblock); publishing again to the same node
//   is OK, to another node FAILED_PRECONDITION. Unpublish from a node the volume is not published on is OK.
// - ListVolumes pages by a numeric index into the name-sorted list; a bad token is ABORTED (CSI spec).

import { HwError, fromErrorStatus, hwError, invalid, notFound } from "../../../api/errors.ts";
import { AnnotationValues, Annotations, POOL_CLASSES, PublishContextKeys, ScParams, VolumeStates, isPoolClass, storagePoolName } from "../../../api/names.ts";
import { nameOf, hwameistorClients, type Lv, type Lvr, type HwameistorClients } from "../../../kube/hwameistor.ts";
import { listAll } from "../../../kube/hwameistor.ts";
import { storageNodeViews } from "../../../api/placement/placement.ts";
import type { KubeClient } from "../../../kube/client.ts";
import { isConflict } from "../../../kube/transport.ts";
import { silentLogger, type Logger } from "../../../kube/types.ts";
import {
  LVM_DEFAULT_FS_TYPE,
  LvmDriver,
  createVolumeHead,
  unsupportedCapability,
  validateVolumeCapabilities,
  controllerCapabilities,
} from "../../../csi/capabilities.ts";
import type { CallContext, ServiceHandlers } from "../../../csi/server.ts";
import type * as T from "../../../csi/types.ts";
import { accessTypeOf, isVolumeId, pageOf, requireField, validateNodeId, validateVolumeId } from "../../../csi/validate.ts";
import { filesystemOf } from "../../../csi/capacity.ts";
import { assertSameCsiName } from "../../../csi/volume-name.ts";
import { LVM_PARAMETER_DEFAULTS, capacityOf, nodeTopology, parseLvmParams } from "./params.ts";
import { controllerExpandVolume } from "./expand.ts";
import { provisionVolume, type Provisioner } from "./provision.ts";
import type { PlacementCache } from "./placement-cache.ts";
import { snapshotService } from "./snapshots.ts";
import { formatBytes } from "../../../api/quantity.ts";
import { waitUntil } from "../../../csi/wait.ts";
import { isReplicatedVolume, soleServingNode } from "../../../api/replication.ts";
import { requireHaPrimary } from "./ha-publish.ts";
import { KeyedLock } from "../../../kube/keyed-lock.ts";

export interface LvmControllerOptions {
  client: KubeClient;
  log?: Logger;
  /** Upper bound of a CreateVolume/DeleteVolume wait when the caller sets no deadline (default 60 s). */
  maxWaitMs?: number;
  /** First poll interval while waiting for the reconciler and node agents (default 200 ms; grows to 1 s). */
  pollMs?: number;
  /** Placement's view of the cluster (informer caches); its owner stops it. */
  cache: PlacementCache;
}

/** Nodes a volume is accessible from: its config replicas, else its accessibility nodes. */
export function volumeNodes(lv: Lv): string[] {
  const cfg = (lv.spec?.config?.replicas ?? []).map((r) => r.hostname);
  return cfg.length ? cfg : (lv.spec?.accessibility?.nodes ?? []);
}

export function toCsiVolume(lv: Lv, context: Record<string, string> = {}): T.Volume {
  return {
    volume_id: nameOf(lv),
    capacity_bytes: String(lv.status?.allocatedCapacityBytes || lv.spec?.requiredCapacityBytes || 0),
    volume_context: context,
    // The original returns no topology; returning it lets the provisioner write the PV's node affinity.
    accessible_topology: volumeNodes(lv).map((n) => ({ segments: { [LvmDriver.topologyKey]: n } })),
  };
}

export function volumeCondition(lv: Lv): T.VolumeCondition {
  const state = lv.status?.state ?? "";
  if (state === VolumeStates.Ready) return { abnormal: false, message: "volume is Ready" };
  return { abnormal: true, message: `volume is ${state || "new"}` };
}

/** Read-modify-write of an LV's status, conditional on the resourceVersion read, retried on conflict. */
async function mutateLvStatus(c: HwameistorClients, name: string, mutate: (st: NonNullable<Lv["status"]>, lv: Lv) => boolean | void): Promise<Lv | undefined> {
  for (let attempt = 0; ; attempt++) {
    const cur = await c.lv.get(name);
    if (!cur) return undefined;
    const status = structuredClone(cur.status ?? { rawblock: false });
    status.rawblock ??= false;
    if (mutate(status, cur) === false) return cur;
    try {
      return await c.lv.updateStatus({ ...cur, status });
    } catch (e) {
      if (isConflict(e) && attempt < 8) continue;
      throw e;
    }
  }
}

export function lvmControllerService(o: LvmControllerOptions): ServiceHandlers {
  const c = hwameistorClients(o.client);
  const log = o.log ?? silentLogger;
  const pollMs = o.pollMs ?? 200;
  const maxWaitMs = o.maxWaitMs ?? 60_000;
  const inFlight = new Set<string>();
  // One placement decision at a time in this process, over the cache plus the placements it assumed.
  const provisioner: Provisioner = { c, cache: o.cache, log, locks: new KeyedLock() };
  const snaps = snapshotService({ client: o.client, log, maxWaitMs, pollMs, provision: (r) => provisionVolume(provisioner, r) });

  /**
   * Waits for LocalVolume `name` until `done` (src/csi/wait.ts), woken by the placement cache's LocalVolume
   * informer on every event of that volume (no watch per call); the poll is the safety net.
   */
  const waitForVolume = (ctx: CallContext, what: string, name: string, done: () => Promise<boolean>, status?: () => string) =>
    waitUntil(ctx, what, { maxWaitMs, pollMs, status, wake: o.cache.volumeWake(name) }, done);

  /**
   * The live replicas ControllerPublish looks at. A single-replica volume: the cached ones, listed when the one
   * on `node` does not look publishable (the cache may lag the node's last write). A replicated one: always
   * listed, since its `synced` and HA role decide whether publishing serves current data.
   */
  async function publishReplicas(lv: Lv, node: string): Promise<Lvr[]> {
    const publishable = (x: Lvr | undefined) => x?.status?.state === VolumeStates.Ready && !!x.status?.synced && !!x.status?.devPath;
    const live = isReplicatedVolume(lv);
    const replicas = (await o.cache.replicasOf(nameOf(lv), live)).filter((r) => !r.spec?.delete);
    if (live || publishable(replicas.find((x) => x.spec?.nodeName === node))) return replicas;
    return (await o.cache.replicasOf(nameOf(lv), true)).filter((r) => !r.spec?.delete);
  }

  return {
    ControllerExpandVolume: controllerExpandVolume({ client: o.client, log, maxWaitMs, pollMs }),

    CreateSnapshot: snaps.CreateSnapshot,
    DeleteSnapshot: snaps.DeleteSnapshot,
    ListSnapshots: snaps.ListSnapshots,

    async ControllerGetCapabilities() {
      return controllerCapabilities(LvmDriver);
    },

    async CreateVolume(req: T.CreateVolumeRequest, ctx: CallContext): Promise<T.CreateVolumeResponse> {
      // The CSI name may be any string; the LocalVolume's name is derived from it (src/csi/volume-name.ts).
      const { csiName, name, caps } = createVolumeHead(LvmDriver, req);
      const params = parseLvmParams(req.parameters, name);
      const { requiredBytes, limitBytes } = capacityOf(req.capacity_range, filesystemOf(caps, req.parameters, LVM_DEFAULT_FS_TYPE));
      const topology = nodeTopology(req.accessibility_requirements);

      if (inFlight.has(name))
        throw new HwError("ABORTED", "OperationPending", `an operation on volume ${name} is already in progress`, { hint: "retry later" });
      inFlight.add(name);
      try {
        if (req.volume_content_source) return await snaps.createVolumeFromSource(req, { name, csiName, params, requiredBytes, limitBytes, topology }, ctx);
        // A name the synced cache does not know is a new volume (no GET on the way): should it exist after all
        // (the cache lags), its create answers ALREADY_EXISTS and provisionVolume returns the existing one.
        let lv = o.cache.synced() ? o.cache.cachedVolume(name) : await c.lv.get(name);
        if (!lv) lv = await provisionVolume(provisioner, { name, csiName, params, requiredBytes, topology });
        assertSameCsiName(lv, csiName, "volume");
        const have = lv.spec?.requiredCapacityBytes ?? 0;
        if (lv.spec?.delete || lv.status?.state === VolumeStates.ToBeDeleted || lv.status?.state === VolumeStates.Deleted) {
          throw new HwError("ABORTED", "BeingDeleted", `volume ${name} is being deleted`, { hint: "retry after the delete finished" });
        }
        if (
          lv.spec?.poolName !== params.poolName ||
          lv.spec?.replicaNumber !== params.replicaNumber ||
          have < requiredBytes ||
          (limitBytes !== undefined && have > limitBytes)
        ) {
          throw new HwError(
            "ALREADY_EXISTS",
            "AlreadyExists",
            `volume ${name} already exists as ${lv.spec?.replicaNumber} replica(s) of ${formatBytes(have)} in ${lv.spec?.poolName}, incompatible with this request (${params.replicaNumber} of ≥ ${formatBytes(requiredBytes)} in ${params.poolName})`,
          );
        }

        let last: Lv = lv;
        let first = true;
        let replicasCheckedAt = Date.now();
        let problem = "";
        await waitForVolume(
          ctx,
          `creating volume ${name} on ${(lv.spec?.accessibility?.nodes ?? []).join(", ")}`,
          name,
          async () => {
            // The first check uses the object just read or written; later ones the cached one (read when the
            // cache does not have it yet, or no longer).
            const cur = first ? lv : (o.cache.cachedVolume(name) ?? (await c.lv.get(name)));
            first = false;
            if (!cur) throw new HwError("ABORTED", "Deleted", `volume ${name} was deleted while being created`);
            last = cur;
            if (cur.status?.state === VolumeStates.Ready) return true;
            // Replica failures are looked at about every 400 ms, not at every wake-up: listing replicas is the
            // expensive part of this loop when many volumes are created at once.
            if (Date.now() - replicasCheckedAt < 400) return false;
            replicasCheckedAt = Date.now();
            for (const r of await o.cache.replicasOf(name)) {
              const err = r.status?.error;
              if (!err) continue;
              problem = `replica ${nameOf(r)} on ${r.spec?.nodeName}: ${err.reason}: ${err.message}`;
              // The node's code decides (status.error, written as raised): out of space means "place it elsewhere"
              // (§3.1), answered with the node's own code and reason.
              if (err.code === "RESOURCE_EXHAUSTED") {
                await c.lv.patch(name, { spec: { delete: true } });
                log.info(
                  { volume: name, replica: nameOf(r), node: r.spec?.nodeName, reason: err.reason },
                  "node refused the replica for space; volume marked for deletion",
                );
                throw fromErrorStatus(
                  err,
                  `node ${r.spec?.nodeName} cannot create replica ${nameOf(r)} of volume ${name}`,
                  "the volume is being removed; a retry places it again",
                );
              }
            }
            return false;
          },
          () => problem || `volume is ${last.status?.state || "new"}`,
        );
        return { volume: toCsiVolume(last, req.parameters ?? {}) };
      } finally {
        inFlight.delete(name);
      }
    },

    async DeleteVolume(req: T.DeleteVolumeRequest, ctx: CallContext): Promise<object> {
      const name = requireField(req.volume_id, "volume_id");
      if (!isVolumeId(name)) return {}; // we never hand out such an id: it does not exist (CSI: OK)
      const lv = await c.lv.get(name);
      if (!lv) return {};
      if (await snaps.deferDeleteIfSnapshots(lv)) return {};
      if (!lv.spec?.delete) {
        await c.lv.patch(name, { spec: { delete: true } }).catch((e: unknown) => {
          if ((e as HwError).code !== "NOT_FOUND") throw e;
        });
        log.info({ volume: name }, "LocalVolume marked for deletion");
      }
      await waitForVolume(ctx, `deleting volume ${name}`, name, async () => !(await c.lv.get(name)));
      return {};
    },

    async ControllerPublishVolume(req: T.ControllerPublishVolumeRequest): Promise<T.ControllerPublishVolumeResponse> {
      const name = validateVolumeId(req.volume_id);
      const node = validateNodeId(req.node_id);
      const cap = requireField(req.volume_capability, "volume_capability");
      const why = unsupportedCapability(LvmDriver, [cap]);
      if (why) throw invalid(`volume_capability: ${why}`);
      const lv = await c.lv.get(name);
      if (!lv) throw notFound(`volume ${name}`);
      // CSI: an unknown node is NOT_FOUND (a node runs an agent, which makes its LocalStorageNode).
      if (!(await c.lsn.get(node))) throw hwError("NodeNotFound", `node ${node} has no LocalStorageNode`, { hint: "is the node agent running on that node?" });
      // A volume being migrated is not published anywhere: its new replica may be half copied (§5.4).
      if (lv.metadata?.annotations?.[Annotations.VolumeMigrateState] === AnnotationValues.MigrateStarted) {
        throw new HwError("UNAVAILABLE", "VolumeMigrating", `volume ${name} is being migrated; it can be published once the migration completes`, {
          hint: "kubectl get localvolumemigrates shows its progress; retry later",
        });
      }
      const published = lv.status?.publishedNode;
      if (published && published !== node) {
        throw new HwError("FAILED_PRECONDITION", "PublishedElsewhere", `volume ${name} is published on node ${published}, not ${node}`, {
          hint: "unpublish it there first",
        });
      }
      // A migration's second replica of a volume without HA is a copy, not a place to publish (src/api/replication.ts).
      const sole = soleServingNode(lv);
      if (sole && sole !== node) {
        throw new HwError(
          "FAILED_PRECONDITION",
          "NotServingReplica",
          `volume ${name} is served by its replica on node ${sole}; the one on node ${node} is a migration's copy and is not published`,
          { hint: "the pod must run on the primary's node; the scheduler places it there" },
        );
      }
      const replicas = await publishReplicas(lv, node);
      const r = replicas.find((x) => x.spec?.nodeName === node);
      if (!r) {
        throw new HwError(
          "FAILED_PRECONDITION",
          "NoReplicaOnNode",
          `volume ${name} has no replica on node ${node} (replicas on: ${replicas.map((x) => x.spec?.nodeName).join(", ") || "none"})`,
        );
      }
      if (r.status?.state !== VolumeStates.Ready || !r.status?.synced || !r.status?.devPath) {
        throw new HwError(
          "UNAVAILABLE",
          "ReplicaNotReady",
          `replica ${nameOf(r)} of volume ${name} on node ${node} is not ready (state ${r.status?.state || "new"}, synced ${!!r.status?.synced})`,
          {
            hint: "retry; the node agent is still working on it",
          },
        );
      }
      // A replicated volume (or a convertible one whose node runs a data plane: its replica has an haState).
      if (isReplicatedVolume(lv) && ((lv.spec?.replicaNumber ?? 1) > 1 || r.status?.haState)) await requireHaPrimary(c, lv, r, node, !!published);
      const block = accessTypeOf(cap, "volume_capability") === "block";
      await mutateLvStatus(c, name, (st) => {
        if (st.publishedNode && st.publishedNode !== node)
          throw new HwError("FAILED_PRECONDITION", "PublishedElsewhere", `volume ${name} was published on node ${st.publishedNode} meanwhile`);
        const fsType = block ? st.fsType : cap.mount?.fs_type || st.fsType || LVM_DEFAULT_FS_TYPE;
        if (st.publishedNode === node && st.rawblock === block && st.fsType === fsType) return false;
        st.publishedNode = node;
        st.rawblock = block;
        if (fsType) st.fsType = fsType;
      });
      log.info({ volume: name, node }, "volume published");
      return {
        publish_context: {
          [PublishContextKeys.VolumeReplicaDevicePath]: r.status.devPath,
          [PublishContextKeys.VolumeReplicaName]: nameOf(r),
          // §3.1: an encrypted replica tells NodePublish which Secret opens it.
          ...(r.spec?.volumeEncrypt?.enable && r.spec.volumeEncrypt.secret
            ? {
                [PublishContextKeys.VolumeEncryptSecret]: r.spec.volumeEncrypt.secret,
                [PublishContextKeys.VolumeEncryptType]: r.spec.volumeEncrypt.type ?? "LUKS",
              }
            : {}),
        },
      };
    },

    async ControllerUnpublishVolume(req: T.ControllerUnpublishVolumeRequest): Promise<object> {
      const name = validateVolumeId(req.volume_id);
      const node = req.node_id ? validateNodeId(req.node_id) : undefined;
      await mutateLvStatus(c, name, (st) => {
        if (!st.publishedNode) return false;
        // CSI: unpublishing from a node the volume is not published on succeeds (the original errors).
        if (node && st.publishedNode !== node) return false;
        st.publishedNode = "";
      });
      return {};
    },

    ValidateVolumeCapabilities(req: T.ValidateVolumeCapabilitiesRequest): Promise<T.ValidateVolumeCapabilitiesResponse> {
      return validateVolumeCapabilities(LvmDriver, req, async (name) => !!(await c.lv.get(name)));
    },

    async ListVolumes(req: T.ListVolumesRequest): Promise<T.ListVolumesResponse> {
      const { page, next_token } = pageOf(
        (await listAll(c.lv)).sort((a, b) => nameOf(a).localeCompare(nameOf(b))),
        req,
      );
      return { entries: page.map((lv) => ({ volume: toCsiVolume(lv), status: { volume_condition: volumeCondition(lv) } })), next_token };
    },

    async ControllerGetVolume(req: T.ControllerGetVolumeRequest): Promise<T.ControllerGetVolumeResponse> {
      const name = validateVolumeId(req.volume_id);
      const lv = await c.lv.get(name);
      // The original answers an empty response; CSI says NOT_FOUND.
      if (!lv) throw notFound(`volume ${name}`);
      return { volume: toCsiVolume(lv), status: { volume_condition: volumeCondition(lv) } };
    },

    async GetCapacity(req: T.GetCapacityRequest): Promise<T.GetCapacityResponse> {
      // Only the pool class matters for "how much fits"; the other parameters are CreateVolume's business.
      // Without parameters: the default StorageClass's class, as CreateVolume.
      const value = req.parameters?.[ScParams.PoolClass] || LVM_PARAMETER_DEFAULTS[ScParams.PoolClass];
      if (!isPoolClass(value)) throw invalid(`parameter ${ScParams.PoolClass} ${JSON.stringify(value)} is not one of ${POOL_CLASSES.join(", ")}`);
      const cls = storagePoolName(value);
      if (req.volume_capabilities?.length) {
        const why = unsupportedCapability(LvmDriver, req.volume_capabilities);
        if (why) return { available_capacity: "0", maximum_volume_size: { value: "0" }, minimum_volume_size: { value: "4194304" } };
      }
      const node = req.accessible_topology?.segments?.[LvmDriver.topologyKey];
      const { lsns, lvs } = await o.cache.snapshot();
      const views = storageNodeViews(lsns, lvs).filter((v) => v.ready && (!node || v.name === node));
      const free = views.map((v) => {
        const p = v.pools[cls];
        return p ? Math.max(0, Math.min(p.freeBytes, p.totalBytes - p.usedBytes)) : 0;
      });
      const best = free.length ? Math.max(...free) : 0;
      return { available_capacity: String(best), maximum_volume_size: { value: String(best) }, minimum_volume_size: { value: "4194304" } };
    },
  };
}
