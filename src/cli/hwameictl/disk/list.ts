// `hwameictl disk list [--node N]`: LocalDisks.
import type { Command } from "commander";
import { formatBytes } from "../../../api/quantity.ts";
import type { View } from "../../print.ts";
import type { Ctl, Ld } from "../context.ts";

export const diskColumns = [
  { header: "name", value: (d: Ld) => d.metadata?.name },
  { header: "node", value: (d: Ld) => d.spec?.nodeName },
  { header: "device", value: (d: Ld) => d.spec?.devicePath || d.spec?.preDevicePath },
  { header: "capacity", value: (d: Ld) => formatBytes(d.spec?.capacity) },
  { header: "type", value: (d: Ld) => d.spec?.diskAttributes?.type },
  { header: "owner", value: (d: Ld) => d.spec?.owner },
  { header: "phase", value: (d: Ld) => d.status?.claimState },
  { header: "reserved", value: (d: Ld) => !!d.spec?.reserved },
  { header: "state", value: (d: Ld) => d.spec?.state },
  { header: "claim", value: (d: Ld) => d.spec?.claimRef?.name, wide: true },
  { header: "health", value: (d: Ld) => d.spec?.smartInfo?.overallHealth, wide: true },
];

export async function listDisks(ctl: Ctl, node?: string): Promise<View> {
  if (node) await ctl.requireNode(node);
  const items = (await ctl.c.ld.list()).items
    .filter((d) => !node || d.spec?.nodeName === node)
    .sort((a, b) => (a.spec?.nodeName ?? "").localeCompare(b.spec?.nodeName ?? "") || (a.spec?.devicePath ?? "").localeCompare(b.spec?.devicePath ?? ""));
  return { sections: [{ columns: diskColumns, rows: items, empty: node ? `No disks on ${node}.` : "No disks." }], data: items };
}

export function registerDiskList(disk: Command, ctl: () => Ctl): void {
  disk
    .command("list")
    .description("list local disks")
    .option("--node <name>", "only this node's disks")
    .action(async (o: { node?: string }) => {
      const c = ctl();
      c.print(await listDisks(c, o.node));
    });
}
