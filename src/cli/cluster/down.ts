// `hwameistor cluster down [--purge]`.
import type { Command } from "commander";
import { HwError } from "../../api/errors.ts";
import { clusterDown, type DownResult } from "../../devcluster/down.ts";
import { DEFAULT_STATE_DIR } from "../../devcluster/options.ts";
import { parseOutputFormat, print, type View } from "../print.ts";

export function downView(r: DownResult): View {
  const lines = [
    `stopped: ${r.stopped.join(", ") || "nothing was running"}`,
    `unmounted: ${r.unmounted.join(", ") || "-"}`,
    `loop devices detached: ${r.detached.join(" ") || "-"}`,
    `network: ${r.network.join(", ") || "-"}`,
    `sockets removed: ${r.sockets.length}`,
    r.purged ? `purged ${r.stateDir}` : `data kept in ${r.stateDir} (\`cluster up\` brings the same cluster back; --purge deletes it)`,
  ];
  if (r.left.length) lines.push(`NOT removed:\n  ${r.left.join("\n  ")}`);
  return { text: lines.join("\n"), data: r };
}

export function registerDown(cluster: Command): void {
  cluster
    .command("down")
    .description("stop the dev cluster and remove its loop devices, mounts, namespaces and sockets")
    .option("--purge", "also delete the state dir: disk files and the API server's data")
    .option("--state-dir <dir>", "the cluster's state dir", DEFAULT_STATE_DIR)
    .option("-o, --output <format>", "table|json|yaml", "table")
    .action(async (o: { purge?: boolean; stateDir: string; output: string }) => {
      const format = parseOutputFormat(o.output);
      const r = await clusterDown({ stateDir: o.stateDir, purge: !!o.purge, progress: (l) => process.stderr.write(`${l}\n`) });
      print(downView(r), format);
      if (r.left.length)
        throw new HwError("UNAVAILABLE", "TeardownIncomplete", `some objects of the cluster are still in use: ${r.left.join("; ")}`, {
          hint: "stop what uses them and run `cluster down` again",
        });
    });
}
