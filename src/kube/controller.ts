// A small controller base: informers feed keys into a work queue; N workers call `reconcile(key)`.
// - reconcile resolves → the key's backoff is forgotten; `{requeueAfterMs}` schedules another pass;
// - an HwError ABORTED/Conflict (someone wrote first) → a quiet immediate requeue (after 3 conflicts in a
//   row on the same key, rate-limited instead, so a hot object cannot spin a worker);
// - any other error → logged and requeued with per-key exponential backoff;
// - workers start only after every informer has synced, so reconcile sees a complete cache.
// A key is never reconciled by two workers at once (work queue guarantee).
// Every reconcile is timed into hwameistor_controller_reconcile_duration_seconds{controller,result} and every
// non-conflict failure counted in hwameistor_controller_reconcile_errors_total (src/kube/metrics.ts).

import { HwError } from "../api/errors.ts";
import type { KubeClient } from "./client.ts";
import { EventRecorder, type EventType } from "./events.ts";
import type { CacheInformer } from "./informer.ts";
import { processMetrics } from "./metrics.ts";
import { isConflict } from "./transport.ts";
import { objectKey, stderrLogger, type KubeObject, type Logger } from "./types.ts";
import { WorkQueue, type WorkQueueOptions } from "./workqueue.ts";

export { EventRecorder, type EventType } from "./events.ts";

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ControllerOptions {
  name: string;
  reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult | void>;
  /** Default 1. */
  workers?: number;
  queue?: WorkQueueOptions<string>;
  /** With a client, recordEvent() writes Events as `component` (default the controller name). */
  events?: { client: KubeClient; component?: string; host?: string };
  log?: Logger;
}

export class Controller {
  readonly queue: WorkQueue<string>;
  readonly stats = { reconciles: 0, errors: 0, conflicts: 0 };
  private readonly informers: CacheInformer<any>[] = [];
  private readonly log: Logger;
  private readonly recorder?: EventRecorder;
  private readonly conflictStreak = new Map<string, number>();
  private stopCtl = new AbortController();
  private workers?: Promise<void>;

  constructor(private readonly o: ControllerOptions) {
    this.queue = new WorkQueue<string>(o.queue);
    this.log = o.log ?? stderrLogger;
    processMetrics.reconcileErrors.inc({ controller: o.name }, 0); // a series from the start, so rate() sees the first error
    if (o.events) {
      this.recorder = new EventRecorder(o.events.client, {
        component: o.events.component ?? o.name,
        host: o.events.host,
        log: this.log,
      });
    }
  }

  /**
   * Enqueues keys for every add/update/delete the informer reports. `toKeys` maps an object to the keys to
   * reconcile (default: the object's own namespace/name), e.g. an owned object to its owner.
   */
  watch<T extends KubeObject>(informer: CacheInformer<T>, toKeys: (obj: T) => string | string[] | undefined = objectKey): this {
    this.informers.push(informer);
    const enqueue = (obj: T) => {
      const keys = toKeys(obj);
      for (const k of Array.isArray(keys) ? keys : keys === undefined ? [] : [keys]) this.queue.add(k);
    };
    informer.addHandlers({
      add: enqueue,
      update: (old, obj) => {
        enqueue(obj);
        if (toKeys !== objectKey) enqueue(old); // a mapping may have changed (e.g. a new owner)
      },
      delete: enqueue,
    });
    return this;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /**
   * Starts the informers, waits until all have synced, then starts the workers. Resolves once workers
   * run (or at once if stop() is called meanwhile).
   */
  async start(): Promise<void> {
    if (this.workers) return;
    for (const inf of this.informers) inf.start();
    await Promise.all(this.informers.map((i) => i.waitForSync(this.stopCtl.signal)));
    if (this.stopCtl.signal.aborted) return;
    this.log.info({ controller: this.o.name }, "controller synced; starting workers");
    this.workers = this.queue.run(this.o.workers ?? 1, (key) => this.process(key));
  }

  /** Stops taking keys, waits for running reconciles to finish, stops the informers it watches. */
  async stop(): Promise<void> {
    this.stopCtl.abort();
    this.queue.shutDown();
    await this.workers;
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** Records an Event about obj (needs the `events` option; otherwise a programmer error). */
  recordEvent(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    if (!this.recorder) throw new Error(`controller ${this.o.name}: recordEvent needs the events option`);
    return this.recorder.recordEvent(obj, type, reason, message);
  }

  private async process(key: string): Promise<void> {
    this.stats.reconciles++;
    const started = performance.now();
    const observe = (result: "ok" | "requeue" | "conflict" | "error") =>
      processMetrics.reconcileDuration.observe({ controller: this.o.name, result }, (performance.now() - started) / 1000);
    try {
      const res = await this.o.reconcile(key, this.stopCtl.signal);
      this.queue.forget(key);
      this.conflictStreak.delete(key);
      if (res?.requeueAfterMs !== undefined) this.queue.addAfter(key, res.requeueAfterMs);
      observe(res?.requeueAfterMs !== undefined ? "requeue" : "ok");
    } catch (e) {
      if (this.stopCtl.signal.aborted) return;
      if (isConflict(e)) {
        observe("conflict");
        this.stats.conflicts++;
        const n = (this.conflictStreak.get(key) ?? 0) + 1;
        this.conflictStreak.set(key, n);
        this.log.debug({ controller: this.o.name, key, streak: n }, "conflict; requeue");
        if (n <= 3) this.queue.add(key);
        else this.queue.addRateLimited(key);
        return;
      }
      this.stats.errors++;
      observe("error");
      processMetrics.reconcileErrors.inc({ controller: this.o.name });
      this.conflictStreak.delete(key);
      this.queue.addRateLimited(key);
      this.log.warn(
        {
          controller: this.o.name,
          key,
          requeues: this.queue.numRequeues(key),
          err: e instanceof HwError ? `${e.code}/${e.reason}: ${e.fullMessage}` : e instanceof Error ? e.stack : String(e),
        },
        "reconcile failed; requeued with backoff",
      );
    }
  }
}
