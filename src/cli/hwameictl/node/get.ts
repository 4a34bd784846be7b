// `hwameictl node get NAME`: one node: its row, its pools, and (-o json|yaml) the Node, LocalStorageNode and LocalDiskNode.
import type { Command } from "commander";
import { formatBytes } from "../../../api/quantity.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { nodeColumns, nodeRow } from "./list.ts";
import { poolRows, poolColumns } from "../pool/list.ts";

export async function getNode(ctl: Ctl, name: string): Promise<View> {
  const node = await ctl.requireNode(name);
  const [lsn, ldn, disks] = await Promise.all([ctl.c.lsn.get(name), ctl.c.ldn.get(name), ctl.c.ld.list()]);
  const row = nodeRow(name, node, lsn, ldn);
  const mine = disks.items.filter((d) => d.spec?.nodeName === name);
  return {
    sections: [
      { columns: nodeColumns, rows: [row] },
      { title: "Pools", columns: poolColumns, rows: poolRows([lsn, ldn].filter((x) => !!x)), empty: "No pools." },
      {
        title: "Disks",
        columns: [
          { header: "device", value: (d: (typeof mine)[number]) => d.spec?.devicePath ?? d.spec?.preDevicePath },
          { header: "capacity", value: (d: (typeof mine)[number]) => formatBytes(d.spec?.capacity) },
          { header: "phase", value: (d: (typeof mine)[number]) => d.status?.claimState },
          { header: "owner", value: (d: (typeof mine)[number]) => d.spec?.owner },
          { header: "reserved", value: (d: (typeof mine)[number]) => !!d.spec?.reserved },
        ],
        rows: mine,
        empty: "No disks.",
      },
    ],
    data: { node, localStorageNode: lsn ?? null, localDiskNode: ldn ?? null },
  };
}

export function registerNodeGet(nodeCmd: Command, ctl: () => Ctl): void {
  nodeCmd
    .command("get <name>")
    .description("show one node: state, pools, disks")
    .action(async (name: string) => {
      const c = ctl();
      c.print(await getNode(c, name));
    });
}
