// external-provisioner, for one CSI driver reached over its controller socket (as the real sidecar is):
// provisions PVs for claims the PV controller hands to this driver, deletes the volumes of released PVs with
// reclaim policy Delete. Decisions in decide.ts.
//
// Idempotency and crash windows:
// - The CSI name is the PV name `pvc-<uid>`: killed after CreateVolume and before the PV is written, the next
//   pass asks for the same name and the driver answers with the same volume (no duplicate).
// - The PV is created with the claim in claimRef; if the claim was deleted meanwhile, the PV controller
//   releases it and the deleter below removes the volume (no leak).
// - Deleting: DeleteVolume first (NOT_FOUND/OK both mean gone), then the finalizer, then the PV object.
// Failures: Event ProvisioningFailed (Warning) with the driver's "rpc error: code = … desc = …", condition
// Provisioned=False with the reason and the fix, retry with per-claim exponential backoff (1 s → 5 min,
// upstream's defaults). A WaitForFirstConsumer claim whose node cannot hold the volume (RESOURCE_EXHAUSTED)
// loses its selected-node annotation so the scheduler picks again (upstream's reschedule).

import os from "node:os";
import { randomBytes } from "node:crypto";
import type { CoreNode, Pv, Pvc, StorageClassShape } from "../../api/core.ts";
import { HwError } from "../../api/errors.ts";
import { KubeAnnotations, KubeFinalizers } from "../../api/names.ts";
import { quantityOrUndefined } from "../../api/quantity.ts";

import { claimInformers, roleInformers } from "../../kube/informer-factory.ts";
import { CSI_NODE, NODE, VOLUME_ATTACHMENT, VOLUME_SNAPSHOT, VOLUME_SNAPSHOT_CONTENT, metaTime } from "../../kube/resources.ts";
import { isNotFound } from "../../kube/transport.ts";
import { objectKey, type KubeObject } from "../../kube/types.ts";
import type { CreateVolumeResponse, Topology } from "../../csi/types.ts";
import {
  isInProgress,
  nodeTopology,
  rpcError,
  SIDECAR_RESYNC_MS,
  SIDECAR_RETRY,
  sidecarController,
  type CsiNodeShape,
  type SidecarOptions,
} from "../common.ts";
import { createVolumeRequest, persistentVolume, pvNameOf, shouldDelete, shouldProvision } from "./decide.ts";

type K = KubeObject;
export const PROVISIONED_CONDITION = "Provisioned";

export interface ProvisionerOptions extends SidecarOptions {
  workers?: number;
  /** Retry backoff (default 1 s → 300 s). */
  retryStartMs?: number;
  retryMaxMs?: number;
}

/** A claim problem found before any CSI call: nothing was created. */
class ClaimProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

export function provisioner(o: ProvisionerOptions) {
  const { log, f } = roleInformers(o, SIDECAR_RESYNC_MS);
  const driver = o.driver.name;
  const identity = `${Date.now()}-${randomBytes(2).readUInt16BE() % 10000}-${driver}`;
  const claimSide = claimInformers(f);
  const { pvcs, pvs } = claimSide;
  const inf = {
    ...claimSide.inf,
    node: f.for<CoreNode & K>(NODE),
    csiNode: f.for<CsiNodeShape & K>(CSI_NODE),
    va: f.for<K>(VOLUME_ATTACHMENT),
    vs: f.for<K>(VOLUME_SNAPSHOT),
    vsc: f.for<K>(VOLUME_SNAPSHOT_CONTENT),
  };
  const queue = { baseDelayMs: o.retryStartMs ?? SIDECAR_RETRY.baseDelayMs, maxDelayMs: o.retryMaxMs ?? SIDECAR_RETRY.maxDelayMs };
  const component = `${driver}_${os.hostname()}`;
  const timeoutMs = o.timeoutMs ?? 60_000;

  const claims = sidecarController(o.client, log, {
    name: `provisioner-${driver}`,
    component,
    workers: o.workers ?? 4,
    queue,
    reconcile: (key) => provisionClaim(key),
  });
  const deleter = sidecarController(o.client, log, { name: `deleter-${driver}`, component, workers: 2, queue, reconcile: (key) => deleteVolume(key) });
  const claimsUsing = (ns: string, kind: string, name: string) =>
    inf.pvc
      .list()
      .filter(
        (c) =>
          c.metadata?.namespace === ns && !c.spec?.volumeName && [c.spec?.dataSourceRef, c.spec?.dataSource].some((d) => d?.kind === kind && d.name === name),
      )
      .map(objectKey);
  claims
    .watch(inf.pvc)
    .watch(inf.sc, (sc) =>
      inf.pvc
        .list()
        .filter((c) => !c.spec?.volumeName && c.spec?.storageClassName === sc.metadata?.name)
        .map(objectKey),
    )
    .watch(inf.vs, (vs) => claimsUsing(vs.metadata?.namespace ?? "", "VolumeSnapshot", vs.metadata?.name ?? ""))
    .watch(inf.pvc, (src) => claimsUsing(src.metadata?.namespace ?? "", "PersistentVolumeClaim", src.metadata?.name ?? ""))
    .watch(inf.pv, () => undefined)
    .watch(inf.node, () => undefined)
    .watch(inf.csiNode, () => undefined)
    .watch(inf.vsc, () => undefined);
  deleter.watch(inf.pv).watch(inf.va, (va) => (va.spec as { source?: { persistentVolumeName?: string } })?.source?.persistentVolumeName);

  // ------------------------------------------------------------------------------------------ provision

  async function provisionClaim(key: string): Promise<void> {
    const c = inf.pvc.get(key);
    if (!c) return;
    const sc = c.spec?.storageClassName ? inf.sc.getByName(c.spec.storageClassName) : undefined;
    const pvName = pvNameOf(c);
    if (shouldProvision(c, sc, driver, !!inf.pv.getByName(pvName))) return;
    // The cache may lag a PV written just before a crash; the API server has the last word.
    if (await pvs.get(pvName)) return;
    const ns = c.metadata!.namespace!;
    const name = c.metadata!.name!;
    let req;
    try {
      const source = await contentSource(c, sc!);
      const selected = c.metadata?.annotations?.[KubeAnnotations.SelectedNode];
      let selectedTopology: Topology | undefined;
      let allTopologies: Topology[] | undefined;
      if (o.driver.topology && selected) {
        selectedTopology = nodeTopology(inf.node.getByName(selected), inf.csiNode.getByName(selected), driver);
        if (!selectedTopology) {
          throw new ClaimProblem(
            "NodeNotRegistered",
            `error generating accessibility requirements: node "${selected}" has no CSINode entry for driver ${driver} with its topology labels`,
            `start the node agent on ${selected} (it registers the driver), or let the scheduler pick another node`,
          );
        }
      } else if (o.driver.topology) {
        allTopologies = inf.node
          .list()
          .map((n) => nodeTopology(n, inf.csiNode.getByName(n.metadata?.name ?? ""), driver))
          .filter((t): t is Topology => !!t);
      }
      try {
        req = createVolumeRequest({ claim: c, sc: sc!, selectedTopology, allTopologies, contentSource: source?.content, sourceBytes: source?.bytes });
      } catch (e) {
        throw new ClaimProblem("InvalidClaim", (e as Error).message, "fix the claim's spec");
      }
    } catch (e) {
      if (!(e instanceof ClaimProblem)) throw e;
      await failed(c, sc!, e.reason, e.message, e.fix);
      throw new HwError("FAILED_PRECONDITION", e.reason, `claim ${key}: ${e.message}`);
    }

    await claims.recordEvent(c, "Normal", "Provisioning", `External provisioner is provisioning volume for claim "${ns}/${name}"`);
    let res: CreateVolumeResponse;
    try {
      res = await o.driver.csi.createVolume(req, { timeoutMs });
    } catch (e) {
      const code = (e as HwError).code;
      const fix =
        code === "RESOURCE_EXHAUSTED"
          ? "request less storage, or add disks to the pool of the class (the claim binds once space exists)"
          : code === "INVALID_ARGUMENT"
            ? "fix the claim (accessModes, size) or the StorageClass parameters; this driver serves ReadWriteOnce"
            : code === "NOT_FOUND" || code === "FAILED_PRECONDITION"
              ? "fix the claim's data source or wait until it is ready"
              : "retrying";
      if (!isInProgress(e)) await failed(c, sc!, code === "RESOURCE_EXHAUSTED" ? "InsufficientCapacity" : "ProvisioningFailed", rpcError(e), fix);
      else await claims.recordEvent(c, "Warning", "ProvisioningFailed", `failed to provision volume with StorageClass "${sc!.metadata?.name}": ${rpcError(e)}`);
      if (code === "RESOURCE_EXHAUSTED" && c.metadata?.annotations?.[KubeAnnotations.SelectedNode] && sc!.volumeBindingMode === "WaitForFirstConsumer") {
        // Reschedule: the scheduler picks another node (upstream's ProvisioningReschedule).
        await pvcs.patch(name, { metadata: { annotations: { [KubeAnnotations.SelectedNode]: null } } }, { namespace: ns });
        log.info({ claim: key }, "selected node cannot hold the volume: annotation removed for rescheduling");
      }
      throw e;
    }
    const requestedBytes = quantityOrUndefined(c.spec?.resources?.requests?.storage) ?? 0;
    const pv = persistentVolume({ claim: c, sc: sc!, driver, identity, res, requestedBytes });
    try {
      await pvs.create(pv as Pv & K);
    } catch (e) {
      if ((e as HwError).code !== "ALREADY_EXISTS") throw e; // retried: CreateVolume answers the same volume
    }
    log.info({ claim: key, volume: pvName, handle: res.volume.volume_id }, "volume provisioned");
    await clearCondition(ns, name);
    await claims.recordEvent(c, "Normal", "ProvisioningSucceeded", `Successfully provisioned volume ${pvName}`);
  }

  /** The CSI content source of a claim's dataSource(Ref), and the size it needs; ClaimProblem when unusable. */
  async function contentSource(c: Pvc, sc: StorageClassShape): Promise<{ content: unknown; bytes?: number } | undefined> {
    const ref = c.spec?.dataSourceRef ?? c.spec?.dataSource;
    if (!ref) return undefined;
    const ns = ref.namespace || c.metadata?.namespace || "";
    if (ref.kind === "VolumeSnapshot" && (ref.apiGroup ?? "") === "snapshot.storage.k8s.io") {
      const what = `error getting handle for DataSource Type VolumeSnapshot by Name ${ref.name}`;
      const vs = inf.vs.getByName(ref.name, ns) as any;
      if (!vs)
        throw new ClaimProblem(
          "SnapshotNotFound",
          `${what}: error getting snapshot ${ref.name} from api server: volumesnapshots.snapshot.storage.k8s.io "${ref.name}" not found`,
          `create the VolumeSnapshot ${ns}/${ref.name} or remove spec.dataSource (the claim provisions once it is ready)`,
        );
      if (vs.metadata?.deletionTimestamp)
        throw new ClaimProblem("SnapshotBeingDeleted", `${what}: snapshot ${ref.name} is currently being deleted`, "use another snapshot");
      const contentName = vs.status?.boundVolumeSnapshotContentName;
      const content = contentName ? (inf.vsc.getByName(contentName) as any) : undefined;
      if (!vs.status?.readyToUse || !content?.status?.snapshotHandle)
        throw new ClaimProblem("SnapshotNotReady", `${what}: snapshot ${ref.name} is not Ready`, "wait until the VolumeSnapshot is readyToUse");
      if (content.spec?.driver !== driver)
        throw new ClaimProblem(
          "SnapshotOtherDriver",
          `${what}: snapshot ${ref.name} belongs to driver ${content.spec?.driver}, not ${driver}`,
          "use a StorageClass of the snapshot's driver",
        );
      return { content: { snapshot: { snapshot_id: content.status.snapshotHandle } }, bytes: Number(content.status.restoreSize ?? 0) || undefined };
    }
    if (ref.kind === "PersistentVolumeClaim" && !ref.apiGroup) {
      const what = `error getting handle for DataSource Type PersistentVolumeClaim by Name ${ref.name}`;
      const src = inf.pvc.getByName(ref.name, ns);
      if (!src)
        throw new ClaimProblem("SourceClaimNotFound", `${what}: claim ${ns}/${ref.name} not found`, "create the source claim or remove spec.dataSource");
      if (src.status?.phase !== "Bound" || !src.spec?.volumeName)
        throw new ClaimProblem("SourceClaimNotBound", `${what}: claim ${ref.name} is not bound`, "wait until the source claim is Bound");
      if ((src.spec?.storageClassName ?? "") !== (c.spec?.storageClassName ?? ""))
        throw new ClaimProblem(
          "SourceClaimOtherClass",
          `${what}: the source PVC and destination PVCs must be in the same storage class for cloning. Source is in ${src.spec?.storageClassName}, but new PVC is in ${c.spec?.storageClassName}`,
          "use the source's StorageClass",
        );
      const pv = inf.pv.getByName(src.spec.volumeName);
      if (!pv?.spec?.csi?.volumeHandle || pv.spec.csi.driver !== driver)
        throw new ClaimProblem("SourceClaimOtherDriver", `${what}: its volume is not a ${driver} volume`, "clone only volumes of the same driver");
      return { content: { volume: { volume_id: pv.spec.csi.volumeHandle } }, bytes: quantityOrUndefined(src.status?.capacity?.storage) };
    }
    void sc;
    throw new ClaimProblem(
      "UnsupportedDataSource",
      `data source ${ref.apiGroup ? `${ref.apiGroup}/` : ""}${ref.kind} ${ref.name} is not supported (only VolumeSnapshot and PersistentVolumeClaim)`,
      "remove spec.dataSource or use a VolumeSnapshot or PersistentVolumeClaim",
    );
  }

  async function failed(c: Pvc & K, sc: StorageClassShape, reason: string, detail: string, fix: string): Promise<void> {
    const message = `failed to provision volume with StorageClass "${sc.metadata?.name}": ${detail}`;
    await claims.recordEvent(c, "Warning", "ProvisioningFailed", message);
    await setCondition(c.metadata!.namespace!, c.metadata!.name!, { type: PROVISIONED_CONDITION, status: "False", reason, message: `${message}; fix: ${fix}` });
  }

  async function setCondition(ns: string, name: string, cond: { type: string; status: string; reason: string; message: string }): Promise<void> {
    const cur = await pvcs.get(name, ns);
    if (!cur) return;
    const conds = (cur.status?.conditions ?? []).filter((x) => x.type !== cond.type);
    const old = (cur.status?.conditions ?? []).find((x) => x.type === cond.type);
    if (old && old.reason === cond.reason && old.message === cond.message) return;
    conds.push({ ...cond, lastTransitionTime: metaTime(), lastProbeTime: null });
    await pvcs.updateStatus({ ...cur, status: { ...cur.status, conditions: conds } });
  }

  async function clearCondition(ns: string, name: string): Promise<void> {
    const cur = await pvcs.get(name, ns);
    if (!cur?.status?.conditions?.some((x) => x.type === PROVISIONED_CONDITION)) return;
    const conds = cur.status.conditions.filter((x) => x.type !== PROVISIONED_CONDITION);
    await pvcs.updateStatus({ ...cur, status: { ...cur.status, conditions: conds.length ? conds : undefined } });
  }

  // ------------------------------------------------------------------------------------------ delete

  async function deleteVolume(name: string): Promise<void> {
    const pv = inf.pv.get(name);
    if (!pv) return;
    const attachedTo = inf.va
      .list()
      .filter((va) => (va.spec as any)?.source?.persistentVolumeName === name)
      .map((va) => (va.spec as any)?.nodeName as string);
    const skip = shouldDelete(pv, driver, attachedTo);
    if (skip) {
      if (attachedTo.length && !shouldDelete(pv, driver, [])) log.info({ volume: name, nodes: attachedTo }, "released volume still attached; delete waits");
      return;
    }
    const handle = pv.spec!.csi!.volumeHandle;
    try {
      await o.driver.csi.deleteVolume({ volume_id: handle }, { timeoutMs });
    } catch (e) {
      if ((e as HwError).code !== "NOT_FOUND") {
        await deleter.recordEvent(pv, "Warning", "VolumeFailedDelete", rpcError(e));
        throw e;
      }
    }
    log.info({ volume: name, handle }, "volume deleted");
    await pvs.removeFinalizer(name, KubeFinalizers.ProvisionerDeletion);
    try {
      await pvs.delete(name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  return {
    claims,
    deleter,
    async start() {
      await Promise.all([claims.start(), deleter.start()]);
    },
    async stop() {
      await Promise.all([claims.stop(), deleter.stop()]);
    },
  };
}
