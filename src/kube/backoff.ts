// Exponential backoff with jitter, a cap, and a reset after a healthy period — used by the informer's
// restart loop, leader election retries, and the work queue's per-key rate limiter.

export interface BackoffOptions {
  /** First delay (default 200 ms). */
  initialMs?: number;
  /** Delay cap (default 30 s). */
  maxMs?: number;
  /** Growth per failure (default 2). */
  factor?: number;
  /** Random extra fraction added to each delay: delay × (1 + jitter × rand) (default 0.2; 0 = none). */
  jitter?: number;
  /** After running this long without a failure, the next failure starts from initialMs again (default 60 s). */
  resetAfterMs?: number;
  /** For tests. */
  random?: () => number;
  now?: () => number;
}

/** The un-jittered delay after `failures` consecutive failures (1 = first): initial × factor^(failures-1), capped. */
export function backoffDelayMs(failures: number, initialMs: number, factor: number, maxMs: number): number {
  if (failures <= 0) return 0;
  const d = initialMs * Math.pow(factor, failures - 1);
  return Number.isFinite(d) ? Math.min(d, maxMs) : maxMs;
}

export class Backoff {
  private failures = 0;
  private lastFailureAt = 0;
  private readonly o: Required<BackoffOptions>;

  constructor(opts: BackoffOptions = {}) {
    this.o = {
      initialMs: opts.initialMs ?? 200,
      maxMs: opts.maxMs ?? 30_000,
      factor: opts.factor ?? 2,
      jitter: opts.jitter ?? 0.2,
      resetAfterMs: opts.resetAfterMs ?? 60_000,
      random: opts.random ?? Math.random,
      now: opts.now ?? Date.now,
    };
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  next(): number {
    const now = this.o.now();
    if (this.failures > 0 && now - this.lastFailureAt >= this.o.resetAfterMs) this.failures = 0;
    this.failures++;
    this.lastFailureAt = now;
    const base = backoffDelayMs(this.failures, this.o.initialMs, this.o.factor, this.o.maxMs);
    // Jitter may push past the cap by at most jitter×cap: spreads reconnect storms even when capped.
    return Math.round(base * (1 + this.o.jitter * this.o.random()));
  }

  /** Call when an attempt proved healthy (e.g. a watch ran long enough): the next failure starts over. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
