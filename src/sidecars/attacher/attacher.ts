// external-attacher for one driver: VolumeAttachments with spec.attacher = the driver →
// ControllerPublishVolume / ControllerUnpublishVolume, as upstream:
// - a live attachment gets the finalizer `external-attacher/<driver with . → ->`, then ControllerPublish with
//   the PV's handle, the node's ID for the driver (CSINode; the node name when CSINode has no entry — an
//   APPROXIMATION for clusters whose kubelet registers no CSINode), the PV's capability and volumeAttributes;
//   success → status {attached: true, attachmentMetadata: publish_context}; failure → {attached: false,
//   attachError: {message, time}} and a retry with backoff.
// - a deleted attachment: ControllerUnpublish (NOT_FOUND counts as done), status.detachError on failure, then
//   the finalizer goes and the object with it.
// Idempotent: publishing again to the same node is OK in CSI; an attached status is not re-published.

import type { Pv, VolumeAttachment } from "../../api/core.ts";
import type { HwError } from "../../api/errors.ts";
import { attacherFinalizer } from "../../api/names.ts";

import { Controller } from "../../kube/controller.ts";
import { roleInformers } from "../../kube/informer-factory.ts";
import { CSI_NODE, PV, VOLUME_ATTACHMENT, metaTime } from "../../kube/resources.ts";
import { type KubeObject } from "../../kube/types.ts";
import { csiNodeDriver, pvCapability, rpcError, SIDECAR_RESYNC_MS, sidecarController, type CsiNodeShape, type SidecarOptions } from "../common.ts";

type K = KubeObject;

export function attacher(o: SidecarOptions) {
  const { log, f } = roleInformers(o, SIDECAR_RESYNC_MS);
  const driver = o.driver.name;
  const finalizer = attacherFinalizer(driver);
  const vas = o.client.forKind<VolumeAttachment & K>(VOLUME_ATTACHMENT);
  const inf = {
    va: f.for<VolumeAttachment & K>(VOLUME_ATTACHMENT),
    pv: f.for<Pv & K>(PV),
    csiNode: f.for<CsiNodeShape & K>(CSI_NODE),
  };
  const ctl: Controller = sidecarController(o.client, log, { name: `attacher-${driver}`, workers: 4, reconcile: (key) => sync(key) });
  ctl.watch(inf.va).watch(inf.pv, (pv) =>
    inf.va
      .list()
      .filter((va) => va.spec?.source?.persistentVolumeName === pv.metadata?.name)
      .map((va) => va.metadata!.name!),
  );
  ctl.watch(inf.csiNode, () => undefined);

  async function sync(name: string): Promise<void> {
    const va = inf.va.get(name);
    if (!va || va.spec?.attacher !== driver) return;
    const pvName = va.spec.source?.persistentVolumeName;
    const pv = pvName ? inf.pv.getByName(pvName) : undefined;
    const node = va.spec.nodeName;
    const nodeId = csiNodeDriver(inf.csiNode.getByName(node), driver)?.nodeID || node;

    if (va.metadata?.deletionTimestamp) {
      if (!(va.metadata.finalizers ?? []).includes(finalizer)) return;
      if (pv?.spec?.csi?.volumeHandle) {
        try {
          await o.driver.csi.controllerUnpublishVolume({ volume_id: pv.spec.csi.volumeHandle, node_id: nodeId }, { timeoutMs: o.timeoutMs });
        } catch (e) {
          if ((e as HwError).code !== "NOT_FOUND") {
            await vas.patchStatus(name, { status: { detachError: { message: rpcError(e), time: metaTime() } } });
            throw e;
          }
        }
      }
      log.info({ volumeAttachment: name, pv: pvName, node }, "volume detached");
      await vas.removeFinalizer(name, finalizer);
      return;
    }
    if (!(va.metadata?.finalizers ?? []).includes(finalizer)) {
      await vas.addFinalizer(name, finalizer);
      return;
    }
    if (va.status?.attached) return;
    if (!pv?.spec?.csi) {
      await vas.patchStatus(name, {
        status: { attached: false, attachError: { message: `persistentvolume "${pvName}" not found or not a CSI volume`, time: metaTime() } },
      });
      throw new Error(`VolumeAttachment ${name}: PV ${pvName} missing`);
    }
    try {
      const res = await o.driver.csi.controllerPublishVolume(
        {
          volume_id: pv.spec.csi.volumeHandle,
          node_id: nodeId,
          volume_capability: pvCapability(pv),
          readonly: !!pv.spec.csi.readOnly,
          volume_context: pv.spec.csi.volumeAttributes ?? {},
        },
        { timeoutMs: o.timeoutMs },
      );
      await vas.patchStatus(name, { status: { attached: true, attachmentMetadata: res.publish_context ?? {}, attachError: null } });
      log.info({ volumeAttachment: name, pv: pvName, node }, "volume attached");
    } catch (e) {
      await vas.patchStatus(name, { status: { attached: false, attachError: { message: rpcError(e), time: metaTime() } } });
      throw e;
    }
  }

  return { controller: ctl, start: () => ctl.start(), stop: () => ctl.stop() };
}
