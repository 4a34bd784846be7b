// `hwameistor cluster operator`: the operator's install behaviour (Cluster phases, disk claims, StorageClasses).
import type { Command } from "commander";
import { startOperator } from "../../controller/operator/index.ts";
import { DEFAULT_CLUSTER_NAME } from "../../api/names.ts";
import { serve, serverCommand, type ServerFlags } from "../serve.ts";

export function registerOperator(cluster: Command): void {
  const cmd = serverCommand(cluster, "operator", "run the operator behaviour: Cluster phases, automatic disk claims, StorageClasses").option(
    "--cluster-name <name>",
    "the Cluster resource to act on",
    DEFAULT_CLUSTER_NAME,
  );
  serve(
    cmd,
    async (o: ServerFlags & { clusterName: string }, { log }) => {
      const op = await startOperator({ kubeconfig: o.kubeconfig, clusterName: o.clusterName, log });
      return { service: op, ready: { operator: o.clusterName, ready: true } };
    },
    () => ({ component: "operator" }),
  );
}
