// LocalDiskClaim reconciler: claims for this node are bound by this node's agent (states.ts decides, this
// file acts). Claims for a node that has no LocalDiskNode (no agent serves it, or a typo) are explained by
// one agent — the one whose node name sorts first — after a grace period, so the user sees why the claim
// stays Pending instead of silence.
import { DiskClaimStates, EventReasons, Kinds, API_VERSION } from "../../../api/names.ts";
import type { ReconcileResult } from "../../../kube/controller.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../../../kube/transport.ts";
import { withExtendRecord, poolOfClass } from "../disk-node/states.ts";
import { ensurePoolLink } from "../disk-pool.ts";
import type { Ld, Ldc } from "../../../kube/hwameistor.ts";
import { myDisks, type DiskRuntime } from "../runtime.ts";
import { nextClaimStep } from "./states.ts";

/** Re-check of a claim nothing matches (disk changes also requeue it at once). */
const RETRY_UNMATCHED_MS = 30_000;

export async function reconcileClaim(rt: DiskRuntime, name: string): Promise<ReconcileResult | void> {
  const claim = rt.inf.ldc.getByName(name);
  if (!claim?.spec) return;
  if (claim.spec.nodeName !== rt.ctx.nodeName) return explainUnknownNode(rt, claim);
  const step = nextClaimStep(claim, myDisks(rt));
  switch (step.kind) {
    case "setStatus":
      await setClaimStatus(rt, claim, step.status);
      return;
    case "warn":
      rt.ctx.log.info({ claim: name, why: step.message }, "claim stays Pending");
      await rt.ctx.recorder.recordEvent(claim, "Warning", step.reason, step.message);
      return { requeueAfterMs: RETRY_UNMATCHED_MS };
    case "bind": {
      const ref = { apiVersion: API_VERSION, kind: Kinds.LocalDiskClaim, name, uid: claim.metadata!.uid! };
      for (const disk of step.disks) {
        if (disk.spec!.claimRef?.uid === ref.uid && disk.spec!.owner === claim.spec.owner) continue; // bound before a crash
        // Conditional on the cached resourceVersion: a disk another writer touched meanwhile is re-judged.
        await rt.c.ld.update({ ...(disk as Ld), spec: { ...disk.spec!, claimRef: ref, owner: claim.spec.owner } });
        rt.ctx.log.info({ claim: name, disk: disk.metadata!.name }, "disk bound to claim");
      }
      const diskRefs = step.disks.map((d) => ({ apiVersion: API_VERSION, kind: Kinds.LocalDisk, name: d.metadata!.name! }));
      await rt.c.ldc.update({ ...claim, spec: { ...claim.spec, diskRefs } });
      await rt.ctx.recorder.recordEvent(claim, "Normal", "LocalDiskClaimBound", `bound ${diskRefs.map((r) => r.name).join(", ")}`);
      return;
    }
    case "consume":
      await consume(rt, claim);
      return;
    case "delete":
      await rt.c.ldc.delete(name);
      return;
    case "none":
      return;
  }
}

async function setClaimStatus(rt: DiskRuntime, claim: Ldc, status: string): Promise<void> {
  await rt.c.ldc.updateStatus({ ...claim, status: { ...claim.status, status: status as typeof DiskClaimStates.Bound } });
  rt.ctx.log.info({ claim: claim.metadata!.name, from: claim.status?.status ?? "", to: status }, "claim status");
}

/**
 * Owner local-disk-manager: each bound disk joins the disk pool of its class — the pool link, then the claim
 * recorded in `ldn.status.poolExtendRecords` — and the claim becomes Consumed. Every step is idempotent, so a
 * crash between them re-runs the rest.
 */
async function consume(rt: DiskRuntime, claim: Ldc): Promise<void> {
  const pools = new Set<string>();
  for (const ref of claim.spec!.diskRefs ?? []) {
    const disk = rt.inf.ld.getByName(ref.name ?? "");
    const pool = poolOfClass(disk?.spec?.diskAttributes?.type);
    if (!disk?.spec?.devicePath || !pool) continue; // gone or Inactive: it joins when it is back (LDN pass)
    await ensurePoolLink(rt.ctx.stateDir, pool, disk.metadata!.name!, disk.spec.devicePath);
    pools.add(pool);
  }
  const record = {
    nodeName: claim.spec!.nodeName,
    owner: claim.spec!.owner,
    ...(claim.spec!.description ? { description: claim.spec!.description } : {}),
    diskRefs: claim.spec!.diskRefs,
  };
  for (let attempt = 0; ; attempt++) {
    const ldn = rt.inf.ldn.getByName(rt.ctx.nodeName) ?? (await rt.c.ldn.get(rt.ctx.nodeName));
    if (!ldn) throw new Error(`LocalDiskNode ${rt.ctx.nodeName} does not exist yet`); // created at start; retried
    let status = ldn.status;
    for (const pool of pools) status = withExtendRecord(status, pool, record);
    if (JSON.stringify(status) === JSON.stringify(ldn.status)) break;
    try {
      await rt.c.ldn.updateStatus({ ...ldn, status });
      break;
    } catch (e) {
      if (!isConflict(e) || attempt >= 3) throw e;
      await rt.inf.ldn.waitForSync();
    }
  }
  await setClaimStatus(rt, claim, DiskClaimStates.Consumed);
}

/** Claims for nodes without a LocalDiskNode: one agent explains them (see the header). */
async function explainUnknownNode(rt: DiskRuntime, claim: Ldc): Promise<ReconcileResult | void> {
  const node = claim.spec!.nodeName;
  if (rt.inf.ldn.getByName(node)) return; // its own agent handles it
  const nodes = rt.inf.ldn.keys().sort();
  if (nodes[0] !== rt.ctx.nodeName) return;
  const ageMs = Date.now() - Date.parse(claim.metadata?.creationTimestamp ?? new Date().toISOString());
  if (ageMs < rt.unknownNodeGraceMs) return { requeueAfterMs: rt.unknownNodeGraceMs - ageMs + 100 };
  if (!claim.status?.status) {
    try {
      await setClaimStatus(rt, claim, DiskClaimStates.Pending);
    } catch (e) {
      if (!isConflict(e) && !isNotFound(e) && !isAlreadyExists(e)) throw e;
    }
  }
  await rt.ctx.recorder.recordEvent(
    claim,
    "Warning",
    EventReasons.LocalDiskClaimAssignFail,
    `node ${node} has no LocalDiskNode: no disk manager runs there (known nodes: ${nodes.join(", ") || "none"}); check spec.nodeName`,
  );
  return { requeueAfterMs: 60_000 };
}
