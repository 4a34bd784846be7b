// `hwameictl snapshot list [--volume VOL]`: LocalVolumeSnapshots.
import type { Command } from "commander";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { lvsClient, snapshotColumns, snapshotRow } from "./common.ts";

export async function listSnapshots(ctl: Ctl, volume?: string): Promise<View> {
  const rows = (await lvsClient(ctl).list()).items
    .map(snapshotRow)
    .filter((r) => !volume || r.volume === volume)
    .sort((a, b) => a.name.localeCompare(b.name));
  return { sections: [{ columns: snapshotColumns, rows, empty: "No snapshots." }], data: rows };
}

export function registerSnapshotList(snapshot: Command, ctl: () => Ctl): void {
  snapshot
    .command("list")
    .description("list snapshots")
    .option("--volume <name>", "only snapshots of this volume")
    .action(async (o: { volume?: string }) => {
      const c = ctl();
      c.print(await listSnapshots(c, o.volume));
    });
}
