// `hwameistor cluster operator`: the operator's install behaviour (Cluster phases, disk claims, StorageClasses).
import type { Command } from "commander";
import { startOperator } from "../../controller/operator/index.ts";
import { DEFAULT_CLUSTER_NAME } from "../../api/names.ts";
import { serveUntilSignal, serverLogger } from "../serve.ts";

export function registerOperator(cluster: Command): void {
  cluster
    .command("operator")
    .description("run the operator behaviour: Cluster phases, automatic disk claims, StorageClasses")
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    .option("--cluster-name <name>", "the Cluster resource to act on", DEFAULT_CLUSTER_NAME)
    .option("--log-level <level>", "pino log level", "info")
    .action(async (o: { kubeconfig?: string; clusterName: string; logLevel: string }) => {
      const log = serverLogger(o.logLevel, { component: "operator" });
      const op = await startOperator({ kubeconfig: o.kubeconfig, clusterName: o.clusterName, log });
      serveUntilSignal(log, op, { operator: o.clusterName, ready: true });
    });
}
