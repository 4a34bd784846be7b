// `hwameistor exporter` (reference §8, docs/exporter.md): informers over the kinds the original's exporter
// reads, and an HTTP server answering GET /metrics with the cluster-state gauges of cluster-metrics.ts plus
// the exporter's own health.
//
// The API server may go away: the informers keep their last cache and retry with backoff (src/kube/informer.ts),
// /metrics keeps answering from that cache, and a probe every `probeIntervalMs` says how stale it is —
// hwameistor_exporter_api_up (0 while unreachable) and hwameistor_exporter_staleness_seconds (seconds since the
// API server last answered). Nothing here crashes on an unreachable or half-installed API (a kind whose CRD is
// missing stays unsynced and reports nothing).

import { Gauge, Registry } from "prom-client";
import { HWAMEISTOR_NAMESPACE, ObjectNames } from "../api/names.ts";
import { localDiskKind } from "../api/kinds/local-disk.ts";
import { localDiskVolumeKind } from "../api/kinds/local-disk-volume.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import { localVolumeConvertKind } from "../api/kinds/local-volume-convert.ts";
import { localVolumeExpandKind } from "../api/kinds/local-volume-expand.ts";
import { localVolumeMigrateKind } from "../api/kinds/local-volume-migrate.ts";
import { localVolumeReplicaKind } from "../api/kinds/local-volume-replica.ts";
import { localVolumeSnapshotKind } from "../api/kinds/local-volume-snapshot.ts";
import { localVolumeKind } from "../api/kinds/local-volume.ts";
import type { KubeClient } from "../kube/client.ts";
import { Informer } from "../kube/informer.ts";
import { processMetrics, serveMetrics, type MetricsServer } from "../kube/metrics.ts";
import { CONFIG_MAP } from "../kube/resources.ts";
import { silentLogger, type KubeObject, type Logger } from "../kube/types.ts";
import { CLUSTER_METRICS, clusterSamples, type ClusterSnapshot, type MetricKey } from "./cluster-metrics.ts";

export interface ExporterOptions {
  client: KubeClient;
  port: number;
  host?: string;
  /** Namespace of ConfigMap hwameistor-smart-result (default hwameistor). */
  namespace?: string;
  probeIntervalMs?: number;
  log?: Logger;
  /** Clock (tests). */
  now?: () => number;
}

export interface Exporter {
  port: number;
  registry: Registry;
  /** Resolves once every informer has listed once (or the signal aborts). */
  waitForSync(signal?: AbortSignal): Promise<void>;
  snapshot(): ClusterSnapshot;
  stop(): Promise<void>;
}

/** The exporter's own health gauges (docs/exporter.md). */
export const EXPORTER_HEALTH_METRICS = {
  apiUp: "hwameistor_exporter_api_up",
  staleness: "hwameistor_exporter_staleness_seconds",
  lastContact: "hwameistor_exporter_last_contact_timestamp_seconds",
  informerSynced: "hwameistor_exporter_informer_synced",
} as const;

type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string> };

export async function startExporter(o: ExporterOptions): Promise<Exporter> {
  const log = o.log ?? silentLogger;
  const now = o.now ?? Date.now;
  const c = o.client;
  const inf = (def: Parameters<KubeClient["forKind"]>[0], name: string, extra: Record<string, unknown> = {}) =>
    new Informer<Obj>(c.forKind<Obj>(def), { log, name, backoff: { initialMs: 500, maxMs: 10_000 }, ...extra });
  const informers = {
    localdisks: inf(localDiskKind, "localdisks"),
    localstoragenodes: inf(localStorageNodeKind, "localstoragenodes"),
    localvolumes: inf(localVolumeKind, "localvolumes"),
    localdiskvolumes: inf(localDiskVolumeKind, "localdiskvolumes"),
    localvolumereplicas: inf(localVolumeReplicaKind, "localvolumereplicas"),
    localvolumemigrates: inf(localVolumeMigrateKind, "localvolumemigrates"),
    localvolumeconverts: inf(localVolumeConvertKind, "localvolumeconverts"),
    localvolumeexpands: inf(localVolumeExpandKind, "localvolumeexpands"),
    localvolumesnapshots: inf(localVolumeSnapshotKind, "localvolumesnapshots"),
    smartresults: inf(CONFIG_MAP, "configmaps(smart)", {
      namespace: o.namespace ?? HWAMEISTOR_NAMESPACE,
      fieldSelector: `metadata.name=${ObjectNames.SmartResultConfigMap}`,
    }),
  };
  const snapshot = (): ClusterSnapshot => ({
    localDisks: informers.localdisks.list(),
    localStorageNodes: informers.localstoragenodes.list(),
    localVolumes: informers.localvolumes.list(),
    localDiskVolumes: informers.localdiskvolumes.list(),
    localVolumeReplicas: informers.localvolumereplicas.list(),
    migrates: informers.localvolumemigrates.list(),
    converts: informers.localvolumeconverts.list(),
    expands: informers.localvolumeexpands.list(),
    snapshots: informers.localvolumesnapshots.list(),
    smartResults: Object.assign({}, ...informers.smartresults.list().map((cm) => cm.data ?? {})),
  });

  const registry = new Registry();
  // One scrape computes every sample once; each gauge's collect() takes its share.
  let batch: { at: number; byMetric: Map<MetricKey, Array<{ labels: Record<string, string>; value: number }>> } | undefined;
  const samplesFor = (key: MetricKey) => {
    const t = now();
    if (!batch || t - batch.at > 1000) {
      const byMetric = new Map<MetricKey, Array<{ labels: Record<string, string>; value: number }>>();
      for (const s of clusterSamples(snapshot(), t)) {
        let l = byMetric.get(s.metric);
        if (!l) byMetric.set(s.metric, (l = []));
        l.push({ labels: s.labels, value: s.value });
      }
      batch = { at: t, byMetric };
    }
    return batch.byMetric.get(key) ?? [];
  };
  for (const [key, def] of Object.entries(CLUSTER_METRICS) as Array<[MetricKey, (typeof CLUSTER_METRICS)[MetricKey]]>) {
    new Gauge({
      name: def.name,
      help: def.help,
      labelNames: def.labels,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of samplesFor(key)) this.set(s.labels, s.value);
      },
    });
  }

  // ---- staleness
  let apiUp = false;
  let lastContactMs = 0;
  const startedMs = now();
  new Gauge({
    name: EXPORTER_HEALTH_METRICS.apiUp,
    help: "1 when the API server answered the exporter's last probe, 0 while it is unreachable (metrics are then served from the last cache).",
    registers: [registry],
    collect() {
      this.set(apiUp ? 1 : 0);
    },
  });
  new Gauge({
    name: EXPORTER_HEALTH_METRICS.staleness,
    help: "Seconds since the API server last answered (since the exporter started if it never did); the age of the cache the cluster metrics come from.",
    registers: [registry],
    collect() {
      this.set(Math.max(0, (now() - (lastContactMs || startedMs)) / 1000));
    },
  });
  new Gauge({
    name: EXPORTER_HEALTH_METRICS.lastContact,
    help: "Unix time the API server last answered a probe (0: never).",
    registers: [registry],
    collect() {
      this.set(lastContactMs / 1000);
    },
  });
  new Gauge({
    name: EXPORTER_HEALTH_METRICS.informerSynced,
    help: "1 when the exporter's cache of a resource has listed once (0: never reached or the kind is not served).",
    labelNames: ["resource"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, i] of Object.entries(informers)) this.set({ resource: name }, i.hasSynced() ? 1 : 0);
    },
  });

  const probe = async () => {
    try {
      await c.transport.request({ method: "GET", path: "/version", timeoutMs: 5000 });
      if (!apiUp) log.info({}, "API server reachable");
      apiUp = true;
      lastContactMs = now();
    } catch (e) {
      if (apiUp) log.warn({ err: String(e) }, "API server unreachable; serving the last cached metrics");
      apiUp = false;
    }
  };
  for (const i of Object.values(informers)) i.start();
  await probe();
  const timer = setInterval(() => void probe(), o.probeIntervalMs ?? 10_000);

  let server: MetricsServer;
  try {
    server = await serveMetrics({ port: o.port, host: o.host, registries: [registry, processMetrics.registry], log });
  } catch (e) {
    clearInterval(timer);
    await Promise.all(Object.values(informers).map((i) => i.stop()));
    throw e;
  }
  return {
    port: server.port,
    registry,
    snapshot,
    waitForSync: async (signal) => {
      await Promise.all(Object.values(informers).map((i) => i.waitForSync(signal)));
    },
    async stop() {
      clearInterval(timer);
      await server.stop();
      await Promise.all(Object.values(informers).map((i) => i.stop()));
    },
  };
}
