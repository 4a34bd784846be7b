// CSI ControllerExpandVolume of lvm.hwameistor.io (fact sheet §3.1 ControllerExpand, §5.6).
//
// Idempotency:
// - Keyed by the volume: the LocalVolumeExpand is named after it (as the original). A call whose size the
//   volume already has (4 MiB rounded) succeeds at once with node_expansion_required = !block; a repeat
//   while one runs waits for the same object (checked before create: the crash window "created the expand,
//   died before answering" re-finds it).
// - Bad input changes nothing: a size below the current one is OUT_OF_RANGE (as the original), a growth the pools of the replica nodes cannot
//   hold is OUT_OF_RANGE with the free space of each pool (checked before the expand object is created).
//   A different expansion already running for the volume is ABORTED.
// - Waits for the expansion (replicas grown, LocalVolume Ready at the new size), bounded by the caller's
//   deadline and maxWaitMs: running out is UNAVAILABLE with the last message; the retry continues it.
//   A Failed expansion is removed and its message returned (FAILED_PRECONDITION); the next call starts anew.
// Difference from the original: it returns "not completed yet" on the first call and relies on the
// sidecar's retries; we wait within the deadline, so one call usually completes.

import { HwError, fromErrorStatus, hwError, invalid, notFound, type ErrorStatus } from "../../../api/errors.ts";
import { OperationStates, VolumeStates } from "../../../api/names.ts";
import { hwameistorClients, listAll, nameOf, type Lv } from "../../../kube/hwameistor.ts";
import { growthProblem } from "../../expand/capacity.ts";
import { roundUp4MiB } from "../../expand/states.ts";
import type { KubeClient } from "../../../kube/client.ts";
import { isNotFound } from "../../../kube/transport.ts";
import { silentLogger, sleep, type Logger } from "../../../kube/types.ts";
import type { CallContext } from "../../../csi/server.ts";
import type * as T from "../../../csi/types.ts";
import { bytesField, validateVolumeId } from "../../../csi/validate.ts";
import { formatBytes } from "../../../api/quantity.ts";

export interface ControllerExpandVolumeRequest {
  volume_id?: string;
  capacity_range?: { required_bytes?: string | number; limit_bytes?: string | number } | null;
  secrets?: Record<string, string>;
  volume_capability?: T.VolumeCapability | null;
}

export interface ControllerExpandVolumeResponse {
  capacity_bytes: string;
  node_expansion_required: boolean;
}

export interface ExpandHandlerOptions {
  client: KubeClient;
  log?: Logger;
  maxWaitMs?: number;
  pollMs?: number;
}

/** A Failed expansion's error as the reconciler raised it (status.error); without one (an older controller) ExpandFailed. */
function failureOf(st: { message?: string; error?: ErrorStatus }): HwError {
  return st.error ? fromErrorStatus(st.error) : hwError("ExpandFailed", st.message || "expansion failed");
}

const isBlockCap = (cap: T.VolumeCapability | null | undefined) => !!cap?.block || (cap as { access_type?: string } | undefined)?.access_type === "block";

export function controllerExpandVolume(
  o: ExpandHandlerOptions,
): (req: ControllerExpandVolumeRequest, ctx: CallContext) => Promise<ControllerExpandVolumeResponse> {
  const c = hwameistorClients(o.client);
  const h = hwameistorClients(o.client);
  const log = o.log ?? silentLogger;
  const maxWaitMs = o.maxWaitMs ?? 60_000;
  const pollMs = o.pollMs ?? 200;

  return async (req, ctx) => {
    const name = validateVolumeId(req.volume_id);
    const required = bytesField(req.capacity_range?.required_bytes, "capacity_range.required_bytes");
    const limit = bytesField(req.capacity_range?.limit_bytes, "capacity_range.limit_bytes");
    if (required === undefined || required <= 0) throw invalid("capacity_range.required_bytes is required");
    if (limit !== undefined && limit > 0 && limit < required)
      throw invalid(`capacity_range.limit_bytes ${limit} is below capacity_range.required_bytes ${required}`);
    const target = roundUp4MiB(required);
    if (limit !== undefined && limit > 0 && target > limit)
      throw new HwError("OUT_OF_RANGE", "CapacityOutOfRange", `volume ${name}: ${target} bytes (rounded up to 4 MiB) exceeds limit_bytes ${limit}`);
    const nodeExpansion = !isBlockCap(req.volume_capability);

    const lv = await c.lv.get(name);
    if (!lv) throw notFound(`volume ${name}`);
    if (lv.spec?.delete || lv.status?.state === VolumeStates.ToBeDeleted || lv.status?.state === VolumeStates.Deleted) {
      throw new HwError("FAILED_PRECONDITION", "VolumeBeingDeleted", `volume ${name} is being deleted`);
    }
    const allocated = lv.status?.allocatedCapacityBytes ?? 0;
    const done = (bytes: number): ControllerExpandVolumeResponse => ({ capacity_bytes: String(bytes), node_expansion_required: nodeExpansion });
    let lve = await h.lvexpand.get(name);
    // As the original (required + slack < allocated is an error): a smaller size is a mistake, not a no-op.
    const have = Math.max(lv.spec?.requiredCapacityBytes ?? 0, allocated);
    if (!lve && target < have) {
      throw new HwError("OUT_OF_RANGE", "ShrinkNotSupported", `volume ${name} has ${formatBytes(have)}; shrinking to ${formatBytes(target)} is not supported`);
    }
    if (!lve && target <= roundUp4MiB(allocated) && lv.status?.state === VolumeStates.Ready) return done(allocated);

    if (lve && (lve.spec?.requiredCapacityBytes ?? 0) !== target && lve.status?.state !== OperationStates.Failed) {
      throw new HwError("ABORTED", "OperationPending", `volume ${name} is being expanded to ${lve.spec?.requiredCapacityBytes} bytes already`, {
        hint: "retry when that expansion is done",
      });
    }
    if (lve?.status?.state === OperationStates.Failed) {
      const failure = failureOf(lve.status);
      await h.lvexpand.delete(name).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      throw failure;
    }
    if (!lve) {
      const problem = growthProblem(lv, target, await listAll(c.lsn), await listAll(c.lv));
      if (problem) throw new HwError("OUT_OF_RANGE", "InsufficientPoolCapacity", problem, { hint: "free space in the pool, or add disks to it" });
      lve = await h.lvexpand.create({ metadata: { name }, spec: { volumeName: name, requiredCapacityBytes: target, abort: false } });
      log.info({ volume: name, bytes: target }, "LocalVolumeExpand created");
    }

    const end = Math.min(ctx.deadlineMs !== undefined ? ctx.deadlineMs - 250 : Infinity, Date.now() + maxWaitMs);
    let last = "";
    for (let delay = pollMs; ; delay = Math.min(1000, delay * 1.5)) {
      const cur = await h.lvexpand.get(name);
      const v = await c.lv.get(name);
      if (!v) throw notFound(`volume ${name}`);
      if (cur?.status?.state === OperationStates.Failed) {
        const failure = failureOf(cur.status);
        await h.lvexpand.delete(name).catch(() => undefined);
        throw failure;
      }
      if (cur?.status?.state === OperationStates.Aborted) throw new HwError("ABORTED", "ExpandAborted", `expansion of volume ${name} was aborted`);
      const va = v.status?.allocatedCapacityBytes ?? 0;
      if ((!cur || cur.status?.state === OperationStates.Completed) && va >= target && v.status?.state === VolumeStates.Ready) {
        log.info({ volume: name, bytes: va }, "volume expanded");
        return done(va);
      }
      last = cur?.status?.message ?? `volume ${nameOf(v as Lv)} is ${v.status?.state}, ${va} bytes`;
      if (ctx.signal.aborted || Date.now() + delay > end) {
        throw new HwError("UNAVAILABLE", "InProgress", `expanding volume ${name} to ${target} bytes is still in progress (${last})`, {
          hint: "retry the call; it continues where it stopped",
        });
      }
      await sleep(delay, ctx.signal);
    }
  };
}
