// What every hwameictl command shares: global flags, the kubeconfig lookup, typed clients, CSI socket
// lookup, and the "unknown X" errors that list the valid choices.
//
// Kubeconfig: --kubeconfig, else the dev cluster's (<--state-dir>/kubeconfig, default .state/cluster, when
// it exists), else $KUBECONFIG, in-cluster, ~/.kube/config (src/kube/config.ts).
// CSI sockets: --csi-socket / --node-csi-socket, else the dev cluster's <state>/controller/<driver>.sock
// and <state>/nodes/<node>/<driver>.sock.

import { existsSync } from "node:fs";
import { HwError, invalid, notFound } from "../../api/errors.ts";
import { Drivers } from "../../api/names.ts";
import type { CoreNode as CoreNodeShape } from "../../api/core.ts";
import { STORAGE_CLASS, type StorageClass } from "../../kube/resources.ts";
import { layoutOf, controllerSocket, nodeSocket, type Layout } from "../../devcluster/layout.ts";
import { DEFAULT_STATE_DIR } from "../../devcluster/options.ts";
import { KubeClient, type ResourceClient } from "../../kube/client.ts";
import { loadKubeConfig } from "../../kube/config.ts";
import { hwameistorClients, type ClusterObject, type HwameistorClients } from "../../kube/hwameistor.ts";
import type { KubeObject, ResourceDescriptor } from "../../kube/types.ts";
import { parseOutputFormat, print, type OutputFormat, type View } from "../print.ts";

export interface GlobalOpts {
  kubeconfig?: string;
  output?: string;
  stateDir?: string;
  timeout?: string;
  debug?: boolean;
}

export type { Ld, Ldc, Ldn, Ldv, Lsn, Lv, Lvr } from "../../kube/hwameistor.ts";
export type Hmc = ClusterObject;
export type Sc = StorageClass & KubeObject;
export type CoreNode = CoreNodeShape & KubeObject;

export const PERSISTENT_VOLUME: ResourceDescriptor = { group: "", version: "v1", plural: "persistentvolumes", kind: "PersistentVolume", namespaced: false };

export type DriverShort = "lvm" | "disk";
export const driverShort = (provisioner: string): DriverShort | undefined =>
  provisioner === Drivers.Lvm ? "lvm" : provisioner === Drivers.Disk ? "disk" : undefined;

export class Ctl {
  readonly format: OutputFormat;
  readonly layout: Layout;
  readonly timeoutMs: number;
  private kc?: KubeClient;
  private typed?: HwameistorClients;
  kubeconfigSource = "";

  constructor(
    readonly g: GlobalOpts,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {
    this.format = parseOutputFormat(g.output);
    this.layout = layoutOf(g.stateDir ?? process.env.HWAMEISTOR_STATE_DIR ?? DEFAULT_STATE_DIR);
    const t = Number(g.timeout ?? "120");
    if (!Number.isFinite(t) || t <= 0) throw invalid(`--timeout ${JSON.stringify(g.timeout)} must be a positive number of seconds`);
    this.timeoutMs = t * 1000;
  }

  get client(): KubeClient {
    if (!this.kc) {
      const devKc = existsSync(this.layout.kubeconfig) ? this.layout.kubeconfig : undefined;
      const loaded = loadKubeConfig({ kubeconfigPath: this.g.kubeconfig ?? devKc });
      this.kubeconfigSource = this.g.kubeconfig ? `--kubeconfig ${this.g.kubeconfig}` : devKc ? `dev cluster ${devKc}` : loaded.source;
      this.kc = new KubeClient(loaded.kubeConfig, { userAgent: "hwameictl", timeoutMs: 15_000 });
      if (this.g.debug) process.stderr.write(`hwameictl: kubeconfig ${this.kubeconfigSource}, API server ${this.kc.transport.server}\n`);
    }
    return this.kc;
  }

  /** The project's typed clients (src/kube/hwameistor.ts: `ctl.c.lv`, `ctl.c.node`, …), made on first use. */
  get c(): HwameistorClients {
    return (this.typed ??= hwameistorClients(this.client));
  }
  get sc(): ResourceClient<Sc> {
    return this.client.forKind<Sc>(STORAGE_CLASS);
  }
  get pv(): ResourceClient<KubeObject & { spec?: any }> {
    return this.client.forKind(PERSISTENT_VOLUME);
  }

  /** The Node, or NOT_FOUND listing the nodes there are. */
  async requireNode(name: string): Promise<CoreNode> {
    const nodes = (await this.c.node.list()).items;
    const n = nodes.find((x) => x.metadata?.name === name);
    if (n) return n;
    const names = nodes.map((x) => x.metadata!.name!).sort();
    throw notFound(`node ${JSON.stringify(name)}`, names.length ? `the nodes are: ${names.join(", ")}` : "the cluster has no nodes yet");
  }

  /** The StorageClass, or NOT_FOUND listing HwameiStor's classes. */
  async requireStorageClass(name: string): Promise<Sc> {
    const all = (await this.sc.list()).items;
    const sc = all.find((x) => x.metadata?.name === name);
    if (sc) {
      if (!driverShort(sc.provisioner)) {
        throw invalid(`StorageClass ${name} uses provisioner ${sc.provisioner}, not a HwameiStor driver`, {
          hint: `use a class of ${Drivers.Lvm} or ${Drivers.Disk}`,
        });
      }
      return sc;
    }
    const ours = all
      .filter((x) => driverShort(x.provisioner))
      .map((x) => x.metadata!.name!)
      .sort();
    throw notFound(
      `StorageClass ${JSON.stringify(name)}`,
      ours.length
        ? `the HwameiStor StorageClasses are: ${ours.join(", ")}`
        : "there is no HwameiStor StorageClass yet: they appear once a pool has capacity (see `hwameictl pool list`)",
    );
  }

  controllerSocket(driver: DriverShort, flag?: string): string {
    return this.socket(flag ?? controllerSocket(this.layout, driver), flag ? "--csi-socket" : `the dev cluster's ${driver} controller`);
  }

  nodeSocket(node: string, driver: DriverShort, flag?: string): string {
    return this.socket(flag ?? nodeSocket(this.layout, node, driver), flag ? "--node-csi-socket" : `the ${driver} node service of ${node}`);
  }

  private socket(path: string, what: string): string {
    if (existsSync(path)) return path;
    throw new HwError("UNAVAILABLE", "NoCsiSocket", `no CSI socket at ${path} (${what})`, {
      hint: `is the cluster up (\`hwameistor cluster status --state-dir ${this.layout.stateDir}\`)? Outside a dev cluster pass the socket with --csi-socket / --node-csi-socket`,
    });
  }

  print(view: View): void {
    print(view, this.format, this.out);
  }
}

export const conditionStatus = (n: CoreNode | undefined, type: string): string => n?.status?.conditions?.find((c) => c.type === type)?.status ?? "Unknown";

/** DNS-1123 subdomain: what Kubernetes accepts as an object name. */
export function assertObjectName(name: string, what: string): void {
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
    throw invalid(`${what} ${JSON.stringify(name)} is not a valid name`, {
      hint: "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
    });
  }
}
