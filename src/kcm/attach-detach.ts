// The attach/detach controller of kube-controller-manager, its CSI side: a VolumeAttachment for every CSI
// volume that a pod scheduled to a node uses, when the driver needs attaching (its CSIDriver says
// attachRequired, or there is no CSIDriver object: upstream's default), named as upstream names it
// (`csi-` + sha256(pvName + driver + nodeName)); deleted once no pod on that node uses the volume any more
// and the node no longer reports it in `status.volumesInUse` (the kubelet unmounted it).
// APPROXIMATION: upstream gives up waiting for volumesInUse after 6 minutes (maxWaitForUnmountDuration);
// this controller waits as long as the node reports the volume, and does not wait for a node that is gone.

import { createHash } from "node:crypto";
import type { CoreNode, Pod, Pv, Pvc, VolumeAttachment } from "../api/core.ts";

import { Controller } from "../kube/controller.ts";
import type { Informer } from "../kube/informer.ts";
import { roleInformers, type RoleOptions } from "../kube/informer-factory.ts";
import { CSI_DRIVER, NODE, POD, PV, PVC, VOLUME_ATTACHMENT } from "../kube/resources.ts";
import { type KubeObject } from "../kube/types.ts";

type K = KubeObject;

/** The VolumeAttachment name upstream uses for (PV, driver, node). */
export function attachmentName(pv: string, driver: string, node: string): string {
  return `csi-${createHash("sha256").update(`${pv}${driver}${node}`).digest("hex")}`;
}

/** The unique volume name the kubelet reports in Node.status.volumesInUse for a CSI volume. */
export const volumeInUseName = (driver: string, handle: string) => `kubernetes.io/csi/${driver}^${handle}`;

export interface DesiredAttachment {
  name: string;
  pv: string;
  driver: string;
  node: string;
}

/** Every attachment the pods need (pure). */
export function desiredAttachments(
  pods: Pod[],
  claims: (ns: string, name: string) => Pvc | undefined,
  volumes: (name: string) => Pv | undefined,
  attachRequired: (driver: string) => boolean,
): DesiredAttachment[] {
  const out = new Map<string, DesiredAttachment>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    const phase = p.status?.phase;
    if (!node || phase === "Succeeded" || phase === "Failed") continue;
    for (const v of p.spec?.volumes ?? []) {
      const claimName = v.persistentVolumeClaim?.claimName;
      if (!claimName) continue;
      const c = claims(p.metadata?.namespace ?? "", claimName);
      const pvName = c?.spec?.volumeName;
      if (!pvName || c?.status?.phase !== "Bound") continue;
      const pv = volumes(pvName);
      const driver = pv?.spec?.csi?.driver;
      if (!driver || !attachRequired(driver)) continue;
      const name = attachmentName(pvName, driver, node);
      out.set(name, { name, pv: pvName, driver, node });
    }
  }
  return [...out.values()];
}

export function attachDetachController(o: RoleOptions) {
  const { log, f } = roleInformers(o);
  const vas = o.client.forKind<VolumeAttachment & K>(VOLUME_ATTACHMENT);
  const inf = {
    pod: f.for<Pod & K>(POD),
    pvc: f.for<Pvc & K>(PVC),
    pv: f.for<Pv & K>(PV),
    node: f.for<CoreNode & K>(NODE),
    driver: f.for<K>(CSI_DRIVER),
    va: f.for<VolumeAttachment & K>(VOLUME_ATTACHMENT),
  };
  const ONE = "all"; // one key: the desired set is computed across all pods
  const ctl = new Controller({ name: "attach-detach", log, reconcile: () => sync() });
  for (const i of Object.values(inf)) ctl.watch(i as Informer<K>, () => ONE);

  const attachRequired = (driver: string) => {
    const d = inf.driver.getByName(driver) as { spec?: { attachRequired?: boolean } } | undefined;
    return d?.spec?.attachRequired !== false;
  };

  async function sync(): Promise<void> {
    const want = desiredAttachments(
      inf.pod.list(),
      (ns, n) => inf.pvc.getByName(n, ns),
      (n) => inf.pv.getByName(n),
      attachRequired,
    );
    const wanted = new Set(want.map((w) => w.name));
    for (const w of want) {
      // Created before, or by a controller killed after the POST: the name is the idempotency key.
      if (inf.va.getByName(w.name)) continue;
      try {
        await vas.create({
          apiVersion: "storage.k8s.io/v1",
          kind: "VolumeAttachment",
          metadata: { name: w.name },
          spec: { attacher: w.driver, nodeName: w.node, source: { persistentVolumeName: w.pv } },
        });
        log.info({ volumeAttachment: w.name, pv: w.pv, node: w.node }, "VolumeAttachment created");
      } catch (e) {
        if ((e as { code?: string }).code !== "ALREADY_EXISTS") throw e;
      }
    }
    for (const va of inf.va.list()) {
      const name = va.metadata?.name ?? "";
      if (wanted.has(name) || va.metadata?.deletionTimestamp || !name.startsWith("csi-")) continue;
      const pvName = va.spec?.source?.persistentVolumeName;
      const node = inf.node.getByName(va.spec?.nodeName ?? "");
      const pv = pvName ? inf.pv.getByName(pvName) : undefined;
      const inUse =
        node && pv?.spec?.csi
          ? ((node.status as { volumesInUse?: string[] } | undefined)?.volumesInUse ?? []).includes(
              volumeInUseName(pv.spec.csi.driver, pv.spec.csi.volumeHandle),
            )
          : false;
      if (inUse) continue; // the kubelet still has it mounted: detach after it unmounts
      await vas.delete(name);
      log.info({ volumeAttachment: name, pv: pvName, node: va.spec?.nodeName }, "VolumeAttachment deleted (no pod on the node uses the volume)");
    }
  }

  return { controller: ctl, start: () => ctl.start(), stop: () => ctl.stop() };
}
