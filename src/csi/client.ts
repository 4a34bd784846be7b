// A small CSI client over a unix socket, for tests, hwameictl and the dev cluster (which plays kubelet and
// the sidecars). Errors come back as HwError with the server's canonical code, so a caller handles a CSI
// failure exactly like a local one.
//
// Node's HTTP/2 rejects an empty or path-like :authority, and grpc-js derives one from a unix target's
// path; we set `grpc.default_authority` to "localhost" (what kubelet's Go client sends).

import * as grpc from "@grpc/grpc-js";
import { HwError, errorMappings, type ErrorCode } from "../api/errors.ts";
import { csiPackage, type CsiServiceName } from "./proto.ts";
import { HINT_TRAILER, REASON_TRAILER } from "./server.ts";
import type * as T from "./types.ts";

const CODE_NAMES = new Map<number, ErrorCode>(Object.entries(errorMappings).map(([name, m]) => [m.grpc, name as ErrorCode]));

export interface CallOptions {
  /** Per-call deadline (default the client's, 30 s). */
  timeoutMs?: number;
}

export class CsiClient {
  private readonly clients: Record<CsiServiceName, grpc.Client>;

  constructor(
    readonly socketPath: string,
    private readonly defaultTimeoutMs = 30_000,
  ) {
    const pkg = csiPackage();
    const target = `unix://${socketPath}`;
    const creds = grpc.credentials.createInsecure();
    // The driver is a local socket: reconnecting costs nothing. grpc's default reconnect backoff (1 s growing to
    // 120 s) would leave a driver that restarted after a crash unreached for tens of seconds after it listens again.
    const options = { "grpc.default_authority": "localhost", "grpc.initial_reconnect_backoff_ms": 200, "grpc.max_reconnect_backoff_ms": 1000 };
    this.clients = {
      Identity: new pkg.Identity(target, creds, options),
      Controller: new pkg.Controller(target, creds, options),
      Node: new pkg.Node(target, creds, options),
    };
  }

  /** Any unary RPC by name; rejects with HwError carrying the status code. */
  call<Res = unknown>(service: CsiServiceName, method: string, request: object = {}, o: CallOptions = {}): Promise<Res> {
    const client = this.clients[service] as unknown as Record<string, (...a: unknown[]) => void>;
    const fn = client[method];
    if (typeof fn !== "function") return Promise.reject(new Error(`${service} has no method ${method}`));
    const deadline = new Date(Date.now() + (o.timeoutMs ?? this.defaultTimeoutMs));
    return new Promise<Res>((resolve, reject) => {
      fn.call(client, request, new grpc.Metadata(), { deadline }, (err: grpc.ServiceError | null, res: Res) => {
        if (!err) return resolve(res);
        reject(errorOf(err));
      });
    });
  }

  // Identity
  getPluginInfo = (o?: CallOptions) => this.call<T.GetPluginInfoResponse>("Identity", "GetPluginInfo", {}, o);
  getPluginCapabilities = (o?: CallOptions) => this.call<T.GetPluginCapabilitiesResponse>("Identity", "GetPluginCapabilities", {}, o);
  probe = (o?: CallOptions) => this.call<T.ProbeResponse>("Identity", "Probe", {}, o);
  // Controller
  createVolume = (r: T.CreateVolumeRequest, o?: CallOptions) => this.call<T.CreateVolumeResponse>("Controller", "CreateVolume", r, o);
  deleteVolume = (r: T.DeleteVolumeRequest, o?: CallOptions) => this.call<object>("Controller", "DeleteVolume", r, o);
  validateVolumeCapabilities = (r: T.ValidateVolumeCapabilitiesRequest, o?: CallOptions) =>
    this.call<T.ValidateVolumeCapabilitiesResponse>("Controller", "ValidateVolumeCapabilities", r, o);
  listVolumes = (r: T.ListVolumesRequest = {}, o?: CallOptions) => this.call<T.ListVolumesResponse>("Controller", "ListVolumes", r, o);
  controllerGetVolume = (r: T.ControllerGetVolumeRequest, o?: CallOptions) =>
    this.call<T.ControllerGetVolumeResponse>("Controller", "ControllerGetVolume", r, o);
  controllerPublishVolume = (r: T.ControllerPublishVolumeRequest, o?: CallOptions) =>
    this.call<T.ControllerPublishVolumeResponse>("Controller", "ControllerPublishVolume", r, o);
  controllerUnpublishVolume = (r: T.ControllerUnpublishVolumeRequest, o?: CallOptions) => this.call<object>("Controller", "ControllerUnpublishVolume", r, o);
  getCapacity = (r: T.GetCapacityRequest, o?: CallOptions) => this.call<T.GetCapacityResponse>("Controller", "GetCapacity", r, o);
  controllerGetCapabilities = (o?: CallOptions) => this.call<T.ControllerGetCapabilitiesResponse>("Controller", "ControllerGetCapabilities", {}, o);
  // Node
  nodeGetInfo = (o?: CallOptions) => this.call<T.NodeGetInfoResponse>("Node", "NodeGetInfo", {}, o);
  nodeGetCapabilities = (o?: CallOptions) => this.call<T.NodeGetCapabilitiesResponse>("Node", "NodeGetCapabilities", {}, o);
  nodePublishVolume = (r: T.NodePublishVolumeRequest, o?: CallOptions) => this.call<object>("Node", "NodePublishVolume", r, o);
  nodeUnpublishVolume = (r: T.NodeUnpublishVolumeRequest, o?: CallOptions) => this.call<object>("Node", "NodeUnpublishVolume", r, o);
  nodeGetVolumeStats = (r: T.NodeGetVolumeStatsRequest, o?: CallOptions) => this.call<T.NodeGetVolumeStatsResponse>("Node", "NodeGetVolumeStats", r, o);

  close(): void {
    for (const c of Object.values(this.clients)) c.close();
  }
}

const NO_CONNECTION = /No connection established|ECONNREFUSED|ENOENT|Connection dropped/;

/**
 * The HwError of a failed call: the server's code, and — when the server is ours — its reason and hint from
 * the trailers (src/csi/server.ts). A foreign driver's failure gets the reason "CsiError"; a driver that does not
 * answer at all, "CsiUnavailable".
 */
export function errorOf(err: grpc.ServiceError): HwError {
  const code = CODE_NAMES.get(err.code) ?? "UNKNOWN";
  const reason = err.metadata?.get(REASON_TRAILER)[0];
  // grpc's own UNAVAILABLE when the driver's socket does not answer (it is down or restarting): no server said it.
  if (err.code === grpc.status.UNAVAILABLE && !reason && NO_CONNECTION.test(err.details ?? ""))
    return new HwError("UNAVAILABLE", "CsiUnavailable", `the CSI driver does not answer: ${err.details}`, { cause: err, hint: "is the driver running?" });
  const rawHint = err.metadata?.get(HINT_TRAILER)[0];
  const hint = typeof rawHint === "string" ? decodeURIComponent(rawHint) : undefined;
  let message = err.details || err.message;
  if (hint && message.endsWith(` (${hint})`)) message = message.slice(0, -(hint.length + 3));
  return new HwError(code, typeof reason === "string" && reason ? reason : "CsiError", message, { cause: err, ...(hint ? { hint } : {}) });
}

/** A client for the CSI driver serving `socketPath`. Waits (up to timeoutMs) until the socket answers. */
export async function connectCsi(socketPath: string, o: { timeoutMs?: number; callTimeoutMs?: number } = {}): Promise<CsiClient> {
  const c = new CsiClient(socketPath, o.callTimeoutMs);
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  const identity = (c as unknown as { clients: Record<CsiServiceName, grpc.Client> }).clients.Identity;
  try {
    await new Promise<void>((resolve, reject) => identity.waitForReady(deadline, (err) => (err ? reject(err) : resolve())));
  } catch (e) {
    c.close();
    throw new HwError("UNAVAILABLE", "CsiUnavailable", `no CSI driver answers on ${socketPath}`, { cause: e, hint: "is the driver running?" });
  }
  return c;
}
