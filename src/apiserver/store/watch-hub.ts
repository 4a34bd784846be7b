// In-process fan-out of committed changes to watchers, keyed by (group, resource). The store calls the
// hub synchronously right after each commit, so watchers see events in commit order, and a watcher that
// registers in the same synchronous step as its initial list/replay can neither miss nor repeat an event.

import type { SqliteStore, StoreEvent } from "./sqlite-store.ts";

export type WatchListener = (e: StoreEvent) => void;

export class WatchHub {
  private readonly byResource = new Map<string, Set<WatchListener>>();
  private readonly detach: () => void;

  constructor(store: SqliteStore) {
    this.detach = store.onCommit((e) => this.publish(e));
  }

  subscribe(group: string, resource: string, listener: WatchListener): () => void {
    const k = `${group}/${resource}`;
    let set = this.byResource.get(k);
    if (!set) this.byResource.set(k, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byResource.get(k) === set) this.byResource.delete(k);
    };
  }

  /** Number of live watchers (for tests and metrics: a closed client must not leave one behind). */
  get size(): number {
    let n = 0;
    for (const s of this.byResource.values()) n += s.size;
    return n;
  }

  /** Live watchers per "group/resource" (the API server's /metrics: how many watches each client set holds). */
  counts(): Map<string, number> {
    return new Map([...this.byResource].map(([k, s]) => [k, s.size]));
  }

  private publish(e: StoreEvent): void {
    const set = this.byResource.get(`${e.key.group}/${e.key.resource}`);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(e);
      } catch {
        // One broken watcher must not starve the others.
      }
    }
  }

  close(): void {
    this.detach();
    this.byResource.clear();
  }
}
