// LocalDiskAction `replace` on this node (docs/disk-manager.md "Disk replacement"): a storage pool's data moves
// off one disk onto another while its volumes stay in use, then the old disk is released. The original left this
// to a separate project ("reliable helper"); here it is one resource and one reconciler per node agent.
//
//   state ""        validate (both LocalDisks on this node; the old one a disk of one of its pools; the new one
//                   Active, unclaimed, holding nothing, at least as large) — else Failed with the reason; claim
//                   the new disk for this action (claimRef → the action, owner local-storage) so no
//                   LocalDiskClaim takes it meanwhile; record pool and device paths → Replacing, Event
//                   DiskReplaceStarted
//   Replacing       engine.replaceDisk steps (file: btrfs replace in the kernel; lvm: pvmove, refused without
//                   device-mapper) with progressPercent every second; when done: the new disk takes the old
//                   one's claimRef, the old one loses claimRef and owner (the disk manager turns it Available,
//                   Event LocalDiskRelease), the LocalStorageNode is refreshed → Succeeded, Event DiskReplaced
//   Succeeded/Failed  nothing (delete the action to run another)
//
// Crash windows: a crash after claiming the new disk finds it claimed by this very action and goes on; the
// copy runs in the kernel and outlives the agent, and replaceDisk recognises a finished one; the release and
// bind are plain writes repeated until the state says Succeeded.
import { isHwError } from "../../../api/errors.ts";
import { API_VERSION, DiskActions, DiskReplaceStates, EventReasons, Kinds, LocalDiskClaimStates, LocalDiskStates, Owners } from "../../../api/names.ts";
import { Controller, type ReconcileResult } from "../../../kube/controller.ts";
import type { HwameistorClients, Ld, Lda } from "../../../kube/hwameistor.ts";
import { consumerOrOwn } from "../../../kube/informer-factory.ts";
import type { NodeContext } from "../../context.ts";
import type { StorageEngine } from "../../engines/engine.ts";

const PROGRESS_MS = 1000;

/** Why `newDisk` cannot take `oldDisk`'s place, or undefined (pure). `action`: a claim by it is ours. */
export function replaceBlocker(
  me: string,
  action: string,
  oldLd: Ld | undefined,
  newLd: Ld | undefined,
  names: { oldDisk: string; newDisk: string },
): string | undefined {
  if (names.oldDisk === names.newDisk) return `oldDisk and newDisk are both ${names.oldDisk}: name the disk that takes its place`;
  if (!oldLd) return `LocalDisk ${names.oldDisk} does not exist (kubectl get localdisks -l kubernetes.io/hostname=${me})`;
  if (!newLd) return `LocalDisk ${names.newDisk} does not exist: attach the new disk to ${me} and wait for its LocalDisk`;
  for (const [ld, n] of [
    [oldLd, names.oldDisk],
    [newLd, names.newDisk],
  ] as const)
    if (ld.spec?.nodeName !== me)
      return `LocalDisk ${n} is on node ${ld.spec?.nodeName}, not ${me}: both disks must be on the node named in spec.replace.nodeName`;
  return newDiskBlocker(action, oldLd, newLd, names);
}

/** The new disk's own conditions: attached, free (or claimed by this action), empty, large enough. */
function newDiskBlocker(action: string, oldLd: Ld, newLd: Ld, names: { oldDisk: string; newDisk: string }): string | undefined {
  const spec = newLd.spec ?? ({} as NonNullable<Ld["spec"]>);
  const claim = spec.claimRef;
  const ours = claim?.kind === Kinds.LocalDiskAction && claim.name === action;
  const claimState = newLd.status?.claimState;
  const checks: Array<[boolean, () => string]> = [
    [spec.state !== LocalDiskStates.Active, () => `LocalDisk ${names.newDisk} is ${spec.state || "not Active"}: the new disk must be attached`],
    [!!claim && !ours, () => `LocalDisk ${names.newDisk} is claimed by ${claim?.kind ?? "claim"} ${claim?.name}: name an unclaimed disk`],
    [
      !ours && !!claimState && claimState !== LocalDiskClaimStates.Available,
      () => `LocalDisk ${names.newDisk} is ${claimState}, not Available: name a free disk`,
    ],
    [!!spec.partitioned, () => `LocalDisk ${names.newDisk} holds data (a filesystem or partitions): wipe it deliberately first, it is never overwritten`],
    [
      (spec.capacity ?? 0) < (oldLd.spec?.capacity ?? 0),
      () =>
        `LocalDisk ${names.newDisk} (${spec.capacity} bytes) is smaller than ${names.oldDisk} (${oldLd.spec?.capacity} bytes): the new disk must be at least as large`,
    ],
  ];
  return checks.find(([blocked]) => blocked)?.[1]();
}

export function diskReplaceController(o: { ctx: NodeContext; c: HwameistorClients; engine: StorageEngine; onPoolChange?: () => void }): Controller {
  const { ctx, c, engine } = o;
  const me = ctx.nodeName;
  const inf = consumerOrOwn<Lda>(ctx.informers, c.lda, { log: ctx.log, name: "localdiskactions-replace", resyncPeriodMs: 60_000 });
  const ctl = new Controller({ name: "disk-replace", log: ctx.log, workers: 1, reconcile: (k) => reconcile(k) });
  ctl.watch(inf, (a) => (a.spec?.action === DiskActions.Replace && a.spec.replace?.nodeName === me ? a.metadata?.name : undefined));

  const setStatus = (a: Lda, status: NonNullable<Lda["status"]>) => c.lda.updateStatus({ ...a, status: { ...a.status, ...status } });
  async function fail(a: Lda, message: string): Promise<void> {
    ctx.log.warn({ action: a.metadata?.name }, message);
    await setStatus(a, { state: DiskReplaceStates.Failed, message });
    void ctx.recorder.recordEvent(a, "Warning", EventReasons.DiskReplaceFailed, message);
  }

  /** The pool of this node that has `dev` among its disks. */
  async function poolOf(dev: string): Promise<{ pool?: string; disks: string[] }> {
    const disks: string[] = [];
    for (const p of await engine.listPools()) {
      const st = await engine.poolStats(p);
      if (st.disks.some((d) => d.devPath === dev)) return { pool: p, disks };
      disks.push(...st.disks.map((d) => `${d.devPath} (${p})`));
    }
    return { disks };
  }

  type Replace = NonNullable<NonNullable<Lda["spec"]>["replace"]>;

  /** State "": judge the pair, claim the new disk, record pool and devices → Replacing (undefined: Failed). */
  async function begin(a: Lda, name: string, r: Replace): Promise<Lda | undefined> {
    const [oldLd, newLd] = await Promise.all([c.ld.get(r.oldDisk), c.ld.get(r.newDisk)]);
    const blocker = replaceBlocker(me, name, oldLd, newLd, r);
    if (blocker) return void (await fail(a, `replace ${r.oldDisk} with ${r.newDisk} on ${me}: ${blocker}`));
    const oldDev = oldLd!.spec!.devicePath ?? "";
    const newDev = newLd!.spec!.devicePath ?? "";
    const { pool, disks } = await poolOf(oldDev);
    if (!pool)
      return void (await fail(
        a,
        `replace ${r.oldDisk} on ${me}: its device ${oldDev} is in no storage pool of the node (pool disks: ${disks.join(", ") || "none"})`,
      ));
    if (!newLd!.spec?.claimRef) {
      // Claimed first, so no LocalDiskClaim binds it while the copy runs (conditional write: a conflict re-judges).
      const claimRef = { apiVersion: API_VERSION, kind: Kinds.LocalDiskAction, name, uid: a.metadata?.uid };
      await c.ld.update({ ...newLd!, spec: { ...newLd!.spec!, owner: Owners.LocalStorage, claimRef } });
    }
    const message = `replacing ${r.oldDisk} (${oldDev}) with ${r.newDisk} (${newDev}) in pool ${pool}`;
    const next = await setStatus(a, { state: DiskReplaceStates.Replacing, pool, oldDevicePath: oldDev, newDevicePath: newDev, progressPercent: 0, message });
    void ctx.recorder.recordEvent(next, "Normal", EventReasons.DiskReplaceStarted, message);
    return next;
  }

  /** Done: the new disk takes the old one's place in the books, the old one is released → Succeeded. */
  async function finish(a: Lda, name: string, r: Replace): Promise<void> {
    const { pool, oldDevicePath, newDevicePath } = a.status ?? {};
    const [oldLd, newLd] = await Promise.all([c.ld.get(r.oldDisk), c.ld.get(r.newDisk)]);
    if (newLd && oldLd?.spec?.claimRef && newLd.spec?.claimRef?.kind === Kinds.LocalDiskAction)
      await c.ld.update({ ...newLd, spec: { ...newLd.spec, owner: Owners.LocalStorage, claimRef: oldLd.spec.claimRef } });
    if (oldLd && (oldLd.spec?.claimRef || oldLd.spec?.owner)) {
      const { claimRef: _claim, owner: _owner, ...spec } = oldLd.spec!;
      await c.ld.update({ ...oldLd, spec: spec as Ld["spec"] & object });
    }
    o.onPoolChange?.();
    const message = `pool ${pool}: ${r.oldDisk} (${oldDevicePath}) replaced by ${r.newDisk} (${newDevicePath}) online; ${r.oldDisk} released`;
    await setStatus(a, { state: DiskReplaceStates.Succeeded, progressPercent: 100, message });
    void ctx.recorder.recordEvent(a, "Normal", EventReasons.DiskReplaced, message);
    ctx.log.info({ action: name, pool, old: oldDevicePath, new: newDevicePath }, "disk replaced");
  }

  async function reconcile(name: string): Promise<ReconcileResult | void> {
    let a = await c.lda.get(name);
    const r = a?.spec?.replace;
    if (!a || a.spec?.action !== DiskActions.Replace || !r || r.nodeName !== me) return;
    const state = a.status?.state ?? "";
    if (state === DiskReplaceStates.Succeeded || state === DiskReplaceStates.Failed) return;
    if (state === "") a = await begin(a, name, r);
    if (!a) return;
    const { pool, oldDevicePath, newDevicePath } = a.status ?? {};
    if (!pool || !oldDevicePath || !newDevicePath)
      return fail(a, `LocalDiskAction ${name}: status lost its pool or device paths; delete the action and create it again`);
    let step: { done: boolean; percent: number };
    try {
      step = await engine.replaceDisk(pool, oldDevicePath, newDevicePath);
    } catch (e) {
      if (isHwError(e) && (e.code === "FAILED_PRECONDITION" || e.code === "INVALID_ARGUMENT"))
        return fail(a, `replace ${r.oldDisk} with ${r.newDisk} on ${me}: ${e.fullMessage}`);
      throw e; // transient: retried with backoff
    }
    if (step.done) return finish(a, name, r);
    if (step.percent !== a.status?.progressPercent) await setStatus(a, { progressPercent: step.percent });
    return { requeueAfterMs: PROGRESS_MS };
  }

  return ctl;
}
