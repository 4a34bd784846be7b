// Waiting inside a CSI call for the cluster to catch up (a volume to become Ready or go away, a snapshot to
// be ready): `done` is checked at once, then on every wake-up (an informer event of the object, when the caller has one)
// and at the latest after a poll interval that grows from pollMs to 1 s — the safety net; the original polls
// every second. The wait ends 250 ms before the caller's deadline (so the answer still reaches it) or after
// maxWaitMs, with UNAVAILABLE saying what was last seen: the sidecars retry, and every caller of this is
// idempotent, so the retry continues where this one stopped.

import { HwError } from "../api/errors.ts";
import { sleep } from "../kube/types.ts";
import type { CallContext } from "./server.ts";

export interface WaitOptions {
  maxWaitMs: number;
  pollMs: number;
  /** Something that resolves early when the awaited object may have changed (src/kube/object-wake.ts: informer events of that object). */
  wake?: { next(ms: number, signal?: AbortSignal): Promise<void>; close(): void };
  /** What was last seen, for the UNAVAILABLE message. */
  status?: () => string;
}

export async function waitUntil(ctx: CallContext, what: string, o: WaitOptions, done: () => Promise<boolean>): Promise<void> {
  const end = Math.min(ctx.deadlineMs !== undefined ? ctx.deadlineMs - 250 : Infinity, Date.now() + o.maxWaitMs);
  try {
    if (await done()) return;
    for (let delay = o.pollMs; ; delay = Math.min(1000, Math.max(o.pollMs, delay * 1.5))) {
      if (ctx.signal.aborted || Date.now() >= end) {
        const seen = o.status?.() ?? "";
        throw new HwError("UNAVAILABLE", "InProgress", `${what} is still in progress${seen ? ` (${seen})` : ""}`, {
          hint: "retry the call; it continues where it stopped",
        });
      }
      const ms = Math.min(delay, Math.max(0, end - Date.now()));
      await (o.wake ? o.wake.next(ms, ctx.signal) : sleep(ms, ctx.signal));
      if (await done()) return;
    }
  } finally {
    o.wake?.close();
  }
}
