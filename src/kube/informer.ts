// A list-then-watch informer with a local cache, that never gives up until stop():
// - lists (paged), delivers the diff against the cache (relist-diff.ts), then watches from the list's
//   resourceVersion with bookmarks, remembering the last resourceVersion seen (events and bookmarks);
// - a 410 Expired/Gone (on the watch or as an ERROR event) → relist at once, delivering only what changed;
// - any other failure or an early end of the stream (server down, socket reset, 5xx, bad data) → wait
//   with exponential backoff plus jitter, then resume the watch from the last resourceVersion (a list that
//   fails is retried the same way); the backoff resets once a watch has stayed up for healthyAfterMs;
// - a watch the server ends normally (its timeoutSeconds) is resumed at once;
// - resync: every resyncPeriodMs, an update(obj, obj) for every cached object (level-triggered safety net);
//   addHandlers(h, {resyncPeriodMs}) resyncs one handler alone (consumers of a shared informer differ).
// Handlers run synchronously in event order; a handler that throws is logged and does not stop delivery.

import { Backoff, type BackoffOptions } from "./backoff.ts";
import type { ResourceClient } from "./client.ts";
import { relistDiff, type CacheEvent } from "./relist-diff.ts";
import { isExpired } from "./transport.ts";
import { objectKey, sleep, stderrLogger, type KubeObject, type Logger, type WatchEvent } from "./types.ts";

export interface InformerHandlers<T> {
  add?(obj: T): void | Promise<void>;
  update?(old: T, obj: T): void | Promise<void>;
  /** For deletes found by a relist, obj is the last state the cache knew. */
  delete?(obj: T): void | Promise<void>;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-deliver update(obj, obj) for every cached object this often (default 0 = never). */
  resyncPeriodMs?: number;
  /** Restart backoff (defaults: 200 ms initial, ×2, 30 s cap, 20 % jitter). */
  backoff?: BackoffOptions;
  /** A watch that stays up this long resets the backoff (default 30 s). */
  healthyAfterMs?: number;
  /** Server-side watch timeout; default a random 300–600 s per watch, like client-go. */
  watchTimeoutSeconds?: number;
  /** List page size (default 500). */
  pageSize?: number;
  /** Name in log lines (default the resource plural). */
  name?: string;
  log?: Logger;
}

/**
 * What a consumer (a Controller, a cache reader) uses of an informer: its handlers, its lifetime and reads of the
 * cache. An Informer is one; InformerFactory.consumer() hands out views of a shared one.
 */
export interface CacheInformer<T extends KubeObject = KubeObject> {
  /** The list/watch counters (of the shared informer, for a view). */
  readonly stats: Informer<T>["stats"];
  addHandlers(h: InformerHandlers<T>, o?: { resyncPeriodMs?: number }): () => void;
  start(): void;
  stop(): Promise<void>;
  hasSynced(): boolean;
  waitForSync(signal?: AbortSignal): Promise<void>;
  get(key: string): T | undefined;
  getByName(name: string, namespace?: string): T | undefined;
  list(): T[];
  keys(): string[];
}

export class Informer<T extends KubeObject = KubeObject> implements CacheInformer<T> {
  private readonly cache = new Map<string, T>();
  private readonly handlers = new Set<InformerHandlers<T>>();
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly name: string;
  private rv = "";
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running?: Promise<void>;
  private stopCtl = new AbortController();
  private watchCtl?: AbortController;
  private resyncTimer?: NodeJS.Timeout;
  private readonly handlerResync = new Map<InformerHandlers<T>, { periodMs: number; timer?: NodeJS.Timeout }>();
  /** Counters for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, failures: 0, expired: 0 };

  constructor(
    readonly client: ResourceClient<T>,
    readonly opts: InformerOptions = {},
  ) {
    this.backoff = new Backoff({ resetAfterMs: Number.POSITIVE_INFINITY, ...opts.backoff });
    this.log = opts.log ?? stderrLogger;
    this.name = opts.name ?? client.resource.plural;
  }

  /**
   * Registers handlers; returns a function that unregisters them. Added after objects are cached, the new
   * handlers first get an add for each of them (like client-go), so no object is missed.
   */
  addHandlers(h: InformerHandlers<T>, o: { resyncPeriodMs?: number } = {}): () => void {
    this.handlers.add(h);
    // A resync for this handler alone (client-go's AddEventHandlerWithResyncPeriod): consumers of one shared
    // informer want different safety nets.
    if (o.resyncPeriodMs && o.resyncPeriodMs > 0) {
      const r: { periodMs: number; timer?: NodeJS.Timeout } = { periodMs: o.resyncPeriodMs };
      this.handlerResync.set(h, r);
      if (this.running) this.armResync(h, r);
    }
    for (const obj of this.cache.values()) this.call(h, "add", () => h.add?.(obj));
    return () => {
      this.handlers.delete(h);
      clearInterval(this.handlerResync.get(h)?.timer);
      this.handlerResync.delete(h);
    };
  }

  start(): void {
    if (this.running) return;
    this.stopCtl = new AbortController();
    this.running = this.loop().catch((e) => this.log.error({ informer: this.name, err: e }, "informer loop crashed"));
    if (this.opts.resyncPeriodMs && this.opts.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncPeriodMs);
    }
    for (const [h, r] of this.handlerResync) this.armResync(h, r);
  }

  /**
   * Ends list/watch. The cache is kept: a later start() relists and delivers only the difference; until that
   * list arrives the informer counts as not synced, so a consumer started again does not work from a stale cache.
   */
  async stop(): Promise<void> {
    this.stopCtl.abort();
    this.watchCtl?.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    for (const r of this.handlerResync.values()) clearInterval(r.timer);
    await this.running;
    this.running = undefined;
    this.synced = false;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first complete list has been delivered (or when signal aborts / stop() is called). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced || (!this.running && this.stopCtl.signal.aborted)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        this.stopCtl.signal.removeEventListener("abort", done);
        resolve();
      };
      this.syncWaiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
      this.stopCtl.signal.addEventListener("abort", done, { once: true });
    });
  }

  /** The cached object by key ("namespace/name" or "name"). */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  getByName(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  /** The resourceVersion the next watch resumes from. */
  get lastResourceVersion(): string {
    return this.rv;
  }

  private async loop(): Promise<void> {
    const stop = this.stopCtl.signal;
    let needList = true;
    let expiredStreak = 0;
    while (!stop.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const startedAt = Date.now();
        await this.watchOnce();
        // The server ended the watch. After a healthy run that is routine (its timeoutSeconds): resume at
        // once. A stream that ends right away is a failing server: back off like any error.
        if (Date.now() - startedAt < 1000) throw new Error("watch stream ended immediately");
        expiredStreak = 0;
      } catch (e) {
        if (stop.aborted) break;
        if (isExpired(e)) {
          this.stats.expired++;
          needList = true;
          this.log.info({ informer: this.name, rv: this.rv }, "resourceVersion expired; relisting");
          // One 410 is routine; repeated ones mean something is off: do not spin.
          if (++expiredStreak > 1) await sleep(this.backoff.next(), stop);
          continue;
        }
        this.stats.failures++;
        const delay = this.backoff.next();
        this.log.warn(
          { informer: this.name, err: (e as Error)?.message ?? String(e), retryInMs: delay, attempt: this.backoff.attempts },
          "list/watch failed; retrying",
        );
        await sleep(delay, stop);
      }
    }
  }

  private async relist(): Promise<void> {
    const stop = this.stopCtl.signal;
    let res;
    try {
      res = await this.client.list({ ...this.selectors(), pageSize: this.opts.pageSize, signal: stop });
    } catch (e) {
      // An expired continue token mid-way: fall back to one unpaged list (as client-go's pager does).
      if (!isExpired(e)) throw e;
      res = await this.client.list({ ...this.selectors(), pageSize: 0, signal: stop });
    }
    if (stop.aborted) return;
    this.stats.lists++;
    for (const ev of relistDiff(this.cache, res.items)) this.apply(ev);
    this.rv = res.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private async watchOnce(): Promise<void> {
    const ctl = new AbortController();
    this.watchCtl = ctl;
    const onStop = () => ctl.abort();
    if (this.stopCtl.signal.aborted) return;
    this.stopCtl.signal.addEventListener("abort", onStop, { once: true });
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? Math.floor(300 + Math.random() * 300);
    // The server should end the stream after timeoutSeconds; if it does not (a half-open connection),
    // we do, and treat it as a failure.
    let overdue = false;
    const deadline = setTimeout(
      () => {
        overdue = true;
        ctl.abort();
      },
      (timeoutSeconds + 30) * 1000,
    );
    const healthy = setTimeout(() => this.backoff.reset(), this.opts.healthyAfterMs ?? 30_000);
    this.stats.watches++;
    try {
      await this.client.watch(
        {
          ...this.selectors(),
          resourceVersion: this.rv,
          allowWatchBookmarks: true,
          timeoutSeconds,
          signal: ctl.signal,
        },
        (ev) => this.onWatchEvent(ev),
      );
    } catch (e) {
      if (overdue) throw new Error(`watch gave no end after ${timeoutSeconds + 30} s`, { cause: e });
      throw e;
    } finally {
      clearTimeout(deadline);
      clearTimeout(healthy);
      this.stopCtl.signal.removeEventListener("abort", onStop);
    }
  }

  private onWatchEvent(ev: WatchEvent<T>): void {
    if (this.stopCtl.signal.aborted) return;
    const rv = ev.object?.metadata?.resourceVersion;
    if (ev.type === "BOOKMARK") {
      if (rv) this.rv = rv;
      return;
    }
    const key = objectKey(ev.object);
    const old = this.cache.get(key);
    if (ev.type === "DELETED") {
      if (old) this.apply({ type: "delete", key, object: ev.object });
    } else if (!old) {
      this.apply({ type: "add", key, object: ev.object });
    } else if (old.metadata?.resourceVersion !== rv) {
      this.apply({ type: "update", key, old, object: ev.object });
    } // else: a replay of what we already have (e.g. an ADDED after a relist): nothing changed
    if (rv) this.rv = rv;
  }

  private apply(ev: CacheEvent<T>): void {
    if (ev.type === "delete") this.cache.delete(ev.key);
    else this.cache.set(ev.key, ev.object);
    for (const h of this.handlers) {
      if (ev.type === "add") this.call(h, "add", () => h.add?.(ev.object));
      else if (ev.type === "update") this.call(h, "update", () => h.update?.(ev.old, ev.object));
      else this.call(h, "delete", () => h.delete?.(ev.object));
    }
  }

  private resync(): void {
    if (!this.synced) return;
    for (const obj of this.cache.values()) {
      for (const h of this.handlers) this.call(h, "update", () => h.update?.(obj, obj));
    }
  }

  private armResync(h: InformerHandlers<T>, r: { periodMs: number; timer?: NodeJS.Timeout }): void {
    clearInterval(r.timer);
    r.timer = setInterval(() => {
      if (!this.synced) return;
      for (const obj of this.cache.values()) this.call(h, "update", () => h.update?.(obj, obj));
    }, r.periodMs);
  }

  private call(_h: InformerHandlers<T>, what: string, f: () => void | Promise<void>): void {
    const fail = (e: unknown) => this.log.error({ informer: this.name, handler: what, err: e }, "informer handler failed");
    try {
      const r = f();
      if (r && typeof (r as Promise<void>).catch === "function") (r as Promise<void>).catch(fail);
    } catch (e) {
      fail(e);
    }
  }

  private selectors() {
    return { namespace: this.opts.namespace, labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }
}
