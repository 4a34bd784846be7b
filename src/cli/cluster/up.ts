// `hwameistor cluster up`: returns to the shell once every node is Ready; the processes keep running under
// a detached supervisor.
import type { Command } from "commander";
import { clusterUp, type UpResult } from "../../devcluster/up.ts";
import { DEFAULT_STATE_DIR, parseGiven, type RawOptions } from "../../devcluster/options.ts";
import { formatBytes } from "../../api/quantity.ts";
import { parseOutputFormat, print, type View } from "../print.ts";

export function upView(r: UpResult): View {
  const rel = r.stateDir;
  const o = r.options;
  const text = [
    `${r.alreadyRunning ? "Cluster already up" : "Cluster up"} in ${(r.durationMs / 1000).toFixed(1)} s: ${o.nodes} nodes × ${o.disksPerNode} ${o.diskClass} disks of ${formatBytes(o.diskSizeBytes)}${o.netns ? ", one network namespace per node" : ""}.`,
    `StorageClasses: ${r.storageClasses.length ? r.storageClasses.join(", ") : "(none yet)"}`,
    "",
    `Kubeconfig: ${r.kubeconfig}`,
    "",
    "Next steps:",
    `  export KUBECONFIG=${r.kubeconfig}`,
    "  kubectl get localstoragenodes,localdisks,storageclasses",
    "  bin/hwameictl node list; bin/hwameictl disk list; bin/hwameictl pool list",
    `  bin/hwameictl volume create data1 --class ${r.storageClasses.find((s) => s.includes("-lvm-")) ?? "hwameistor-storage-lvm-" + o.diskClass.toLowerCase()} --size 1Gi --node node-1`,
    "  bin/hwameictl volume mount data1 --node node-1 --path /mnt/data1",
    `  bin/hwameistor cluster status${rel.endsWith(DEFAULT_STATE_DIR) ? "" : " --state-dir " + rel}    # processes, nodes, pools`,
    `  bin/hwameistor cluster down${rel.endsWith(DEFAULT_STATE_DIR) ? "" : " --state-dir " + rel}      # stop; --purge also deletes the disks`,
  ].join("\n");
  return {
    sections: [
      {
        columns: [
          { header: "node", value: (n: UpResult["nodes"][number]) => n.name },
          { header: "ready", value: (n: UpResult["nodes"][number]) => (n.node ? "True" : "False") },
          { header: "disk node", value: (n: UpResult["nodes"][number]) => (n.diskNode ? "Ready" : "-") },
          {
            header: "storage node",
            value: (n: UpResult["nodes"][number]) => (n.storageNode === undefined ? "(no lvm driver)" : n.storageNode ? "Ready" : "-"),
          },
          { header: "pools", value: (n: UpResult["nodes"][number]) => n.pools.join(",") },
        ],
        rows: r.nodes,
      },
    ],
    text,
    data: r,
  };
}

export function registerUp(cluster: Command): void {
  cluster
    .command("up")
    .description("start (or check) the dev cluster and wait until every node is Ready")
    .option("--nodes <n>", "number of node agents (node-1..N) [default: 3]")
    .option("--disks-per-node <n>", "loop-device disks per node [default: 2]")
    .option("--disk-size <size>", "size of each disk, e.g. 2Gi (sparse) [default: 2Gi]")
    .option("--disk-class <class>", "HDD|SSD|NVMe [default: HDD]")
    .option("--netns", "run each node agent in its own network namespace with its own storage IP")
    .option("--file-fs <fs>", "node agents' file engine pool filesystem: btrfs (one over all disks) | xfs (one per disk) [default: the agent's, btrfs]")
    .option("--not-claim-disk", "Cluster spec.notClaimDisk: do not claim disks automatically (no pools, no StorageClasses)")
    .option("--state-dir <dir>", "where the cluster keeps everything", DEFAULT_STATE_DIR)
    .option("--timeout <seconds>", "how long to wait for every node to be Ready", "180")
    .option("-o, --output <format>", "table|json|yaml", "table")
    .action(async (o: RawOptions & { stateDir: string; timeout: string; output: string }) => {
      const format = parseOutputFormat(o.output);
      const given = parseGiven(o);
      const r = await clusterUp({
        stateDir: o.stateDir,
        given,
        timeoutMs: Number(o.timeout) * 1000,
        progress: (line) => process.stderr.write(`${line}\n`),
      });
      print(upView(r), format);
    });
}
