// The LocalVolume state machine (fact sheet §5.1), pure: spec + status + observed replicas (+ the
// allocation the reconciler computed) → next state, actions, status fields and a message.
// The original's state strings. Reading top to bottom:
//
//   any, spec.delete, state ∉ {ToBeDeleted, Deleted}  → ToBeDeleted
//   ""                                                → Creating
//   Creating: allocation failed                        → Creating (message; retried)
//   Creating: allocation ≠ config (ignoring version)   → Creating + writeConfig(version+1)
//   Creating: allocation = config                      → NotReady
//   Ready|NotReady: no config / fewer config replicas than replicaNumber / non-HA with a resourceID /
//                   spec.requiredCapacityBytes > config.requiredCapacityBytes → Creating
//   Ready|NotReady: + createReplica for a config node without a live LVR (this controller creates LVRs; in
//                   the original the node agent does), markReplicaDelete for LVRs on nodes not in config
//                   and duplicates on one node, deleteReplicaObject for LVRs the node left in Deleted
//   Ready|NotReady: Ready LVRs on config nodes ≥ replicaNumber → Ready {allocatedCapacityBytes = smallest
//                   Ready replica's, replicas = their names} (+ setAccessibilityNodes = config hosts);
//                   else NotReady
//   ToBeDeleted:    markReplicaDelete for every live LVR; deleteReplicaObject for Deleted ones; none left
//                   (or all Deleted) → Deleted. Difference: the original waits for the LVRs in
//                   status.replicas only; we wait for every LVR of the volume, so a replica that never
//                   became Ready is not leaked.
//   Deleted:        removeFromGroup + deleteVolume
//
// LocalVolume has no status.conditions in the original schema; `reason`/`message` explain the decision
// (they become Events and log lines).

import type { LocalVolumeStatus, VolumeConfig } from "../../api/kinds/local-volume.ts";
import { AnnotationValues, Annotations, VolumeStates } from "../../api/names.ts";
import { outdatedReplicas } from "../../api/replication.ts";
import { type Lv } from "../../kube/hwameistor.ts";
import { isHA, sameConfig, type Allocation } from "./allocate.ts";

export interface ReplicaFact {
  name: string;
  nodeName: string;
  state: string;
  delete: boolean;
  allocatedCapacityBytes?: number;
  creationTimestamp?: string;
  /** status.synced: for a replicated volume, the primary's word that the replica has every acknowledged write. */
  synced?: boolean;
}

export interface LocalVolumeFacts {
  /** Every LocalVolumeReplica with spec.volumeName = this volume. */
  replicas: ReplicaFact[];
  /** Nodes that are gone for failover (LocalStorageNode Offline, or worker Lease expired). */
  deadNodes?: Set<string>;
  /** The allocation for the current spec (needed in Creating). */
  allocation?: Allocation;
}

export type Action =
  | { type: "writeConfig"; config: VolumeConfig }
  | { type: "setAccessibilityNodes"; nodes: string[] }
  | { type: "createReplica"; nodeName: string }
  | { type: "markReplicaDelete"; name: string }
  | { type: "deleteReplicaObject"; name: string }
  | { type: "failover"; config: VolumeConfig; nodes: string[]; unpublish: boolean }
  | { type: "removeFromGroup" }
  | { type: "deleteVolume" };

/** The `Replicated` condition of an HA volume (status.conditions, additive); the reconciler sets its times. */
export interface ReplicatedCondition {
  status: "True" | "False";
  reason: string;
  message: string;
}

export interface Decision {
  state: string;
  actions: Action[];
  /** Status fields to set (merged over the current status). */
  status: Partial<LocalVolumeStatus> & { replicated?: ReplicatedCondition };
  reason: string;
  message: string;
  /** Look again after this long even without a watch event. */
  requeueAfterMs?: number;
}

export const RETRY_ALLOCATION_MS = 5_000;
export const RECHECK_NOT_READY_MS = 15_000;

const S = VolumeStates;

/** Replicas not being deleted, one per node (oldest, then by name); the rest are duplicates. */
function liveReplicas(replicas: ReplicaFact[]): { live: Map<string, ReplicaFact>; duplicates: ReplicaFact[] } {
  const live = new Map<string, ReplicaFact>();
  const duplicates: ReplicaFact[] = [];
  const sorted = replicas
    .filter((r) => !r.delete && r.state !== S.Deleted && r.state !== S.ToBeDeleted)
    .sort((a, b) => (a.creationTimestamp ?? "").localeCompare(b.creationTimestamp ?? "") || a.name.localeCompare(b.name));
  for (const r of sorted) {
    if (live.has(r.nodeName)) duplicates.push(r);
    else live.set(r.nodeName, r);
  }
  return { live, duplicates };
}

/** Why a Ready/NotReady volume must go back to Creating, or undefined. */
export function needsReallocation(lv: Lv): string | undefined {
  const cfg = lv.spec?.config;
  const want = lv.spec?.replicaNumber ?? 1;
  if (!cfg) return "the volume has no config";
  if (cfg.replicas.length < want) return `config has ${cfg.replicas.length} of ${want} replicas`;
  if (!isHA(lv) && cfg.resourceID > -1) return `a non-HA volume holds resource id ${cfg.resourceID}`;
  if ((lv.spec?.requiredCapacityBytes ?? 0) > cfg.requiredCapacityBytes) return "the required capacity grew";
  return undefined;
}

export function decide(lv: Lv, f: LocalVolumeFacts): Decision {
  const state = lv.status?.state ?? S.Empty;
  const name = lv.metadata?.name ?? "";
  const out = (s: string, reason: string, message: string, more: Partial<Decision> = {}): Decision => ({
    state: s,
    actions: [],
    status: {},
    reason,
    message,
    ...more,
  });

  if (lv.spec?.delete && state !== S.ToBeDeleted && state !== S.Deleted) {
    return out(S.ToBeDeleted, "ToBeDeleted", `volume ${name} is to be deleted`);
  }

  switch (state) {
    case S.Empty:
      return out(S.Creating, "Creating", `volume ${name} accepted`);

    case S.Creating: {
      const a = f.allocation;
      if (!a) return out(S.Creating, "Allocating", `allocating volume ${name}`, { requeueAfterMs: RETRY_ALLOCATION_MS });
      if ("error" in a) return out(S.Creating, "AllocationFailed", a.error, { requeueAfterMs: RETRY_ALLOCATION_MS });
      if (!sameConfig(a.config, lv.spec?.config)) {
        const config = { ...a.config, version: (lv.spec?.config?.version ?? 0) + 1 };
        return out(S.Creating, "Allocated", `volume ${name} config version ${config.version}: ${config.replicas.map((r) => r.hostname).join(", ")}`, {
          actions: [{ type: "writeConfig", config }],
        });
      }
      return out(S.NotReady, "Configured", `volume ${name} configured on ${a.config.replicas.map((r) => r.hostname).join(", ")}`);
    }

    case S.Ready:
    case S.NotReady: {
      const why = needsReallocation(lv);
      if (why) return out(S.Creating, "Reallocating", `volume ${name}: ${why}`);
      const cfg = lv.spec!.config!;
      const want = lv.spec?.replicaNumber ?? 1;
      const hosts = cfg.replicas.map((r) => r.hostname);
      const actions: Action[] = [];
      const { live, duplicates } = liveReplicas(f.replicas);
      for (const h of hosts) if (!live.has(h)) actions.push({ type: "createReplica", nodeName: h });
      for (const r of live.values()) if (!hosts.includes(r.nodeName)) actions.push({ type: "markReplicaDelete", name: r.name });
      for (const r of duplicates) actions.push({ type: "markReplicaDelete", name: r.name });
      for (const r of f.replicas) if (r.state === S.Deleted) actions.push({ type: "deleteReplicaObject", name: r.name });

      // No failover while a migration runs (docs/migration.md): the volume is unpublished, and its new replica
      // may be half copied — the migration finishes or is aborted instead.
      const failoverAllowed = isHA(lv) && lv.metadata?.annotations?.[Annotations.VolumeMigrateState] !== AnnotationValues.MigrateStarted;
      if (failoverAllowed) {
        const fo = failover(lv, cfg, live, f.deadNodes ?? new Set());
        if (fo) return out(S.NotReady, fo.reason, fo.message, { actions: [...actions, ...fo.actions], requeueAfterMs: 1_000 });
      }
      // Published on a dead node that is not the primary any more: a failover happened, and its unpublish (the
      // status write after the config write) is redone here until it lands — level-triggered, so a controller that
      // died between the two writes does not leave the volume unpublishable on its new primary.
      const pub = lv.status?.publishedNode;
      const unpublish: Partial<LocalVolumeStatus> =
        failoverAllowed && pub && f.deadNodes?.has(pub) && cfg.replicas.find((r) => r.primary)?.hostname !== pub ? { publishedNode: "" } : {};
      const onConfig = hosts.map((h) => live.get(h)).filter((r): r is ReplicaFact => !!r);
      // A replicated volume counts only replicas its primary reports in sync (docs/replication.md).
      const ready = onConfig.filter((r) => r.state === S.Ready && (!isHA(lv) || r.synced));
      const replicated = isHA(lv) ? replicatedCondition(name, hosts, live, ready, want) : undefined;
      if (ready.length >= want) {
        const nodes = primaryFirst(cfg);
        if (JSON.stringify(lv.spec?.accessibility?.nodes ?? []) !== JSON.stringify(nodes)) actions.push({ type: "setAccessibilityNodes", nodes });
        const allocated = Math.min(...ready.map((r) => r.allocatedCapacityBytes ?? 0));
        return out(S.Ready, "Ready", `volume ${name} is ready on ${hosts.join(", ")}`, {
          actions,
          status: { ...unpublish, allocatedCapacityBytes: allocated, replicas: ready.map((r) => r.name).sort(), ...(replicated ? { replicated } : {}) },
        });
      }
      const waiting = hosts.map((h) => (live.get(h) ? `${live.get(h)!.name} on ${h} is ${live.get(h)!.state || "new"}` : `no replica on ${h} yet`));
      if (replicated) {
        return out(S.NotReady, replicated.reason, replicated.message, { actions, requeueAfterMs: RECHECK_NOT_READY_MS, status: { ...unpublish, replicated } });
      }
      return out(S.NotReady, "WaitingForReplicas", `volume ${name}: ${waiting.join("; ")}`, {
        actions,
        requeueAfterMs: RECHECK_NOT_READY_MS,
        status: unpublish,
      });
    }

    case S.ToBeDeleted: {
      const actions: Action[] = [];
      for (const r of f.replicas) {
        if (r.state === S.Deleted) actions.push({ type: "deleteReplicaObject", name: r.name });
        else if (!r.delete) actions.push({ type: "markReplicaDelete", name: r.name });
      }
      const remaining = f.replicas.filter((r) => r.state !== S.Deleted);
      if (!remaining.length) return out(S.Deleted, "Deleted", `volume ${name}: every replica is gone`, { actions });
      return out(S.ToBeDeleted, "DeletingReplicas", `volume ${name}: waiting for ${remaining.map((r) => `${r.name} on ${r.nodeName}`).join(", ")}`, {
        actions,
        requeueAfterMs: RECHECK_NOT_READY_MS,
      });
    }

    case S.Deleted: {
      const actions: Action[] = f.replicas.map((r) => ({ type: "deleteReplicaObject", name: r.name }) as Action);
      actions.push({ type: "removeFromGroup" }, { type: "deleteVolume" });
      return out(S.Deleted, "Removed", `volume ${name} removed`, { actions });
    }

    default:
      return out(state, "UnknownState", `volume ${name} is in unknown state ${JSON.stringify(state)}; left alone`);
  }
}

/** accessibility.nodes of a volume: the primary first (allocation keeps the primary on nodes[0]), then the rest. */
export function primaryFirst(cfg: VolumeConfig): string[] {
  const p = cfg.replicas.find((r) => r.primary);
  return [...(p ? [p.hostname] : []), ...cfg.replicas.filter((r) => r !== p).map((r) => r.hostname)];
}

function replicatedCondition(name: string, hosts: string[], live: Map<string, ReplicaFact>, ready: ReplicaFact[], want: number): ReplicatedCondition {
  if (ready.length >= want) return { status: "True", reason: "Replicated", message: `volume ${name}: ${ready.length} of ${want} replicas in sync` };
  const behind = hosts
    .filter((h) => !ready.some((r) => r.nodeName === h))
    .map((h) => (live.get(h) ? `${h} (${live.get(h)!.state || "new"}, not synced)` : `${h} (no replica)`));
  const reason = ready.length > 0 ? "Degraded" : "NotReplicated";
  return { status: "False", reason, message: `volume ${name}: ${ready.length} of ${want} replicas in sync; behind: ${behind.join(", ")}` };
}

/**
 * Failover (docs/replication.md): the primary's node is dead → the first replica (by id) on a live node that is
 * Ready and in sync becomes the primary at epoch (config.version) + 1; the old primary stays in the config and
 * rejoins as a secondary when its node returns. A volume published on the dead node is unpublished (its node
 * cannot answer ControllerUnpublish). No synced replica → no failover, said so (never onto a stale copy).
 */
export function failover(
  lv: Lv,
  cfg: VolumeConfig,
  live: Map<string, ReplicaFact>,
  dead: Set<string>,
): { actions: Action[]; reason: string; message: string } | undefined {
  const primary = cfg.replicas.find((r) => r.primary);
  if (!primary || !dead.has(primary.hostname)) return undefined;
  const name = lv.metadata?.name ?? "";
  const outdated = outdatedReplicas(lv, cfg.version);
  const target = [...cfg.replicas]
    .sort((a, b) => a.id - b.id)
    .find(
      (r) =>
        r !== primary &&
        !dead.has(r.hostname) &&
        live.get(r.hostname)?.state === S.Ready &&
        live.get(r.hostname)?.synced &&
        // outdated by the primary at this epoch: it lacks acknowledged writes, whatever its (maybe stale) synced says
        !outdated.has(r.hostname),
    );
  if (!target) {
    return {
      actions: [],
      reason: "PrimaryLost",
      message: `volume ${name}: the primary's node ${primary.hostname} is gone and no replica on a live node is in sync; waiting for ${primary.hostname} to return (no failover onto a stale copy)`,
    };
  }
  const config: VolumeConfig = {
    ...cfg,
    version: cfg.version + 1,
    replicas: cfg.replicas.map((r) => ({ ...r, primary: r.hostname === target.hostname })),
  };
  return {
    actions: [{ type: "failover", config, nodes: primaryFirst(config), unpublish: lv.status?.publishedNode === primary.hostname }],
    reason: "FailedOver",
    message: `volume ${name}: primary node ${primary.hostname} is gone; ${target.hostname} (in sync) is the primary at epoch ${config.version}`,
  };
}
