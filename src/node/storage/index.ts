// The local-storage part of the node agent: picks the pool engine (`--engine auto|lvm|file`), brings back
// every pool and replica from persisted state (activateAll), then runs the LocalStorageNode reconciler
// (pools from claims, status), the LocalVolumeReplica reconciler and the lvm.hwameistor.io CSI node service.
//
// Data plane independence: stop() ends the reconcilers and the CSI server ONLY. It never unmounts a pool,
// detaches a replica's loop device or touches a published volume; those are kernel objects that keep serving
// I/O while the agent is down or restarting. The next start's activateAll() converges (idempotent: attached
// loops are reused, links re-pointed, leftovers of interrupted creates removed).

import { InformerFactory } from "../../kube/informer-factory.ts";
import { nodeReplicas } from "./replicas.ts";
import { join } from "node:path";
import type { EngineChoice, StorageEngine } from "../engines/engine.ts";
import { selectEngine } from "../engines/select.ts";
import type { PoolFsType } from "../engines/file/pool-fs.ts";
import type { NodeContext, Service } from "../context.ts";
import { startLvmDriverNode } from "../csi/lvm/index.ts";
import { volumeSyncController } from "../migrate/sync.ts";
import { hwameistorClients } from "../../kube/hwameistor.ts";
import { storageNodeController } from "./node/reconciler.ts";
import { qosController } from "./qos/reconciler.ts";
import { replicationController } from "../dataplane/reconciler.ts";
import { replicaController, type ReplicaQosHook } from "./replica/reconciler.ts";
import { snapshotControllers } from "./snapshot/reconciler.ts";
import { thinPoolClaimNodeController } from "./thin-pool-claim/reconciler.ts";
import { diskReplaceController } from "./disk-replace/reconciler.ts";

export interface LocalStorageOptions {
  /** `--engine` (default auto). */
  engine?: EngineChoice;
  /** `--file-fs`: the file engine's filesystem for new pools (default btrfs). */
  fileFs?: PoolFsType;
  /** `--storage-ip`. */
  storageIP?: string;
  /** Replica devPath root (default /dev: `/dev/LocalStorage_Pool<Class>/<volume>`, the original's LV path). */
  devLinkRoot?: string;
  /** A ready engine (tests); otherwise selected from `engine`. */
  engineInstance?: { engine: StorageEngine; reason: string };
  /** LocalStorageNode status refresh period (default 15 s). */
  refreshMs?: number;
  /** Serve lvm.sock (default true). */
  csi?: boolean;
  qos?: ReplicaQosHook;
  /** `--dataplane-socket`: the native data plane's control socket; replicated volumes go through it. */
  dataplaneSocket?: string;
}

export interface LocalStorage extends Service {
  engine: StorageEngine;
  engineReason: string;
  /** Milliseconds activateAll() took at start, and what it did. */
  activation: { ms: number; pools: number; activated: number; cleaned: number; errors: string[] };
  socketPath?: string;
}

export async function startLocalStorage(ctx: NodeContext, o: LocalStorageOptions = {}): Promise<LocalStorage> {
  let sel: { engine: StorageEngine; reason: string };
  if (o.engineInstance) sel = o.engineInstance;
  else {
    const s = await selectEngine(o.engine ?? "auto", {
      file: { stateDir: ctx.stateDir, devLinkRoot: o.devLinkRoot, fsType: o.fileFs },
      lvm: { stateDir: ctx.stateDir },
    });
    sel = { engine: s.engine, reason: s.reason };
  }
  const { engine, reason } = sel;
  const t0 = Date.now();
  const report = await engine.activateAll();
  const activation = {
    ms: Date.now() - t0,
    pools: report.pools.length,
    activated: report.activated.length,
    cleaned: report.cleaned.length,
    errors: report.errors.map((e) => `${e.object}: ${e.message}`),
  };
  ctx.log.info({ engine: engine.kind, reason, ...activation }, "local storage activated");

  const c = hwameistorClients(ctx.client);
  // One informer per kind for the storage parts, shared with the agent's disk manager (ctx.informers), and of
  // LocalVolumeReplicas only this node's (replicas.ts).
  const informers = ctx.informers ?? new InformerFactory(ctx.client, { log: ctx.log });
  const replicas = await nodeReplicas(ctx, c, informers);
  const nodeCtlRef: { ctl?: { enqueue(k: string): void } } = {};
  const replication = o.dataplaneSocket
    ? replicationController({
        ctx,
        c,
        engine,
        socketPath: o.dataplaneSocket,
        devLinkRoot: o.devLinkRoot ?? "/dev",
        onStatusChange: () => nodeCtlRef.ctl?.enqueue(ctx.nodeName),
        replicas,
        informers,
      })
    : undefined;
  const nodeCtl = storageNodeController({
    ctx,
    c,
    engine,
    engineReason: reason,
    storageIP: o.storageIP,
    activationErrors: activation.errors,
    refreshMs: o.refreshMs,
    informers,
    ...(replication ? { replication: () => replication.status() } : {}),
  });
  nodeCtlRef.ctl = nodeCtl;
  // A replica, snapshot or pool changed: a status pass at once (a burst collapses in the work queue).
  const poolChanged = () => nodeCtl.enqueue(ctx.nodeName);
  // IO limits (§7): the QoS reconciler applies them; every replica pass wakes it through the hook.
  const qosCtl = o.qos ? undefined : qosController({ ctx, c, replicas, informers });
  const qosHook = o.qos ?? (async (lvr: { spec?: { volumeName?: string } }) => qosCtl?.enqueueVolume(lvr.spec?.volumeName ?? ""));
  const replicaCtl = replicaController({
    ctx,
    c,
    engine,
    onPoolChange: poolChanged,
    qos: qosHook,
    replicas,
    ...(replication ? { ha: replication } : {}),
  });
  const parts: Service[] = [];
  const stopAll = async () => {
    for (const p of [...parts].reverse()) await p.stop().catch((e: unknown) => ctx.log.warn({ err: String(e) }, "local storage: stop failed"));
    if (!ctx.informers) await informers.stop(); // a shared factory is the agent's to stop (its parts' views are released above)
  };
  let socketPath: string | undefined;
  try {
    if (replication) {
      // Before the replica reconciler: it asks which volumes this part manages.
      await replication.start();
      parts.push(replication);
    }
    await nodeCtl.start();
    parts.push(nodeCtl);
    nodeCtl.enqueue(ctx.nodeName);
    await replicaCtl.start();
    parts.push(replicaCtl);
    if (qosCtl) {
      await qosCtl.start();
      parts.push(qosCtl);
    }
    const snapCtl = snapshotControllers({ ctx, c, engine, onPoolChange: poolChanged });
    await snapCtl.start();
    parts.push(snapCtl);
    // Offline migration copies (src/node/migrate/): served on the storage IP, 127.0.0.1 where none is set
    // (one-machine dev cluster without --netns).
    const syncCtl = volumeSyncController({
      ctx,
      replicas,
      storageIP: async () => o.storageIP || (await c.lsn.get(ctx.nodeName))?.spec?.storageIP || "127.0.0.1",
    });
    await syncCtl.start();
    parts.push(syncCtl);
    const tpcCtl = thinPoolClaimNodeController({ ctx, c, engine, onPoolChange: poolChanged });
    await tpcCtl.start();
    parts.push(tpcCtl);
    const replaceCtl = diskReplaceController({ ctx, c, engine, onPoolChange: poolChanged });
    await replaceCtl.start();
    parts.push(replaceCtl);
    if (o.csi ?? true) {
      const csi = await startLvmDriverNode(ctx, c, replicas);
      socketPath = csi.socketPath;
      parts.push(csi);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll());
  ctx.signal.addEventListener("abort", () => void stop(), { once: true });
  return { engine, engineReason: reason, activation, socketPath, stop };
}

/** Default replica devPath root for a state dir: /dev for the production default, else `<stateDir>/dev`. */
export const devLinkRootFor = (stateDir: string, defaultStateDir: string): string => (stateDir === defaultStateDir ? "/dev" : join(stateDir, "dev"));
