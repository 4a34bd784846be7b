// `hwameistor cluster supervise`: the supervisor process `cluster up` starts detached (not for people).
import type { Command } from "commander";
import { DEFAULT_STATE_DIR } from "../../devcluster/options.ts";
import { Supervisor, ts } from "../../devcluster/supervisor.ts";

export function registerSupervise(cluster: Command): void {
  cluster
    .command("supervise")
    .description("(internal) run and restart the dev cluster's processes; started by `cluster up`")
    .option("--state-dir <dir>", "the cluster's state dir", DEFAULT_STATE_DIR)
    .action(async (o: { stateDir: string }) => {
      const sup = new Supervisor(o.stateDir);
      const stop = (signal: string) => {
        process.stdout.write(`${ts()} ${signal}: stopping\n`);
        sup.stop().then(
          () => process.exit(0),
          (e: unknown) => {
            process.stdout.write(`${ts()} stop failed: ${String(e)}\n`);
            process.exit(1);
          },
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGHUP", () => {}); // the terminal of `cluster up` closing is no reason to stop
      await sup.run();
      // keep running: child exit handlers and timers hold the event loop
      setInterval(() => {}, 1 << 30);
    });
}
