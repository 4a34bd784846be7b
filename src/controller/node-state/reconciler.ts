// The node-state check (fact sheet §5.2, leader only): every `periodMs` (the original: 20 s) read the worker
// Leases, LocalStorageNodes, LocalDiskNodes, core Nodes and replicas, and write what states.ts decides. Events
// `NodeOffline` / `NodeOnline` on the LocalStorageNode. A failed pass is logged and retried at the next tick.
// It reads the process's shared informer caches (the other reconcilers watch the same kinds) instead of listing
// five kinds, every replica included, from the API server each period; a cache that has not synced (its CRD
// missing, a list failing) is read live, as before. Writes stay conditional on the resourceVersion read.

import { HWAMEISTOR_NAMESPACE, VolumeStates, localDiskManagerWorkerLease, localStorageWorkerLease } from "../../api/names.ts";
import type { CacheInformer } from "../../kube/informer.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import { EventRecorder } from "../../kube/events.ts";
import { hwameistorClients, listAll, listOptional, nameOf } from "../../kube/hwameistor.ts";
import { LEASE, type LeaseSpec } from "../../kube/resources.ts";
import { isConflict, isNotFound } from "../../kube/transport.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";
import { leaseFresh, nextNodeState, replicaNotReady } from "./states.ts";

export interface NodeStateOptions extends ReconcilerOptions {
  /** Check period (default 20 s, the original's). */
  periodMs?: number;
  /** Namespace of the worker Leases (default hwameistor). */
  namespace?: string;
}

export function nodeStateController(o: NodeStateOptions) {
  const log = o.log ?? silentLogger;
  const c = hwameistorClients(o.client);
  const leases = o.client.forKind<KubeObject & { spec?: LeaseSpec }>(LEASE);
  const ns = o.namespace ?? HWAMEISTOR_NAMESPACE;
  const recorder = new EventRecorder(o.client, { component: "hwameistor-controller", log });
  const inf = informerFor(o);
  const cache = {
    leases: inf(leases, "leases(worker)", { namespace: ns }),
    lsn: inf(c.lsn, "localstoragenodes"),
    ldn: inf(c.ldn, "localdisknodes"),
    node: inf(c.node, "nodes"),
    lvr: inf(c.lvr, "localvolumereplicas"),
  };
  /** The cached objects once the informer has its first list, else a live list (listOptional/listAll semantics). */
  const read = async <T extends KubeObject>(i: CacheInformer<T>, live: () => Promise<T[]>): Promise<T[]> => (i.hasSynced() ? i.list() : live());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function pass(): Promise<void> {
    const now = Date.now();
    const byName = new Map((await read(cache.leases, () => listOptional(leases, { namespace: ns }))).map((l) => [nameOf(l), l.spec]));
    const storageFresh = new Map<string, boolean | undefined>();
    for (const lsn of await read(cache.lsn, () => listOptional(c.lsn))) {
      const name = nameOf(lsn);
      const fresh = leaseFresh(byName.get(localStorageWorkerLease(name)), now);
      storageFresh.set(name, fresh);
      const next = nextNodeState(lsn.status?.state, fresh);
      if (!next || !lsn.status?.state) continue;
      try {
        await c.lsn.updateStatus({ ...lsn, status: { ...lsn.status, state: next } });
        const offline = next === "Offline";
        log.info({ node: name, state: next }, "LocalStorageNode state from its worker lease");
        await recorder.recordEvent(
          { apiVersion: "hwameistor.io/v1alpha1", kind: "LocalStorageNode", metadata: lsn.metadata },
          offline ? "Warning" : "Normal",
          offline ? "NodeOffline" : "NodeOnline",
          offline
            ? `lease ${ns}/${localStorageWorkerLease(name)} expired: node agent on ${name} is not running or cannot reach the API server; its replicas are NotReady until it renews`
            : `lease ${ns}/${localStorageWorkerLease(name)} renewed: node ${name} is back`,
        );
      } catch (e) {
        if (!isConflict(e) && !isNotFound(e)) throw e;
      }
    }
    for (const ldn of await read(cache.ldn, () => listOptional(c.ldn))) {
      const name = nameOf(ldn);
      const next = nextNodeState(ldn.status?.state, leaseFresh(byName.get(localDiskManagerWorkerLease(name)), now));
      if (!next || !ldn.status?.state) continue;
      try {
        await c.ldn.updateStatus({ ...ldn, status: { ...ldn.status, state: next } });
        log.info({ node: name, state: next }, "LocalDiskNode state from its worker lease");
      } catch (e) {
        if (!isConflict(e) && !isNotFound(e)) throw e;
      }
    }
    const nodeReady = new Map(
      (await read(cache.node, () => listOptional(c.node))).map((n) => [nameOf(n), n.status?.conditions?.find((x) => x.type === "Ready")?.status]),
    );
    for (const r of await read(cache.lvr, () => listAll(c.lvr))) {
      const node = r.spec?.nodeName ?? "";
      if (!replicaNotReady(r.status?.state, nodeReady.get(node), storageFresh.get(node))) continue;
      try {
        await c.lvr.updateStatus({ ...r, status: { ...r.status, state: VolumeStates.NotReady } });
        log.info({ replica: nameOf(r), node }, "replica NotReady: its node is unreachable");
      } catch (e) {
        if (!isConflict(e) && !isNotFound(e)) throw e;
      }
    }
  }

  const tick = () => {
    if (stopped) return;
    running = pass()
      .catch((e: unknown) => log.warn({ err: String(e) }, "node-state pass failed; retried at the next tick"))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, o.periodMs ?? 20_000);
      });
  };

  return {
    start(): void {
      for (const i of Object.values(cache)) i.start();
      tick();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
      await Promise.all(Object.values(cache).map((i) => i.stop()));
    },
    /** One pass now (tests). */
    pass,
  };
}
