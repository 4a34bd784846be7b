// `hwameictl disk owner <node> <devPath> <owner>` (reference §9): sets LocalDisk spec.owner, as the original's
// REST `POST /cluster/nodes/:node/disks/:devicePath/owner`. Only a disk no claim holds can change owner.
import type { Command } from "commander";
import { HwError, invalid } from "../../../api/errors.ts";
import { Owners } from "../../../api/names.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { diskColumns } from "./list.ts";
import { findDisk } from "./reserve.ts";

export async function setOwner(ctl: Ctl, node: string, disk: string, owner: string): Promise<View> {
  const owners: string[] = [Owners.LocalStorage, Owners.LocalDiskManager, Owners.System];
  if (!owners.includes(owner)) throw invalid(`owner ${JSON.stringify(owner)} is not one of ${owners.join(", ")}`);
  const d = await findDisk(ctl, node, disk);
  const name = d.metadata!.name!;
  if (d.spec?.owner === owner) return { sections: [{ columns: diskColumns, rows: [d] }], data: d };
  if (d.spec?.claimRef) {
    throw new HwError(
      "FAILED_PRECONDITION",
      "DiskClaimed",
      `disk ${d.spec.devicePath} (${name}) on ${node} is claimed by ${d.spec.claimRef.name} (owner ${d.spec.owner})`,
      {
        hint: "only a disk no claim holds can change owner",
      },
    );
  }
  const updated = await ctl.c.ld.patch(name, { spec: { owner } });
  return { sections: [{ columns: diskColumns, rows: [updated] }], data: updated };
}

export function registerDiskOwner(disk: Command, ctl: () => Ctl): void {
  disk
    .command("owner <node> <devPath> <owner>")
    .description("set a free disk's owner: local-storage, local-disk-manager or system")
    .action(async (node: string, d: string, owner: string) => {
      const c = ctl();
      c.print(await setOwner(c, node, d, owner));
    });
}
