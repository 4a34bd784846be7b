// Wake-ups for waits on one object (the CSI controller waits for a LocalVolume to be Ready or gone, a snapshot
// to be ready): one watch of the one object (`fieldSelector=metadata.name=<name>`, from the resourceVersion the
// caller read, as `kubectl wait` does) for the duration of the wait. Each event wakes the waiter, which then
// re-reads the object; the timed poll stays as the safety net, so a watch that fails or ends early only
// costs latency, never correctness (it is not restarted).

import type { ResourceClient } from "./client.ts";
import type { KubeObject } from "./types.ts";

export class ObjectWake<T extends KubeObject = KubeObject> {
  private readonly ctl = new AbortController();
  private waiters: Array<() => void> = [];
  private pending = false;
  /** Events seen (for tests and the benchmark's notes). */
  events = 0;

  constructor(client: Pick<ResourceClient<T>, "watch">, name: string, resourceVersion?: string) {
    client
      .watch({ fieldSelector: `metadata.name=${name}`, resourceVersion: resourceVersion || undefined, timeoutSeconds: 600, signal: this.ctl.signal }, (ev) => {
        if (ev.type === "BOOKMARK") return;
        this.events++;
        this.pending = true;
        for (const w of this.waiters.splice(0)) w();
      })
      .catch(() => undefined);
  }

  /** Resolves at the next event since the last call (at once if one came meanwhile), after `ms`, or on abort. */
  async next(ms: number, signal?: AbortSignal): Promise<void> {
    if (!this.pending) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.waiters.push(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
    this.pending = false;
  }

  close(): void {
    this.ctl.abort();
    for (const w of this.waiters.splice(0)) w();
  }
}
