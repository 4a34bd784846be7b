// `hwameictl pool list [--node N]`: every pool of every node (LocalStorageNode pools and LocalDiskNode disk pools).
import type { Command } from "commander";
import type { LocalPool } from "../../../api/kinds/storage-pool.ts";
import { formatBytes } from "../../../api/quantity.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";

export interface PoolRow {
  node: string;
  pool: string;
  class: string;
  disks: number;
  totalBytes: number;
  usedBytes: number;
  freeBytes: number;
  volumes: number;
  path: string;
}

type HasPools = { kind?: string; metadata?: { name?: string }; status?: { pools?: Record<string, LocalPool> } };

export function poolRows(objs: HasPools[]): PoolRow[] {
  const rows: PoolRow[] = [];
  for (const o of objs) {
    for (const [name, p] of Object.entries(o.status?.pools ?? {})) {
      rows.push({
        node: o.metadata!.name!,
        pool: name,
        class: p.class ?? "",
        disks: p.disks?.length ?? 0,
        totalBytes: p.totalCapacityBytes ?? 0,
        usedBytes: p.usedCapacityBytes ?? 0,
        freeBytes: p.freeCapacityBytes ?? 0,
        volumes: p.volumes?.length ?? 0,
        path: p.path ?? "",
      });
    }
  }
  return rows.sort((a, b) => a.node.localeCompare(b.node) || a.pool.localeCompare(b.pool));
}

export const poolColumns = [
  { header: "node", value: (r: PoolRow) => r.node },
  { header: "pool", value: (r: PoolRow) => r.pool },
  { header: "class", value: (r: PoolRow) => r.class },
  { header: "disks", value: (r: PoolRow) => r.disks },
  { header: "total", value: (r: PoolRow) => formatBytes(r.totalBytes) },
  { header: "free", value: (r: PoolRow) => formatBytes(r.freeBytes) },
  { header: "volumes", value: (r: PoolRow) => r.volumes },
  { header: "used", value: (r: PoolRow) => formatBytes(r.usedBytes), wide: true },
  { header: "path", value: (r: PoolRow) => r.path, wide: true },
];

export async function listPools(ctl: Ctl, node?: string): Promise<View> {
  if (node) await ctl.requireNode(node);
  const [lsns, ldns] = await Promise.all([ctl.c.lsn.list(), ctl.c.ldn.list()]);
  const rows = poolRows([...lsns.items, ...ldns.items]).filter((r) => !node || r.node === node);
  return {
    sections: [{ columns: poolColumns, rows, empty: "No pools: disks become pools once they are claimed (hwameictl disk list shows their phase)." }],
    data: rows,
  };
}

export function registerPoolList(pool: Command, ctl: () => Ctl): void {
  pool
    .command("list")
    .description("list the storage pools of every node")
    .option("--node <name>", "only this node")
    .action(async (o: { node?: string }) => {
      const c = ctl();
      c.print(await listPools(c, o.node));
    });
}
