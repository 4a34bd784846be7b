// What every reconciler of the controller process starts with: its logger, the typed clients, informers that
// log through it, and a Controller that records Events as `hwameistor-controller`.

import type { KubeClient } from "../kube/client.ts";
import { Controller, type ControllerOptions } from "../kube/controller.ts";
import { hwameistorClients, type HwameistorClients } from "../kube/hwameistor.ts";
import { Informer } from "../kube/informer.ts";
import type { ResourceClient } from "../kube/client.ts";
import { silentLogger, type KubeObject, type Logger } from "../kube/types.ts";

export interface ControllerHead {
  log: Logger;
  c: HwameistorClients;
  ctl: Controller;
  /** An informer over `client` named `name` in logs; `resyncPeriodMs` re-lists (and so re-reconciles) periodically. */
  informer<T extends KubeObject>(client: ResourceClient<T>, name: string, resyncPeriodMs?: number): Informer<T>;
}

export function controllerHead(
  o: { client: KubeClient; log?: Logger },
  name: string,
  workers: number,
  reconcile: ControllerOptions["reconcile"],
): ControllerHead {
  const log = o.log ?? silentLogger;
  return {
    log,
    c: hwameistorClients(o.client),
    ctl: new Controller({ name, log, workers, events: { client: o.client, component: "hwameistor-controller" }, reconcile }),
    informer: (client, informerName, resyncPeriodMs) => new Informer(client, { log, name: informerName, ...(resyncPeriodMs ? { resyncPeriodMs } : {}) }),
  };
}
