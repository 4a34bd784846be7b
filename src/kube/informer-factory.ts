// One informer per resource for a process that runs many controllers (client-go's SharedInformerFactory):
// each resource is listed and watched once, every controller adds its own handlers and reads the same cache.
// Informer.start() is idempotent, so each Controller may start the informers it watches. consumer() hands out
// per-consumer views whose stop() detaches only that consumer (see there).

import type { Pv, Pvc, StorageClassShape } from "../api/core.ts";
import type { KubeClient, ResourceClient } from "./client.ts";
import { Informer, type CacheInformer, type InformerOptions } from "./informer.ts";
import { PV, PVC, STORAGE_CLASS } from "./resources.ts";
import { silentLogger, type KubeObject, type Logger, type ResourceDescriptor } from "./types.ts";

export class InformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  /** Started views per shared informer (consumer()): the informer runs while one is started. */
  private readonly users = new Map<object, number>();

  constructor(
    readonly client: KubeClient,
    private readonly o: { log?: Logger; resyncPeriodMs?: number } = {},
  ) {}

  /**
   * The shared informer of a resource (created on first use). Whoever stops it stops it for every user: for
   * processes whose roles all stop together (kube-controllers); a process whose consumers come and go (the
   * controller's leader-only reconcilers beside its always-on CSI service) uses consumer().
   */
  for<T extends KubeObject>(d: ResourceDescriptor, sel: Selection = {}): Informer<T> {
    const key = `${d.group}/${d.version}/${d.plural}|${sel.namespace ?? ""}|${sel.labelSelector ?? ""}|${sel.fieldSelector ?? ""}`;
    let inf = this.informers.get(key);
    if (!inf) {
      const name = [d.plural, sel.namespace, sel.labelSelector, sel.fieldSelector].filter(Boolean).join(" ");
      inf = new Informer<KubeObject>(this.client.forKind(d), { log: this.o.log ?? silentLogger, resyncPeriodMs: this.o.resyncPeriodMs, name, ...sel });
      this.informers.set(key, inf);
    }
    return inf as unknown as Informer<T>;
  }

  /**
   * One consumer's handle on the shared informer of `rc`'s resource (client-go: a handler registration on a
   * SharedIndexInformer). It reads the shared cache; its handlers get their own resync; its stop() removes
   * only its handlers. The shared list + watch runs while at least one started handle is not stopped, so a
   * consumer that comes back after a stop (a new leader term) waits for a fresh list.
   */
  consumer<T extends KubeObject>(rc: ResourceClient<T>, o: Selection & { resyncPeriodMs?: number } = {}): CacheInformer<T> {
    const { resyncPeriodMs, ...sel } = o;
    const src = this.for<T>(rc.resource, sel);
    const users = this.users;
    const detach = new Set<() => void>();
    let started = false;
    return {
      stats: src.stats,
      addHandlers(h) {
        const off = src.addHandlers(h, { resyncPeriodMs });
        detach.add(off);
        return () => {
          off();
          detach.delete(off);
        };
      },
      start() {
        if (started) return;
        started = true;
        users.set(src, (users.get(src) ?? 0) + 1);
        src.start();
      },
      async stop() {
        for (const off of detach) off();
        detach.clear();
        if (!started) return;
        started = false;
        const n = (users.get(src) ?? 1) - 1;
        users.set(src, n);
        if (n <= 0) await src.stop();
      },
      // Reads go to the shared cache.
      hasSynced: () => src.hasSynced(),
      waitForSync: (signal) => src.waitForSync(signal),
      get: (key) => src.get(key),
      getByName: (name, namespace) => src.getByName(name, namespace),
      list: () => src.list(),
      keys: () => src.keys(),
    };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}

type Selection = Pick<InformerOptions, "namespace" | "labelSelector" | "fieldSelector">;

/**
 * A consumer's informer over `rc`: a view of the process's shared one when there is a factory, else an informer
 * of its own (parts started alone, in tests). `name` names the own informer in logs.
 */
export function consumerOrOwn<T extends KubeObject>(
  f: InformerFactory | undefined,
  rc: ResourceClient<T>,
  o: Selection & { name: string; log?: Logger; resyncPeriodMs?: number },
): CacheInformer<T> {
  const { name, log, ...sel } = o;
  return f ? f.consumer(rc, sel) : new Informer<T>(rc, { log: log ?? silentLogger, name, ...sel });
}

/** What every Kubernetes role (a kube-controller-manager loop, a CSI sidecar) is started with. */
export interface RoleOptions {
  client: KubeClient;
  log?: Logger;
  /** Shared informers (a process running several roles); default: the role's own. */
  informers?: InformerFactory;
}

/** A role's logger and informers: the shared factory it was given, or its own resyncing every `resyncPeriodMs`. */
export function roleInformers(o: RoleOptions, resyncPeriodMs?: number): { log: Logger; f: InformerFactory } {
  const log = o.log ?? silentLogger;
  return { log, f: o.informers ?? new InformerFactory(o.client, { log, resyncPeriodMs }) };
}

/**
 * The claim-side objects the volume roles (PV controller, provisioner, resizer) start from: PVC, PV and
 * StorageClass informers, and PVC and PV clients for their writes.
 */
export function claimInformers(f: InformerFactory) {
  return {
    inf: { pvc: f.for<Pvc & KubeObject>(PVC), pv: f.for<Pv & KubeObject>(PV), sc: f.for<StorageClassShape & KubeObject>(STORAGE_CLASS) },
    pvcs: f.client.forKind<Pvc & KubeObject>(PVC),
    pvs: f.client.forKind<Pv & KubeObject>(PV),
  };
}
