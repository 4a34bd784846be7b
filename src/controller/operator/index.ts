// The operator's install behaviour (§1.18, §2.4) as a service: the Cluster phase machine, automatic disk
// claims and StorageClasses. Runs as `hwameistor cluster operator` (its own process, as the original's
// operator is its own Deployment); startOperator() also lets the controller process embed it.
// Simplification: no leader election (one operator process per dev cluster).

import { KubeClient } from "../../kube/client.ts";
import { loadKubeConfig } from "../../kube/config.ts";
import { silentLogger, type Logger } from "../../kube/types.ts";
import { DEFAULT_CLUSTER_NAME } from "../../api/names.ts";
import { startOperatorController } from "./reconciler.ts";

export interface OperatorServiceOptions {
  kubeconfig?: string;
  client?: KubeClient;
  /** The Cluster resource to act on (default cluster-sample). */
  clusterName?: string;
  log?: Logger;
  resyncMs?: number;
}

export interface RunningOperator {
  stop(): Promise<void>;
}

export async function startOperator(o: OperatorServiceOptions = {}): Promise<RunningOperator> {
  const log = o.log ?? silentLogger;
  const client = o.client ?? new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeconfig }).kubeConfig, { userAgent: "hwameistor-operator" });
  const ctl = startOperatorController({ client, clusterName: o.clusterName ?? DEFAULT_CLUSTER_NAME, log, resyncMs: o.resyncMs });
  await ctl.start();
  return { stop: () => ctl.stop() };
}
