// `hwameictl volume get NAME`: one volume; -o json|yaml prints the LocalVolume/LocalDiskVolume (and replicas).
import type { Command } from "commander";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { requireVolume } from "./common.ts";
import { volumeColumns } from "./list.ts";

export async function getVolume(ctl: Ctl, name: string): Promise<View> {
  const v = await requireVolume(ctl, name);
  const replicas = v.driver === "lvm" ? (await ctl.c.lvr.list()).items.filter((r) => r.spec?.volumeName === name) : [];
  return {
    sections: [
      { columns: volumeColumns, rows: [v.row] },
      ...(v.driver === "lvm"
        ? [
            {
              title: "Replicas",
              columns: [
                { header: "name", value: (r: (typeof replicas)[number]) => r.metadata?.name },
                { header: "node", value: (r: (typeof replicas)[number]) => r.spec?.nodeName },
                { header: "state", value: (r: (typeof replicas)[number]) => r.status?.state },
                { header: "device", value: (r: (typeof replicas)[number]) => r.status?.devPath },
              ],
              rows: replicas,
              empty: "No replicas yet.",
            },
          ]
        : []),
    ],
    data: { volume: v.object, replicas },
  };
}

export function registerVolumeGet(volume: Command, ctl: () => Ctl): void {
  volume
    .command("get <name>")
    .description("show one volume")
    .action(async (name: string) => {
      const c = ctl();
      c.print(await getVolume(c, name));
    });
}
