// Which LocalVolumeReplicas a node agent caches: its own. A field selector on spec.nodeName (the CRD's
// selectableFields) keeps the agent's cache, and so its memory, independent of the cluster's size, and every
// replica already has spec.nodeName: replicas written before this version are seen without any relabelling.
// Where the API server refuses the selector — the CRD was applied before it had selectableFields (Helm does not
// upgrade a chart's crds/), or Kubernetes is older than 1.31 (or runs with CustomResourceFieldSelectors off) —
// the agent caches every replica, as before, and logs what to apply.
// A volume's replicas on other nodes (the HA primary's peers) are read live, by spec.volumeName, when needed.

import { isHwError } from "../../api/errors.ts";
import type { InformerFactory } from "../../kube/informer-factory.ts";
import type { CacheInformer } from "../../kube/informer.ts";
import { listAll, type HwameistorClients, type Lvr } from "../../kube/hwameistor.ts";
import { sleep } from "../../kube/types.ts";
import type { NodeContext } from "../context.ts";

export interface NodeReplicas {
  /** The field selector of this node's replicas; undefined when the server cannot select (every replica cached). */
  readonly selector: string | undefined;
  /** A consumer's view of the shared cache of this node's replicas. */
  informer(resyncPeriodMs?: number): CacheInformer<Lvr>;
  /** Every replica of `volume`, on any node, read from the API server now. */
  ofVolume(volume: string): Promise<Lvr[]>;
  /**
   * This node's replica of `volume` that passes `ok`: from the cache, else read live (a replica the cache has not
   * seen yet, or has not seen in that state yet, is still found; a miss costs one selected read, as before).
   */
  mine(volume: string, ok?: (r: Lvr) => boolean): Promise<Lvr | undefined>;
}

export async function nodeReplicas(ctx: NodeContext, c: HwameistorClients, informers: InformerFactory): Promise<NodeReplicas> {
  const own = `spec.nodeName=${ctx.nodeName}`;
  let selector: string | undefined = own;
  for (let attempt = 1; ; attempt++) {
    try {
      await c.lvr.list({ fieldSelector: own, signal: ctx.signal });
      break;
    } catch (e) {
      if (isHwError(e) && e.code === "INVALID_ARGUMENT") {
        selector = undefined;
        ctx.log.warn(
          { node: ctx.nodeName, err: e.message },
          "the API server cannot select LocalVolumeReplicas by spec.nodeName: this agent caches every replica of the cluster. " +
            "Fix: apply the current CRD (kubectl apply -f deploy/crds/localvolumereplicas.hwameistor.io.yaml; it declares selectableFields, Kubernetes >= 1.31)",
        );
        break;
      }
      // The API server is not answering yet: ask again a few times (the agent needs it anyway), then cache all.
      if (attempt >= 5 || ctx.signal.aborted) {
        selector = undefined;
        ctx.log.warn({ node: ctx.nodeName, err: String(e) }, "could not find out whether LocalVolumeReplicas can be selected by node; caching every replica");
        break;
      }
      await sleep(1000 * attempt, ctx.signal);
    }
  }
  const sel = selector ? { fieldSelector: selector } : {};
  const cache = informers.for<Lvr>(c.lvr.resource, sel); // the one the consumers' views share
  const ofVolume = async (volume: string): Promise<Lvr[]> =>
    selector ? (await c.lvr.list({ fieldSelector: `spec.volumeName=${volume}` })).items : (await listAll(c.lvr)).filter((r) => r.spec?.volumeName === volume);
  return {
    selector,
    informer: (resyncPeriodMs) => informers.consumer(c.lvr, { ...sel, resyncPeriodMs }),
    ofVolume,
    mine: async (volume, ok = () => true) => {
      const match = (r: Lvr) => r.spec?.volumeName === volume && r.spec?.nodeName === ctx.nodeName && ok(r);
      return cache.list().find(match) ?? (await ofVolume(volume)).find(match);
    },
  };
}
