// A client of the data plane's control socket (a unix stream socket, newline-delimited JSON; the protocol
// is in protocol.ts and docs/proposals/0002-data-plane.md). It sits in src/host/ because the data plane is
// a process of the machine, like the tools the other folders drive.
//
// - One connection for requests, opened on first use and again after it breaks. Requests are pipelined; the
//   answer with the same id settles each one. Every op is idempotent on the data plane's side, so a request
//   cut off by a broken connection is sent once more on a new one before it fails.
// - A failed answer becomes an HwError with the data plane's code and reason (registered in
//   src/api/errors.ts); an unreachable socket is UNAVAILABLE DataplaneUnavailable, no answer in time is
//   DEADLINE_EXCEEDED DataplaneTimeout, garbage on the socket INTERNAL DataplaneProtocolError (and the
//   connection is dropped: nothing after it can be trusted to line up).
// - subscribe() keeps its own connection, reconnects with backoff, and reports `{event:"connected"}` after
//   every (re)subscription, so a consumer re-reads the whole status instead of trusting events it missed.

import { connect, type Socket } from "node:net";
import { HwError } from "../../api/errors.ts";
import {
  LineSplitter,
  encodeRequest,
  parseLine,
  type DpEvent,
  type DpHello,
  type DpOp,
  type DpPeer,
  type DpRequests,
  type DpRole,
  type DpVerifyResult,
  type DpVolumeStatus,
} from "./protocol.ts";

export interface DataplaneClientOptions {
  /** Named in error messages (the node the data plane serves). */
  node?: string;
  /** Deadline of one request (default 15 s). */
  timeoutMs?: number;
}

interface Pending {
  op: DpOp;
  line: string;
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
  retried: boolean;
}

export class DataplaneClient {
  private sock?: Socket;
  private connecting?: Promise<Socket>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private readonly subscriptions = new Set<() => void>();

  constructor(
    readonly socketPath: string,
    private readonly o: DataplaneClientOptions = {},
  ) {}

  private get who(): string {
    return `data plane${this.o.node ? ` of node ${this.o.node}` : ""} at ${this.socketPath}`;
  }

  hello(): Promise<DpHello> {
    return this.call("hello", {}) as unknown as Promise<DpHello>;
  }
  ensure(volume: string, sizeBytes: number, backingPath: string, regionBytes?: number): Promise<DpVolumeStatus> {
    return this.call("ensure", { volume, sizeBytes, backingPath, ...(regionBytes ? { regionBytes } : {}) }).then(volumeOf);
  }
  configure(volume: string, epoch: number, role: DpRole, peers: DpPeer[]): Promise<DpVolumeStatus> {
    return this.call("configure", { volume, epoch, role, peers }).then(volumeOf);
  }
  async expose(volume: string): Promise<string> {
    const a = await this.call("expose", { volume });
    if (typeof a.path !== "string" || !a.path) throw new HwError("INTERNAL", "DataplaneProtocolError", `${this.who}: expose ${volume} answered without a path`);
    return a.path;
  }
  async unexpose(volume: string): Promise<void> {
    await this.call("unexpose", { volume });
  }
  outdatePeer(volume: string, peer: string): Promise<DpVolumeStatus> {
    return this.call("outdate-peer", { volume, peer }).then(volumeOf);
  }
  resize(volume: string, sizeBytes: number): Promise<DpVolumeStatus> {
    return this.call("resize", { volume, sizeBytes }).then(volumeOf);
  }
  verify(volume: string): Promise<DpVerifyResult> {
    return this.call("verify", { volume }, 600_000) as unknown as Promise<DpVerifyResult>;
  }
  async remove(volume: string): Promise<void> {
    await this.call("remove", { volume });
  }
  async status(volume?: string): Promise<DpVolumeStatus[]> {
    const a = await this.call("status", volume ? { volume } : {});
    return Array.isArray(a.volumes) ? (a.volumes as DpVolumeStatus[]) : [];
  }

  /** One request → its answer's fields (without id/ok), or the HwError of a failed answer. */
  call<O extends DpOp>(op: O, fields: DpRequests[O], timeoutMs = this.o.timeoutMs ?? 15_000): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(unavailable(this.who, "the client is closed"));
    const id = this.nextId++;
    const line = encodeRequest(id, op, fields);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new HwError("DEADLINE_EXCEEDED", "DataplaneTimeout", `${this.who}: ${op} got no answer within ${timeoutMs} ms`, {
            hint: "the data plane may be stuck in I/O; see its log",
          }),
        );
      }, timeoutMs);
      this.pending.set(id, { op, line, resolve, reject, timer, retried: false });
      void this.send(id);
    });
  }

  private async send(id: number): Promise<void> {
    const p = this.pending.get(id);
    if (!p) return;
    try {
      const s = await this.socket();
      s.write(p.line);
    } catch (e) {
      this.settle(id, undefined, e);
    }
  }

  private settle(id: number, body: Record<string, unknown> | undefined, err?: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err !== undefined) p.reject(err);
    else p.resolve(body ?? {});
  }

  private socket(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return Promise.resolve(this.sock);
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect(this.socketPath);
      s.setEncoding("utf8");
      const split = new LineSplitter();
      s.once("connect", () => {
        this.sock = s;
        resolve(s);
      });
      s.on("data", (chunk: string) => {
        let lines: string[];
        try {
          lines = split.push(chunk, this.who);
          for (const l of lines) {
            const m = parseLine(l, this.who);
            if (m.kind !== "answer") continue; // events belong to subscribe connections
            const op = this.pending.get(m.id)?.op ?? "request";
            if (m.ok) this.settle(m.id, m.body);
            else this.settle(m.id, undefined, withOp(m.error, op));
          }
        } catch (e) {
          this.failAll(e);
          s.destroy();
        }
      });
      s.on("error", (e: NodeJS.ErrnoException) => {
        if (this.sock !== s) reject(unavailable(this.who, e.code ?? e.message, e));
      });
      s.on("close", () => {
        if (this.sock === s) this.sock = undefined;
        this.connectionLost();
      });
    });
  }

  /** The connection broke: requests in flight are sent once more on a new one (ops are idempotent). */
  private connectionLost(): void {
    for (const [id, p] of this.pending) {
      if (p.retried || this.closed) this.settle(id, undefined, unavailable(this.who, `the connection closed during ${p.op}`));
      else {
        p.retried = true;
        void this.send(id);
      }
    }
  }

  private failAll(e: unknown): void {
    for (const id of [...this.pending.keys()]) this.settle(id, undefined, e);
  }

  /**
   * Events of every volume, on a connection of their own that is re-opened with backoff (0.2 s doubling to
   * 5 s) while it cannot be. `{event: "connected"}` follows every successful subscribe; `{event:
   * "disconnected", error}` every loss.
   */
  subscribe(onEvent: (e: DpEvent) => void): { close: () => void } {
    let stopped = false;
    let sock: Socket | undefined;
    let backoffMs = 200;
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      if (stopped) return;
      timer = setTimeout(start, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 5000);
    };
    const start = () => {
      if (stopped) return;
      const s = connect(this.socketPath);
      sock = s;
      s.setEncoding("utf8");
      const split = new LineSplitter();
      let subscribed = false;
      s.once("connect", () => s.write(encodeRequest(0, "subscribe", {})));
      s.on("data", (chunk: string) => {
        try {
          for (const l of split.push(chunk, this.who)) {
            const m = parseLine(l, this.who);
            if (m.kind === "event") onEvent(m.event);
            else if (!m.ok) throw withOp(m.error, "subscribe");
            else if (!subscribed) {
              subscribed = true;
              backoffMs = 200;
              onEvent({ event: "connected" });
            }
          }
        } catch (e) {
          onEvent({ event: "disconnected", error: e instanceof Error ? e.message : String(e) });
          s.destroy();
        }
      });
      s.on("error", () => {});
      s.on("close", () => {
        if (subscribed) onEvent({ event: "disconnected", error: "connection closed" });
        schedule();
      });
    };
    const close = () => {
      stopped = true;
      clearTimeout(timer);
      sock?.destroy();
      this.subscriptions.delete(close);
    };
    this.subscriptions.add(close);
    start();
    return { close };
  }

  close(): void {
    this.closed = true;
    for (const c of [...this.subscriptions]) c();
    this.failAll(unavailable(this.who, "the client is closed"));
    this.sock?.destroy();
  }
}

function volumeOf(a: Record<string, unknown>): DpVolumeStatus {
  // Answers of volume ops carry the volume's status either flat or under `volume`/`status`.
  const inner = (a.status ?? a.volume) as unknown;
  return (inner && typeof inner === "object" ? inner : a) as DpVolumeStatus;
}

function withOp(e: HwError, op: string): HwError {
  return new HwError(e.code, e.reason, e.message.replace(/: /, `: ${op}: `), { ...(e.hint ? { hint: e.hint } : {}) });
}

function unavailable(who: string, why: string, cause?: unknown): HwError {
  return new HwError("UNAVAILABLE", "DataplaneUnavailable", `${who} is not reachable: ${why}`, {
    hint: "start hwameistor-dataplane on this node (the node agent's --dataplane-socket names its control socket)",
    ...(cause ? { cause } : {}),
  });
}
