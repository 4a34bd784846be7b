// `hwameistor cluster up|down|status|supervise|operator`: the dev cluster (docs/devcluster.md).
import type { Command } from "commander";
import { registerDown } from "./down.ts";
import { registerOperator } from "./operator.ts";
import { registerStatus } from "./status.ts";
import { registerSupervise } from "./supervise.ts";
import { registerUp } from "./up.ts";

export function registerClusterCommand(program: Command): void {
  const cluster = program.command("cluster").description("a HwameiStor cluster on this machine: API server, controller, N node agents with loop-device disks");
  registerUp(cluster);
  registerStatus(cluster);
  registerDown(cluster);
  registerSupervise(cluster);
  registerOperator(cluster);
}
