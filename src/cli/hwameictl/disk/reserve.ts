// `hwameictl disk reserve NODE DISK [true|false]` (the original's form, reference §9) and `disk unreserve NODE DISK`
// (ours, = reserve … false): set LocalDisk spec.reserved (a reserved disk is never claimed). DISK is a device path
// (/dev/loop3) or a LocalDisk name; without the third argument reserve means true. Reserving a disk a claim already holds
// is refused: it would not free the disk, only hide it.
import type { Command } from "commander";
import { HwError, notFound } from "../../../api/errors.ts";
import type { View } from "../../print.ts";
import { diskColumns } from "./list.ts";
import { parseBool } from "../node/enable.ts";
import type { Ctl, Ld } from "../context.ts";

export async function findDisk(ctl: Ctl, node: string, disk: string): Promise<Ld> {
  await ctl.requireNode(node);
  const mine = (await ctl.c.ld.list()).items.filter((d) => d.spec?.nodeName === node);
  const d = mine.find((x) => x.metadata?.name === disk || x.spec?.devicePath === disk);
  if (d) return d;
  const choices = mine.map((x) => `${x.spec?.devicePath ?? "?"} (${x.metadata?.name})`).join(", ");
  throw notFound(`disk ${JSON.stringify(disk)} on node ${node}`, choices ? `the disks of ${node} are: ${choices}` : `${node} has no disks`);
}

export async function setReserved(ctl: Ctl, node: string, disk: string, reserved: boolean): Promise<View> {
  const d = await findDisk(ctl, node, disk);
  const name = d.metadata!.name!;
  if (reserved && d.spec?.claimRef && !d.spec.reserved) {
    throw new HwError(
      "FAILED_PRECONDITION",
      "DiskClaimed",
      `disk ${d.spec.devicePath} (${name}) on ${node} is already claimed by ${d.spec.claimRef.name} (owner ${d.spec.owner})`,
      {
        hint: "only a free (Available) disk can be reserved",
      },
    );
  }
  const updated = d.spec?.reserved === reserved ? d : await ctl.c.ld.patch(name, { spec: { reserved } });
  return { sections: [{ columns: diskColumns, rows: [updated] }], data: updated };
}

export function registerDiskReserve(disk: Command, ctl: () => Ctl): void {
  disk
    .command("reserve <node> <disk> [reserve]")
    .description("reserve (true, the default) or release (false) a disk (device path or LocalDisk name); a reserved disk is never claimed")
    .action(async (node: string, d: string, v: string | undefined) => {
      const c = ctl();
      c.print(await setReserved(c, node, d, v === undefined ? true : parseBool(v, "<reserve>")));
    });
  disk
    .command("unreserve <node> <disk>")
    .description("release a reservation")
    .action(async (node: string, d: string) => {
      const c = ctl();
      c.print(await setReserved(c, node, d, false));
    });
}
