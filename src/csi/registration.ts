// Kubelet plugin registration (pluginregistration v1, the repository's proto/pluginregistration.proto), both sides:
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
import { PROTO_DIR } from "./proto.ts";

export const REGISTRATION_PROTO_PATH = path.join(PROTO_DIR, "pluginregistration.proto");
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

export interface RegistrationSet {
  /** driver → the registration server currently serving it. */
  servers(): Map<string, RegistrationServer>;
  stop(): Promise<void>;
}

/**
 * What csi-node-driver-registrar does, for every driver a process serves, without the sidecar: one
 * registration socket per driver in the kubelet's plugin registry (`<kubelet root>/plugins_registry`),
 * naming the CSI socket as the kubelet dials it. When the kubelet reports a failed registration the
 * upstream registrar exits and its restarted container serves a fresh socket, which the kubelet's plugin
 * watcher registers again; here the socket is served afresh after `retryMs` (same effect, no restart).
 */
export async function serveRegistrations(o: {
  registrationDir: string;
  /** driver name → its CSI socket (absolute, as the kubelet sees it). */
  drivers: Record<string, string>;
  retryMs?: number;
  log?: { info(o: object, m: string): void; error(o: object, m: string): void };
}): Promise<RegistrationSet> {
  if (!fs.existsSync(o.registrationDir) || !fs.statSync(o.registrationDir).isDirectory()) {
    throw new HwError("FAILED_PRECONDITION", "NoRegistrationDir", `plugin registration directory ${o.registrationDir} does not exist`, {
      hint: "point --plugin-registration-dir at the kubelet's plugins_registry (<kubelet root-dir>/plugins_registry), mounted from the host",
    });
  }
  const servers = new Map<string, RegistrationServer>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const serve = async (driver: string, endpoint: string): Promise<void> => {
    const srv = await startRegistrationServer({
      registrationDir: o.registrationDir,
      driver,
      endpoint,
      onStatus: (s) => {
        if (s.plugin_registered) {
          o.log?.info({ driver, endpoint, socket: srv.socketPath }, "registered with the kubelet");
          return;
        }
        o.log?.error({ driver, error: s.error }, "the kubelet refused the registration; serving the registration socket afresh");
        const t = setTimeout(() => {
          timers.delete(t);
          if (stopped || servers.get(driver) !== srv) return;
          void srv
            .stop()
            .then(() => (stopped ? undefined : serve(driver, endpoint)))
            .catch((e: unknown) => o.log?.error({ driver, err: String(e) }, "registration socket not served again"));
        }, o.retryMs ?? 5000);
        timers.add(t);
      },
    });
    servers.set(driver, srv);
  };
  try {
    for (const [driver, endpoint] of Object.entries(o.drivers)) await serve(driver, endpoint);
  } catch (e) {
    for (const s of servers.values()) await s.stop();
    throw e;
  }
  return {
    servers: () => servers,
    stop: async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      for (const s of servers.values()) await s.stop();
    },
  };
}

/**
 * The kubelet's plugin watcher, one pass: every socket in `registrationDir` (names starting with "." are
 * ignored, as the kubelet does) not registered yet goes through `registerPlugin`. Returns the plugins
 * registered in this pass; a socket that fails is logged and tried again on the next pass.
 */
export async function discoverPlugins(
  registrationDir: string,
  known: Set<string>,
  register: (info: PluginInfo) => Promise<void>,
  log?: { warn(o: object, m: string): void },
): Promise<PluginInfo[]> {
  const out: PluginInfo[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(registrationDir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    const p = path.join(registrationDir, n);
    if (n.startsWith(".") || known.has(p)) continue;
    try {
      if (!fs.lstatSync(p).isSocket()) continue;
      out.push(await registerPlugin(p, register));
      known.add(p);
    } catch (e) {
      log?.warn({ socket: p, err: (e as Error).message }, "plugin not registered; trying again");
    }
  }
  return out;
}
