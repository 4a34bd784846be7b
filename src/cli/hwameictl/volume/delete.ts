// `hwameictl volume delete NAME`: DeleteVolume until the volume is gone (the lvm driver answers "volume in
// deleting" until the replicas are removed; the sidecar retries, so do we), then the PersistentVolume record.
import type { Command } from "commander";
import { HwError } from "../../../api/errors.ts";
import { connectCsi } from "../../../csi/client.ts";
import { sleep } from "../../../kube/types.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { requireVolume, withRetry } from "./common.ts";

export async function deleteVolume(ctl: Ctl, name: string, csiSocket?: string): Promise<View> {
  const v = await requireVolume(ctl, name);
  if (v.row.published) {
    throw new HwError("FAILED_PRECONDITION", "VolumeInUse", `volume ${name} is mounted on ${v.row.published}`, {
      hint: `unmount it first: hwameictl volume unmount ${name} --node ${v.row.published} --path <path>`,
    });
  }
  const deadline = Date.now() + ctl.timeoutMs;
  const csi = await connectCsi(ctl.controllerSocket(v.driver, csiSocket), { callTimeoutMs: Math.min(60_000, ctl.timeoutMs) });
  const gone = async () => !(v.driver === "lvm" ? await ctl.c.lv.get(name) : await ctl.c.ldv.get(name));
  try {
    await withRetry(
      `DeleteVolume ${name}`,
      deadline,
      async () => {
        await csi.deleteVolume({ volume_id: name });
        if (!(await gone())) throw new HwError("UNAVAILABLE", "InProgress", `volume ${name} is being deleted`);
      },
      (e) => ["UNAVAILABLE", "ABORTED", "DEADLINE_EXCEEDED"].includes(e.code) || e.reason === "BeingDeleted",
    );
  } finally {
    csi.close();
  }
  while (!(await gone()) && Date.now() < deadline) await sleep(250);
  await ctl.pv.delete(name).catch(() => false);
  return { text: `volume ${name} deleted`, data: { deleted: name } };
}

export function registerVolumeDelete(volume: Command, ctl: () => Ctl): void {
  volume
    .command("delete <name>")
    .description("delete a volume through the driver's CSI controller")
    .option("--csi-socket <path>", "the driver's CSI controller socket (default: the dev cluster's)")
    .action(async (name: string, o: { csiSocket?: string }) => {
      const c = ctl();
      c.print(await deleteVolume(c, name, o.csiSocket));
    });
}
