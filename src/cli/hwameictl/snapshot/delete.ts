// `hwameictl snapshot delete SNAP`: CSI DeleteSnapshot until the snapshot is gone.
import type { Command } from "commander";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { withRetry } from "../volume/common.ts";
import { requireSnapshot, withController } from "./common.ts";

export async function deleteSnapshot(ctl: Ctl, name: string, socket?: string): Promise<View> {
  await requireSnapshot(ctl, name);
  const deadline = Date.now() + ctl.timeoutMs;
  await withController(ctl, socket, (csi) =>
    withRetry(
      `DeleteSnapshot ${name}`,
      deadline,
      () => csi.call("Controller", "DeleteSnapshot", { snapshot_id: name }),
      (e) => ["UNAVAILABLE", "ABORTED"].includes(e.code),
    ),
  );
  return { text: `snapshot ${name} deleted`, data: { deleted: name } };
}

export function registerSnapshotDelete(snapshot: Command, ctl: () => Ctl): void {
  snapshot
    .command("delete <name>")
    .description("delete a snapshot")
    .option("--csi-socket <path>", "the lvm driver's CSI controller socket (default: the dev cluster's)")
    .action(async (name: string, o: { csiSocket?: string }) => {
      const c = ctl();
      c.print(await deleteSnapshot(c, name, o.csiSocket));
    });
}
