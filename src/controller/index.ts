// The `hwameistor controller` process: cluster-wide reconcilers and the CSI controller services.
// - CSI: disk.hwameistor.io on `<csiSocketDir>/disk.sock` and lvm.hwameistor.io on `<csiSocketDir>/lvm.sock`,
//   served by EVERY replica (the external-provisioner sidecar elects its own leader, and every RPC is
//   idempotent by name).
// - Reconcilers (LocalVolume, LocalVolumeGroup) run only in the replica holding the Lease
//   `hwameistor-local-storage-master` in `leaderElectionNamespace` (default `hwameistor`), as the original.
//   Losing the lease stops them; winning it again starts fresh ones (a stopped Controller cannot restart).

import os from "node:os";
import path from "node:path";
import { Leases } from "../api/names.ts";
import { DiskDriver, LvmDriver } from "../csi/capabilities.ts";
import { diskControllerService } from "./csi/disk/controller.ts";
import { identityService } from "../csi/identity.ts";
import { lvmControllerService } from "./csi/lvm/controller.ts";
import { PlacementCache } from "./csi/lvm/placement-cache.ts";
import { hwameistorClients } from "../kube/hwameistor.ts";
import { startCsiServer } from "../csi/server.ts";
import { KubeClient } from "../kube/client.ts";
import { InformerFactory } from "../kube/informer-factory.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { LeaderElector } from "../kube/leader-election.ts";
import { NAMESPACE } from "../kube/resources.ts";
import { isNotFound } from "../kube/transport.ts";
import { silentLogger, type Logger } from "../kube/types.ts";
import type { Service } from "../kube/types.ts";
import { auditorController } from "./auditor/reconciler.ts";
import { expandController } from "./expand/reconciler.ts";
import { thinPoolClaimController } from "./thin-pool-claim/reconciler.ts";
import { localVolumeController } from "./local-volume/reconciler.ts";
import { convertController } from "./convert/reconciler.ts";
import { snapshotControllers } from "./snapshot/reconciler.ts";
import { resizePolicyController } from "./resize-policy/reconciler.ts";
import { volumeGroupController } from "./volume-group/reconciler.ts";
import { nodeStateController } from "./node-state/reconciler.ts";
import { migrateController } from "./migrate/reconciler.ts";
import { evictorController } from "./evictor/reconciler.ts";
import { failoverController } from "./failover/reconciler.ts";
import { rebalanceController } from "./rebalance/reconciler.ts";

export interface ControllerOptions {
  /** --kubeconfig; falls back to $KUBECONFIG, in-cluster, ~/.kube/config. */
  kubeconfig?: string;
  /** A ready client instead of a kubeconfig (tests, dev cluster). */
  client?: KubeClient;
  /** Directory of the controller's CSI sockets: <csiSocketDir>/disk.sock and lvm.sock. */
  csiSocketDir: string;
  log?: Logger;
  /** Upper bound of CreateVolume/DeleteVolume waits when the caller sets no deadline. */
  maxWaitMs?: number;
  /** --leader-election-namespace (default "hwameistor"). */
  leaderElectionNamespace?: string;
  /** --leader-election-id: this replica's identity (default `<hostname>_<pid>`). */
  identity?: string;
  /** --leader-election=false runs the reconcilers without a Lease (one replica only!). */
  leaderElection?: boolean;
  /** Lease timing (tests shorten them). */
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** LocalVolume reconciler workers (default 4). */
  workers?: number;
  /** How long a volume-group entry may name a missing LocalVolume before it is dropped (default 120 s). */
  groupOrphanGraceMs?: number;
  /** Node-state check period (worker leases → LocalStorageNode/LocalDiskNode Offline; default 20 s). */
  nodeStatePeriodMs?: number;
  /** --max-migrate-count: LocalVolumeMigrates running at once (default 1). */
  maxMigrateCount?: number;
  /** Run the evictor (reference §4.3; default true). The original ships it as a Deployment of its own. */
  evictor?: boolean;
  /** Run the failover assistant (reference §4.5; default true). */
  failoverAssistant?: boolean;
}

export interface RunningController extends Service {
  diskSocketPath: string;
  lvmSocketPath: string;
  /** Whether this replica currently runs the reconcilers. */
  isLeader(): boolean;
}

/** Starts LocalVolume + LocalVolumeGroup reconcilers; resolves a stop function. */
async function startReconcilers(client: KubeClient, informers: InformerFactory, o: ControllerOptions, log: Logger): Promise<() => Promise<void>> {
  // Every reconciler reads the process's shared informers: one list + watch per kind, whatever reads it.
  const ro = { client, log, informers };
  const lv = localVolumeController({ ...ro, workers: o.workers });
  const lvg = volumeGroupController({ ...ro, orphanGraceMs: o.groupOrphanGraceMs });
  const lve = expandController(ro);
  const rp = resizePolicyController(ro);
  const tpc = thinPoolClaimController(ro);
  const mig = migrateController({ ...ro, maxMigrateCount: o.maxMigrateCount });
  const optional = [...(o.evictor === false ? [] : [evictorController(ro)]), ...(o.failoverAssistant === false ? [] : [failoverController(ro)])];
  const conv = convertController(ro);
  await Promise.all([lv.controller.start(), lvg.start(), lve.start(), rp.start(), tpc.start(), mig.start(), ...optional.map((c) => c.start()), conv.start()]);
  const snaps = snapshotControllers(ro);
  await snaps.start();
  // The auditor is not awaited: a kind it watches whose CRD is missing must not hold up the volume reconcilers.
  const auditor = auditorController(ro);
  void auditor.start();
  // The Cluster's spec.rebalance (off by default); not awaited either: the Cluster CRD may be absent (standalone).
  const rebalance = rebalanceController(ro);
  void rebalance.start();
  const nodeState = nodeStateController({ ...ro, periodMs: o.nodeStatePeriodMs });
  nodeState.start();
  log.info({}, "volume reconcilers running");
  return async () => {
    await nodeState.stop();
    await auditor.stop();
    await rebalance.stop();
    await snaps.stop();
    lv.stop();
    await Promise.all([lvg.stop(), lv.controller.stop(), lve.stop(), rp.stop(), tpc.stop(), mig.stop(), ...optional.map((c) => c.stop()), conv.stop()]);
  };
}

/** The Lease needs its namespace; in standalone mode nobody else creates it. */
async function ensureNamespace(client: KubeClient, ns: string, log: Logger): Promise<void> {
  const nsClient = client.forKind(NAMESPACE);
  try {
    if (await nsClient.get(ns)) return;
    await nsClient.create({ metadata: { name: ns } });
    log.info({ namespace: ns }, "namespace created for the leader-election Lease");
  } catch (e) {
    if (isNotFound(e) || (e as { code?: string }).code === "ALREADY_EXISTS") return;
    log.warn({ namespace: ns, err: String(e) }, "could not ensure the leader-election namespace");
  }
}

export async function startController(o: ControllerOptions): Promise<RunningController> {
  const log = o.log ?? silentLogger;
  const client = o.client ?? new KubeClient(loadKubeConfig({ kubeconfigPath: o.kubeconfig }).kubeConfig);
  const diskSocketPath = path.join(o.csiSocketDir, "disk.sock");
  const lvmSocketPath = path.join(o.csiSocketDir, "lvm.sock");
  const disk = await startCsiServer({
    socketPath: diskSocketPath,
    identity: identityService(DiskDriver),
    controller: diskControllerService({ client, log, maxWaitMs: o.maxWaitMs }),
    log,
  });
  // Placement's informer caches (LocalStorageNodes, LocalVolumes, groups): every replica serves CSI, so every
  // replica has them. Started now so that the first CreateVolume finds them synced (until then it lists).
  // One informer per kind for the whole process (CSI on every replica, the reconcilers on the leader): each kind
  // is listed and watched once, and the reconcilers of a new leader term find the CSI's caches already synced.
  const informers = new InformerFactory(client, { log });
  const placement = new PlacementCache(hwameistorClients(client), log, { informers });
  placement.start();
  const lvm = await startCsiServer({
    socketPath: lvmSocketPath,
    identity: identityService(LvmDriver),
    controller: lvmControllerService({ client, log, maxWaitMs: o.maxWaitMs, cache: placement }),
    log,
  }).catch(async (e: unknown) => {
    await disk.stop();
    throw e;
  });

  let leading = false;
  let stopReconcilers: (() => Promise<void>) | undefined;
  let elector: LeaderElector | undefined;
  if (o.leaderElection === false) {
    stopReconcilers = await startReconcilers(client, informers, o, log);
    leading = true;
  } else {
    const namespace = o.leaderElectionNamespace ?? "hwameistor";
    await ensureNamespace(client, namespace, log);
    elector = new LeaderElector({
      client,
      namespace,
      name: Leases.LocalStorageMaster,
      identity: o.identity ?? `${os.hostname()}_${process.pid}`,
      leaseDurationSeconds: o.leaseDurationSeconds,
      renewDeadlineMs: o.renewDeadlineMs,
      retryPeriodMs: o.retryPeriodMs,
      log,
      onStartedLeading: async (signal) => {
        leading = true;
        const stop = await startReconcilers(client, informers, o, log);
        if (signal.aborted) {
          await stop();
          return;
        }
        stopReconcilers = stop;
        await new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true }));
        stopReconcilers = undefined;
        leading = false;
        await stop();
        log.info({}, "volume reconcilers stopped (leadership lost or stopping)");
      },
    });
    elector.start();
  }

  return {
    diskSocketPath,
    lvmSocketPath,
    isLeader: () => leading,
    async stop() {
      await elector?.stop();
      await stopReconcilers?.();
      await Promise.all([disk.stop(), lvm.stop()]);
      await placement.stop();
      await informers.stop();
    },
  };
}
