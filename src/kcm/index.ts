// kube-controller-manager roles for storage, as this project plays them where no Kubernetes runs them (the
// dev cluster, standalone mode): the PV controller with the pvc-/pv-protection finalizers (pv-controller.ts)
// the attach/detach controller's VolumeAttachment side (attach-detach.ts), the StatefulSet controller
// (statefulset/) the node lifecycle controller (node-lifecycle/: lease expiry → Ready Unknown, taints) and the
// disruption controller (disruption.ts: PodDisruptionBudget status for the eviction subresource). docs/kube-roles.md.

import type { KubeClient } from "../kube/client.ts";
import { InformerFactory } from "../kube/informer-factory.ts";
import { silentLogger, type Logger } from "../kube/types.ts";
import { attachDetachController } from "./attach-detach.ts";
import { pvController } from "./pv-controller.ts";
import { nodeLifecycleController } from "./node-lifecycle/controller.ts";
import { disruptionController } from "./disruption.ts";
import { statefulSetController } from "./statefulset/controller.ts";

export interface KcmOptions {
  client: KubeClient;
  log?: Logger;
  /** Shared informers (one list/watch per resource for the whole process). */
  informers?: InformerFactory;
  /** Node lifecycle: --node-monitor-grace-period / --node-monitor-period in ms (defaults 40 s / 5 s). */
  nodeMonitorGracePeriodMs?: number;
  nodeMonitorPeriodMs?: number;
}

export async function startKcmRoles(o: KcmOptions): Promise<{ stop(): Promise<void> }> {
  const log = o.log ?? silentLogger;
  const informers = o.informers ?? new InformerFactory(o.client, { log, resyncPeriodMs: 30_000 });
  const pv = pvController({ client: o.client, log, informers });
  const ad = attachDetachController({ client: o.client, log, informers });
  const sts = statefulSetController({ client: o.client, log });
  const nl = nodeLifecycleController({
    client: o.client,
    log,
    informers,
    nodeMonitorGracePeriodMs: o.nodeMonitorGracePeriodMs,
    nodeMonitorPeriodMs: o.nodeMonitorPeriodMs,
  });
  const dc = disruptionController({ client: o.client, log, informers });
  await Promise.all([pv.start(), ad.start(), sts.start(), nl.start(), dc.start()]);
  return {
    async stop() {
      await Promise.all([pv.stop(), ad.stop(), sts.stop(), nl.stop(), dc.stop()]);
    },
  };
}
