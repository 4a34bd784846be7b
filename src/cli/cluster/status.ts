// `hwameistor cluster status`: processes, nodes, pools.
import type { Command } from "commander";
import { DEFAULT_STATE_DIR } from "../../devcluster/options.ts";
import { formatBytes } from "../../api/quantity.ts";
import { clusterStatus, type NodeRow, type PoolRow, type ProcessRow, type StatusResult } from "../../devcluster/status.ts";
import { parseOutputFormat, print, type View } from "../print.ts";

export function statusView(r: StatusResult): View {
  return {
    sections: [
      {
        title: `Cluster ${r.stateDir}: ${r.status} (supervisor ${r.supervisor}; API ${r.api})`,
        columns: [
          { header: "process", value: (p: ProcessRow) => p.name },
          { header: "pid", value: (p: ProcessRow) => p.pid },
          { header: "state", value: (p: ProcessRow) => p.state },
          { header: "restarts", value: (p: ProcessRow) => p.restarts },
          { header: "netns", value: (p: ProcessRow) => p.netns, wide: true },
          { header: "last exit", value: (p: ProcessRow) => p.lastExit, wide: true },
          { header: "log", value: (p: ProcessRow) => p.log },
        ],
        rows: r.processes,
      },
      {
        title: "Nodes",
        columns: [
          { header: "node", value: (n: NodeRow) => n.name },
          { header: "ready", value: (n: NodeRow) => n.ready },
          { header: "disk node", value: (n: NodeRow) => n.diskNode },
          { header: "storage node", value: (n: NodeRow) => n.storageNode },
          { header: "storage ip", value: (n: NodeRow) => n.storageIP },
        ],
        rows: r.nodes,
        empty: r.apiError ? `(API server unreachable: ${r.apiError})` : "No nodes.",
      },
      {
        title: "Pools",
        columns: [
          { header: "node", value: (p: PoolRow) => p.node },
          { header: "pool", value: (p: PoolRow) => p.pool },
          { header: "class", value: (p: PoolRow) => p.class },
          { header: "disks", value: (p: PoolRow) => p.disks },
          { header: "total", value: (p: PoolRow) => formatBytes(p.totalBytes) },
          { header: "free", value: (p: PoolRow) => formatBytes(p.freeBytes) },
          { header: "volumes", value: (p: PoolRow) => p.volumes },
        ],
        rows: r.pools,
        empty: "No pools (disks not claimed yet, or no storage part running).",
      },
    ],
    text: `Kubeconfig: ${r.kubeconfig}`,
    data: r,
  };
}

export function registerStatus(cluster: Command): void {
  cluster
    .command("status")
    .description("show the dev cluster's processes, nodes and pools")
    .option("--state-dir <dir>", "the cluster's state dir", DEFAULT_STATE_DIR)
    .option("-o, --output <format>", "table|wide|json|yaml", "table")
    .action(async (o: { stateDir: string; output: string }) => {
      const format = parseOutputFormat(o.output);
      print(statusView(await clusterStatus(o.stateDir)), format);
    });
}
