// The CSI gRPC server: Identity plus optional Controller and Node services on one unix socket.
// - a stale socket file is removed before bind (a crashed predecessor leaves it behind; bind would fail
//   with EADDRINUSE), anything else at that path is refused; the socket is chmod 0660 and removed on stop;
// - every handler runs through `wrap`: calls are logged at debug, an HwError becomes a gRPC status with its
//   canonical code and message (+ hint), a plain Error becomes INTERNAL with its message only — never a
//   stack — and is logged as an error (it is a programmer error, so it must be seen);
// - methods a service object does not implement answer UNIMPLEMENTED naming the method;
// - every call's latency goes to hwameistor_csi_request_duration_seconds{driver,service,method,code}
//   (src/kube/metrics.ts), so CreateVolume, NodePublishVolume … are measured without touching the drivers.

import * as grpc from "@grpc/grpc-js";
import fs from "node:fs";
import path from "node:path";
import { HwError, grpcCodeOf, isHwError } from "../api/errors.ts";
import { processMetrics } from "../kube/metrics.ts";
import type { Logger, Service } from "../kube/types.ts";
import { silentLogger } from "../kube/types.ts";
import { csiPackage, type CsiServiceName } from "./proto.ts";
import { ifExistsSync } from "../host/files.ts";

/** What a handler gets besides the request. */
export interface CallContext {
  method: string;
  /** The caller's deadline (ms since epoch), or undefined when it set none. */
  deadlineMs?: number;
  /** Aborts when the caller cancels or its deadline passes. */
  signal: AbortSignal;
}

export type Handler = (req: any, ctx: CallContext) => Promise<unknown>;
/** RPC name (as in csi.proto, e.g. "CreateVolume") → handler. */
export type ServiceHandlers = Partial<Record<string, Handler>>;

export interface CsiServerOptions {
  /** Absolute path of the unix socket, e.g. /var/lib/kubelet/plugins/disk.hwameistor.io/csi.sock. */
  socketPath: string;
  identity: ServiceHandlers;
  controller?: ServiceHandlers;
  node?: ServiceHandlers;
  /** The `driver` label of the latency metric (default: the socket's file name without .sock, e.g. lvm). */
  driver?: string;
  log?: Logger;
}

export interface CsiServer extends Service {
  socketPath: string;
}

/**
 * Trailers that carry an HwError's reason and hint next to the gRPC code, so our client (hwameictl, the
 * dev cluster, tests) rebuilds the same HwError: same code, same reason, same CLI exit code. Other CSI
 * clients see the standard status (code + "message (hint)") and ignore them.
 */
export const REASON_TRAILER = "hwameistor-reason";
export const HINT_TRAILER = "hwameistor-hint";

/** The gRPC status an error becomes. Exported for tests. */
export function toGrpcStatus(e: unknown): { code: grpc.status; details: string } {
  if (isHwError(e)) return { code: grpcCodeOf(e) as grpc.status, details: e.fullMessage };
  const msg = e instanceof Error ? e.message : String(e);
  return { code: grpc.status.INTERNAL, details: `internal error: ${msg}` };
}

/** CSI requests carry `secrets` maps (e.g. encryption keys); they never reach a log. */
export function redactSecrets(req: unknown): unknown {
  if (!req || typeof req !== "object") return req;
  const r = req as Record<string, unknown>;
  if (!r.secrets || typeof r.secrets !== "object" || !Object.keys(r.secrets).length) return req;
  return { ...r, secrets: Object.fromEntries(Object.keys(r.secrets).map((k) => [k, "***"])) };
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const d = call.getDeadline();
  if (d instanceof Date) return d.getTime();
  return Number.isFinite(d) && d > 0 ? d : undefined;
}

function wrap(driver: string, service: CsiServiceName, method: string, handler: Handler | undefined, log: Logger): grpc.handleUnaryCall<unknown, unknown> {
  const observe = (code: grpc.status, startedMs: number) =>
    processMetrics.csiDuration.observe({ driver, service, method, code: grpc.status[code] }, (performance.now() - startedMs) / 1000);
  return (call, callback) => {
    const started = Date.now();
    const startedPerf = performance.now();
    const ctl = new AbortController();
    const deadlineMs = deadlineOf(call);
    const timer = deadlineMs !== undefined ? setTimeout(() => ctl.abort(), Math.max(0, deadlineMs - Date.now())) : undefined;
    call.on("cancelled", () => ctl.abort());
    const fail = (e: unknown) => {
      const st = toGrpcStatus(e);
      const fields = { method: `${service}/${method}`, code: grpc.status[st.code], ms: Date.now() - started };
      if (isHwError(e)) log.debug({ ...fields, message: st.details }, "csi call failed");
      else log.error({ ...fields, err: e }, "csi handler threw a non-HwError");
      const md = new grpc.Metadata();
      if (isHwError(e)) {
        md.set(REASON_TRAILER, e.reason);
        if (e.hint) md.set(HINT_TRAILER, encodeURIComponent(e.hint));
      }
      observe(st.code, startedPerf);
      callback({ code: st.code, details: st.details, metadata: md });
    };
    if (!handler) {
      clearTimeout(timer);
      fail(new HwError("UNIMPLEMENTED", "NotImplemented", `${service}/${method} is not implemented by this driver`));
      return;
    }
    log.debug({ method: `${service}/${method}`, request: redactSecrets(call.request) }, "csi call");
    let p: Promise<unknown>;
    try {
      p = handler(call.request, { method, deadlineMs, signal: ctl.signal });
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (res) => {
        clearTimeout(timer);
        log.debug({ method: `${service}/${method}`, ms: Date.now() - started }, "csi call ok");
        observe(grpc.status.OK, startedPerf);
        callback(null, res ?? {});
      },
      (e: unknown) => {
        clearTimeout(timer);
        fail(e);
      },
    );
  };
}

function implementation(driver: string, name: CsiServiceName, handlers: ServiceHandlers, log: Logger): grpc.UntypedServiceImplementation {
  const def = csiPackage()[name].service;
  const impl: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(def)) impl[method] = wrap(driver, name, method, handlers[method], log);
  return impl;
}

/** Removes a stale socket file; refuses to remove anything that is not a socket. */
function removeStaleSocket(socketPath: string): void {
  const st = ifExistsSync(() => fs.lstatSync(socketPath));
  if (!st) return;
  if (!st.isSocket()) {
    throw new HwError("FAILED_PRECONDITION", "NotASocket", `${socketPath} exists and is not a socket`, {
      hint: "remove it or choose another CSI socket directory",
    });
  }
  fs.unlinkSync(socketPath);
}

/** Serves Identity (+ Controller, + Node) on `unix://<socketPath>` until stop(). */
export async function startCsiServer(o: CsiServerOptions): Promise<CsiServer> {
  const log = o.log ?? silentLogger;
  if (!path.isAbsolute(o.socketPath)) throw new HwError("INVALID_ARGUMENT", "Invalid", `CSI socket path ${o.socketPath} must be absolute`);
  fs.mkdirSync(path.dirname(o.socketPath), { recursive: true });
  removeStaleSocket(o.socketPath);
  const server = new grpc.Server();
  const driver = o.driver ?? path.basename(o.socketPath).replace(/\.sock$/, "");
  server.addService(csiPackage().Identity.service, implementation(driver, "Identity", o.identity, log));
  if (o.controller) server.addService(csiPackage().Controller.service, implementation(driver, "Controller", o.controller, log));
  if (o.node) server.addService(csiPackage().Node.service, implementation(driver, "Node", o.node, log));
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${o.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  fs.chmodSync(o.socketPath, 0o660);
  log.info({ socket: o.socketPath, controller: !!o.controller, node: !!o.node }, "csi server listening");
  let stopped: Promise<void> | undefined;
  return {
    socketPath: o.socketPath,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }).finally(() => {
        if (ifExistsSync(() => fs.lstatSync(o.socketPath))?.isSocket()) ifExistsSync(() => fs.unlinkSync(o.socketPath));
      });
      return stopped;
    },
  };
}
