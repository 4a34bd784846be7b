// Kubelet plugin registration (pluginregistration v1, proto/pluginregistration.proto), both sides:
// - `startRegistrationServer`: what csi-node-driver-registrar does for a driver — serves
//   `<registrationDir>/<driver>-reg.sock` answering GetInfo {type CSIPlugin, name, endpoint, versions} and
//   recording the kubelet's NotifyRegistrationStatus.
// - `registerPlugin`: what the kubelet's plugin watcher does for a socket it finds — GetInfo, check the type
//   and versions, call `register` (for CSI: NodeGetInfo on the endpoint), NotifyRegistrationStatus.
// The node agent can serve registration itself where no registrar sidecar runs; the embedded kubelet role can
// discover drivers the way a kubelet does.

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import fs from "node:fs";
import path from "node:path";
import { HwError } from "../api/errors.ts";

export const REGISTRATION_PROTO_PATH = path.join(import.meta.dirname, "proto", "pluginregistration.proto");
export const CSI_PLUGIN_TYPE = "CSIPlugin";
export const CSI_SUPPORTED_VERSIONS = ["1.0.0"];

export interface PluginInfo {
  type: string;
  name: string;
  endpoint: string;
  supported_versions: string[];
}
export interface RegistrationStatus {
  plugin_registered: boolean;
  error: string;
}

let pkg: grpc.ServiceClientConstructor | undefined;
function registrationService(): grpc.ServiceClientConstructor {
  if (pkg) return pkg;
  const def = protoLoader.loadSync(REGISTRATION_PROTO_PATH, { keepCase: true, defaults: true });
  pkg = (grpc.loadPackageDefinition(def) as unknown as { pluginregistration: { Registration: grpc.ServiceClientConstructor } }).pluginregistration.Registration;
  return pkg;
}

/** The socket a registrar serves for `driver` in the kubelet's registration directory. */
export const registrationSocket = (registrationDir: string, driver: string) => path.join(registrationDir, `${driver}-reg.sock`);

export interface RegistrationServer {
  socketPath: string;
  /** The last status the kubelet reported (undefined until it has). */
  status(): RegistrationStatus | undefined;
  stop(): Promise<void>;
}

export async function startRegistrationServer(o: {
  registrationDir: string;
  driver: string;
  endpoint: string;
  versions?: string[];
  onStatus?: (s: RegistrationStatus) => void;
}): Promise<RegistrationServer> {
  if (!path.isAbsolute(o.endpoint))
    throw new HwError("INVALID_ARGUMENT", "Invalid", `registration endpoint ${o.endpoint} must be an absolute path (the CSI socket as the kubelet sees it)`);
  const socketPath = registrationSocket(o.registrationDir, o.driver);
  try {
    if (fs.lstatSync(socketPath).isSocket())
      fs.unlinkSync(socketPath); // a predecessor's stale socket
    else throw new HwError("FAILED_PRECONDITION", "NotASocket", `${socketPath} exists and is not a socket`, { hint: "remove it" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  let last: RegistrationStatus | undefined;
  const server = new grpc.Server();
  server.addService(registrationService().service, {
    GetInfo: (_call: grpc.ServerUnaryCall<unknown, PluginInfo>, cb: grpc.sendUnaryData<PluginInfo>) =>
      cb(null, { type: CSI_PLUGIN_TYPE, name: o.driver, endpoint: o.endpoint, supported_versions: o.versions ?? CSI_SUPPORTED_VERSIONS }),
    NotifyRegistrationStatus: (call: grpc.ServerUnaryCall<RegistrationStatus, object>, cb: grpc.sendUnaryData<object>) => {
      last = { plugin_registered: call.request.plugin_registered, error: call.request.error };
      o.onStatus?.(last);
      cb(null, {});
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  return {
    socketPath,
    status: () => last,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          fs.rmSync(socketPath, { force: true });
          resolve();
        });
      }),
  };
}

const unary = <Req, Res>(client: grpc.Client, method: string, req: Req, deadlineMs: number) =>
  new Promise<Res>((resolve, reject) =>
    (client as any)[method](req, { deadline: Date.now() + deadlineMs }, (e: grpc.ServiceError | null, res: Res) => (e ? reject(e) : resolve(res))),
  );

/**
 * The kubelet's side for one registration socket: GetInfo; a CSIPlugin supporting a version we speak is
 * handed to `register` (which should dial its endpoint, e.g. NodeGetInfo); the outcome is reported back with
 * NotifyRegistrationStatus. Returns the plugin's info; throws (after notifying) when registration failed.
 */
export async function registerPlugin(socketPath: string, register: (info: PluginInfo) => Promise<void>, deadlineMs = 10_000): Promise<PluginInfo> {
  const Client = registrationService();
  const client = new Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), { "grpc.default_authority": "localhost" });
  try {
    const info = await unary<object, PluginInfo>(client, "GetInfo", {}, deadlineMs);
    let error = "";
    if (info.type !== CSI_PLUGIN_TYPE) error = `plugin type ${JSON.stringify(info.type)} is not ${CSI_PLUGIN_TYPE}`;
    else if (!info.name) error = "plugin has no name";
    else if (!info.supported_versions.some((v) => CSI_SUPPORTED_VERSIONS.includes(v) || v.startsWith("1.")))
      error = `plugin ${info.name} supports none of ${CSI_SUPPORTED_VERSIONS.join(", ")} (it offers ${info.supported_versions.join(", ") || "none"})`;
    if (!error) {
      try {
        await register(info);
      } catch (e) {
        error = `registering ${info.name} at ${info.endpoint} failed: ${(e as Error).message}`;
      }
    }
    await unary(client, "NotifyRegistrationStatus", { plugin_registered: !error, error }, deadlineMs);
    if (error) throw new HwError("FAILED_PRECONDITION", "PluginRegistrationFailed", error, { hint: `check the registrar of ${socketPath}` });
    return info;
  } finally {
    client.close();
  }
}
