// The ThinPoolClaim reconciler of the controller (leader only; reference §1.15): validates a claim, checks the
// node's pool has room (from its LocalStorageNode status), hands it to the node agent (ToBeConsumed) and retires
// it once the node consumed it. The node half is src/node/storage/thin-pool-claim/. Refusals stay where they are
// with a ThinPoolClaimFail Warning event (re-checked every 30 s: space may free up); nothing else changes.
//
// Crash windows: each step is one conditional status write (resourceVersion); a crash before it re-runs the
// same decision; delete of a gone claim is done.

import { controllerHead, type ReconcilerOptions } from "../head.ts";
import { EventReasons } from "../../api/names.ts";
import { Controller } from "../../kube/controller.ts";
import { type ThinPoolClaimObject } from "../../kube/hwameistor.ts";
import { isNotFound } from "../../kube/transport.ts";
import type { Lsn } from "../../kube/hwameistor.ts";
import { decideThinPoolClaim } from "./states.ts";

const RECHECK_MS = 30_000;

export function thinPoolClaimController(o: ReconcilerOptions): Controller {
  const { log, c, ctl, informer } = controllerHead(o, "thinpoolclaim", 1, (k) => reconcile(k));
  const tpcInf = informer<ThinPoolClaimObject>(c.tpc, "thinpoolclaims", 60_000);
  const lsnInf = informer<Lsn>(c.lsn, "localstoragenodes");
  ctl.watch(tpcInf);
  // A node's pools changed (space freed, claim recorded): wake its pending claims.
  ctl.watch(lsnInf, (n) =>
    tpcInf
      .list()
      .filter((t) => t.spec?.nodeName === n.metadata?.name)
      .map((t) => t.metadata!.name!),
  );

  async function reconcile(name: string) {
    const tpc = tpcInf.getByName(name);
    if (!tpc) return;
    const state = tpc.status?.status ?? "";
    const node = tpc.spec?.nodeName;
    const desc = tpc.spec?.description;
    const lsn = node ? lsnInf.getByName(node) : undefined;
    const pool = desc ? lsn?.status?.pools?.[desc.poolName] : undefined;
    const d = decideThinPoolClaim({
      name,
      state,
      nodeName: node,
      description: desc,
      lsnExists: !!lsn,
      pool: pool && {
        name: desc!.poolName,
        freeCapacityBytes: pool.freeCapacityBytes ?? 0,
        thinPool: pool.thinPool && { size: pool.thinPool.size, metadataSize: pool.thinPool.metadataSize },
      },
    });
    if ("refuse" in d) {
      log.warn({ thinPoolClaim: name, state }, d.refuse);
      void ctl.recordEvent(tpc, "Warning", EventReasons.ThinPoolClaimFail, d.refuse);
      return { requeueAfterMs: RECHECK_MS };
    }
    if ("wait" in d) return;
    if ("deleteObject" in d) {
      await c.tpc.delete(name).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      log.info({ thinPoolClaim: name }, "thin pool claim deleted");
      return;
    }
    await c.tpc.updateStatus({ ...tpc, status: { ...(tpc.status ?? {}), status: d.next as never } });
    log.info({ thinPoolClaim: name, node, from: state, to: d.next }, "thin pool claim");
    return { requeueAfterMs: 0 };
  }

  return ctl;
}
