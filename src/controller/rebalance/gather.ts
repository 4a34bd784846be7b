// What the rebalancing planner (./plan.ts) needs, read from the API server: the nodes as placement sees them and
// every lvm.hwameistor.io volume with what stops it from moving now. Shared by `hwameictl volume rebalance` and
// the Cluster policy's loop (./reconciler.ts), so both judge a volume the same way the migrate controller does
// (src/controller/migrate/reconciler.ts refuses or waits on the same things).

import { AnnotationValues, Annotations, OperationStates as S, VolumeStates } from "../../api/names.ts";
import { storageNodeViews } from "../../api/placement/placement.ts";
import {
  hwameistorClients,
  listAll,
  listOptional,
  nameOf,
  type HwameistorClients,
  type LocalVolumeMigrateObject,
  type Lv,
  type Lvr,
} from "../../kube/hwameistor.ts";
import type { KubeObject } from "../../kube/types.ts";
import type { KubeClient } from "../../kube/client.ts";
import type { RebalanceInput, RebalanceVolume } from "./plan.ts";

/** The name of the migration rebalancing starts for a volume (one object per volume, as `migrate-<vol>`). */
export const REBALANCE_PREFIX = "rebalance-";
export const rebalanceMigrateName = (volume: string): string => `${REBALANCE_PREFIX}${volume}`;

const FINISHED: readonly string[] = [S.Completed, S.Aborted, S.Failed];

/** A migration still running (not finished, not being deleted). */
export const migrationActive = (m: LocalVolumeMigrateObject): boolean => !FINISHED.includes(m.status?.state ?? "") && !m.metadata?.deletionTimestamp;

export interface RebalanceSnapshot {
  input: Omit<RebalanceInput, "thresholdPercent">;
  /** Migrations not finished (any origin: rebalancing starts one only when none runs). */
  activeMigrations: LocalVolumeMigrateObject[];
}

export async function gatherRebalance(client: KubeClient, c: HwameistorClients = hwameistorClients(client)): Promise<RebalanceSnapshot> {
  const [lsns, lvs, lvrs, coreNodes, migrations, expands, snapshots, converts] = await Promise.all([
    listAll(c.lsn),
    listAll(c.lv),
    listAll(c.lvr),
    listOptional(c.node),
    listAll(c.lvmigrate),
    listOptional(c.lvexpand),
    listOptional(c.lvs),
    listOptional(c.lvconvert),
  ]);
  const active = migrations.filter(migrationActive);
  const volumes: RebalanceVolume[] = [];
  for (const lv of lvs) {
    const name = nameOf(lv);
    if (lv.spec?.delete || lv.metadata?.deletionTimestamp) continue;
    const replicas = lvrs.filter((r) => r.spec?.volumeName === name && !r.spec?.delete);
    const blocked = blockedReason(lv, replicas, {
      migration: active.find((m) => m.spec?.volumeName === name || (m.status?.volumes ?? []).includes(name)),
      expand: expands.find((e) => nameOf(e) === name && e.status?.state !== S.Completed),
      snapshots: snapshots.filter((s) => s.spec?.sourceVolume === name),
      convert: converts.find((x) => x.spec?.volumeName === name && !FINISHED.includes(x.status?.state ?? "")),
    });
    volumes.push({
      name,
      poolName: lv.spec?.poolName ?? "",
      bytes: Math.max(lv.spec?.requiredCapacityBytes ?? 0, lv.spec?.config?.requiredCapacityBytes ?? 0),
      nodes: (lv.spec?.config?.replicas ?? []).map((r) => r.hostname),
      replicaNumber: lv.spec?.replicaNumber ?? 1,
      ...(lv.spec?.volumegroup ? { group: lv.spec.volumegroup } : {}),
      ...(lv.status?.publishedNode ? { publishedNode: lv.status.publishedNode } : {}),
      ...(blocked ? { blocked } : {}),
    });
  }
  volumes.sort((a, b) => a.name.localeCompare(b.name));
  return {
    input: {
      nodes: storageNodeViews(lsns, lvs, coreNodes),
      volumes,
      // The file engine pre-copies online (reflink clones); any other engine copies only once the pod stopped.
      offlineOnlyNodes: lsns.filter((n) => n.status?.engine?.kind !== "file").map(nameOf),
    },
    activeMigrations: active,
  };
}

/** Why a volume cannot move now (the migrate controller would refuse or wait), or undefined. */
function blockedReason(
  lv: Lv,
  replicas: Lvr[],
  ops: { migration?: LocalVolumeMigrateObject; expand?: KubeObject; snapshots: KubeObject[]; convert?: KubeObject },
): string | undefined {
  if (ops.migration) return `being migrated (LocalVolumeMigrate ${nameOf(ops.migration)}, ${ops.migration.status?.state || "submitted"})`;
  if (lv.metadata?.annotations?.[Annotations.VolumeMigrateState] === AnnotationValues.MigrateStarted)
    return "marked migrateStarted by a migration that is finishing";
  if (ops.expand) return `being expanded (LocalVolumeExpand ${nameOf(ops.expand)})`;
  if (ops.snapshots.length > 0) return `has ${ops.snapshots.length} snapshot(s) (${ops.snapshots.map(nameOf).sort().join(", ")}), which stay on their node`;
  if (ops.convert) return `being converted to HA (LocalVolumeConvert ${nameOf(ops.convert)})`;
  if (lv.status?.state !== VolumeStates.Ready || replicas.some((r) => r.status?.state !== VolumeStates.Ready))
    return `is ${lv.status?.state || "new"} (replicas: ${replicas.map((r) => `${r.spec?.nodeName} ${r.status?.state || "new"}`).join(", ") || "none"}): waits until Ready`;
  return undefined;
}
