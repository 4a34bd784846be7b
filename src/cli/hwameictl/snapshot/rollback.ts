// `hwameictl snapshot rollback SNAP`: a LocalVolumeSnapshotRestore with restoreType rollback, waited for.
// A published source volume is refused here, before anything is created (the controller refuses it too).
import type { Command } from "commander";
import { HwError } from "../../../api/errors.ts";
import { RestoreTypes } from "../../../api/names.ts";
import type { LocalVolumeSnapshotRestoreObject } from "../../../kube/hwameistor.ts";
import { sleep } from "../../../kube/types.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { inUse, lvsrClient, requireSnapshot } from "./common.ts";

export async function rollbackSnapshot(ctl: Ctl, name: string): Promise<View> {
  const snap = await requireSnapshot(ctl, name);
  const volume = snap.spec?.sourceVolume ?? "";
  const lv = await ctl.c.lv.get(volume);
  if (lv?.status?.publishedNode) throw inUse(volume, lv.status.publishedNode);
  const rname = `rollback-${name}-${Date.now().toString(36)}`.slice(0, 253);
  const c = lvsrClient(ctl);
  const t0 = Date.now();
  await c.create({ metadata: { name: rname }, spec: { sourceVolumeSnapshot: name, restoreType: RestoreTypes.Rollback } } as LocalVolumeSnapshotRestoreObject);
  const deadline = t0 + ctl.timeoutMs;
  for (;;) {
    const r = await c.get(rname);
    const state = r?.status?.state ?? "";
    if (state === "Completed") break;
    if (state === "Failed") throw new HwError("FAILED_PRECONDITION", "RollbackFailed", r?.status?.message || `rollback ${rname} failed`);
    if (Date.now() > deadline)
      throw new HwError("UNAVAILABLE", "InProgress", `rollback ${rname} is still ${state || "new"}`, { hint: `watch it: kubectl get lvsrestore ${rname}` });
    await sleep(250);
  }
  return {
    text: `volume ${volume} rolled back to snapshot ${name} in ${Date.now() - t0} ms (restore ${rname})`,
    data: { volume, snapshot: name, restore: rname },
  };
}

export function registerSnapshotRollback(snapshot: Command, ctl: () => Ctl): void {
  snapshot
    .command("rollback <name>")
    .description("return the snapshot's source volume to the snapshot's content (the volume must not be mounted)")
    .action(async (name: string) => {
      const c = ctl();
      c.print(await rollbackSnapshot(c, name));
    });
}
