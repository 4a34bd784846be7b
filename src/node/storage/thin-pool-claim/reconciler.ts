// The node half of ThinPoolClaim (reference §1.15; the original's ThinPoolClaim task worker): a claim for this
// node in ToBeConsumed creates the pool's thin pool `LocalStorage_ThinPool` or grows it (engine.ensureThinPool:
// `lvcreate <VG> --type thin-pool …` / `lvextend <VG>/LocalStorage_ThinPool …`), records the claim in
// LocalStorageNode status.thinPoolExtendRecords (the pool's overProvisionRatio is the latest record's), and sets
// the claim Consumed. A node whose engine or kernel has no thin pools refuses with a ThinPoolClaimFail event
// naming the reason and changes nothing (the claim stays ToBeConsumed; the check repeats every minute).
//
// Crash windows: ensureThinPool is idempotent (a pool already at the asked size is left as is); the record is
// keyed by the claim's uid (added once); a crash before Consumed re-runs all three harmlessly.

import { isHwError } from "../../../api/errors.ts";
import { EventReasons, ThinPoolClaimStates } from "../../../api/names.ts";
import { Controller, type ReconcileResult } from "../../../kube/controller.ts";
import type { HwameistorClients, ThinPoolClaimObject } from "../../../kube/hwameistor.ts";
import { Informer } from "../../../kube/informer.ts";
import { isConflict } from "../../../kube/transport.ts";
import type { NodeContext } from "../../context.ts";
import type { StorageEngine } from "../../engines/engine.ts";
import { withThinPoolRecord } from "./records.ts";

const RETRY_MS = 60_000;

export function thinPoolClaimNodeController(o: { ctx: NodeContext; c: HwameistorClients; engine: StorageEngine; onPoolChange?: () => void }): Controller {
  const { ctx, c, engine } = o;
  const inf = new Informer<ThinPoolClaimObject>(c.tpc, { log: ctx.log, name: "thinpoolclaims", resyncPeriodMs: 60_000 });
  const ctl = new Controller({ name: "thinpoolclaim-node", log: ctx.log, workers: 1, reconcile: (k) => reconcile(k) });
  ctl.watch(inf, (t) => (t.spec?.nodeName === ctx.nodeName ? t.metadata?.name : undefined));

  async function reconcile(name: string): Promise<ReconcileResult | void> {
    const tpc = await c.tpc.get(name);
    if (!tpc || tpc.spec?.nodeName !== ctx.nodeName || (tpc.status?.status ?? "") !== ThinPoolClaimStates.ToBeConsumed) return;
    const desc = tpc.spec.description;
    if (!desc) return;
    const fail = (message: string) => {
      ctx.log.warn({ thinPoolClaim: name }, message);
      void ctx.recorder.recordEvent(tpc, "Warning", EventReasons.ThinPoolClaimFail, message);
      return { requeueAfterMs: RETRY_MS };
    };
    const cap = engine.capabilities().thin;
    if (!engine.ensureThinPool || !cap?.supported) {
      return fail(
        `ThinPoolClaim ${name}: node ${ctx.nodeName} (engine ${engine.kind}) cannot create thin pools: ${cap?.reason ?? "this engine has no thin pools"}`,
      );
    }
    try {
      const t = await engine.ensureThinPool(desc.poolName, desc.capacity, desc.poolMetadataSize ?? 1);
      ctx.log.info({ thinPoolClaim: name, pool: desc.poolName, sizeBytes: t.sizeBytes, metadataSizeBytes: t.metadataSizeBytes }, "thin pool ensured");
    } catch (e) {
      if (!isHwError(e)) throw e;
      return fail(`ThinPoolClaim ${name}: ${e.fullMessage}`);
    }
    // Record on the node (conflicts with the LocalStorageNode reconciler's writes are retried on fresh reads).
    for (let i = 0; ; i++) {
      const lsn = await c.lsn.get(ctx.nodeName);
      if (!lsn) return fail(`ThinPoolClaim ${name}: LocalStorageNode ${ctx.nodeName} does not exist yet`);
      const next = withThinPoolRecord(lsn.status, { uid: tpc.metadata?.uid ?? name, nodeName: ctx.nodeName, description: desc });
      if (next === lsn.status) break;
      try {
        await c.lsn.updateStatus({ ...lsn, status: next });
        break;
      } catch (e) {
        if (isConflict(e) && i < 8) continue;
        throw e;
      }
    }
    o.onPoolChange?.();
    await c.tpc.updateStatus({ ...tpc, status: { ...(tpc.status ?? {}), status: ThinPoolClaimStates.Consumed } });
    void ctx.recorder.recordEvent(
      tpc,
      "Normal",
      EventReasons.ThinPoolClaimSucceed,
      `Consumed ThinPoolClaim ${name} succeed, ThinPoolClaim will be deleted later`,
    );
    return undefined;
  }

  return ctl;
}
