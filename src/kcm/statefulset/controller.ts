// The StatefulSet controller: informers on StatefulSets, Pods and PVCs; per set `decide` (states.ts), then the
// actions (claims before pods; a create that finds the object already there is fine — the crash window
// between a create and the next pass), then status once if it changed. Events as upstream words them
// (SuccessfulCreate "create Pod db-0 in StatefulSet db successful", SuccessfulDelete, FailedCreate).
//
// Garbage collection stand-in: kube-controller-manager's garbage collector deletes a StatefulSet's pods when
// the set is deleted (kubectl's default, propagationPolicy Background). There is no garbage collector here,
// so this controller deletes pods whose controller ownerReference names a StatefulSet that no longer exists
// (uid gone). PVCs are never deleted (retention Retain, as upstream's default).

import type { Pod, Pvc, StatefulSet } from "../../api/core.ts";
import type { KubeClient } from "../../kube/client.ts";
import { Controller } from "../../kube/controller.ts";
import { Informer } from "../../kube/informer.ts";
import { POD, PVC, STATEFUL_SET } from "../../kube/resources.ts";
import { isAlreadyExists, isNotFound } from "../../kube/transport.ts";
import { silentLogger, type KubeObject, type Logger } from "../../kube/types.ts";
import { decide, ownedBy } from "./states.ts";

type K = KubeObject;
export const STATEFULSET_COMPONENT = "statefulset-controller";

export interface StatefulSetControllerOptions {
  client: KubeClient;
  log?: Logger;
}

export function statefulSetController(o: StatefulSetControllerOptions): Controller {
  const log = o.log ?? silentLogger;
  const stsClient = o.client.forKind<StatefulSet & K>(STATEFUL_SET);
  const pods = o.client.forKind<Pod & K>(POD);
  const pvcs = o.client.forKind<Pvc & K>(PVC);
  const inf = {
    sts: new Informer<StatefulSet & K>(stsClient, { log, resyncPeriodMs: 30_000 }),
    pod: new Informer<Pod & K>(pods, { log, name: "statefulset-pods" }),
    pvc: new Informer<Pvc & K>(pvcs, { log, name: "statefulset-pvcs" }),
  };
  const ownerKey = (p: Pod) => {
    const ref = (p.metadata?.ownerReferences ?? []).find((r) => r.controller && r.kind === "StatefulSet");
    return ref ? `${p.metadata?.namespace}/${ref.name}` : undefined;
  };
  const ctl: Controller = new Controller({
    name: STATEFULSET_COMPONENT,
    events: { client: o.client, component: STATEFULSET_COMPONENT },
    log,
    reconcile: async (key) => {
      const [ns, name] = key.split("/") as [string, string];
      const sts = inf.sts.getByName(name, ns);
      const candidates = inf.pod.list().filter((p) => p.metadata?.namespace === ns && ownerKey(p) === key);
      if (!sts || sts.metadata?.deletionTimestamp) {
        // Owner gone: delete its pods (the garbage collector's part).
        for (const p of candidates) {
          if (p.metadata?.deletionTimestamp) continue;
          if (sts && ownedBy(p, sts)) continue; // a set being deleted with finalizers keeps its pods until it is gone
          await pods.delete(p.metadata?.name ?? "", ns).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
          log.info({ pod: `${ns}/${p.metadata?.name}` }, "deleted a pod whose StatefulSet is gone");
        }
        return;
      }
      const owned = candidates.filter((p) => ownedBy(p, sts));
      // Pods of an older set with the same name (uid differs) go, as the garbage collector would remove them.
      for (const p of candidates.filter((x) => !ownedBy(x, sts) && !x.metadata?.deletionTimestamp)) {
        await pods.delete(p.metadata?.name ?? "", ns).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
      }
      const d = decide(
        sts,
        owned,
        inf.pvc.list().filter((c) => c.metadata?.namespace === ns),
      );
      // upstream's Events: SuccessfulCreate, or FailedCreate with the error; one that already exists counts as created
      const createRecorded = async (create: () => Promise<unknown>, created: string, what: string) => {
        try {
          await create();
          await ctl.recordEvent(sts, "Normal", "SuccessfulCreate", created);
        } catch (e) {
          if (isAlreadyExists(e)) return;
          await ctl.recordEvent(sts, "Warning", "FailedCreate", `${what} failed error: ${(e as Error).message}`);
          throw e;
        }
      };
      for (const a of d.actions) {
        if (a.type === "createClaim") {
          const claim = a.claim.metadata?.name;
          await createRecorded(
            () => pvcs.create(a.claim as Pvc & K, ns),
            `create Claim ${claim} Pod ${a.pod} in StatefulSet ${name} success`,
            `create Claim ${claim} for StatefulSet ${name}`,
          );
        } else if (a.type === "createPod") {
          const pod = a.pod.metadata?.name;
          await createRecorded(
            () => pods.create(a.pod as Pod & K, ns),
            `create Pod ${pod} in StatefulSet ${name} successful`,
            `create Pod ${pod} in StatefulSet ${name}`,
          );
        } else {
          await pods.delete(a.name, ns).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
          await ctl.recordEvent(sts, "Normal", "SuccessfulDelete", `delete Pod ${a.name} in StatefulSet ${name} successful`);
        }
      }
      const cur = sts.status ?? {};
      const changed = Object.entries(d.status).some(([k, v]) => (cur as Record<string, unknown>)[k] !== v);
      if (changed) {
        await stsClient.patchStatus(name, { status: d.status }, { namespace: ns }).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
      }
    },
  });
  ctl.watch(inf.sts);
  ctl.watch(inf.pod, (p) => ownerKey(p));
  ctl.watch(inf.pvc, (c) => {
    const set = inf.sts
      .list()
      .find(
        (s) =>
          s.metadata?.namespace === c.metadata?.namespace &&
          (s.spec?.volumeClaimTemplates ?? []).some((t) => (c.metadata?.name ?? "").startsWith(`${t.metadata?.name}-${s.metadata?.name}-`)),
      );
    return set ? `${set.metadata?.namespace}/${set.metadata?.name}` : undefined;
  });
  return ctl;
}
