// `hwameistor node`: the node agent (disk manager + disk.hwameistor.io node driver) until SIGTERM/SIGINT.
import type { Command } from "commander";
import { serve, serverCommand, type ServerFlags } from "./serve.ts";
import { parseMetricsPort } from "../kube/metrics.ts";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Drivers } from "../api/names.ts";
import { serveRegistrations } from "../csi/registration.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { DEFAULT_KUBELET_ROOT, startKubelet, type Kubelet } from "../kubelet/kubelet.ts";
import { DEFAULT_STATE_DIR, startNodeAgent } from "../node/agent.ts";
import { DISK_SOCKET_NAME } from "../node/disk-volume/index.ts";

const positiveInt = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, not ${v}`);
  return n;
};

interface NodeFlags extends ServerFlags {
  nodeName: string;
  devices?: string;
  stateDir: string;
  csiSocketDir?: string;
  resyncSeconds: number;
  diskClass?: string;
  registerNode: boolean;
  pollMs: number;
  smartIntervalSeconds: number;
  diskDriver: boolean;
  localStorage: boolean;
  engine: string;
  fileFs?: string;
  storageIp?: string;
  devLinkRoot?: string;
  dataplaneSocket?: string;
  metricsPort?: string;
  metricsHost?: string;
  runPods: boolean;
  kubeletRoot: string;
  pluginRegistrationDir?: string;
  kubeletKubeconfig?: string;
}

export function registerNodeCommand(program: Command): void {
  const cmd = serverCommand(program, "node", "run the node agent: disk discovery, LocalDisk/LocalDiskNode/claims/actions, disk CSI node driver")
    .requiredOption("--node-name <name>", "this node's name (the Node, LocalDiskNode and LocalDisk nodeName)")
    .option("--devices <list>", "comma-separated device paths or globs, or file:<glob> loop backing files (default: every disk)")
    .option("--state-dir <dir>", "node state: disk-pool links, volume records", DEFAULT_STATE_DIR)
    .option("--csi-socket-dir <dir>", "where disk.sock is served (default <state-dir>/csi)")
    .option("--resync-seconds <n>", "full disk rescan and resync period", positiveInt("--resync-seconds"), 30)
    .option("--disk-class <class>", "HDD|SSD|NVMe: the type of every disk this agent manages (dev cluster)")
    .option("--register-node", "register the core Node and renew its Lease (standalone / dev cluster)", true)
    .option("--no-register-node", "do not register the Node / renew its Lease (a kubelet does it)")
    .option("--poll-ms <n>", "/sys/block poll period, 0 = off (it stops once a kernel uevent arrives)", positiveInt("--poll-ms"), 1000)
    .option("--smart-interval-seconds <n>", "SMART check period", positiveInt("--smart-interval-seconds"), 6 * 3600)
    .option("--no-disk-driver", "do not serve the disk.hwameistor.io node driver")
    .option("--no-local-storage", "do not run local storage (pools, replicas, lvm.hwameistor.io node driver)")
    .option("--engine <engine>", "pool engine: auto (lvm where device-mapper works, else file) | lvm | file", "auto")
    .option(
      "--file-fs <fs>",
      "file engine: filesystem of new pools: btrfs (one filesystem over all the pool's disks) | xfs (one per disk, a volume on one disk; faster writes, docs/engines.md) (default btrfs)",
    )
    .option("--storage-ip <ipv4>", "this node's storage IP (default: LocalStorageNode spec, or Node annotation localstorage.hwameistor.io/storage-ipv4)")
    .option("--dev-link-root <dir>", "replica device links root (default /dev with the default state dir, else <state-dir>/dev)")
    .option("--dataplane-socket <path>", "control socket of this node's hwameistor-dataplane; without it the node reports replication unavailable")
    .option("--metrics-port <port>", "serve this agent's /metrics (CSI latencies, reconciles, per-volume I/O) on this port; unset = off")
    .option("--metrics-host <addr>", "address of the /metrics server", "127.0.0.1")
    .option(
      "--run-pods",
      "standalone / dev cluster: play the kubelet for pods bound to this node — mount their volumes and run their containers as host processes. SECURITY: whoever may create a pod may then run any command on this host as any user",
      false,
    )
    .option("--kubelet-root <dir>", "kubelet root for pod volume paths (plugins/kubernetes.io/csi/…, pods/<uid>/…)", DEFAULT_KUBELET_ROOT)
    .option(
      "--kubelet-kubeconfig <file>",
      "with --run-pods: the kubelet role's own credentials (a kubelet's, e.g. user system:node:<name>); default: the agent's",
    )
    .option(
      "--plugin-registration-dir <dir>",
      "register the drivers with the kubelet as csi-node-driver-registrar does: serve <dir>/<driver>-reg.sock (dir = the kubelet's <root-dir>/plugins_registry, mounted at the host's path); unset = a registrar sidecar does it. With --run-pods the kubelet role finds the drivers there too",
    );
  serve(
    cmd,
    async (o: NodeFlags, { log }) => {
      const agent = await startNodeAgent({
        nodeName: o.nodeName,
        kubeconfig: o.kubeconfig,
        devices: o.devices,
        stateDir: o.stateDir,
        csiSocketDir: o.csiSocketDir,
        resyncSeconds: o.resyncSeconds,
        diskClass: o.diskClass,
        registerNode: o.registerNode,
        pollMs: o.pollMs,
        smartIntervalSeconds: o.smartIntervalSeconds,
        diskDriver: o.diskDriver,
        localStorage: o.localStorage,
        engine: o.engine as "auto",
        ...(o.fileFs !== undefined ? { fileFs: o.fileFs as "btrfs" } : {}),
        storageIP: o.storageIp,
        devLinkRoot: o.devLinkRoot,
        ...(o.dataplaneSocket ? { dataplaneSocket: o.dataplaneSocket } : {}),
        metricsPort: parseMetricsPort(o.metricsPort),
        metricsHost: o.metricsHost,
        log,
      });
      // Registration before the kubelet role starts, so that role finds the sockets on its first pass.
      const drivers: Record<string, string> = {
        ...(o.diskDriver ? { [Drivers.Disk]: resolve(agent.ctx.csiSocketDir, DISK_SOCKET_NAME) } : {}),
        ...(agent.storage?.socketPath ? { [Drivers.Lvm]: resolve(agent.storage.socketPath) } : {}),
      };
      const registration = o.pluginRegistrationDir
        ? await serveRegistrations({ registrationDir: o.pluginRegistrationDir, drivers, log }).catch(async (e: unknown) => {
            await agent.stop();
            throw e;
          })
        : undefined;
      let kubelet: Kubelet | undefined;
      if (o.runPods) {
        const kubeletClient = o.kubeletKubeconfig
          ? new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeletKubeconfig }).kubeConfig, { userAgent: "hwameistor-kubelet" })
          : agent.ctx.client;
        const user = kubeletClient.kubeConfig.getCurrentUser();
        const token = user?.token ?? (user?.tokenFile ? readFileSync(user.tokenFile, "utf8").trim() : undefined);
        kubelet = await startKubelet({
          client: kubeletClient,
          nodeName: o.nodeName,
          root: o.kubeletRoot,
          csiSockets: {
            [Drivers.Disk]: join(agent.ctx.csiSocketDir, DISK_SOCKET_NAME),
            ...(agent.storage?.socketPath ? { [Drivers.Lvm]: agent.storage.socketPath } : {}),
          },
          hostIP: o.storageIp ?? "127.0.0.1",
          registrationDir: o.pluginRegistrationDir,
          token,
          log,
        }).catch(async (e: unknown) => {
          await registration?.stop();
          await agent.stop();
          throw e;
        });
      }
      const service = { stop: async () => (await kubelet?.stop(), await registration?.stop(), await agent.stop()) };
      const ready = {
        node: o.nodeName,
        ready: true,
        csiSocketDir: agent.ctx.csiSocketDir,
        engine: agent.storage?.engine.kind,
        lvmSocket: agent.storage?.socketPath,
        metricsPort: agent.metrics?.port,
        kubeletLogPort: kubelet?.logPort,
        registrationSockets: registration ? [...registration.servers().values()].map((r) => r.socketPath) : undefined,
      };
      return { service, ready };
    },
    (o) => ({ node: o.nodeName }),
  );
}
