// `hwameistor kube-controllers`: the Kubernetes roles a CSI driver relies on, for clusters without
// Kubernetes (dev cluster, standalone): kube-controller-manager's PV controller, protection finalizers and
// VolumeAttachment creation (src/kcm), and the CSI sidecars (src/sidecars) for each driver socket given.
// Never run it against a real Kubernetes cluster: kube-controller-manager and the real sidecars do this there.

import type { Command } from "commander";
import { invalid } from "../api/errors.ts";
import { startKcmRoles } from "../kcm/index.ts";
import { InformerFactory } from "../kube/informer-factory.ts";
import { startEmbeddedScheduler } from "../scheduler/scheduler.ts";
import { startSidecars } from "../sidecars/index.ts";
import { serve, serverCommand, type ServerFlags } from "./serve.ts";

interface Flags extends ServerFlags {
  csiSocket: string[];
  sidecars: boolean;
  podScheduler: boolean;
  nodeMonitorGracePeriod: string;
  nodeMonitorPeriod: string;
}

export function registerKubeControllersCommand(program: Command): void {
  const cmd = serverCommand(
    program,
    "kube-controllers",
    "run the Kubernetes storage roles (PV controller, attach/detach, external provisioner/attacher/resizer/snapshotter) where no Kubernetes runs them",
  )
    .option("--csi-socket <path>", "a CSI controller socket (repeat for each driver)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--no-sidecars", "only the kube-controller-manager roles")
    .option("--no-pod-scheduler", "do not schedule pods (kube-scheduler's part with HwameiStor's filter and score)")
    .option("--node-monitor-grace-period <seconds>", "a node not heard from for this long goes Ready=Unknown and is tainted unreachable", "40")
    .option("--node-monitor-period <seconds>", "how often every node's lease is checked", "5");
  serve(cmd, async (o: Flags, { log, client: clientOf }) => {
    const seconds = (flag: string, v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw invalid(`--${flag} ${JSON.stringify(v)} is not a positive number of seconds`);
      return n * 1000;
    };
    const client = clientOf();
    // One list/watch per resource for every role of the process.
    const informers = new InformerFactory(client, { log, resyncPeriodMs: 30_000 });
    const kcm = await startKcmRoles({
      client,
      log,
      informers,
      nodeMonitorGracePeriodMs: seconds("node-monitor-grace-period", o.nodeMonitorGracePeriod),
      nodeMonitorPeriodMs: seconds("node-monitor-period", o.nodeMonitorPeriod),
    });
    const sidecars = o.sidecars && o.csiSocket.length ? await startSidecars({ client, sockets: o.csiSocket, log, informers }) : undefined;
    // One scheduler per cluster, like the other roles of this process (not leader-elected: run one).
    const scheduler = o.podScheduler ? await startEmbeddedScheduler({ client, log, noLeaderElection: true }) : undefined;
    const service = {
      stop: async () => {
        await scheduler?.stop();
        await sidecars?.stop();
        await kcm.stop();
      },
    };
    return { service, ready: { kubeControllers: true, drivers: sidecars?.drivers ?? [], podScheduler: !!scheduler } };
  });
}
