// LocalDisk reconciler (this node's disks): writes `status.claimState` and corrects the owner per
// states.ts. One write per pass (status first, then owner); the watch event of that write brings the next.
import type { DiskRuntime } from "../runtime.ts";
import { nextDiskState } from "./states.ts";

const poolDevPaths = (pools: Record<string, { disks?: Array<{ devPath?: string }> }> | undefined): Set<string> =>
  new Set(Object.values(pools ?? {}).flatMap((p) => (p.disks ?? []).map((d) => d.devPath ?? "")));

export async function reconcileLocalDisk(rt: DiskRuntime, name: string): Promise<void> {
  const ld = rt.inf.ld.getByName(name);
  if (!ld?.spec || ld.spec.nodeName !== rt.ctx.nodeName) return;
  const dev = ld.spec.devicePath ?? "";
  const lsn = rt.inf.lsn.getByName(rt.ctx.nodeName);
  const ldn = rt.inf.ldn.getByName(rt.ctx.nodeName);
  const d = nextDiskState(name, ld.spec, ld.status?.claimState, {
    inStoragePool: dev !== "" && poolDevPaths(lsn?.status?.pools).has(dev),
    inDiskPool: dev !== "" && poolDevPaths(ldn?.status?.pools).has(dev),
  });
  // Conditional writes (the cached resourceVersion): a conflict is a quiet requeue by the controller.
  if (d.claimState !== ld.status?.claimState) {
    await rt.c.ld.updateStatus({ ...ld, status: { ...ld.status, claimState: d.claimState } });
    rt.ctx.log.info({ disk: name, from: ld.status?.claimState ?? "", to: d.claimState }, "disk claim state");
  } else if (d.owner !== undefined) {
    await rt.c.ld.update({ ...ld, spec: { ...ld.spec, owner: d.owner } });
    rt.ctx.log.info({ disk: name, owner: d.owner }, "disk owner corrected");
  } else return;
  for (const ev of d.events) await rt.ctx.recorder.recordEvent(ld, ev.type, ev.reason, ev.message);
}
