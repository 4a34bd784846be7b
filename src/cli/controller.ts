// `hwameistor controller`: runs the controller process (CSI controller services) until SIGTERM/SIGINT.

import type { Command } from "commander";
import pino from "pino";
import { startController } from "../controller/index.ts";

export function registerControllerCommand(program: Command): void {
  program
    .command("controller")
    .description("run the cluster controller: the CSI controller service of disk.hwameistor.io")
    .option("--kubeconfig <file>", "kubeconfig of the API server (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    .option("--csi-socket-dir <dir>", "directory for the CSI sockets (disk.sock)", "/var/lib/hwameistor/controller")
    .option("--log-level <level>", "pino log level", "info")
    .action(async (o: { kubeconfig?: string; csiSocketDir: string; logLevel: string }) => {
      const log = pino({ level: o.logLevel }, pino.destination(2));
      const ctl = await startController({ kubeconfig: o.kubeconfig, csiSocketDir: o.csiSocketDir, log });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, "shutting down");
        ctl.stop().then(
          () => process.exit(0),
          (e) => {
            log.error({ err: e }, "shutdown failed");
            process.exit(1);
          },
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      process.stdout.write(JSON.stringify({ diskSocket: ctl.diskSocketPath }) + "\n");
    });
}
