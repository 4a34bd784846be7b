// The CSI sidecars' roles (external-provisioner, -attacher, -resizer, -snapshotter and the snapshot
// controller) for the drivers behind the given controller sockets. They reach the drivers only over CSI
// gRPC, like the real sidecars, which replace them in a Kubernetes cluster. docs/kube-roles.md.

import type { KubeClient } from "../kube/client.ts";
import { InformerFactory } from "../kube/informer-factory.ts";
import { silentLogger, type Logger } from "../kube/types.ts";
import { attacher } from "./attacher/attacher.ts";
import { connectDriver, type Driver } from "./common.ts";
import { provisioner } from "./provisioner/provisioner.ts";
import { resizer } from "./resizer/resizer.ts";
import { snapshotController } from "./snapshotter/snapshot-controller.ts";
import { snapshotter } from "./snapshotter/snapshotter.ts";

export interface SidecarOptions {
  client: KubeClient;
  /** CSI controller sockets, one per driver. */
  sockets: string[];
  log?: Logger;
  /** CSI call deadline (default 60 s). */
  timeoutMs?: number;
  /** Shared informers (one list/watch per resource for the whole process). */
  informers?: InformerFactory;
}

export async function startSidecars(o: SidecarOptions): Promise<{ drivers: string[]; stop(): Promise<void> }> {
  const log = o.log ?? silentLogger;
  const drivers: Driver[] = [];
  for (const s of o.sockets) drivers.push(await connectDriver(s));
  const informers = o.informers ?? new InformerFactory(o.client, { log, resyncPeriodMs: 30_000 });
  const parts: Array<{ start(): Promise<void>; stop(): Promise<void> }> = [snapshotController({ client: o.client, log, informers })];
  for (const d of drivers) {
    const opts = { client: o.client, driver: d, log, timeoutMs: o.timeoutMs, informers };
    parts.push(provisioner(opts));
    if (d.controllerCaps.has("PUBLISH_UNPUBLISH_VOLUME")) parts.push(attacher(opts));
    if (d.controllerCaps.has("EXPAND_VOLUME")) parts.push(resizer(opts));
    if (d.controllerCaps.has("CREATE_DELETE_SNAPSHOT")) parts.push(snapshotter(opts));
  }
  await Promise.all(parts.map((p) => p.start()));
  log.info({ drivers: drivers.map((d) => d.name) }, "CSI sidecar roles running");
  return {
    drivers: drivers.map((d) => d.name),
    async stop() {
      await Promise.all(parts.map((p) => p.stop()));
      for (const d of drivers) d.csi.close();
    },
  };
}
