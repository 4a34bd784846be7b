// One informer per resource for a process that runs many controllers (client-go's SharedInformerFactory):
// each resource is listed and watched once, every controller adds its own handlers and reads the same cache.
// Informer.start() is idempotent, so each Controller may start the informers it watches.

import type { Pv, Pvc, StorageClassShape } from "../api/core.ts";
import type { KubeClient } from "./client.ts";
import { Informer } from "./informer.ts";
import { PV, PVC, STORAGE_CLASS } from "./resources.ts";
import { silentLogger, type KubeObject, type Logger, type ResourceDescriptor } from "./types.ts";

export class InformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();

  constructor(
    readonly client: KubeClient,
    private readonly o: { log?: Logger; resyncPeriodMs?: number } = {},
  ) {}

  /** The shared informer of a resource (created on first use). */
  for<T extends KubeObject>(d: ResourceDescriptor): Informer<T> {
    const key = `${d.group}/${d.version}/${d.plural}`;
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer<KubeObject>(this.client.forKind(d), { log: this.o.log ?? silentLogger, resyncPeriodMs: this.o.resyncPeriodMs });
      this.informers.set(key, inf);
    }
    return inf as unknown as Informer<T>;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
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
