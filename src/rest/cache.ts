// The REST server's read side: one informer per kind it serves (list+watch, restarted with backoff by the
// kube runtime), so a GET answers from memory and a dashboard polling every few seconds costs the API server
// nothing. Writes go to the API server through the typed clients, never to the cache.
// A kind whose collection is not served yet (CRDs not installed) keeps its informer retrying; its routes
// answer 503 naming the kind until the first list succeeds.

import { setMaxListeners } from "node:events";
import { HwError } from "../api/errors.ts";
import type { KubeClient } from "../kube/client.ts";
import {
  hwameistorClients,
  type CoreNode,
  type EventObject,
  type HwameistorClients,
  type LocalDiskClaimObject,
  type LocalDiskNodeObject,
  type LocalDiskObject,
  type LocalStorageNodeObject,
  type LocalVolumeConvertObject,
  type LocalVolumeExpandObject,
  type LocalVolumeGroupObject,
  type LocalVolumeMigrateObject,
  type LocalVolumeObject,
  type LocalVolumeReplicaObject,
  type LocalVolumeSnapshotObject,
  type ClusterObject,
} from "../kube/hwameistor.ts";
import { Informer } from "../kube/informer.ts";
import { LEASE } from "../kube/resources.ts";
import type { KubeObject, Logger } from "../kube/types.ts";

export interface Caches {
  ld: Informer<LocalDiskObject>;
  ldn: Informer<LocalDiskNodeObject>;
  ldc: Informer<LocalDiskClaimObject>;
  lsn: Informer<LocalStorageNodeObject>;
  lv: Informer<LocalVolumeObject>;
  lvr: Informer<LocalVolumeReplicaObject>;
  lvg: Informer<LocalVolumeGroupObject>;
  lvmigrate: Informer<LocalVolumeMigrateObject>;
  lvconvert: Informer<LocalVolumeConvertObject>;
  lvexpand: Informer<LocalVolumeExpandObject>;
  lvs: Informer<LocalVolumeSnapshotObject>;
  evt: Informer<EventObject>;
  hmcluster: Informer<ClusterObject>;
  node: Informer<CoreNode>;
  lease: Informer<KubeObject>;
}

/** How long a deleted migrate/convert/expand stays listed (its controller deletes it when it completes). */
export const FINISHED_RETENTION_MS = 10 * 60_000;

export type OperationKind = "lvmigrate" | "lvconvert" | "lvexpand";

export class ResourceCache {
  readonly clients: HwameistorClients;
  readonly inf: Caches;
  /** Operations deleted recently: their last state and when they went (in memory; a restart forgets them). */
  private readonly finishedOps = new Map<string, { kind: OperationKind; object: KubeObject; deletedAt: number }>();

  constructor(
    readonly client: KubeClient,
    log: Logger,
    /** Namespace of the component leases (the system namespace). */
    leaseNamespace: string,
  ) {
    const c = (this.clients = hwameistorClients(client));
    const mk = <T extends KubeObject>(rc: ConstructorParameters<typeof Informer<T>>[0], name: string, namespace?: string) =>
      new Informer<T>(rc, { log, name: `rest/${name}`, namespace, backoff: { maxMs: 10_000 } });
    this.inf = {
      ld: mk(c.ld, "localdisks"),
      ldn: mk(c.ldn, "localdisknodes"),
      ldc: mk(c.ldc, "localdiskclaims"),
      lsn: mk(c.lsn, "localstoragenodes"),
      lv: mk(c.lv, "localvolumes"),
      lvr: mk(c.lvr, "localvolumereplicas"),
      lvg: mk(c.lvg, "localvolumegroups"),
      lvmigrate: mk(c.lvmigrate, "localvolumemigrates"),
      lvconvert: mk(c.lvconvert, "localvolumeconverts"),
      lvexpand: mk(c.lvexpand, "localvolumeexpands"),
      lvs: mk(c.lvs, "localvolumesnapshots"),
      evt: mk(c.evt, "events"),
      hmcluster: mk(c.hmcluster, "clusters"),
      node: mk(c.node, "nodes"),
      lease: mk(client.forKind(LEASE), "leases", leaseNamespace),
    };
    for (const kind of ["lvmigrate", "lvconvert", "lvexpand"] as const) {
      const key = (o: KubeObject) => `${kind}/${o.metadata?.name ?? ""}`;
      (this.inf[kind] as Informer<KubeObject>).addHandlers({
        add: (o) => void this.finishedOps.delete(key(o)),
        delete: (o) => void this.finishedOps.set(key(o), { kind, object: o, deletedAt: Date.now() }),
      });
    }
  }

  /** Operations deleted in the last FINISHED_RETENTION_MS, newest first. */
  finishedOperations(now = Date.now()): Array<{ kind: OperationKind; object: KubeObject; deletedAt: number }> {
    for (const [k, v] of this.finishedOps) if (now - v.deletedAt > FINISHED_RETENTION_MS) this.finishedOps.delete(k);
    return [...this.finishedOps.values()].sort((a, b) => b.deletedAt - a.deletedAt);
  }

  start(): void {
    for (const i of Object.values(this.inf)) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.inf).map((i) => i.stop()));
  }

  /** Waits (bounded) for every informer's first list; returns the kinds still not synced. */
  async waitForSync(timeoutMs: number): Promise<string[]> {
    const ctl = new AbortController();
    setMaxListeners(64, ctl.signal); // one listener per informer
    const t = setTimeout(() => ctl.abort(), timeoutMs);
    try {
      await Promise.all(Object.values(this.inf).map((i) => i.waitForSync(ctl.signal)));
    } finally {
      clearTimeout(t);
    }
    return Object.entries(this.inf)
      .filter(([, i]) => !i.hasSynced())
      .map(([k]) => k);
  }

  /** The cached list of a kind; 503 until its first list arrived. */
  list<K extends keyof Caches>(kind: K): ReturnType<Caches[K]["list"]> {
    const i = this.inf[kind];
    if (!i.hasSynced()) {
      throw new HwError("UNAVAILABLE", "CacheNotSynced", `the ${i.client.resource.kind} list is not loaded yet from the API server`, {
        hint: "retry in a few seconds; if it persists, check that the CRDs are installed (kubectl get crd) and the API server is reachable",
      });
    }
    return i.list() as ReturnType<Caches[K]["list"]>;
  }

  /** One cached object by name (cluster-scoped kinds); 503 until the kind's first list arrived. */
  get<K extends keyof Caches>(kind: K, name: string): ReturnType<Caches[K]["getByName"]> {
    this.list(kind);
    return this.inf[kind].getByName(name) as ReturnType<Caches[K]["getByName"]>;
  }
}
