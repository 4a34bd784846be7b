// `hwameistor cluster operator`: the operator's install behaviour (Cluster phases, disk claims, StorageClasses).
import type { Command } from "commander";
import pino from "pino";
import { startOperator } from "../../controller/operator/index.ts";
import { DEFAULT_CLUSTER_NAME } from "../../api/names.ts";

export function registerOperator(cluster: Command): void {
  cluster
    .command("operator")
    .description("run the operator behaviour: Cluster phases, automatic disk claims, StorageClasses")
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    .option("--cluster-name <name>", "the Cluster resource to act on", DEFAULT_CLUSTER_NAME)
    .option("--log-level <level>", "pino log level", "info")
    .action(async (o: { kubeconfig?: string; clusterName: string; logLevel: string }) => {
      const log = pino({ level: o.logLevel, base: { component: "operator" } }, pino.destination(2));
      const op = await startOperator({ kubeconfig: o.kubeconfig, clusterName: o.clusterName, log });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, "shutting down");
        op.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      process.stdout.write(JSON.stringify({ operator: o.clusterName, ready: true }) + "\n");
    });
}
