// A keyed, deduplicating work queue with client-go's semantics:
// - a key is in the queue at most once (`dirty`); adding a queued key is a no-op;
// - a key being processed is never handed to a second worker; adding it meanwhile marks it dirty and it is
//   queued again when the worker calls `done`;
// - `addAfter` delays an add (the earliest pending time wins), `addRateLimited` delays by the rate
//   limiter's per-key exponential backoff (reset by `forget`), optionally combined with an overall
//   token-bucket limit;
// - `shutDown` wakes all waiting workers with undefined and drops delayed adds.

import { backoffDelayMs } from "./backoff.ts";

export interface RateLimiter<K> {
  /** How long to wait before retrying `key` (and count a failure). */
  when(key: K): number;
  forget(key: K): void;
  numRequeues(key: K): number;
}

/** Per-key exponential backoff: base × 2^(failures-1), capped (client-go defaults: 5 ms, 1000 s). */
export class ItemExponentialRateLimiter<K> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();
  constructor(
    readonly baseMs = 5,
    readonly maxMs = 1_000_000,
  ) {}
  when(key: K): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    return backoffDelayMs(n, this.baseMs, 2, this.maxMs);
  }
  forget(key: K): void {
    this.failures.delete(key);
  }
  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

/** Overall token bucket: `qps` tokens per second, up to `burst`; returns the wait for the next token. */
export class BucketRateLimiter<K> implements RateLimiter<K> {
  private tokens: number;
  private last: number;
  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }
  when(_key: K): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1; // reserve, possibly going negative: later callers wait longer
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }
  forget(): void {}
  numRequeues(): number {
    return 0;
  }
}

/** The maximum of several limiters (client-go's DefaultControllerRateLimiter is per-key ⊕ bucket). */
export class MaxOfRateLimiter<K> implements RateLimiter<K> {
  private readonly limiters: RateLimiter<K>[];
  constructor(...limiters: RateLimiter<K>[]) {
    this.limiters = limiters;
  }
  when(key: K): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }
  forget(key: K): void {
    for (const l of this.limiters) l.forget(key);
  }
  numRequeues(key: K): number {
    return Math.max(0, ...this.limiters.map((l) => l.numRequeues(key)));
  }
}

export interface WorkQueueOptions<K> {
  /** Per-key backoff base and cap (default 5 ms, 1000 s). Ignored when rateLimiter is given. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Optional overall limit on rate-limited adds (client-go uses 10 qps, burst 100). */
  overall?: { qps: number; burst: number };
  rateLimiter?: RateLimiter<K>;
}

export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly waiting = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly getters: Array<(k: K | undefined) => void> = [];
  private shuttingDown = false;
  readonly rateLimiter: RateLimiter<K>;

  constructor(opts: WorkQueueOptions<K> = {}) {
    const perKey = new ItemExponentialRateLimiter<K>(opts.baseDelayMs ?? 5, opts.maxDelayMs ?? 1_000_000);
    this.rateLimiter =
      opts.rateLimiter ?? (opts.overall ? new MaxOfRateLimiter<K>(perKey, new BucketRateLimiter<K>(opts.overall.qps, opts.overall.burst)) : perKey);
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  private push(key: K): void {
    const g = this.getters.shift();
    if (g) {
      // Hand it straight to a waiting worker.
      this.dirty.delete(key);
      this.processing.add(key);
      g(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds the key after delayMs (≤ 0: now). A key already waiting keeps the earlier of the two times. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const cur = this.waiting.get(key);
    if (cur && cur.at <= at) return;
    if (cur) clearTimeout(cur.timer);
    const timer = setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { at, timer });
  }

  /** Adds the key after the rate limiter's delay for it (a failure count for the key goes up). */
  addRateLimited(key: K): void {
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** The key succeeded: reset its backoff. */
  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** The next key (the caller must call done(key) after processing), or undefined once shut down. */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Processing of `key` finished; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  /** Keys ready to be handed out (not counting delayed or in-process ones). */
  len(): number {
    return this.queue.length;
  }

  /** Keys waiting for addAfter/addRateLimited. */
  pendingDelayed(): number {
    return this.waiting.size;
  }

  isProcessing(key: K): boolean {
    return this.processing.has(key);
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops handing out keys: waiting workers get undefined, delayed adds are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
  }

  /**
   * Runs `workers` loops that take keys and call fn; resolves when the queue is shut down and every loop
   * has finished its current key. An error thrown by fn goes to onError (default: stderr) and the worker
   * goes on; retrying is the caller's decision (controller.ts requeues with backoff).
   */
  async run(
    workers: number,
    fn: (key: K) => Promise<void>,
    onError: (key: K, err: unknown) => void = (key, err) => console.error(`[workqueue] ${String(key)}:`, err),
  ): Promise<void> {
    const loop = async () => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        try {
          await fn(key);
        } catch (e) {
          onError(key, e);
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, workers) }, loop));
  }
}
