// `hwameictl volume list [--node N]`: LocalVolumes and LocalDiskVolumes.
import type { Command } from "commander";
import { formatBytes } from "../../../api/quantity.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { ldvRow, lvRow, type VolumeRow } from "./common.ts";

export const volumeColumns = [
  { header: "name", value: (r: VolumeRow) => r.name },
  { header: "driver", value: (r: VolumeRow) => r.driver },
  { header: "pool", value: (r: VolumeRow) => r.pool },
  { header: "capacity", value: (r: VolumeRow) => formatBytes(r.capacityBytes) },
  { header: "node", value: (r: VolumeRow) => r.nodes.join(",") },
  { header: "state", value: (r: VolumeRow) => r.state },
  { header: "published", value: (r: VolumeRow) => r.published },
  { header: "replicas", value: (r: VolumeRow) => r.replicas, wide: true },
  { header: "fstype", value: (r: VolumeRow) => r.fsType, wide: true },
  { header: "used", value: (r: VolumeRow) => formatBytes(r.usedBytes), wide: true },
  { header: "pvc", value: (r: VolumeRow) => r.pvc, wide: true },
];

export async function listVolumes(ctl: Ctl, node?: string): Promise<View> {
  if (node) await ctl.requireNode(node);
  const [lvs, ldvs] = await Promise.all([ctl.c.lv.list(), ctl.c.ldv.list()]);
  const rows = [...lvs.items.map(lvRow), ...ldvs.items.map(ldvRow)].filter((r) => !node || r.nodes.includes(node)).sort((a, b) => a.name.localeCompare(b.name));
  return { sections: [{ columns: volumeColumns, rows, empty: "No volumes." }], data: rows };
}

export function registerVolumeList(volume: Command, ctl: () => Ctl): void {
  volume
    .command("list")
    .description("list volumes")
    .option("--node <name>", "only volumes with a replica on this node")
    .action(async (o: { node?: string }) => {
      const c = ctl();
      c.print(await listVolumes(c, o.node));
    });
}
