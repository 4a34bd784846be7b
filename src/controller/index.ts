// The `hwameistor controller` process: cluster-wide reconcilers and the CSI controller services.
// For now it serves the disk.hwameistor.io controller service on `<csiSocketDir>/disk.sock`. CSI serving
// needs no leader election (the external-provisioner sidecar elects itself; every replica of this
// process can answer, and CreateVolume/DeleteVolume are idempotent by name).

import path from "node:path";
import { DiskDriver } from "../csi/capabilities.ts";
import { diskControllerService } from "../csi/disk/controller.ts";
import { identityService } from "../csi/identity.ts";
import { startCsiServer } from "../csi/server.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { silentLogger, type Logger } from "../kube/types.ts";
import type { Service } from "../node/context.ts";

export interface ControllerOptions {
  /** --kubeconfig; falls back to $KUBECONFIG, in-cluster, ~/.kube/config. */
  kubeconfig?: string;
  /** A ready client instead of a kubeconfig (tests, dev cluster). */
  client?: KubeClient;
  /** Directory of the controller's CSI sockets: <csiSocketDir>/disk.sock. */
  csiSocketDir: string;
  log?: Logger;
  /** Upper bound of CreateVolume/DeleteVolume waits when the caller sets no deadline. */
  maxWaitMs?: number;
}

export interface RunningController extends Service {
  diskSocketPath: string;
}

export async function startController(o: ControllerOptions): Promise<RunningController> {
  const log = o.log ?? silentLogger;
  const client = o.client ?? new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeconfig }).kubeConfig);
  const diskSocketPath = path.join(o.csiSocketDir, "disk.sock");
  const disk = await startCsiServer({
    socketPath: diskSocketPath,
    identity: identityService(DiskDriver),
    controller: diskControllerService({ client, log, maxWaitMs: o.maxWaitMs }),
    log,
  });
  return { diskSocketPath, stop: () => disk.stop() };
}
