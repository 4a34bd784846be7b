// What changed between the informer's cache and a fresh list: the events a relist must deliver so that
// consumers see every change exactly once. Pure, so it is tested on its own.

import { objectKey, type KubeObject } from "./types.ts";

export type CacheEvent<T> =
  { type: "add"; key: string; object: T } | { type: "update"; key: string; old: T; object: T } | { type: "delete"; key: string; object: T };

/**
 * Adds for new keys, updates for keys whose resourceVersion changed, deletes (with the last known state)
 * for keys that vanished. Adds and updates come in modification order when every resourceVersion is an
 * integer (true of etcd and of our embedded server; Kubernetes calls them opaque, so otherwise list order);
 * deletes come last, in cache order: when they happened relative to the others is unknowable from a list.
 */
export function relistDiff<T extends KubeObject>(cache: ReadonlyMap<string, T>, listed: readonly T[]): CacheEvent<T>[] {
  const changed: CacheEvent<T>[] = [];
  const seen = new Set<string>();
  for (const obj of listed) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cache.get(key);
    if (!old) changed.push({ type: "add", key, object: obj });
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) changed.push({ type: "update", key, old, object: obj });
  }
  const rvs = changed.map((e) => e.object.metadata?.resourceVersion ?? "");
  if (rvs.every((rv) => /^\d+$/.test(rv))) {
    const order = new Map(changed.map((e, i) => [e, i]));
    changed.sort((a, b) => {
      const d = compareIntStrings(a.object.metadata!.resourceVersion!, b.object.metadata!.resourceVersion!);
      return d !== 0 ? d : order.get(a)! - order.get(b)!;
    });
  }
  for (const [key, old] of cache) if (!seen.has(key)) changed.push({ type: "delete", key, object: old });
  return changed;
}

/** Compares non-negative integer strings of any length. */
export function compareIntStrings(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, "");
  const y = b.replace(/^0+(?=\d)/, "");
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}
