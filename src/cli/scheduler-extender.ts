// `hwameistor scheduler-extender`: serves HwameiStor's filter and score (src/scheduler, the code the embedded
// control plane places pods with) to a real kube-scheduler over HTTPS (src/extender). Composition root: it
// wires the pure decision to a snapshot of the cluster read per request.
//
// Per request it lists what the filter reads (StorageClasses, the pod namespace's PVCs and VolumeSnapshots,
// PVs, Nodes, LocalStorageNodes, LocalVolumes, LocalVolumeGroups, LocalDiskNodes, LocalDiskVolumes,
// VolumeSnapshotContents, LocalVolumeSnapshots) — simple and always current; a kind the cluster does not
// serve (snapshot CRDs not installed) counts as empty. The filter's PVC annotations (step 1) are applied as
// merge patches before the answer. Simplification: no watch cache (a busy cluster would want informers).
import type { Command } from "commander";
import type { CoreNode, Pod, Pv, Pvc, StorageClassShape } from "../api/core.ts";
import { localDiskNodeKind } from "../api/kinds/local-disk-node.ts";
import { localDiskVolumeKind } from "../api/kinds/local-disk-volume.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import { localVolumeGroupKind } from "../api/kinds/local-volume-group.ts";
import { localVolumeSnapshotKind } from "../api/kinds/local-volume-snapshot.ts";
import { localVolumeKind } from "../api/kinds/local-volume.ts";
import { startExtenderServer, type PlacementDecider } from "../extender/server.ts";
import type { KubeClient } from "../kube/client.ts";
import { NODE, PV, PVC, STORAGE_CLASS, VOLUME_SNAPSHOT, VOLUME_SNAPSHOT_CONTENT } from "../kube/resources.ts";
import { isNotFound } from "../kube/transport.ts";
import type { DescriptorLike } from "../kube/types.ts";
import { filterAndScore, type StorageState } from "../scheduler/index.ts";
import { portOption, serve, serverCommand, type ServerFlags } from "./serve.ts";

/** Reads the StorageState the filter needs for a pod in `namespace`. */
export async function readStorageState(client: KubeClient, namespace: string): Promise<StorageState> {
  const all = async <T>(def: DescriptorLike, ns?: string): Promise<T[]> => {
    try {
      return (await client.forKind(def).list({ namespace: ns })).items as T[];
    } catch (e) {
      if (isNotFound(e)) return []; // the kind is not served (e.g. no snapshot CRDs)
      throw e;
    }
  };
  const [storageClasses, pvcs, pvs, nodes, lsns, lvs, lvgs, ldns, ldvs, volumeSnapshots, volumeSnapshotContents, localVolumeSnapshots] = await Promise.all([
    all<StorageClassShape>(STORAGE_CLASS),
    all<Pvc>(PVC, namespace),
    all<Pv>(PV),
    all<CoreNode>(NODE),
    all<any>(localStorageNodeKind),
    all<any>(localVolumeKind),
    all<any>(localVolumeGroupKind),
    all<any>(localDiskNodeKind),
    all<any>(localDiskVolumeKind),
    all<any>(VOLUME_SNAPSHOT, namespace),
    all<any>(VOLUME_SNAPSHOT_CONTENT),
    all<any>(localVolumeSnapshotKind),
  ]);
  return { storageClasses, pvcs, pvs, nodes, lsns, lvs, lvgs, ldns, ldvs, volumeSnapshots, volumeSnapshotContents, localVolumeSnapshots };
}

/** The decider over the live cluster: src/scheduler's filterAndScore on a fresh snapshot. */
export function clusterDecider(client: KubeClient): PlacementDecider {
  const verdict = async (pod: Pod, nodeNames: string[]) => {
    const ns = pod.metadata?.namespace || "default";
    return filterAndScore(pod, nodeNames, await readStorageState(client, ns));
  };
  return {
    async filter(pod, nodeNames) {
      const v = await verdict(pod, nodeNames);
      // step 1 of the filter: the pod's affinity/tolerations onto its new lvm PVCs
      for (const p of v.plan.annotationPatches) {
        await client.forKind(PVC).patch(p.pvc, { metadata: { annotations: p.annotations } }, { namespace: p.namespace, type: "merge" });
      }
      return { feasible: v.feasible.map((f) => f.node), failed: v.failed };
    },
    async score(pod, nodeNames) {
      const v = await verdict(pod, nodeNames);
      return Object.fromEntries(v.feasible.map((f) => [f.node, f.score]));
    },
  };
}

export function registerSchedulerExtenderCommand(program: Command): void {
  const cmd = serverCommand(
    program,
    "scheduler-extender",
    "serve HwameiStor's filter and score to kube-scheduler (extender API over HTTPS: filter, prioritize; no bind)",
  )
    .option("--host <host>", "address to listen on (the chart: loopback, kube-scheduler is in the same pod)", "127.0.0.1")
    .option("--port <port>", "HTTPS port (0 = any free port)", portOption(), 9443);
  serve(
    cmd,
    async (o: ServerFlags & { host: string; port: number }, { log, client }) => {
      const ext = await startExtenderServer({ host: o.host, port: o.port, decider: clusterDecider(client()), log });
      log.info({ port: ext.port }, "scheduler extender serving");
      return { service: ext, ready: { schedulerExtender: true, port: ext.port } };
    },
    () => ({ component: "scheduler-extender" }),
  );
}
