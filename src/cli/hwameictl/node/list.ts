// `hwameictl node list`: every Node with its storage (LocalStorageNode) and disk (LocalDiskNode) state.
import type { Command } from "commander";
import { formatBytes } from "../../../api/quantity.ts";
import type { View } from "../../print.ts";
import { conditionStatus, type CoreNode, type Ctl, type Ldn, type Lsn } from "../context.ts";

export interface NodeRow {
  name: string;
  ready: string;
  storageNode: string;
  diskNode: string;
  storageIP: string;
  pools: string[];
  totalBytes: number;
  freeBytes: number;
  disks: number;
  volumes: number;
}

export function nodeRow(name: string, node: CoreNode | undefined, lsn: Lsn | undefined, ldn: Ldn | undefined): NodeRow {
  const pools = Object.entries(lsn?.status?.pools ?? {});
  const dpools = Object.entries(ldn?.status?.pools ?? {});
  return {
    name,
    ready: node ? (conditionStatus(node, "Ready") === "True" ? "Ready" : "NotReady") : "-",
    storageNode: lsn?.status?.state ?? "-",
    diskNode: ldn?.status?.state ?? "-",
    storageIP: lsn?.spec?.storageIP ?? "",
    pools: [...pools, ...dpools].map(([n]) => n),
    totalBytes: pools.reduce((a, [, p]) => a + (p.totalCapacityBytes ?? 0), 0),
    freeBytes: pools.reduce((a, [, p]) => a + (p.freeCapacityBytes ?? 0), 0),
    disks: [...pools, ...dpools].reduce((a, [, p]) => a + (p.disks?.length ?? 0), 0),
    volumes: pools.reduce((a, [, p]) => a + (p.volumes?.length ?? 0), 0),
  };
}

export const nodeColumns = [
  { header: "name", value: (r: NodeRow) => r.name },
  { header: "ready", value: (r: NodeRow) => r.ready },
  { header: "storage", value: (r: NodeRow) => r.storageNode },
  { header: "disks", value: (r: NodeRow) => r.diskNode },
  { header: "ip", value: (r: NodeRow) => r.storageIP },
  { header: "pools", value: (r: NodeRow) => r.pools.join(",") },
  { header: "free", value: (r: NodeRow) => formatBytes(r.freeBytes) },
  { header: "total", value: (r: NodeRow) => formatBytes(r.totalBytes), wide: true },
  { header: "disk count", value: (r: NodeRow) => r.disks, wide: true },
  { header: "volumes", value: (r: NodeRow) => r.volumes, wide: true },
];

export async function listNodes(ctl: Ctl): Promise<View> {
  const [nodes, lsns, ldns] = await Promise.all([ctl.c.node.list(), ctl.c.lsn.list(), ctl.c.ldn.list()]);
  const names = [...new Set([...nodes.items, ...lsns.items, ...ldns.items].map((o) => o.metadata!.name!))].sort();
  const by = <T extends { metadata?: { name?: string } }>(items: T[], n: string) => items.find((x) => x.metadata?.name === n);
  const rows = names.map((n) => nodeRow(n, by(nodes.items, n), by(lsns.items, n), by(ldns.items, n)));
  return { sections: [{ columns: nodeColumns, rows, empty: "No nodes." }], data: rows };
}

export function registerNodeList(node: Command, ctl: () => Ctl): void {
  node
    .command("list")
    .description("list nodes with their storage and disk state")
    .action(async () => {
      const c = ctl();
      c.print(await listNodes(c));
    });
}
