// Where a new LocalVolume goes, and the objects that say so (CSI CreateVolume's write path):
// volume group (find by a PVC of the same pod, else per PVC; append), placement (GetNodeCandidates over
// Ready LocalStorageNodes + topology), then the LocalVolume itself.
//
// Crash windows and idempotency:
// - The decision runs under one in-process lock over informer caches plus this process's own placements that
//   the caches do not show yet (placement-cache.ts, kube-scheduler's "assume"), so concurrent CreateVolumes see
//   each other's volumes (counted as pending capacity by placement) and two PVCs of one pod never make two
//   groups. The writes run outside that lock, a group's in decision order. Two controller processes serving
//   CSI at once could still race (as the disk driver; run one provisioner leader).
// - Nothing is written until placement succeeded, so RESOURCE_EXHAUSTED leaves nothing behind; a failed write
//   drops the assumption again.
// - The group entry is written before the LocalVolume: a crash in between leaves an entry naming this
//   volume, which the retry finds (findGroup by volume name) and reuses; an abandoned one is dropped by the
//   group reconciler after its grace period. If creating the LocalVolume fails, the entry (or the group
//   we just made) is removed again.

import { randomUUID } from "node:crypto";
import { HwError, hwError, isHwError } from "../../../api/errors.ts";
import { Annotations, DEFAULT_TOPOLOGY_VALUE, Finalizers, NodeStates } from "../../../api/names.ts";
import { replicationRefusal } from "../../../api/replication.ts";
import { nameOf, type Lv, type Lvg, type HwameistorClients } from "../../../kube/hwameistor.ts";
import { type Toleration } from "../../../api/core.ts";
import { type Lsn } from "../../../kube/hwameistor.ts";
import { parseSecretRef, passphraseFromSecret } from "../../../api/encryption.ts";
import { thinRoomProblem } from "../../../api/thin-pool.ts";
import { isConflict, isNotFound } from "../../../kube/transport.ts";
import { listOptional } from "../../../kube/hwameistor.ts";
import type { KeyedLock } from "../../../kube/keyed-lock.ts";
import type { PlacementCache, PlacementSnapshot } from "./placement-cache.ts";
import { chooseNodes, describeRejections, getNodeCandidates, storageNodeViews, type NodeTopology } from "../../../api/placement/placement.ts";
import { findGroup, podsUsingPvc, pvcsOfPods, withVolume, withoutVolume } from "../../../api/placement/groups.ts";
import type { Logger } from "../../../kube/types.ts";
import type { LvmParams } from "./params.ts";
import { formatBytes } from "../../../api/quantity.ts";
import { csiNameAnnotation } from "../../../csi/volume-name.ts";

/**
 * What the StorageClass asks that not every node has (reference §2.1): a thin LV needs the lvm engine with
 * dm-thin-pool and a thin pool with room under its overProvisionRatio; LUKS needs dm-crypt and a Secret with a
 * non-empty `key`. Each node reports its features in LocalStorageNode status.engine.features (additive). A node
 * that does not report them (an agent older than this check) is refused for thin/LUKS: the replica would fail
 * late on that node otherwise.
 */
export function checkNodeFeatures(r: ProvisionRequest, nodes: string[], lsns: Lsn[]): void {
  const { params } = r;
  if (!params.thin && !params.volumeEncrypt) return;
  for (const node of nodes) {
    const lsn = lsns.find((l) => nameOf(l) === node);
    const features = lsn?.status?.engine?.features;
    const lack = (what: "thin" | "encryption", words: string) => {
      const f = features?.[what];
      if (f?.supported) return;
      throw new HwError(
        "FAILED_PRECONDITION",
        what === "thin" ? "NoThinSupport" : "NoEncryptionSupport",
        `volume ${r.name}: node ${node} cannot serve ${words}: ${f?.reason ?? `its agent (engine ${lsn?.status?.engine?.kind ?? "unknown"}) reports no ${what} support`}`,
        {
          hint: `use a StorageClass without ${what === "thin" ? "thin" : "encryptType/encryptSecret"}, or a node with device-mapper (${what === "thin" ? "dm-thin-pool" : "dm-crypt"})`,
        },
      );
    };
    if (params.thin) {
      lack("thin", "a thin volume (StorageClass parameter thin)");
      const why = thinRoomProblem(node, params.poolName, lsn?.status?.pools?.[params.poolName]?.thinPool, `volume ${r.name}`, r.requiredBytes);
      if (why) throw new HwError(why.startsWith("insufficient") ? "RESOURCE_EXHAUSTED" : "FAILED_PRECONDITION", "ThinPoolUnavailable", why);
    }
    if (params.volumeEncrypt) lack("encryption", "LUKS encryption (StorageClass parameters encryptType/encryptSecret)");
  }
}

/** LUKS: the Secret must exist and hold a non-empty key (checked before anything is written). */
async function checkEncryptionSecret(c: HwameistorClients, r: ProvisionRequest): Promise<void> {
  if (!r.params.volumeEncrypt) return;
  const ref = parseSecretRef(r.params.volumeEncrypt.secret, r.name);
  const secret = await c.secret.get(ref.name, ref.namespace).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  passphraseFromSecret(secret, r.params.volumeEncrypt.secret, r.name);
}

/**
 * Honest HA: a volume with replicaNumber N > 1 needs N Ready nodes whose data plane can replicate (each node
 * reports it in LocalStorageNode status.replication); otherwise CreateVolume refuses before anything is
 * written, naming the nodes and why, instead of creating copies that would never receive each other's writes.
 */
export function refuseWithoutReplication(r: ProvisionRequest, lsns: Lsn[]): void {
  const n = r.params.replicaNumber;
  const ready = lsns.filter((l) => l.status?.state === NodeStates.Ready);
  const able = ready.filter((l) => !replicationRefusal(l)).map(nameOf);
  if (able.length >= n) return;
  const why = lsns
    .filter((l) => !able.includes(nameOf(l)))
    .map((l) => `${nameOf(l)}: ${l.status?.state !== NodeStates.Ready ? `LocalStorageNode is ${l.status?.state || "not reported"}` : replicationRefusal(l)}`);
  throw hwError(
    "ReplicationNotAvailable",
    `volume ${r.name}: StorageClass parameters replicaNumber "${n}" (poolClass ${r.params.poolClass}) need ${n} nodes that replicate; ${able.length} can${able.length ? ` (${able.join(", ")})` : ""}${why.length ? `; ${why.join("; ")}` : ""}`,
    { hint: `run hwameistor-dataplane on more nodes (node agent --dataplane-socket), or use replicaNumber "1" (a StorageClass without -ha)` },
  );
}

export interface ProvisionRequest {
  name: string;
  /** The CSI request name (recorded in the annotation hwameistor.io/csi-name). */
  csiName: string;
  params: LvmParams;
  requiredBytes: number;
  topology: NodeTopology;
}

function tolerationsOf(annotations: Record<string, string> | undefined): Toleration[] {
  const raw = annotations?.[Annotations.TolerationsAnnotations];
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? (v as Toleration[]) : [];
  } catch {
    return [];
  }
}

/** What provisionVolume works with: the clients, the placement view and the locks of one CSI controller service. */
export interface Provisioner {
  c: HwameistorClients;
  cache: PlacementCache;
  log: Logger;
  /** One placement decision at a time in this process (key "placement"); a group's writes in decision order (key = group). */
  locks: KeyedLock;
}

/**
 * Places a new volume and creates its LocalVolume (and group entry); call after finding no LocalVolume of this
 * name. If one appears meanwhile (another process), ours is not created and that one is returned.
 *
 * Only the decision runs under the placement lock, over the cached view (PlacementCache): it chooses the nodes
 * and the group and assumes them, so the next decision counts them at once. The writes run after the lock is
 * released, queued per group so that two PVCs of one pod write their group in decision order.
 */
export async function provisionVolume(p: Provisioner, r: ProvisionRequest): Promise<Lv> {
  const { c, cache } = p;
  const { params } = r;
  const ha = params.replicaNumber > 1;
  // Reads that no placement of this process changes: before the lock, so concurrent calls overlap them.
  const [allPods, coreNodes, pvc] = await Promise.all([
    listOptional(c.pod, { namespace: params.pvcNamespace }),
    ha ? listOptional(c.node) : Promise.resolve([]),
    ha ? c.pvc.get(params.pvcName, params.pvcNamespace).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  const users = podsUsingPvc(allPods, params.pvcNamespace, params.pvcName);
  const pods = users.map(nameOf).sort();

  /** Where the volume goes by this view of the cluster; throws the refusal (nothing written) when it cannot go. */
  const decide = ({ lsns, lvs, lvgs }: PlacementSnapshot) => {
    if (ha) refuseWithoutReplication(r, lsns);
    const group = findGroup(lvgs, params.pvcNamespace, pvcsOfPods(users, params.pvcName), r.name);
    const nodes = storageNodeViews(lsns, lvs, coreNodes);
    const result = getNodeCandidates(nodes, {
      name: r.name,
      poolName: params.poolName,
      requiredBytes: r.requiredBytes,
      replicaNumber: params.replicaNumber,
      groupNodes: group?.spec?.accessibility?.nodes,
      tolerations: tolerationsOf(pvc?.metadata?.annotations),
    });
    const chosen = result.error ? undefined : chooseNodes(result, r.topology, params.replicaNumber);
    if (!chosen) {
      const where = r.topology.requisite ? ` on ${r.topology.requisite.join(" or ")}` : "";
      const grp = group?.spec?.accessibility?.nodes?.length ? ` (its volume group ${nameOf(group)} is on ${group.spec.accessibility.nodes.join(", ")})` : "";
      throw new HwError(
        "RESOURCE_EXHAUSTED",
        "NoNodeFits",
        `no node${where} can hold volume ${r.name}: ${params.replicaNumber} replica(s) of ${formatBytes(r.requiredBytes)} in ${params.poolName}${grp}`,
        { hint: result.error ?? describeRejections(result, nodes) },
      );
    }
    // Thin / LUKS: refused here, before anything is written, when a chosen node cannot serve them.
    checkNodeFeatures(r, chosen, lsns);
    return { group, chosen };
  };

  const plan = await p.locks.with("placement", async () => {
    const snap = await cache.snapshot();
    let decision: ReturnType<typeof decide>;
    try {
      decision = decide(snap);
    } catch (e) {
      // A refusal is never based on a cache that may lag (a node that just became Ready, space just freed):
      // decided again on live lists (plus the assumptions).
      if (snap.live || !isHwError(e)) throw e;
      decision = decide(await cache.snapshot(true));
    }
    const { group, chosen } = decision;
    const groupName = group ? nameOf(group) : randomUUID();
    const lv = localVolumeOf(r, chosen, groupName);
    cache.assumeVolume(lv);
    cache.assumeGroup(intendedGroup(group, groupName, r, chosen, pods), r.name);
    const written = p.locks.with(groupName, () => writeVolume(p, r, lv, chosen, pods, !group));
    written.catch(() => {}); // awaited below, once the lock is released
    return { written, groupName };
  });
  try {
    const lv = await plan.written;
    cache.finish(r.name, plan.groupName);
    return lv;
  } catch (e) {
    cache.forget(r.name, plan.groupName);
    throw e;
  }
}

function localVolumeOf(r: ProvisionRequest, nodes: string[], group: string): Lv {
  const { params } = r;
  return {
    metadata: { name: r.name, annotations: csiNameAnnotation(r.csiName) },
    spec: {
      requiredCapacityBytes: r.requiredBytes,
      volumeQoS: params.volumeQoS,
      poolName: params.poolName,
      replicaNumber: params.replicaNumber,
      convertible: params.convertible,
      accessibility: { nodes, zones: [DEFAULT_TOPOLOGY_VALUE], regions: [DEFAULT_TOPOLOGY_VALUE] },
      pvcNamespace: params.pvcNamespace,
      pvcName: params.pvcName,
      volumegroup: group,
      ...(params.thin ? { thin: true } : {}),
      ...(params.volumeEncrypt ? { volumeEncrypt: params.volumeEncrypt } : {}),
      delete: false,
    },
  } as Lv;
}

/** The group as it is about to be written: the pod's group with this volume appended, or a new one for this PVC. */
function intendedGroup(group: Lvg | undefined, name: string, r: ProvisionRequest, nodes: string[], pods: string[]): Lvg {
  const { params } = r;
  if (!group) {
    return {
      metadata: { name, finalizers: [Finalizers.LocalVolumeGroupProtection] },
      spec: {
        namespace: params.pvcNamespace,
        volumes: [{ pvc: params.pvcName, localvolume: r.name }],
        pods,
        accessibility: { nodes, zones: [DEFAULT_TOPOLOGY_VALUE], regions: [DEFAULT_TOPOLOGY_VALUE] },
      },
    } as Lvg;
  }
  const spec = withVolume(group.spec ?? {}, params.pvcName, r.name, pods) ?? { ...group.spec };
  if (!group.spec?.accessibility?.nodes?.length) spec.accessibility = { ...spec.accessibility, nodes };
  return { ...group, spec };
}

/**
 * The writes of a placed volume: its group entry (read fresh: an earlier CreateVolume of the same pod may
 * have just written it), then the LocalVolume. On failure, what this call changed in the group is undone.
 */
async function writeVolume(p: Provisioner, r: ProvisionRequest, lv: Lv, nodes: string[], pods: string[], newGroup: boolean): Promise<Lv> {
  const { c, log } = p;
  const groupName = lv.spec!.volumegroup!;
  await checkEncryptionSecret(c, r);
  let created = false;
  let appended = false;
  for (let attempt = 0; ; attempt++) {
    // A group this call named (a fresh UUID) is created without reading it first.
    const cur = newGroup && attempt === 0 ? undefined : await c.lvg.get(groupName);
    try {
      if (!cur) {
        await c.lvg.create(intendedGroup(undefined, groupName, r, nodes, pods));
        created = true;
      } else {
        const next = intendedGroup(cur, groupName, r, nodes, pods);
        appended = !(cur.spec?.volumes ?? []).some((v) => v.localvolume === r.name);
        if (JSON.stringify(next.spec) !== JSON.stringify(cur.spec)) await c.lvg.update(next);
      }
      break;
    } catch (e) {
      // Another writer of the group (its reconciler adding the finalizer, or another process): read it again.
      if ((isConflict(e) || (e as HwError).code === "ALREADY_EXISTS") && attempt < 8) continue;
      throw e;
    }
  }

  try {
    const out = await c.lv.create(lv);
    log.info({ volume: r.name, nodes, pool: r.params.poolName, bytes: r.requiredBytes, group: groupName }, "LocalVolume created");
    return out;
  } catch (e) {
    // Leave nothing behind: undo what this call changed in the groups (an entry that was already there,
    // from an earlier attempt, stays for the next one).
    if (created) {
      await c.lvg.removeFinalizer(groupName, Finalizers.LocalVolumeGroupProtection).catch(() => {});
      await c.lvg.delete(groupName).catch(() => {});
    } else if (appended) {
      const g = await c.lvg.get(groupName).catch(() => undefined);
      const spec = g?.spec && withoutVolume(g.spec, r.name);
      if (g && spec) await c.lvg.update({ ...g, spec }).catch(() => {});
    }
    if ((e as HwError).code === "ALREADY_EXISTS") {
      const other = await c.lv.get(r.name);
      if (other) return other;
    }
    throw e;
  }
}
