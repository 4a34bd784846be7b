// Replication facts shared by the controller, the node agent and the CSI services (docs/replication.md), pure.
// - Which volumes replicate: replicaNumber ≥ 2, or convertible (so a 1-replica volume can grow to 2 online:
//   its device already goes through the data plane; the original uses DRBD for convertible volumes too).
// - Which nodes can hold an HA replica: LocalStorageNode status.replication.available (reported by the node
//   agent from its data plane's `hello`).
// - Where the HA device is: `<devLinkRoot>/<pool>-HA/<volume>` (the original's `/dev/<VG>-HA/<vol>`).
// - Whether a node is dead for failover: LocalStorageNode state Offline, or its worker Lease expired.

import type { LocalStorageNode } from "./kinds/local-storage-node.ts";
import type { LocalVolume } from "./kinds/local-volume.ts";
import { Annotations, NodeStates } from "./names.ts";

/**
 * The replicas a primary outdated at `epoch` to go on degraded (LocalVolume status.outdatedReplicas). The primary's
 * agent records them with the LocalVolume's resourceVersion — the object a failover rewrites — so of a consent to
 * go on degraded and a failover racing, exactly one lands; a failover never promotes a replica named here.
 */
export function outdatedReplicas(lv: Pick<LocalVolume, "status">, epoch: number): Set<string> {
  const o = lv.status?.outdatedReplicas;
  return new Set(o && o.epoch === epoch ? o.nodes : []);
}

/** Default TCP port of the data plane's replication listener (DRBD's ports start at 43001). */
export const DATAPLANE_DEFAULT_PORT = 43000;

/** Replica counts an HA volume may have (docs/compatibility.md: the original allows 2). */
export const MAX_HA_REPLICAS = 3;

/**
 * A migration adds a temporary replica (replicaNumber+1, annotated in the same update): it does not make a
 * 1-replica volume replicated — that one moves by the block copy, and its device stays the engine's.
 */
export const isReplicatedVolume = (lv: Pick<LocalVolume, "spec" | "metadata">): boolean => {
  const extra = lv.metadata?.annotations?.[Annotations.MigrateExtraReplica] === "true" ? 1 : 0;
  return (lv.spec?.replicaNumber ?? 1) - extra > 1 || !!lv.spec?.convertible;
};

/**
 * The one node a volume without HA may be used on while its config holds a migration's second replica (the new
 * one before promotion, or the old one kept while the target's disk is re-read): its primary's. Undefined when
 * the rule does not apply (a replicated volume, or a single replica, which is then the only place anyway). The
 * scheduler and ControllerPublish both ask it, so a pod never lands on, and nothing ever mounts, the stale copy.
 */
export function soleServingNode(lv: Pick<LocalVolume, "spec" | "metadata">): string | undefined {
  const replicas = lv.spec?.config?.replicas ?? [];
  if (isReplicatedVolume(lv) || new Set(replicas.map((r) => r.hostname)).size < 2) return undefined;
  return replicas.find((r) => r.primary)?.hostname;
}

export const haDevPath = (devLinkRoot: string, pool: string, volume: string): string => `${devLinkRoot.replace(/\/+$/, "")}/${pool}-HA/${volume}`;

export const replicationAvailable = (lsn: Pick<LocalStorageNode, "status"> | undefined): boolean => !!lsn?.status?.replication?.available;

/** `0.0.0.0:P`, `[::]:P`: a data plane listening on every address says its port, not where to reach it. */
const WILDCARD_LISTEN = /^(?:0\.0\.0\.0|\[::\]|::|\*)?:(\d+)$/;

/** Why a node cannot hold an HA replica, or undefined when it can. */
export function replicationRefusal(lsn: Pick<LocalStorageNode, "status" | "spec"> | undefined): string | undefined {
  const r = lsn?.status?.replication;
  if (!r) return "its node agent reports no data plane (start it with --dataplane-socket)";
  if (!r.available) return r.reason || "its data plane is not available";
  if ((!r.address || WILDCARD_LISTEN.test(r.address)) && !lsn?.spec?.storageIP) return "it has no storage IP";
  return undefined;
}

/**
 * The data plane address of a peer, learnt from its LocalStorageNode (docs/replication.md "Peer addresses"):
 * 1. `status.replication.address` while its data plane is available (what its `hello` says it listens on, so a
 *    data plane restarted on another IP or port is followed as soon as its agent reports it); a wildcard listen
 *    address gives the port, on the node's storage IP;
 * 2. while its data plane is unavailable (restarting): `current`, the address this data plane already uses for
 *    the peer — a guess would move the peer (a new connection, I/O suspended again) for nothing;
 * 3. else the node's storage IP (the LocalStorageNode's, else the one in the volume's config) on the default port.
 */
export function peerAddress(lsn: Pick<LocalStorageNode, "status" | "spec"> | undefined, configIp?: string, current?: string): string | undefined {
  const ip = lsn?.spec?.storageIP || configIp;
  const r = lsn?.status?.replication;
  if (r?.available && r.address) {
    const wild = WILDCARD_LISTEN.exec(r.address);
    if (!wild) return r.address;
    if (ip) return `${ip}:${wild[1]}`;
  }
  if (r && !r.available && current) return current;
  return ip ? `${ip}:${DATAPLANE_DEFAULT_PORT}` : undefined;
}

export interface LeaseLike {
  spec?: { holderIdentity?: string | null; renewTime?: string | null; acquireTime?: string | null; leaseDurationSeconds?: number | null };
}

/**
 * Whether a node is gone for failover: its LocalStorageNode is Offline, or its worker Lease exists and has
 * not been renewed for leaseDurationSeconds. A node without a Lease is not declared dead (nothing says so).
 */
export function nodeIsDead(lsn: Pick<LocalStorageNode, "status"> | undefined, lease: LeaseLike | undefined, nowMs: number): boolean {
  if (lsn?.status?.state === NodeStates.Offline) return true;
  const s = lease?.spec;
  if (!s) return false;
  const renewed = Date.parse(s.renewTime ?? s.acquireTime ?? "");
  if (!Number.isFinite(renewed)) return false;
  return nowMs > renewed + (s.leaseDurationSeconds ?? 30) * 1000;
}
