// LocalDiskAction reconciler: each agent applies every action to its own node's Active disks (the original
// runs one cluster-wide controller; per-node application needs no leader and touches only local disks).
// Simplification: if the agent dies between reserving a disk and recording it in latestMatchedLds, the
// record is lost (the disk stays reserved).
import { LocalDiskStates } from "../../../api/names.ts";
import { isConflict } from "../../../kube/transport.ts";
import type { Ld } from "../../../kube/hwameistor.ts";
import { myDisks, type DiskRuntime } from "../runtime.ts";
import { disksToReserve, nextMatchedList } from "./states.ts";

export async function reconcileAction(rt: DiskRuntime, name: string): Promise<void> {
  const action = rt.inf.lda.getByName(name);
  if (!action) return;
  const disks = myDisks(rt).filter((d) => d.spec?.state !== LocalDiskStates.Inactive);
  const matched: string[] = [];
  for (const d of disksToReserve(action, disks) as Ld[]) {
    await rt.c.ld.update({ ...d, spec: { ...d.spec!, reserved: true } }); // conditional: re-judged on conflict
    matched.push(d.metadata!.name!);
    rt.ctx.log.info({ action: name, disk: d.metadata!.name, device: d.spec?.devicePath }, "disk reserved by LocalDiskAction");
  }
  if (matched.length === 0) return;
  for (let attempt = 0; ; attempt++) {
    const cur = attempt === 0 ? action : await rt.c.lda.get(name);
    if (!cur) return;
    try {
      await rt.c.lda.updateStatus({ ...cur, status: { ...cur.status, latestMatchedLds: nextMatchedList(cur.status?.latestMatchedLds, matched) } });
      return;
    } catch (e) {
      if (!isConflict(e) || attempt >= 5) throw e; // other agents record their disks in the same status
    }
  }
}
