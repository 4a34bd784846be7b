// Wake-ups for waits on one object (the CSI controller waits for a LocalVolume to be Ready or gone), driven by
// an informer the process already runs: every event of that object (add, update, delete) wakes its waiters,
// which then look at the object again. No watch per wait. A timed poll in the waiter stays the safety net, so a
// watch that is down only costs latency, never correctness.

import type { CacheInformer } from "./informer.ts";
import { objectKey, type KubeObject } from "./types.ts";

export interface Wake {
  /** Resolves at the next event since the last call (at once if one came meanwhile), after `ms`, or on abort. */
  next(ms: number, signal?: AbortSignal): Promise<void>;
  close(): void;
}

export class ObjectWakes<T extends KubeObject = KubeObject> {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(informer: CacheInformer<T>) {
    const fire = (obj: T) => {
      for (const w of this.waiters.get(objectKey(obj)) ?? []) w();
    };
    informer.addHandlers({ add: fire, update: (_o, obj) => fire(obj), delete: fire });
  }

  /** Wake-ups for the object with this key ("namespace/name" or "name"), until close(). */
  for(key: string): Wake {
    let pending = false;
    let wake: (() => void) | undefined;
    const onEvent = () => {
      pending = true;
      wake?.();
    };
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    set.add(onEvent);
    return {
      async next(ms, signal) {
        if (!pending) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              signal?.removeEventListener("abort", done);
              wake = undefined;
              resolve();
            };
            const timer = setTimeout(done, ms);
            wake = done;
            signal?.addEventListener("abort", done, { once: true });
          });
        }
        pending = false;
      },
      close: () => {
        set.delete(onEvent);
        if (!set.size && this.waiters.get(key) === set) this.waiters.delete(key);
        wake?.();
      },
    };
  }
}
