// external-resizer for one driver: a bound claim whose spec.resources.requests.storage exceeds its
// status.capacity → ControllerExpandVolume, then the PV's capacity, then either
// - node expansion needed (a filesystem): condition FileSystemResizePending ("Waiting for user to (re-)start a
//   pod to finish file system resize of volume on node."), allocatedResourceStatuses storage=NodeResizePending;
//   the kubelet role (NodeExpandVolume) finishes it and sets status.capacity;
// - else: status.capacity = the new size, conditions cleared.
// While the call runs: condition Resizing, allocatedResources.storage = the new size,
// allocatedResourceStatuses storage=ControllerResizeInProgress. Events: Resizing, VolumeResizeSuccessful,
// FileSystemResizeRequired, VolumeResizeFailed (with the driver's error), as upstream.
// kube-apiserver's admission refuses a growth when the class lacks allowVolumeExpansion and any shrink; this
// server has no admission, so the resizer refuses them (event VolumeResizeFailed, nothing called).
// Idempotent: ControllerExpandVolume to a size the volume has succeeds at once; a crash between the call and
// the status writes repeats the call.

import type { Pv, Pvc, StorageClassShape } from "../../api/core.ts";
import { quantityOrUndefined } from "../../api/quantity.ts";

import { Controller } from "../../kube/controller.ts";
import { claimInformers, roleInformers } from "../../kube/informer-factory.ts";
import { metaTime } from "../../kube/resources.ts";
import { objectKey, type KubeObject } from "../../kube/types.ts";
import { pvCapability, rpcError, SIDECAR_RESYNC_MS, sidecarController, type SidecarOptions } from "../common.ts";

type K = KubeObject;
export const FS_RESIZE_PENDING_MESSAGE = "Waiting for user to (re-)start a pod to finish file system resize of volume on node.";

/** What the resizer should do with a claim (pure). */
export function resizeDecision(
  c: Pvc,
  pv: Pv | undefined,
  sc: StorageClassShape | undefined,
  driver: string,
): { skip: string } | { refuse: string } | { resize: { bytes: number; quantity: string } } {
  if (c.status?.phase !== "Bound" || !pv || pv.spec?.csi?.driver !== driver) return { skip: "not a bound volume of this driver" };
  const want = c.spec?.resources?.requests?.storage;
  const wantBytes = quantityOrUndefined(want);
  const haveBytes = quantityOrUndefined(c.status?.capacity?.storage);
  if (wantBytes === undefined || haveBytes === undefined) return { skip: "no sizes" };
  if (wantBytes <= haveBytes) {
    return wantBytes < haveBytes && quantityOrUndefined(pv.spec?.capacity?.storage) !== wantBytes
      ? {
          refuse: `spec.resources.requests.storage ${want} of claim ${c.metadata?.namespace}/${c.metadata?.name} is less than its capacity ${c.status?.capacity?.storage}: volumes cannot shrink; set it back to at least ${c.status?.capacity?.storage}`,
        }
      : { skip: "no growth" };
  }
  if (
    (c.status?.conditions ?? []).some((x) => x.type === "FileSystemResizePending" && x.status === "True") &&
    quantityOrUndefined(pv.spec?.capacity?.storage) === wantBytes
  )
    return { skip: "waiting for the node expansion" };
  if (!sc?.allowVolumeExpansion) {
    return {
      refuse: `only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize: StorageClass "${c.spec?.storageClassName}" has no allowVolumeExpansion: true`,
    };
  }
  return { resize: { bytes: wantBytes, quantity: want! } };
}

export function resizer(o: SidecarOptions) {
  const { log, f } = roleInformers(o, SIDECAR_RESYNC_MS);
  const driver = o.driver.name;
  const { inf, pvcs, pvs } = claimInformers(f);
  const ctl: Controller = sidecarController(o.client, log, {
    name: `resizer-${driver}`,
    workers: 2,
    component: `external-resizer ${driver}`,
    reconcile: (key) => sync(key),
  });
  ctl
    .watch(inf.pvc)
    .watch(inf.pv, (pv) => (pv.spec?.claimRef ? `${pv.spec.claimRef.namespace}/${pv.spec.claimRef.name}` : undefined))
    .watch(inf.sc, () => undefined);
  const refused = new Map<string, string>();

  async function setStatus(
    c: Pvc & K,
    edit: (st: NonNullable<Pvc["status"]> & { allocatedResourceStatuses?: Record<string, string> }) => void,
  ): Promise<Pvc & K> {
    const cur = (await pvcs.get(c.metadata!.name!, c.metadata!.namespace)) ?? c;
    const st = structuredClone(cur.status ?? {}) as NonNullable<Pvc["status"]> & { allocatedResourceStatuses?: Record<string, string> };
    edit(st);
    if (st.conditions && !st.conditions.length) delete st.conditions;
    return pvcs.updateStatus({ ...cur, status: st });
  }
  const condition = (type: string, message = "") => ({
    type,
    status: "True",
    lastProbeTime: null,
    lastTransitionTime: metaTime(),
    ...(message ? { message } : {}),
  });

  async function sync(key: string): Promise<void> {
    const c = inf.pvc.get(key);
    if (!c) return;
    const pv = c.spec?.volumeName ? inf.pv.getByName(c.spec.volumeName) : undefined;
    const sc = c.spec?.storageClassName ? inf.sc.getByName(c.spec.storageClassName) : undefined;
    const d = resizeDecision(c, pv, sc, driver);
    if ("skip" in d) return;
    if ("refuse" in d) {
      if (refused.get(key) !== d.refuse) await ctl.recordEvent(c, "Warning", "VolumeResizeFailed", d.refuse);
      refused.set(key, d.refuse);
      return;
    }
    refused.delete(key);
    const pvName = pv!.metadata!.name!;
    await ctl.recordEvent(c, "Normal", "Resizing", `External resizer is resizing volume ${pvName}`);
    let cur = await setStatus(c, (st) => {
      st.conditions = [...(st.conditions ?? []).filter((x) => x.type !== "Resizing" && x.type !== "FileSystemResizePending"), condition("Resizing")];
      st.allocatedResources = { ...st.allocatedResources, storage: d.resize.quantity };
      st.allocatedResourceStatuses = { ...st.allocatedResourceStatuses, storage: "ControllerResizeInProgress" };
    });
    let res;
    try {
      res = await o.driver.csi.call<{ capacity_bytes?: string; node_expansion_required?: boolean }>(
        "Controller",
        "ControllerExpandVolume",
        { volume_id: pv!.spec!.csi!.volumeHandle, capacity_range: { required_bytes: String(d.resize.bytes) }, volume_capability: pvCapability(pv!) },
        { timeoutMs: o.timeoutMs ?? 60_000 },
      );
    } catch (e) {
      const message = `resize volume "${pvName}" by resizer "${driver}" failed: ${rpcError(e)}`;
      await ctl.recordEvent(cur, "Warning", "VolumeResizeFailed", message);
      await setStatus(cur, (st) => {
        st.conditions = [...(st.conditions ?? []).filter((x) => x.type !== "Resizing"), { ...condition("Resizing", message), status: "True" }];
      });
      throw e;
    }
    // The PV first: the kubelet's node expansion reads the size from it.
    if (quantityOrUndefined(pv!.spec?.capacity?.storage) !== d.resize.bytes) await pvs.patch(pvName, { spec: { capacity: { storage: d.resize.quantity } } });
    if (res.node_expansion_required) {
      cur = await setStatus(cur, (st) => {
        st.conditions = [
          ...(st.conditions ?? []).filter((x) => x.type !== "Resizing" && x.type !== "FileSystemResizePending"),
          condition("FileSystemResizePending", FS_RESIZE_PENDING_MESSAGE),
        ];
        st.allocatedResourceStatuses = { ...st.allocatedResourceStatuses, storage: "NodeResizePending" };
      });
      await ctl.recordEvent(cur, "Normal", "FileSystemResizeRequired", "Require file system resize of volume on node");
    } else {
      cur = await setStatus(cur, (st) => {
        st.conditions = (st.conditions ?? []).filter((x) => x.type !== "Resizing" && x.type !== "FileSystemResizePending");
        st.capacity = { ...st.capacity, storage: d.resize.quantity };
        if (st.allocatedResourceStatuses) delete st.allocatedResourceStatuses.storage;
      });
      await ctl.recordEvent(cur, "Normal", "VolumeResizeSuccessful", "Resize volume succeeded");
    }
    log.info(
      { claim: objectKey(c), volume: pvName, size: d.resize.quantity, nodeExpansion: !!res.node_expansion_required },
      "volume expanded by the controller",
    );
  }

  return { controller: ctl, start: () => ctl.start(), stop: () => ctl.stop() };
}
