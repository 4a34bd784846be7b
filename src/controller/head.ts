// What every reconciler of the controller process starts with: its logger, the typed clients, informers that
// log through it, and a Controller that records Events as `hwameistor-controller`.

import type { KubeClient } from "../kube/client.ts";
import { Controller, type ControllerOptions } from "../kube/controller.ts";
import { hwameistorClients, type HwameistorClients } from "../kube/hwameistor.ts";
import type { CacheInformer } from "../kube/informer.ts";
import { consumerOrOwn, type InformerFactory } from "../kube/informer-factory.ts";
import type { ResourceClient } from "../kube/client.ts";
import { silentLogger, type KubeObject, type Logger } from "../kube/types.ts";

/** What a reconciler of the controller process is started with. */
export interface ReconcilerOptions {
  client: KubeClient;
  log?: Logger;
  /**
   * The process's shared informers (startController passes them): every reconciler and the CSI service read one
   * cache per kind, and the API server holds one watch per kind. Without it each reconciler has its own (tests).
   */
  informers?: InformerFactory;
}

/** An informer for one consumer: `name` in logs, `resyncPeriodMs` re-delivers every cached object to it. */
export type InformerFor = <T extends KubeObject>(
  client: ResourceClient<T>,
  name: string,
  o?: { namespace?: string; resyncPeriodMs?: number },
) => CacheInformer<T>;

/** A consumer's handle on the process's shared informer when there is a factory, else an informer of its own. */
export function informerFor(o: ReconcilerOptions): InformerFor {
  return (client, name, x = {}) => consumerOrOwn(o.informers, client, { name, log: o.log, ...x });
}

export interface ControllerHead {
  log: Logger;
  c: HwameistorClients;
  ctl: Controller;
  /** An informer over `client` named `name` in logs; `resyncPeriodMs` re-lists (and so re-reconciles) periodically. */
  informer<T extends KubeObject>(client: ResourceClient<T>, name: string, resyncPeriodMs?: number): CacheInformer<T>;
}

export function controllerHead(o: ReconcilerOptions, name: string, workers: number, reconcile: ControllerOptions["reconcile"]): ControllerHead {
  const log = o.log ?? silentLogger;
  const inf = informerFor(o);
  return {
    log,
    c: hwameistorClients(o.client),
    ctl: new Controller({ name, log, workers, events: { client: o.client, component: "hwameistor-controller" }, reconcile }),
    informer: (client, informerName, resyncPeriodMs) => inf(client, informerName, { resyncPeriodMs }),
  };
}
