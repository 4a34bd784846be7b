// LocalDiskNode reconciler: creates this node's LocalDiskNode (name = node name) if missing, keeps the pool
// links current, and rewrites the status (pools, totals, state Ready) when it changed.
import { isAlreadyExists } from "../../../kube/transport.ts";
import { sameSpec } from "../discovery.ts";
import { ensurePoolLink } from "../disk-pool.ts";
import type { Ldn } from "../../../kube/hwameistor.ts";
import type { DiskRuntime } from "../runtime.ts";
import { buildDiskNodeStatus, isDiskPoolMember, poolOfClass } from "./states.ts";

export async function ensureDiskNode(rt: DiskRuntime): Promise<Ldn> {
  const me = rt.ctx.nodeName;
  // The cache may lag (crash window: created, then killed before the watch delivered it): ask the server.
  const existing = rt.inf.ldn.getByName(me) ?? (await rt.c.ldn.get(me));
  if (existing) return existing;
  try {
    return await rt.c.ldn.create({ metadata: { name: me }, spec: { nodeName: me } });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    return (await rt.c.ldn.get(me))!;
  }
}

export async function reconcileDiskNode(rt: DiskRuntime): Promise<void> {
  const ldn = await ensureDiskNode(rt);
  const disks = rt.inf.ld.list();
  for (const d of disks) {
    const pool = poolOfClass(d.spec?.diskAttributes?.type);
    if (d.spec?.nodeName !== rt.ctx.nodeName || !isDiskPoolMember(d) || !pool || !d.spec.devicePath) continue;
    if (await ensurePoolLink(rt.ctx.stateDir, pool, d.metadata!.name!, d.spec.devicePath)) {
      rt.ctx.log.info({ disk: d.metadata!.name, pool, device: d.spec.devicePath }, "disk pool link updated");
    }
  }
  const status = buildDiskNodeStatus(rt.ctx.nodeName, disks, rt.inf.ldv.list(), ldn.status, rt.ctx.stateDir);
  if (sameSpec(status, ldn.status)) return;
  await rt.c.ldn.updateStatus({ ...ldn, status });
}
