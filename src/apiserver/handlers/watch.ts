// WATCH: a chunked stream of JSON lines {"type":...,"object":...}.
//
// resourceVersion semantics (kube's): absent or "0" → synthetic ADDED events for the current state, then
// live changes; N → the logged events after N, then live; N older than the compacted log → one ERROR
// event carrying a 410 Expired Status. sendInitialEvents=true → current state, then a BOOKMARK annotated
// `k8s.io/initial-events-end`. Selectors apply to every event: an object that stops matching is sent as
// DELETED (its previous state with the new resourceVersion), one that starts matching as ADDED.
// With Table output each event's object is a one-row Table; column definitions go only with the first
// event (kube sends later ones without headers; kubectl reuses the last columns).
//
// The initial state (or replay) is read and the live subscription made in one synchronous step, so no
// event is missed or repeated. A client that goes away, a slow client (more than 16 MiB queued) and the
// timeout all end the watch and unsubscribe it.

import type { IncomingMessage, ServerResponse } from "node:http";
import { HwError, toKubeStatus } from "../../api/errors.ts";
import type { Output } from "../http-util.ts";
import { groupVersion, type ResourceType } from "../resource-type.ts";
import type { StoreEvent } from "../store/sqlite-store.ts";
import type { WatchHub } from "../store/watch-hub.ts";
import { renderTable } from "../builtin-table.ts";
import { objectFilter } from "./list.ts";
import type { ObjectService } from "./objects.ts";

export interface WatchQuery {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
  includeObject?: "None" | "Metadata" | "Object";
}

export interface WatchTuning {
  bookmarkIntervalMs: number;
  defaultTimeoutSeconds: number;
  maxQueuedBytes: number;
}

export const defaultWatchTuning: WatchTuning = { bookmarkIntervalMs: 5_000, defaultTimeoutSeconds: 1800, maxQueuedBytes: 16 * 1024 * 1024 };

export function serveWatch(
  svc: ObjectService,
  hub: WatchHub,
  rt: ResourceType,
  namespace: string | undefined,
  q: WatchQuery,
  out: Output,
  req: IncomingMessage,
  res: ServerResponse,
  tuning: WatchTuning = defaultWatchTuning,
): void {
  const filter = objectFilter(rt, q); // throws 400 before any header is sent
  const ns = rt.namespaced ? namespace : undefined;
  const matches = (obj: any) => (ns === undefined || obj?.metadata?.namespace === ns) && (!filter || filter(obj));
  const gv = groupVersion(rt);
  const multi = svc.registry.isMultiVersion(rt.group, rt.plural);
  let sentColumns = false;
  let closed = false;
  let unsubscribe: () => void = () => {};
  const timers: NodeJS.Timeout[] = [];

  const cleanup = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    for (const t of timers) clearTimeout(t); // clearTimeout also clears intervals
    if (!res.writableEnded) res.end();
  };

  res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" });
  res.flushHeaders();
  req.on("close", cleanup);
  res.on("close", cleanup);
  res.on("error", cleanup);

  const write = (line: string) => {
    if (closed) return;
    res.write(line);
    if (res.writableLength > tuning.maxQueuedBytes) cleanup(); // too slow a consumer: end it, it re-lists
  };

  const encode = (type: string, obj: any | undefined, data: string | undefined): string => {
    if (out.as === "table") {
      const t = renderTable(rt, [obj ?? JSON.parse(data!)], { includeObject: q.includeObject ?? "Metadata" });
      t.apiVersion = out.apiVersion;
      if (sentColumns) t.columnDefinitions = [];
      sentColumns = true;
      return `{"type":"${type}","object":${JSON.stringify(t)}}\n`;
    }
    if (out.as === "metadata") {
      const o = obj ?? JSON.parse(data!);
      return `{"type":"${type}","object":${JSON.stringify({ kind: "PartialObjectMetadata", apiVersion: out.apiVersion, metadata: o.metadata })}}\n`;
    }
    if (data !== undefined && !multi) return `{"type":"${type}","object":${data}}\n`;
    const o = obj ?? JSON.parse(data!);
    return `{"type":"${type}","object":${JSON.stringify(multi ? { ...o, apiVersion: gv } : o)}}\n`;
  };

  const bookmark = (annotations?: Record<string, string>) => {
    const metadata: Record<string, unknown> = { resourceVersion: String(svc.store.currentRv) };
    if (annotations) metadata.annotations = annotations;
    write(`{"type":"BOOKMARK","object":${JSON.stringify({ kind: rt.kind, apiVersion: gv, metadata })}}\n`);
  };

  let startRv = 0; // live events at or below this rv are already in the initial state or the replay
  /** Live and replayed events: decides the event type seen through the selectors. */
  const deliver = (e: StoreEvent) => {
    if (closed || e.rv <= startRv) return;
    const cur = e.obj ?? JSON.parse(e.data);
    const curOk = matches(cur);
    if (e.type === "ADDED") {
      if (curOk) write(encode("ADDED", cur, e.data));
      return;
    }
    if (e.type === "DELETED") {
      if (curOk) write(encode("DELETED", cur, e.data));
      return;
    }
    // MODIFIED. Replayed events carry no previous state: assume it matched as the current one does,
    // except that a non-matching object is announced as DELETED (harmless if the client never had it).
    const prevOk = e.prev !== undefined ? matches(e.prev) : true;
    if (curOk && prevOk) write(encode("MODIFIED", cur, e.data));
    else if (curOk) write(encode("ADDED", cur, e.data));
    else if (prevOk) {
      const gone = e.prev !== undefined ? { ...e.prev, metadata: { ...e.prev.metadata, resourceVersion: String(e.rv) } } : cur;
      write(encode("DELETED", gone, undefined));
    }
  };

  const rvParam = q.resourceVersion;
  if (q.sendInitialEvents || rvParam === undefined || rvParam === "" || rvParam === "0") {
    for (const row of svc.store.list(rt.group, rt.plural, ns)) {
      const obj = out.as === "json" && !multi ? undefined : JSON.parse(row.data);
      if (filter) {
        const o = obj ?? JSON.parse(row.data);
        if (!filter(o)) continue;
        write(encode("ADDED", o, undefined));
      } else {
        write(encode("ADDED", obj, obj ? undefined : row.data));
      }
    }
    if (q.sendInitialEvents) bookmark({ "k8s.io/initial-events-end": "true" });
  } else {
    const from = Number(rvParam);
    if (!Number.isSafeInteger(from) || from < 0) {
      write(
        `{"type":"ERROR","object":${JSON.stringify(toKubeStatus(new HwError("INVALID_ARGUMENT", "BadRequest", `invalid resource version "${rvParam}"`, { httpStatus: 400, statusReason: "BadRequest" })))}}\n`,
      );
      cleanup();
      return;
    }
    if (from < svc.store.oldestReplayableRv) {
      const gone = new HwError("OUT_OF_RANGE", "Expired", `too old resource version: ${from} (${svc.store.oldestReplayableRv + 1})`, {
        httpStatus: 410,
        statusReason: "Expired",
      });
      write(`{"type":"ERROR","object":${JSON.stringify(toKubeStatus(gone))}}\n`);
      cleanup();
      return;
    }
    for (const e of svc.store.eventsAfter(rt.group, rt.plural, from)) deliver(e);
  }
  if (closed) return;
  startRv = svc.store.currentRv;
  unsubscribe = hub.subscribe(rt.group, rt.plural, deliver);

  if (q.allowWatchBookmarks) timers.push(setInterval(() => bookmark(), tuning.bookmarkIntervalMs));
  const timeoutS = q.timeoutSeconds && q.timeoutSeconds > 0 ? q.timeoutSeconds : tuning.defaultTimeoutSeconds;
  timers.push(setTimeout(cleanup, timeoutS * 1000));
}
