// One informer per resource for a process that runs many controllers (client-go's SharedInformerFactory):
// each resource is listed and watched once, every controller adds its own handlers and reads the same cache.
// Informer.start() is idempotent, so each Controller may start the informers it watches.

import type { KubeClient } from "./client.ts";
import { Informer } from "./informer.ts";
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
