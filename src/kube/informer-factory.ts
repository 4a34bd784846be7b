// One informer per resource for a process that runs many controllers (client-go's SharedInformerFactory):
// each resource is listed and watched once, every controller adds its own handlers and reads the same cache.
// Informer.start() is idempotent, so each Controller may start the informers it watches. consumer() hands out
// per-consumer views whose stop() detaches only that consumer (see there).

import type { Pv, Pvc, StorageClassShape } from "../api/core.ts";
import type { KubeClient, ResourceClient } from "./client.ts";
import { Informer, type InformerHandlers, type InformerOptions } from "./informer.ts";
import { PV, PVC, STORAGE_CLASS } from "./resources.ts";
import { silentLogger, type KubeObject, type Logger, type ResourceDescriptor } from "./types.ts";

export class InformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  /** Started views per shared informer (consumer()): the informer runs while one is started. */
  private readonly users = new Map<Informer<KubeObject>, number>();

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
  consumer<T extends KubeObject>(rc: ResourceClient<T>, o: Selection & { resyncPeriodMs?: number } = {}): Informer<T> {
    const { resyncPeriodMs, ...sel } = o;
    return new InformerView<T>(this.for<T>(rc.resource, sel), resyncPeriodMs, {
      acquire: (src) => {
        this.users.set(src, (this.users.get(src) ?? 0) + 1);
        src.start();
      },
      release: async (src) => {
        const n = (this.users.get(src) ?? 1) - 1;
        this.users.set(src, n);
        if (n <= 0) await src.stop();
      },
    });
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
): Informer<T> {
  const { name, log, ...rest } = o;
  const sel = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== 0)) as Selection & { resyncPeriodMs?: number };
  return f ? f.consumer(rc, sel) : new Informer<T>(rc, { log: log ?? silentLogger, name, ...sel });
}

/** A consumer's view of a shared informer (InformerFactory.consumer()). */
class InformerView<T extends KubeObject> extends Informer<T> {
  override readonly stats: Informer<T>["stats"];
  private readonly detach = new Set<() => void>();
  private started = false;

  constructor(
    private readonly src: Informer<T>,
    private readonly resyncMs: number | undefined,
    private readonly ref: { acquire(src: Informer<KubeObject>): void; release(src: Informer<KubeObject>): Promise<void> },
  ) {
    super(src.client, { log: silentLogger });
    this.stats = src.stats;
  }

  override addHandlers(h: InformerHandlers<T>): () => void {
    const off = this.src.addHandlers(h, { resyncPeriodMs: this.resyncMs });
    this.detach.add(off);
    return () => {
      off();
      this.detach.delete(off);
    };
  }

  override start(): void {
    if (this.started) return;
    this.started = true;
    this.ref.acquire(this.src as unknown as Informer<KubeObject>);
  }

  override async stop(): Promise<void> {
    for (const off of this.detach) off();
    this.detach.clear();
    if (!this.started) return;
    this.started = false;
    await this.ref.release(this.src as unknown as Informer<KubeObject>);
  }

  override isRunning(): boolean {
    return this.started && this.src.isRunning();
  }
  override hasSynced(): boolean {
    return this.src.hasSynced();
  }
  override waitForSync(signal?: AbortSignal): Promise<void> {
    return this.src.waitForSync(signal);
  }
  override get(key: string): T | undefined {
    return this.src.get(key);
  }
  override getByName(name: string, namespace?: string): T | undefined {
    return this.src.getByName(name, namespace);
  }
  override list(): T[] {
    return this.src.list();
  }
  override keys(): string[] {
    return this.src.keys();
  }
  override get lastResourceVersion(): string {
    return this.src.lastResourceVersion;
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
