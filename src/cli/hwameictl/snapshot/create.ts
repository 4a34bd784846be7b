// `hwameictl snapshot create SNAP --volume VOL`: CSI CreateSnapshot, as the external-snapshotter calls it
// (the snapshot's name is SNAP with a first `snapshot` replaced by `snapcontent`, the driver's rule).
import type { Command } from "commander";
import { notFound } from "../../../api/errors.ts";
import { snapshotIdOf, type CsiSnapshot } from "../../../controller/csi/lvm/snapshots.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { withRetry } from "../volume/common.ts";
import { lvsClient, snapshotColumns, snapshotRow, withController } from "./common.ts";

export async function createSnapshot(ctl: Ctl, name: string, volume: string, socket?: string): Promise<View> {
  if (!(await ctl.c.lv.get(volume))) throw notFound(`volume ${volume}`, "list volumes with: hwameictl volume list");
  const t0 = Date.now();
  const deadline = t0 + ctl.timeoutMs;
  const res = await withController(ctl, socket, (csi) =>
    withRetry(
      `CreateSnapshot ${name}`,
      deadline,
      () => csi.call<{ snapshot: CsiSnapshot }>("Controller", "CreateSnapshot", { name, source_volume_id: volume, parameters: {} }),
      (e) => ["UNAVAILABLE", "ABORTED"].includes(e.code),
    ),
  );
  const s = await lvsClient(ctl).get(res.snapshot.snapshot_id);
  const rows = s ? [snapshotRow(s)] : [];
  return {
    sections: [{ columns: snapshotColumns, rows }],
    text: `snapshot ${snapshotIdOf(name)} of volume ${volume} ready in ${Date.now() - t0} ms`,
    data: res.snapshot,
  };
}

export function registerSnapshotCreate(snapshot: Command, ctl: () => Ctl): void {
  snapshot
    .command("create <name>")
    .description("snapshot a volume (its mounted filesystem is frozen for the instant of the copy)")
    .requiredOption("--volume <name>", "the volume to snapshot")
    .option("--csi-socket <path>", "the lvm driver's CSI controller socket (default: the dev cluster's)")
    .action(async (name: string, o: { volume: string; csiSocket?: string }) => {
      const c = ctl();
      c.print(await createSnapshot(c, name, o.volume, o.csiSocket));
    });
}
