// The control protocol of the native data plane (`hwameistor-dataplane`, docs/proposals/0002-data-plane.md
// "The control socket"), pure: the request and answer shapes, and the framing of newline-delimited JSON.
// Every request carries an `id` and an `op`; every request gets exactly one answer line with the same id,
// `{"id":1,"ok":true,...}` or `{"id":1,"ok":false,"error":{"code","reason","message"}}`. A `subscribe`d
// connection also receives event lines `{"event":…, "volume":…}` (no id).

import { HwError, type ErrorCode } from "../../api/errors.ts";

export type DpRole = "primary" | "secondary";
/** A replica's own disk: UpToDate, Inconsistent (a sync target mid-resync), Outdated. */
export type DpLocalState = "UpToDate" | "Inconsistent" | "Outdated";
export type DpPeerState = "Connecting" | "SyncSource" | "SyncTarget" | "UpToDate" | "Disconnected" | "Outdated" | "StaleEpoch";

export interface DpHello {
  version: string;
  protocolVersion: number | string;
  node: string;
  /** e.g. ["fuse"]. */
  frontends: string[];
  listen: string;
  /** Where its FUSE filesystem is mounted (the exposed files are `<fuseDir>/<volume>`). */
  fuseDir?: string;
}

export interface DpPeer {
  node: string;
  address: string;
}

export interface DpPeerStatus extends DpPeer {
  state: DpPeerState | string;
  dirtyBytes?: number;
  resyncDoneBytes?: number;
  resyncTotalBytes?: number;
  /** Writes this primary has had acknowledged by the peer (counts up while the peer receives writes). */
  acksTotal?: number;
}

export interface DpVolumeStatus {
  volume: string;
  sizeBytes: number;
  role: DpRole | string;
  epoch: number;
  fenced?: boolean;
  suspended?: boolean;
  exposed?: boolean;
  path?: string;
  localState: DpLocalState | string;
  peers: DpPeerStatus[];
  writesTotal?: number;
  bytesWritten?: number;
  bytesReplicated?: number;
  bytesResynced?: number;
}

export interface DpVerifyResult {
  checkedBytes: number;
  /** Per peer node: the mismatching region indexes (or a count, as the data plane reports them). */
  mismatchedRegions: Record<string, number[] | number> | unknown;
}

export interface DpEvent {
  event: string;
  volume?: string;
  [k: string]: unknown;
}

/** Requests by op (fields besides id/op). */
export interface DpRequests {
  hello: Record<string, never>;
  ensure: { volume: string; sizeBytes: number; backingPath: string; regionBytes?: number };
  configure: { volume: string; epoch: number; role: DpRole; peers: DpPeer[] };
  expose: { volume: string };
  unexpose: { volume: string };
  "outdate-peer": { volume: string; peer: string };
  resize: { volume: string; sizeBytes: number };
  verify: { volume: string };
  remove: { volume: string };
  status: { volume?: string };
  subscribe: Record<string, never>;
}
export type DpOp = keyof DpRequests;

const CODES: readonly ErrorCode[] = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** The longest line accepted from the data plane (a status of many volumes fits many times over). */
export const MAX_LINE_BYTES = 4 * 2 ** 20;

export function encodeRequest(id: number, op: DpOp, fields: object): string {
  return `${JSON.stringify({ ...fields, id, op })}\n`;
}

export type DpLine =
  | { kind: "answer"; id: number; ok: true; body: Record<string, unknown> }
  | { kind: "answer"; id: number; ok: false; error: HwError }
  | { kind: "event"; event: DpEvent };

/**
 * One line from the socket → an answer or an event. A line that is not a JSON object with a numeric id
 * (answer) or a string event is a protocol error (INTERNAL DataplaneProtocolError): the caller drops the
 * connection, since nothing after it can be trusted to line up.
 */
export function parseLine(line: string, context: string): DpLine {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw protocolError(`${context}: not JSON: ${truncate(line)}`, e);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw protocolError(`${context}: not a JSON object: ${truncate(line)}`);
  const o = v as Record<string, unknown>;
  if (typeof o.event === "string" && o.id === undefined) return { kind: "event", event: o as DpEvent };
  if (typeof o.id !== "number" || !Number.isSafeInteger(o.id)) throw protocolError(`${context}: answer without a numeric id: ${truncate(line)}`);
  if (o.ok === true) {
    const { id: _id, ok: _ok, ...body } = o;
    return { kind: "answer", id: o.id, ok: true, body };
  }
  if (o.ok === false) return { kind: "answer", id: o.id, ok: false, error: answerError(o.error, context) };
  throw protocolError(`${context}: answer ${o.id} has no boolean "ok": ${truncate(line)}`);
}

/** The data plane's error object → HwError with its code and reason; the message names the node and op. */
export function answerError(e: unknown, context: string): HwError {
  const o = (e && typeof e === "object" ? e : {}) as Record<string, unknown>;
  const code = typeof o.code === "string" && (CODES as readonly string[]).includes(o.code) ? (o.code as ErrorCode) : "UNKNOWN";
  const reason = typeof o.reason === "string" && /^[A-Z][A-Za-z0-9]*$/.test(o.reason) ? o.reason : "DataplaneError";
  const message = typeof o.message === "string" && o.message ? o.message : "failed without a message";
  return new HwError(code, reason, `${context}: ${message}`, typeof o.hint === "string" ? { hint: o.hint } : {});
}

function protocolError(message: string, cause?: unknown): HwError {
  return new HwError("INTERNAL", "DataplaneProtocolError", message, {
    hint: "the data plane and the node agent speak different control protocols: install both from the same build",
    ...(cause ? { cause } : {}),
  });
}

const truncate = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/** Splits a byte stream into lines; keeps the unfinished tail. Throws on a line longer than MAX_LINE_BYTES. */
export class LineSplitter {
  private tail = "";
  push(chunk: string, context: string): string[] {
    const text = this.tail + chunk;
    const parts = text.split("\n");
    this.tail = parts.pop() ?? "";
    if (this.tail.length > MAX_LINE_BYTES) {
      this.tail = "";
      throw protocolError(`${context}: a line longer than ${MAX_LINE_BYTES} bytes`);
    }
    return parts.filter((l) => l.trim() !== "");
  }
}
