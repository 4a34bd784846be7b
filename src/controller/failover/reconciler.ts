// The failover assistant (fact sheet §4.5, leader only): moves pods off a node that died, by label.
//   Node labelled hwameistor.io/failover=start → for each pod bound to it: the VolumeAttachments of its CSI
//   volumes on that node are deleted, then the pod is deleted with grace 0 (its kubelet is gone and cannot
//   finish a graceful delete); when every pod is done the label becomes `completed`.
//   Pod labelled hwameistor.io/failover=start → the same for that pod (its label is not changed: it is gone).
// What the original does not do, and this one adds: a pod whose lvm.hwameistor.io volume has no Ready replica
// on another node (a non-HA volume on the dead node) gets a Warning Event `FailoverNoReplica` naming the volume
// and the choices (bring the node back; or delete the claim to give the data up). Its replacement then stays
// Pending with the scheduler's reason — the volume is never re-created empty elsewhere.

import type { Pv, VolumeAttachment } from "../../api/core.ts";
import { Drivers, LabelValues, Labels, VolumeStates } from "../../api/names.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import { Controller } from "../../kube/controller.ts";
import { hwameistorClients, listAll, nameOf, type CoreNode, type Pod } from "../../kube/hwameistor.ts";
import { PV, VOLUME_ATTACHMENT } from "../../kube/resources.ts";
import { isNotFound } from "../../kube/transport.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";

export function failoverController(o: ReconcilerOptions) {
  const log = o.log ?? silentLogger;
  const c = hwameistorClients(o.client);
  const inf = informerFor(o);
  const pvs = o.client.forKind<Pv & KubeObject>(PV);
  const vas = o.client.forKind<VolumeAttachment & KubeObject>(VOLUME_ATTACHMENT);
  const start = (x: KubeObject) => x.metadata?.labels?.[Labels.Failover] === LabelValues.FailoverStart;
  const nodeInf = inf<CoreNode>(c.node, "nodes");
  const podInf = inf<Pod>(c.pod, "pods");
  const ctl = new Controller({ name: "failover", log, events: { client: o.client, component: "hwameistor-failover" }, reconcile: (k) => reconcile(k) });
  ctl.watch(nodeInf, (n) => (start(n) ? `node/${nameOf(n)}` : undefined));
  ctl.watch(podInf, (p) => (start(p) ? `pod/${p.metadata?.namespace}/${nameOf(p)}` : undefined));

  async function failPod(pod: Pod, node: string): Promise<void> {
    const ns = pod.metadata?.namespace ?? "default";
    const allVas = await listAll(vas);
    for (const v of pod.spec?.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      const pvName = claim ? (await c.pvc.get(claim, ns))?.spec?.volumeName : undefined;
      const pv = pvName ? await pvs.get(pvName) : undefined;
      if (!pv?.spec?.csi) continue;
      for (const va of allVas.filter((x) => x.spec?.nodeName === node && x.spec?.source?.persistentVolumeName === pvName)) {
        await vas.delete(nameOf(va)).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
      }
      if (pv.spec.csi.driver === Drivers.Lvm) {
        const replicas = (await listAll(c.lvr)).filter((r) => r.spec?.volumeName === pv.spec!.csi!.volumeHandle && !r.spec?.delete);
        const elsewhere = replicas.some((r) => r.spec?.nodeName !== node && r.status?.state === VolumeStates.Ready);
        if (!elsewhere)
          await ctl.recordEvent(
            { ...pod, apiVersion: "v1", kind: "Pod" },
            "Warning",
            "FailoverNoReplica",
            `volume ${pvName} of claim ${claim} has no Ready replica outside node ${node}: the replacement pod waits for ${node} to come back (its data stays there); to give the data up, delete the claim`,
          );
      }
    }
    await c.pod.delete(nameOf(pod), ns, { gracePeriodSeconds: 0 }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    log.info({ pod: `${ns}/${nameOf(pod)}`, node }, "failover: pod deleted from its node");
  }

  async function reconcile(key: string): Promise<void> {
    const [kind, a, b] = key.split("/");
    if (kind === "pod") {
      const pod = await c.pod.get(b!, a);
      if (pod && start(pod) && pod.spec?.nodeName) await failPod(pod, pod.spec.nodeName);
      return;
    }
    const node = await c.node.get(a!);
    if (!node || !start(node)) return;
    for (const pod of (await listAll(c.pod)).filter((p) => p.spec?.nodeName === a)) await failPod(pod, a!);
    await c.node.patch(a!, { metadata: { labels: { [Labels.Failover]: LabelValues.FailoverCompleted } } }, { type: "merge" });
    await ctl.recordEvent(
      { ...node, apiVersion: "v1", kind: "Node" },
      "Normal",
      "FailoverCompleted",
      `pods of node ${a} deleted; their controllers recreate them`,
    );
  }

  return ctl;
}
