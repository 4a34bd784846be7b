// The node agent: builds the NodeContext (client, event recorder, logger, state dir, CSI socket dir, stop
// signal) and starts each part with it — the node heartbeat when no kubelet manages the Node, the disk
// manager (src/node/disks) and the disk.hwameistor.io node driver (src/node/disk-volume). stop() ends them in
// reverse order. docs/disk-manager.md lists the flags.
import { mkdir } from "node:fs/promises";
import { invalid } from "../api/errors.ts";
import { join } from "node:path";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { EventRecorder } from "../kube/events.ts";
import { InformerFactory } from "../kube/informer-factory.ts";
import { NodeHeartbeat } from "../kube/node-lease.ts";
import { WorkerLeases } from "../kube/worker-lease.ts";
import { HWAMEISTOR_NAMESPACE, localDiskManagerWorkerLease, localStorageWorkerLease } from "../api/names.ts";
import { stderrLogger, type Logger } from "../kube/types.ts";
import { setRunLogger } from "../host/runner.ts";
import type { NodeContext, Service } from "./context.ts";
import { startDiskDriverNode } from "./disk-volume/index.ts";
import { parseDiskClass } from "./disks/discovery.ts";
import { startDiskManager, type DiskManager } from "./disks/manager.ts";
import { parseDeviceList } from "./disks/selector.ts";
import type { EngineChoice } from "./engines/engine.ts";
import { POOL_FS_TYPES, type PoolFsType } from "./engines/file/pool-fs.ts";
import { processMetrics, serveMetrics, type MetricsServer } from "../kube/metrics.ts";
import { VolumeIoMetrics } from "./metrics/volume-io.ts";
import { devLinkRootFor, startLocalStorage, type LocalStorage } from "./storage/index.ts";

export const DEFAULT_STATE_DIR = "/etc/hwameistor";
export const AGENT_COMPONENT = "hwameistor-node";

export interface NodeAgentOptions {
  nodeName: string;
  kubeconfig?: string;
  /** `--devices`: comma-separated device paths/globs or `file:<glob>` backing files; empty = every disk. */
  devices?: string;
  stateDir?: string;
  /** Default `<stateDir>/csi`. */
  csiSocketDir?: string;
  resyncSeconds?: number;
  /** `--disk-class HDD|SSD|NVMe`: the type of every disk this agent manages. */
  diskClass?: string;
  /** Register the Node and renew its Lease (standalone mode; off where a kubelet does it). Default true. */
  registerNode?: boolean;
  /** Worker Leases (§5.2): duration (default 30 s) and renew interval (default 15 s). */
  workerLeaseDurationSeconds?: number;
  workerLeaseRenewMs?: number;
  /** Node Lease / Ready heartbeat interval (default 10 s). */
  heartbeatIntervalMs?: number;
  /** /sys/block poll period (default 1000 ms; 0 = off). */
  pollMs?: number;
  smartIntervalSeconds?: number;
  /** Grace before a claim for a node without a LocalDiskNode is explained (default 10 s). */
  unknownNodeGraceSeconds?: number;
  /** Start the disk.hwameistor.io node driver (default true). */
  diskDriver?: boolean;
  /**
   * Start local storage: pools from local-storage claims, replicas, lvm.hwameistor.io node driver. Default
   * false here (library callers and tests that exercise only the disk manager opt in); the CLI defaults to true.
   */
  localStorage?: boolean;
  /** `--engine auto|lvm|file` (default auto). */
  engine?: EngineChoice;
  /** `--file-fs btrfs|xfs`: the file engine's filesystem for new pools (default btrfs). */
  fileFs?: PoolFsType;
  /** `--storage-ip`. */
  storageIP?: string;
  /** Replica devPath root; default /dev with the default state dir, else <stateDir>/dev (agents sharing a machine). */
  devLinkRoot?: string;
  /** `--dataplane-socket`: control socket of this node's data plane (replicated volumes, docs/replication.md). */
  dataplaneSocket?: string;
  /** `--metrics-port`: serve this process's /metrics (CSI latencies, reconciles, per-volume I/O); unset = off. */
  metricsPort?: number;
  /** `--metrics-host` (default 127.0.0.1). */
  metricsHost?: string;
  log?: Logger;
  /** A ready client (tests); otherwise built from `kubeconfig`. */
  client?: KubeClient;
}

export interface NodeAgent extends Service {
  ctx: NodeContext;
  disks: DiskManager;
  storage?: LocalStorage;
  /** The /metrics server when `metricsPort` was given. */
  metrics?: MetricsServer;
}

/** `--engine` and `--file-fs` name choices this build has (INVALID_ARGUMENT naming the flag otherwise). */
function checkStorageChoices(o: Pick<NodeAgentOptions, "engine" | "fileFs">): void {
  if (o.engine !== undefined && !["auto", "lvm", "file"].includes(o.engine))
    throw invalid(`--engine ${JSON.stringify(o.engine)} is not one of auto, lvm, file`);
  if (o.fileFs !== undefined && !POOL_FS_TYPES.includes(o.fileFs))
    throw invalid(`--file-fs ${JSON.stringify(o.fileFs)} is not one of ${POOL_FS_TYPES.join(", ")}`);
}

export async function startNodeAgent(o: NodeAgentOptions): Promise<NodeAgent> {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.nodeName)) {
    throw invalid(`--node-name ${JSON.stringify(o.nodeName)} is not a valid Kubernetes node name`);
  }
  const log = o.log ?? stderrLogger;
  const selector = parseDeviceList(o.devices);
  const diskClass = parseDiskClass(o.diskClass);
  const stateDir = o.stateDir ?? DEFAULT_STATE_DIR;
  const csiSocketDir = o.csiSocketDir ?? join(stateDir, "csi");
  await mkdir(stateDir, { recursive: true });
  await mkdir(csiSocketDir, { recursive: true });
  const client = o.client ?? new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeconfig }).kubeConfig, { userAgent: `${AGENT_COMPONENT}/${o.nodeName}` });
  setRunLogger((ev) => log.debug({ ...ev }, "host command"));
  const abort = new AbortController();
  const ctx: NodeContext = {
    nodeName: o.nodeName,
    client,
    recorder: new EventRecorder(client, { component: AGENT_COMPONENT, host: o.nodeName, log }),
    log,
    stateDir,
    csiSocketDir,
    signal: abort.signal,
    informers: new InformerFactory(client, { log }),
  };
  const parts: Array<{ name: string; svc: Service }> = [];
  const stopAll = async () => {
    abort.abort();
    for (const p of [...parts].reverse()) {
      await p.svc.stop().catch((e: unknown) => log.warn({ part: p.name, err: String(e) }, "stop failed"));
    }
    await ctx.informers?.stop();
  };
  try {
    if (o.registerNode ?? true) {
      const hb = new NodeHeartbeat({
        client,
        nodeName: o.nodeName,
        log,
        renewIntervalMs: o.heartbeatIntervalMs,
        statusIntervalMs: o.heartbeatIntervalMs,
      });
      await hb.start();
      parts.push({ name: "heartbeat", svc: hb });
    }
    const workerLeases = new WorkerLeases({
      client,
      namespace: HWAMEISTOR_NAMESPACE,
      names: [localDiskManagerWorkerLease(o.nodeName), ...(o.localStorage ? [localStorageWorkerLease(o.nodeName)] : [])],
      holder: o.nodeName,
      leaseDurationSeconds: o.workerLeaseDurationSeconds,
      renewIntervalMs: o.workerLeaseRenewMs,
      log,
    });
    await workerLeases.start();
    parts.push({ name: "worker-leases", svc: workerLeases });
    const disks = await startDiskManager(ctx, {
      selector,
      diskClass,
      resyncMs: (o.resyncSeconds ?? 30) * 1000,
      pollMs: o.pollMs,
      smartIntervalMs: o.smartIntervalSeconds !== undefined ? o.smartIntervalSeconds * 1000 : undefined,
      unknownNodeGraceMs: o.unknownNodeGraceSeconds !== undefined ? o.unknownNodeGraceSeconds * 1000 : undefined,
    });
    parts.push({ name: "disk-manager", svc: disks });
    if (o.diskDriver ?? true) parts.push({ name: "disk-driver", svc: await startDiskDriverNode(ctx) });
    let storage: LocalStorage | undefined;
    if (o.localStorage ?? false) {
      checkStorageChoices(o);
      storage = await startLocalStorage(ctx, {
        engine: o.engine,
        ...(o.fileFs ? { fileFs: o.fileFs } : {}),
        storageIP: o.storageIP,
        devLinkRoot: o.devLinkRoot ?? devLinkRootFor(stateDir, DEFAULT_STATE_DIR),
        ...(o.dataplaneSocket ? { dataplaneSocket: o.dataplaneSocket } : {}),
      });
      parts.push({ name: "local-storage", svc: storage });
    }
    let metrics: MetricsServer | undefined;
    if (o.metricsPort !== undefined) {
      if (storage) {
        const engine = storage.engine;
        const io = new VolumeIoMetrics({ nodeName: o.nodeName, listReplicas: () => engine.listReplicas(), registry: processMetrics.registry, log });
        io.start();
        parts.push({ name: "volume-io-metrics", svc: io });
      }
      metrics = await serveMetrics({ port: o.metricsPort, host: o.metricsHost, log });
      parts.push({ name: "metrics", svc: metrics });
    }
    log.info({ node: o.nodeName, stateDir, csiSocketDir, devices: o.devices ?? "(all)", metricsPort: metrics?.port }, "node agent started");
    let stopping: Promise<void> | undefined;
    return { ctx, disks, storage, metrics, stop: () => (stopping ??= stopAll()) };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
