// The ResizePolicy controller (leader only; the original's pvc-autoresizer, §11): for each LocalVolume whose
// usage (status.usedCapacityBytes, written by NodeGetVolumeStats) crosses the governing policy's
// resizeThreshold, grow it to the warningThreshold target through the normal expansion path.
//
// - With a PVC object (spec.pvcNamespace/pvcName exists): the PVC gets the annotation
//   `hwameistor.io/resizepolicy=<policy>` (attachment) and its `resources.requests.storage` is raised
//   (BinarySI), as the original; the external-resizer then calls ControllerExpandVolume.
// - Without a PVC (standalone / dev cluster: nothing would act on a PVC): a LocalVolumeExpand is created
//   for the volume, the object ControllerExpandVolume creates; the LocalVolume's labels stand in for the
//   PVC's labels and its required capacity for the PVC request. (Deliberate difference; docs/expansion-qos.md.)
// Crash windows: the expand is created only when none exists for the volume (checked first), and a PVC
// request is only ever raised; re-running after a crash finds the growth under way and does nothing.

import { controllerHead, type ReconcilerOptions } from "../head.ts";
import { Annotations, VolumeStates } from "../../api/names.ts";
import { Controller } from "../../kube/controller.ts";
import { type ResizePolicyObject } from "../../kube/hwameistor.ts";
import { NAMESPACE, STORAGE_CLASS } from "../../kube/resources.ts";
import { isNotFound } from "../../kube/transport.ts";
import { type KubeObject } from "../../kube/types.ts";
import { nameOf, type Lsn, type Lv } from "../../kube/hwameistor.ts";
import { PVC } from "../../kube/resources.ts";
import { growthProblem, replicaNodesOf } from "../expand/capacity.ts";
import { storageNodeViews } from "../../api/placement/placement.ts";
import { decideResize, selectPolicy, type PolicyView, type PoolFact } from "./states.ts";
import { quantityOrUndefined, toBinarySI } from "../../api/quantity.ts";

type PvcObject = KubeObject & { spec?: { storageClassName?: string; resources?: { requests?: Record<string, string> } } };

export type ResizePolicyControllerOptions = ReconcilerOptions;

const optional = async <T>(p: Promise<T | undefined>): Promise<T | undefined> => p.catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));

export function resizePolicyController(o: ResizePolicyControllerOptions): Controller {
  const { log, c, ctl, informer } = controllerHead(o, "resizepolicy", 2, (k) => reconcile(k));
  const pvcs = o.client.forKind<PvcObject>(PVC);
  const namespaces = o.client.forKind(NAMESPACE);
  const scs = o.client.forKind(STORAGE_CLASS);
  const lvInf = informer<Lv>(c.lv, "localvolumes", 30_000);
  const rpInf = informer<ResizePolicyObject>(c.resizePolicy, "resizepolicies");
  const lsnInf = informer<Lsn>(c.lsn, "localstoragenodes");
  ctl.watch(lvInf);
  ctl.watch(rpInf, () => lvInf.list().map(nameOf)); // a policy change re-evaluates every volume
  ctl.watch(lsnInf, () => undefined);

  async function reconcile(name: string) {
    const lv = lvInf.getByName(name);
    if (!lv || lv.spec?.delete || lv.status?.state !== VolumeStates.Ready) return;
    const policies: PolicyView[] = rpInf
      .list()
      .filter((p) => p.spec)
      .map((p) => ({ name: nameOf(p), creationTimestamp: p.metadata?.creationTimestamp ?? "", spec: p.spec! }));
    if (!policies.length) return;
    const ns = lv.spec?.pvcNamespace ?? "";
    const pvc = ns && lv.spec?.pvcName ? await optional(pvcs.get(lv.spec.pvcName, ns)) : undefined;
    const nsObj = ns ? await optional(namespaces.get(ns)) : undefined;
    const sc = pvc?.spec?.storageClassName ? await optional(scs.get(pvc.spec.storageClassName)) : undefined;
    const policy = selectPolicy(policies, {
      pvc: (pvc ?? lv).metadata?.labels ?? {},
      namespace: nsObj?.metadata?.labels ?? {},
      storageClass: sc?.metadata?.labels ?? {},
    });
    if (pvc && policy && pvc.metadata?.annotations?.[Annotations.ResizePolicy] !== policy.name) {
      await pvcs.patch(nameOf(pvc), { metadata: { annotations: { [Annotations.ResizePolicy]: policy.name } } }, { namespace: ns });
    }
    // a malformed or missing request reads as 0: decideResize then waits ("no usage reported yet")
    const capacity = pvc ? (quantityOrUndefined(pvc.spec?.resources?.requests?.storage) ?? 0) : (lv.spec?.requiredCapacityBytes ?? 0);
    const views = new Map(storageNodeViews(lsnInf.list(), lvInf.list()).map((v) => [v.name, v]));
    const pools: PoolFact[] = replicaNodesOf(lv).map((node) => {
      const p = views.get(node)?.pools[lv.spec?.poolName ?? ""];
      return {
        node,
        totalBytes: p?.totalBytes ?? 0,
        usedBytes: p?.usedBytes ?? 0,
        freeBytes: p ? Math.max(0, Math.min(p.freeBytes, p.totalBytes - p.usedBytes)) : 0,
      };
    });
    const d = decideResize(policy?.spec, { usedBytes: lv.status?.usedCapacityBytes ?? 0, capacityBytes: capacity, pools });
    log.debug({ volume: name, policy: policy?.name, decision: d }, "resize policy");
    if (!d.resize) return;
    if (await c.lvexpand.get(name)) return; // an expansion is under way
    if (pvc) {
      await pvcs.patch(nameOf(pvc), { spec: { resources: { requests: { storage: toBinarySI(d.newBytes) } } } }, { namespace: ns });
      log.info({ volume: name, pvc: `${ns}/${nameOf(pvc)}`, policy: policy!.name, bytes: d.newBytes }, d.reason);
      void ctl.recordEvent(pvc, "Normal", "ResizeRequested", `${policy!.name}: ${d.reason}`);
      return;
    }
    const problem = growthProblem(lv, d.newBytes, lsnInf.list(), lvInf.list());
    if (problem) {
      log.warn({ volume: name, policy: policy!.name }, problem);
      return;
    }
    await c.lvexpand.create({ metadata: { name }, spec: { volumeName: name, requiredCapacityBytes: d.newBytes, abort: false } });
    log.info({ volume: name, policy: policy!.name, bytes: d.newBytes }, d.reason);
    void ctl.recordEvent(lv, "Normal", "ResizeRequested", `${policy!.name}: ${d.reason}`);
  }

  return ctl;
}
