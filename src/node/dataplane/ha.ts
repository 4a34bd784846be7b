// What one node's data plane should hold for a replicated volume, pure (docs/replication.md):
// - desiredConfig: epoch = spec.config.version, role from config.replicas[].primary, peers = the other
//   replicas' data plane addresses;
// - needsConfigure: whether the data plane's view differs from that;
// - haStateOf: the LocalVolumeReplica status.haState from the data plane's status (the original's mapping of
//   DRBD disk states: UpToDate → Consistent, Inconsistent/Outdated → Inconsistent, none → Down);
// - peersAwaitingConsent: the primary suspended I/O because UpToDate peers disconnected; the node agent records
//   each as not synced in the API server, then calls `outdate-peer` (no degraded write without consent).

import type { VolumeConfig } from "../../api/kinds/local-volume.ts";
import { HAStates } from "../../api/names.ts";
import type { DpPeer, DpPeerStatus, DpRole, DpVolumeStatus } from "../../host/dataplane/protocol.ts";

export interface DesiredConfig {
  epoch: number;
  role: DpRole;
  peers: DpPeer[];
}

/** `addressOf(node, configIp)` → the peer's data plane address, undefined when it has none yet. */
export function desiredConfig(
  config: VolumeConfig,
  me: string,
  addressOf: (node: string, ip: string) => string | undefined,
): DesiredConfig | { error: string } {
  const mine = config.replicas.find((r) => r.hostname === me);
  if (!mine) return { error: `node ${me} holds no replica in config version ${config.version}` };
  const peers: DpPeer[] = [];
  const missing: string[] = [];
  for (const r of config.replicas) {
    if (r.hostname === me) continue;
    const address = addressOf(r.hostname, r.ip);
    if (address) peers.push({ node: r.hostname, address });
    else missing.push(r.hostname);
  }
  if (missing.length)
    return { error: `no data plane address for peer node(s) ${missing.join(", ")} (no storage IP, and no replication address in its LocalStorageNode)` };
  peers.sort((a, b) => a.node.localeCompare(b.node));
  return { epoch: config.version, role: mine.primary ? "primary" : "secondary", peers };
}

export function needsConfigure(dp: DpVolumeStatus | undefined, want: DesiredConfig): boolean {
  if (!dp) return true;
  if (dp.epoch !== want.epoch || dp.role !== want.role) return true;
  const have = (dp.peers ?? [])
    .map((p) => `${p.node}=${p.address}`)
    .sort()
    .join(",");
  const wanted = want.peers
    .map((p) => `${p.node}=${p.address}`)
    .sort()
    .join(",");
  return have !== wanted;
}

export interface HaState {
  state: string;
  reason: string;
}

export function haStateOf(dp: DpVolumeStatus | undefined, unavailableWhy?: string): HaState {
  if (!dp) return { state: HAStates.Down, reason: unavailableWhy ?? "the data plane does not serve this volume yet" };
  const role = `${dp.role} at epoch ${dp.epoch}`;
  if (dp.fenced) return { state: HAStates.Down, reason: `${role}: fenced (a peer holds a newer epoch); writes fail until it rejoins as a secondary` };
  if (dp.localState === "UpToDate") {
    const suspended = dp.suspended ? "; I/O suspended until a disconnected peer is outdated" : "";
    return { state: HAStates.Consistent, reason: `${role}: device is UpToDate${suspended}` };
  }
  if (dp.localState === "Inconsistent" || dp.localState === "Outdated") return { state: HAStates.Inconsistent, reason: `${role}: device is ${dp.localState}` };
  return { state: HAStates.Down, reason: `${role}: device is ${dp.localState || "unknown"}` };
}

/** How long a peer may stay Connecting (a replica just being set up) before a suspended primary goes on without it. */
export const CONNECTING_GRACE_MS = 3_000;

/**
 * The peers a suspended primary waits for consent to outdate: those that disconnected, and those still
 * Connecting after `CONNECTING_GRACE_MS` (`connectingForMs` says for how long this agent has seen them so;
 * a failover's old primary, whose node is gone, never connects).
 */
export function peersAwaitingConsent(dp: DpVolumeStatus | undefined, connectingForMs: (peer: string) => number = () => 0): DpPeerStatus[] {
  if (!dp || dp.role !== "primary" || !dp.suspended) return [];
  return (dp.peers ?? []).filter((p) => p.state === "Disconnected" || (p.state === "Connecting" && connectingForMs(p.node) >= CONNECTING_GRACE_MS));
}

/** A peer is synced only when the primary sees it UpToDate. */
export const peerSynced = (p: DpPeerStatus | undefined): boolean => p?.state === "UpToDate";

/** The primary's own copy is synced when it is UpToDate and not fenced. */
export const primarySynced = (dp: DpVolumeStatus | undefined): boolean => !!dp && dp.role === "primary" && dp.localState === "UpToDate" && !dp.fenced;

export interface ResyncProgress {
  doneBytes: number;
  totalBytes: number;
  dirtyBytes: number;
}

export function resyncOf(p: DpPeerStatus | undefined): ResyncProgress | undefined {
  if (!p) return undefined;
  return { doneBytes: p.resyncDoneBytes ?? 0, totalBytes: p.resyncTotalBytes ?? 0, dirtyBytes: p.dirtyBytes ?? 0 };
}
