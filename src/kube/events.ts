// Writes core/v1 Events about objects, deduplicated like client-go's recorder: the same (object, type,
// reason, message) again bumps `count` and `lastTimestamp` on the existing Event instead of creating one.
// Recording never throws into the caller (a reconcile must not fail because an Event could not be written):
// failures are logged.
// Simplifications: no similar-event aggregation ("(combined from similar events)") and no spam filter;
// the dedupe cache is per process and bounded (oldest entries dropped first).

import type { KubeClient, ResourceClient } from "./client.ts";
import { EVENT, metaTime } from "./resources.ts";
import { isNotFound } from "./transport.ts";
import { stderrLogger, type KubeObject, type Logger } from "./types.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  /** source.component / reportingComponent, e.g. "hwameistor-controller". */
  component: string;
  /** source.host / reportingInstance, e.g. the node name. */
  host?: string;
  /** Dedupe cache size (default 4096). */
  cacheSize?: number;
  log?: Logger;
}

type EventObject = KubeObject & { count?: number; lastTimestamp?: string };

interface Seen {
  name: string;
  namespace: string;
  count: number;
}

export class EventRecorder {
  private readonly events: ResourceClient<EventObject>;
  private readonly seen = new Map<string, Seen>();
  private readonly log: Logger;
  private seq = 0;

  constructor(
    client: KubeClient,
    private readonly o: EventRecorderOptions,
  ) {
    this.events = client.forKind<EventObject>(EVENT);
    this.log = o.log ?? stderrLogger;
  }

  /** Records an Event about obj; resolves when written (or when writing failed and was logged). */
  async recordEvent(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const m = obj.metadata ?? {};
    const namespace = m.namespace || "default";
    const key = JSON.stringify([obj.apiVersion, obj.kind, m.namespace, m.name, m.uid, type, reason, message]);
    const now = metaTime();
    try {
      const prev = this.seen.get(key);
      if (prev) {
        try {
          await this.events.patch(prev.name, { count: prev.count + 1, lastTimestamp: now }, { namespace: prev.namespace });
          prev.count++;
          this.touch(key, prev);
          return;
        } catch (e) {
          if (!isNotFound(e)) throw e;
          this.seen.delete(key); // the Event expired or was deleted: start a new one
        }
      }
      const name = `${m.name ?? "unknown"}.${(BigInt(Date.now()) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16)}`;
      await this.events.create({
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: m.name,
          namespace: m.namespace,
          uid: m.uid,
          resourceVersion: m.resourceVersion,
        },
        type,
        reason,
        message,
        source: { component: this.o.component, ...(this.o.host ? { host: this.o.host } : {}) },
        reportingComponent: this.o.component,
        reportingInstance: this.o.host ?? "",
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
      this.touch(key, { name, namespace, count: 1 });
    } catch (e) {
      this.log.warn({ object: `${obj.kind} ${namespace}/${m.name}`, reason, err: (e as Error)?.message ?? String(e) }, "could not record event");
    }
  }

  private touch(key: string, s: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, s);
    const max = this.o.cacheSize ?? 4096;
    while (this.seen.size > max) this.seen.delete(this.seen.keys().next().value as string);
  }
}
