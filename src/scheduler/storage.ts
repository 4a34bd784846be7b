// HwameiStor's scheduler plugin (fact sheet §4.1: filter and score of `hwameistor-scheduler-plugin`) as
// pure functions over a snapshot of the cluster. ONE implementation, two callers: the embedded pod
// scheduler (src/scheduler/scheduler.ts) and the scheduler extender served to a real kube-scheduler
// (`filter`/`prioritize`). Nothing here reads the API server or the clock.
//
// Use:
//   const plan = planPodStorage(pod, state);      // once per pod: classify its PVCs, place its new volumes
//   filterNode(plan, "node-1")                     // undefined = fits, else the reason (for FailedNodes)
//   scoreNode(plan, "node-1")                      // 0..100 (an extender scales to its 0..10)
//   plan.annotationPatches                         // PVC annotations the filter's step 1 writes (caller applies)
// or `filterAndScore(pod, nodeNames, state)` for all three at once.
//
// PVC classification (per pod volume with a persistentVolumeClaim): no storageClassName, or a class that
// does not exist → ignored (not ours); provisioner lvm.hwameistor.io / disk.hwameistor.io: phase Bound →
// provisioned, Pending → new, anything else → the pod is unschedulable (error naming the PVC). A PVC that
// does not exist → unschedulable ("persistentvolumeclaim "x" not found", as kube-scheduler says).
//
// Filter (a pod without our PVCs passes every node):
//   1. pod affinity / tolerations JSON-serialised into every NEW lvm PVC's annotations
//      `hwameistor.io/affinity-annotations` / `hwameistor.io/tolerations-annotations` (only when changed).
//   2. LVM — node needs a LocalStorageNode. Provisioned volumes: rejected while the LocalVolume carries
//      `hwameistor.io/volume-migrate-state=migrateStarted`; the node must hold a replica
//      (`spec.config.replicas`); `status.publishedNode`, when set, must be the node; a volume without HA whose
//      config holds a migration's second replica only on the primary's node. New volumes: from a
//      VolumeSnapshot the snapshot's LocalVolumeSnapshot must be accessible on the node; from a PVC (clone)
//      the source LocalVolume must be Ready and on the node; then GetNodeCandidates (src/api/placement) with
//      the pod's new volumes of one pool COUNTED TOGETHER (Σ bytes, n volumes), a volume group of the pod
//      binding the nodes, taints checked for replicaNumber > 1 with the pod's tolerations (unless the PVC has
//      `hwameistor.io/skip-affinity-annotations: "true"`): need ≥ replicaNumber candidates, node among them.
//   3. Disk — the LocalDiskNode must be Ready; bound disk volumes must be on the node; new disk PVCs grouped by
//      diskType, PVCs and the node's Available disks sorted by size descending: the i-th PVC must fit the
//      i-th disk, and there must be as many disks as PVCs.
// Score: lvm = floor(avg over new lvm PVCs of (poolFree − request) / poolFree × 100), disk = 0,
//   score = (lvm + disk) / (100 × kinds present) × 100; 0 when the pod has no new volume of ours.
//
// Deliberate differences (docs/compatibility.md): the LocalStorageNode requirement applies only to pods
// with lvm PVCs (the original rejects every node without one even for pods with no lvm PVC); poolFree in
// the score includes volumes placed but not realised yet and claims already sent to a node but not provisioned
// yet (so pods scheduled back to back spread as the space they take says); a PVC that does not exist is an
// error rather than ignored.

import type { Affinity, CoreNode, Pod, Pv, Pvc, StorageClassShape, Toleration } from "../api/core.ts";
import type { LocalDiskNode } from "../api/kinds/local-disk-node.ts";
import type { LocalDiskVolume } from "../api/kinds/local-disk-volume.ts";
import type { LocalStorageNode } from "../api/kinds/local-storage-node.ts";
import type { LocalVolumeGroup } from "../api/kinds/local-volume-group.ts";
import type { LocalVolumeSnapshot } from "../api/kinds/local-volume-snapshot.ts";
import type { LocalVolume } from "../api/kinds/local-volume.ts";
import {
  AnnotationValues,
  Annotations,
  DeviceStates,
  Drivers,
  NodeStates,
  ScParams,
  VolumeStates,
  diskPoolName,
  isPoolClass,
  storagePoolName,
} from "../api/names.ts";
import { findGroup } from "../api/placement/groups.ts";
import { soleServingNode } from "../api/replication.ts";
import { getNodeCandidates, storageNodeViews, type PlacementResult, type StorageNodeView } from "../api/placement/placement.ts";
import { formatBytes, quantityOrUndefined } from "../api/quantity.ts";

/** snapshot.storage.k8s.io/v1 VolumeSnapshot, the fields read here. */
export interface VolumeSnapshotView {
  metadata?: { name?: string; namespace?: string };
  status?: { boundVolumeSnapshotContentName?: string; readyToUse?: boolean };
}
/** snapshot.storage.k8s.io/v1 VolumeSnapshotContent, the fields read here. */
export interface VolumeSnapshotContentView {
  metadata?: { name?: string };
  spec?: { driver?: string; source?: { snapshotHandle?: string } };
  status?: { snapshotHandle?: string };
}

/** What the filter and score read. Lists not given count as empty. */
export interface StorageState {
  storageClasses: StorageClassShape[];
  /** PVCs of (at least) the pod's namespace. */
  pvcs: Pvc[];
  pvs?: Pv[];
  /** Core Nodes: their taints matter for replicaNumber > 1. */
  nodes?: CoreNode[];
  lsns: LocalStorageNode[];
  lvs: LocalVolume[];
  lvgs?: LocalVolumeGroup[];
  ldns?: LocalDiskNode[];
  ldvs?: LocalDiskVolume[];
  volumeSnapshots?: VolumeSnapshotView[];
  volumeSnapshotContents?: VolumeSnapshotContentView[];
  localVolumeSnapshots?: LocalVolumeSnapshot[];
}

export type VolumeKind = "lvm" | "disk";

/** One PVC of the pod that is ours. */
export interface PodVolume {
  pvc: string;
  kind: VolumeKind;
  /** Bound (provisioned) or Pending (new). */
  provisioned: boolean;
  /** PV / LocalVolume / LocalDiskVolume name when bound. */
  volumeName?: string;
  requestBytes: number;
  storageClass: string;
  /** lvm: pool name; disk: disk class. */
  pool: string;
  replicaNumber: number;
}

export interface AnnotationPatch {
  namespace: string;
  pvc: string;
  /** The annotations to merge into the PVC (only those that differ). */
  annotations: Record<string, string>;
}

export interface PodStoragePlan {
  namespace: string;
  podName: string;
  volumes: PodVolume[];
  /** When set, the pod fits no node (unschedulable until fixed): names the PVC and the fix. */
  error?: string;
  annotationPatches: AnnotationPatch[];
  /** Per node: why not (nodes absent from this map and not in `fits` were not considered). */
  reasons: Map<string, string>;
  /** Nodes that pass the storage filter. */
  fits: Set<string>;
  /** Score per node (0..100), for nodes that fit. */
  scores: Map<string, number>;
}

export const HWAMEISTOR_DRIVERS: readonly string[] = [Drivers.Lvm, Drivers.Disk];

const isOurs = (provisioner: string | undefined): VolumeKind | undefined =>
  provisioner === Drivers.Lvm ? "lvm" : provisioner === Drivers.Disk ? "disk" : undefined;

/** PVC request in bytes (spec.resources.requests.storage); 0 when missing or malformed. */
export function pvcRequestBytes(pvc: Pvc): number {
  return quantityOrUndefined(pvc.spec?.resources?.requests?.storage) ?? 0;
}

/** JSON of the pod's affinity / tolerations as the original writes them (null when absent). */
function affinityJson(a: Affinity | undefined): string | undefined {
  return a ? JSON.stringify(a) : undefined;
}
function tolerationsJson(t: Toleration[] | undefined): string | undefined {
  return t && t.length ? JSON.stringify(t) : undefined;
}

/**
 * Classifies the pod's PVCs and decides, for `nodeNames` and every node with a LocalStorageNode,
 * LocalDiskNode or core Node, whether the pod's volumes of our drivers fit there and how well.
 */
export function planPodStorage(pod: Pod, state: StorageState, nodeNames: string[] = []): PodStoragePlan {
  const namespace = pod.metadata?.namespace ?? "default";
  const plan: PodStoragePlan = {
    namespace,
    podName: pod.metadata?.name ?? "",
    volumes: [],
    annotationPatches: [],
    reasons: new Map(),
    fits: new Set(),
    scores: new Map(),
  };
  const allNodes = new Set<string>([
    ...nodeNames,
    ...state.lsns.map((n) => n.metadata?.name ?? ""),
    ...(state.ldns ?? []).map((n) => n.metadata?.name ?? ""),
    ...(state.nodes ?? []).map((n) => n.metadata?.name ?? ""),
  ]);
  allNodes.delete("");

  // ---- classification
  const pvcByName = new Map(state.pvcs.filter((p) => (p.metadata?.namespace ?? "default") === namespace).map((p) => [p.metadata?.name ?? "", p]));
  const scByName = new Map(state.storageClasses.map((s) => [s.metadata?.name ?? "", s]));
  const newLvm: Array<{ v: PodVolume; pvc: Pvc }> = [];
  for (const vol of pod.spec?.volumes ?? []) {
    const claim = vol.persistentVolumeClaim?.claimName;
    if (!claim) continue;
    const pvc = pvcByName.get(claim);
    if (!pvc) {
      plan.error = `persistentvolumeclaim "${claim}" not found`;
      break;
    }
    const scName = pvc.spec?.storageClassName;
    if (!scName) continue;
    const sc = scByName.get(scName);
    if (!sc) continue;
    const kind = isOurs(sc.provisioner);
    if (!kind) continue;
    const phase = pvc.status?.phase ?? "Pending";
    if (phase !== "Bound" && phase !== "Pending") {
      plan.error = `persistentvolumeclaim "${claim}" is ${phase}: a ${sc.provisioner} volume must be Bound or Pending to be scheduled (recreate the PVC or restore its PersistentVolume)`;
      break;
    }
    const params = sc.parameters ?? {};
    let pool = "";
    let replicaNumber = 1;
    if (kind === "lvm") {
      const cls = params[ScParams.PoolClass] ?? "";
      if (phase === "Pending" && !isPoolClass(cls)) {
        plan.error = `StorageClass ${scName} of persistentvolumeclaim "${claim}" has ${ScParams.PoolClass} ${JSON.stringify(cls)}: it must be HDD, SSD or NVMe`;
        break;
      }
      pool = isPoolClass(cls) ? storagePoolName(cls) : "";
      replicaNumber = Number(params[ScParams.ReplicaNumber] ?? "1");
      if (!Number.isInteger(replicaNumber) || replicaNumber < 1) replicaNumber = 1;
    } else {
      pool = params[ScParams.DiskType] ?? "";
    }
    const v: PodVolume = {
      pvc: claim,
      kind,
      provisioned: phase === "Bound",
      volumeName: pvc.spec?.volumeName || undefined,
      requestBytes: pvcRequestBytes(pvc),
      storageClass: scName,
      pool,
      replicaNumber,
    };
    plan.volumes.push(v);
    if (kind === "lvm" && !v.provisioned) newLvm.push({ v, pvc });
  }
  if (plan.error) {
    for (const n of allNodes) plan.reasons.set(n, plan.error);
    return plan;
  }

  // ---- step 1: affinity / tolerations into new lvm PVCs
  const aff = affinityJson(pod.spec?.affinity);
  const tol = tolerationsJson(pod.spec?.tolerations);
  for (const { v, pvc } of newLvm) {
    const have = pvc.metadata?.annotations ?? {};
    const want: Record<string, string> = {};
    if (aff !== undefined && have[Annotations.AffinityAnnotations] !== aff) want[Annotations.AffinityAnnotations] = aff;
    if (tol !== undefined && have[Annotations.TolerationsAnnotations] !== tol) want[Annotations.TolerationsAnnotations] = tol;
    if (Object.keys(want).length) plan.annotationPatches.push({ namespace, pvc: v.pvc, annotations: want });
  }

  if (!plan.volumes.length) {
    for (const n of allNodes) {
      plan.fits.add(n);
      plan.scores.set(n, 0);
    }
    return plan;
  }

  const views = storageNodeViews(state.lsns, [...state.lvs, ...assumedVolumes(state)], state.nodes ?? []);
  const lvmCheck = lvmFilter(plan, pod, state, views, newLvm);
  const diskCheck = diskFilter(plan, state);
  for (const node of allNodes) {
    const reason = lvmCheck(node) ?? diskCheck(node);
    if (reason) plan.reasons.set(node, reason);
    else {
      plan.fits.add(node);
      plan.scores.set(node, score(plan, views, node));
    }
  }
  return plan;
}

/**
 * Claims the scheduler has already sent to a node (`volume.kubernetes.io/selected-node`, not bound yet) whose
 * LocalVolume does not exist yet, as pending volumes on that node — kube-scheduler's assume cache: pods placed
 * back to back see each other's space before the provisioner has created anything.
 */
export function assumedVolumes(state: StorageState): LocalVolume[] {
  const scs = new Map(state.storageClasses.map((c) => [c.metadata?.name ?? "", c]));
  const out: LocalVolume[] = [];
  const created = new Set(state.lvs.map((lv) => `${lv.spec?.pvcNamespace}/${lv.spec?.pvcName}`));
  for (const pvc of state.pvcs) {
    const node = pvc.metadata?.annotations?.[Annotations.SelectedNode];
    if (!node || pvc.spec?.volumeName || pvc.status?.phase === "Bound") continue;
    if (created.has(`${pvc.metadata?.namespace}/${pvc.metadata?.name}`)) continue; // its LocalVolume counts already
    const sc = scs.get(pvc.spec?.storageClassName ?? "");
    const cls = sc?.parameters?.[ScParams.PoolClass] ?? "";
    if (sc?.provisioner !== Drivers.Lvm || !isPoolClass(cls)) continue;
    out.push({
      metadata: { name: `assumed:${pvc.metadata?.namespace}/${pvc.metadata?.name}` },
      spec: { poolName: storagePoolName(cls), requiredCapacityBytes: pvcRequestBytes(pvc), accessibility: { nodes: [node] } },
      status: { rawblock: false },
    });
  }
  return out;
}

/** The LVM part of the filter; returns a per-node check. */
function lvmFilter(
  plan: PodStoragePlan,
  pod: Pod,
  state: StorageState,
  views: StorageNodeView[],
  newLvm: Array<{ v: PodVolume; pvc: Pvc }>,
): (node: string) => string | undefined {
  const lvm = plan.volumes.filter((v) => v.kind === "lvm");
  if (!lvm.length) return () => undefined;
  const lsnNames = new Set(state.lsns.map((n) => n.metadata?.name ?? ""));
  const offline = new Set(state.lsns.filter((n) => n.status?.state === NodeStates.Offline).map((n) => n.metadata?.name ?? ""));
  const lvByName = new Map(state.lvs.map((lv) => [lv.metadata?.name ?? "", lv]));
  const checks: Array<(node: string) => string | undefined> = [];

  // provisioned volumes
  for (const v of lvm.filter((x) => x.provisioned)) {
    const lv = v.volumeName ? lvByName.get(v.volumeName) : undefined;
    if (!lv) {
      const msg = `LocalVolume ${v.volumeName ?? "(none)"} of persistentvolumeclaim "${v.pvc}" does not exist (yet): the pod waits for it`;
      checks.push(() => msg);
      continue;
    }
    const migrating = lv.metadata?.annotations?.[Annotations.VolumeMigrateState] === AnnotationValues.MigrateStarted;
    const replicas = new Set((lv.spec?.config?.replicas ?? []).map((r) => r.hostname));
    const published = lv.status?.publishedNode;
    // A volume without HA lives on its primary replica alone; a second replica in its config is a migration's (the
    // new one before it is promoted, or the old one kept while the target's disk is re-read). The pod goes where
    // the data is live. Read from the same object as the migrate-state annotation — the PV's node affinity is
    // another object on another watch, which may lag the release by a moment and still name the old node.
    const sole = soleServingNode(lv);
    checks.push((node) => {
      if (migrating) return `volume ${v.volumeName} of persistentvolumeclaim "${v.pvc}" is being migrated: the pod waits until the migration completes`;
      // A node whose agent's lease expired serves no replica, even while its Node still looks Ready (the node
      // lifecycle marks it Unknown only after its grace period): a pod the failover assistant moved must not
      // land there again.
      if (offline.has(node))
        return `node's LocalStorageNode is Offline (its node agent's lease expired): it cannot serve volume ${v.volumeName} (persistentvolumeclaim "${v.pvc}")`;
      if (!replicas.has(node))
        return `node has no replica of volume ${v.volumeName} (persistentvolumeclaim "${v.pvc}"; replicas on ${[...replicas].sort().join(", ") || "no node yet"})`;
      if (published && published !== node) return `volume ${v.volumeName} (persistentvolumeclaim "${v.pvc}") is published on node ${published}`;
      if (sole && sole !== node)
        return `volume ${v.volumeName} (persistentvolumeclaim "${v.pvc}") is served by its replica on ${sole}; the one on this node is a migration's copy`;
      return undefined;
    });
  }

  // new volumes: data sources
  for (const { v, pvc } of newLvm) {
    const src = pvc.spec?.dataSourceRef ?? pvc.spec?.dataSource;
    if (!src) continue;
    if (src.kind === "VolumeSnapshot") {
      const nodes = snapshotNodes(state, src.namespace ?? plan.namespace, src.name);
      checks.push((node) => {
        if (!nodes) return `VolumeSnapshot ${src.name} (data source of persistentvolumeclaim "${v.pvc}") is not bound to a LocalVolumeSnapshot yet`;
        if (!nodes.includes(node)) return `VolumeSnapshot ${src.name} (data source of persistentvolumeclaim "${v.pvc}") is on ${nodes.join(", ") || "no node"}`;
        return undefined;
      });
    } else if (src.kind === "PersistentVolumeClaim") {
      const source = pvcByNameIn(state, plan.namespace, src.name);
      const lv = source?.spec?.volumeName ? lvByName.get(source.spec.volumeName) : undefined;
      checks.push((node) => {
        if (!lv) return `source persistentvolumeclaim "${src.name}" of "${v.pvc}" has no LocalVolume`;
        if (lv.status?.state !== VolumeStates.Ready)
          return `source volume ${lv.metadata?.name} of persistentvolumeclaim "${v.pvc}" is ${lv.status?.state || "not created"}, not Ready`;
        if (!(lv.spec?.accessibility?.nodes ?? []).includes(node))
          return `source volume ${lv.metadata?.name} of persistentvolumeclaim "${v.pvc}" is not on this node`;
        return undefined;
      });
    }
  }

  // new volumes: placement, the pod's volumes of one pool counted together
  if (newLvm.length) {
    const perPool = new Map<string, { bytes: number; count: number }>();
    for (const { v } of newLvm) {
      const p = perPool.get(v.pool) ?? { bytes: 0, count: 0 };
      p.bytes += v.requestBytes;
      p.count += 1;
      perPool.set(v.pool, p);
    }
    const podPvcs = plan.volumes.map((v) => v.pvc);
    const group = findGroup(state.lvgs ?? [], plan.namespace, podPvcs, "");
    const groupNodes = group?.spec?.accessibility?.nodes ?? [];
    const results: Array<{ v: PodVolume; r: PlacementResult }> = [];
    for (const { v, pvc } of newLvm) {
      const sum = perPool.get(v.pool)!;
      const skip = pvc.metadata?.annotations?.[Annotations.SkipAffinityAnnotations] === "true";
      const r = getNodeCandidates(views, {
        name: `persistentvolumeclaim "${v.pvc}"`,
        poolName: v.pool,
        requiredBytes: sum.bytes,
        volumeCount: sum.count,
        replicaNumber: v.replicaNumber,
        groupNodes,
        // replicaNumber > 1 applies taints; a skip annotation means "tolerate everything".
        tolerations: skip ? [{ operator: "Exists" }] : (pod.spec?.tolerations ?? []),
      });
      results.push({ v, r });
    }
    checks.push((node) => {
      for (const { v, r } of results) {
        if (r.error) return r.error;
        if (r.candidates.length < v.replicaNumber) {
          return `persistentvolumeclaim "${v.pvc}" needs ${v.replicaNumber} nodes with room in ${v.pool}, only ${r.candidates.length} have it (${describe(r)})`;
        }
        if (!r.candidates.some((c) => c.node === node)) {
          const why =
            r.rejected.find((x) => x.node === node)?.reason ??
            (groupNodes.length ? `the pod's volume group is on ${groupNodes.join(", ")}` : "not a candidate");
          const counted = perPool.get(v.pool)!;
          return `persistentvolumeclaim "${v.pvc}": ${why}${counted.count > 1 ? ` (the pod's ${counted.count} new ${v.pool} volumes are counted together: ${formatBytes(counted.bytes)})` : ""}`;
        }
      }
      return undefined;
    });
  }

  return (node) => {
    if (!lsnNames.has(node)) return `node has no LocalStorageNode (is the node agent running there with local storage on?)`;
    for (const c of checks) {
      const r = c(node);
      if (r) return r;
    }
    return undefined;
  };
}

function describe(r: PlacementResult): string {
  return r.rejected.map((x) => `${x.node}: ${x.reason}`).join("; ") || "no LocalStorageNode is Ready";
}

function pvcByNameIn(state: StorageState, namespace: string, name: string): Pvc | undefined {
  return state.pvcs.find((p) => (p.metadata?.namespace ?? "default") === namespace && p.metadata?.name === name);
}

/** Nodes holding the LocalVolumeSnapshot behind a VolumeSnapshot; undefined while unresolved. */
function snapshotNodes(state: StorageState, namespace: string, name: string): string[] | undefined {
  const vs = (state.volumeSnapshots ?? []).find((s) => s.metadata?.name === name && (s.metadata?.namespace ?? "default") === namespace);
  const contentName = vs?.status?.boundVolumeSnapshotContentName;
  if (!contentName) return undefined;
  const content = (state.volumeSnapshotContents ?? []).find((c) => c.metadata?.name === contentName);
  const handle = content?.status?.snapshotHandle ?? content?.spec?.source?.snapshotHandle;
  if (!handle) return undefined;
  const lvs = (state.localVolumeSnapshots ?? []).find((s) => s.metadata?.name === handle);
  if (!lvs) return undefined;
  return lvs.spec?.accessibility?.nodes ?? [];
}

/** The disk part of the filter; returns a per-node check. */
function diskFilter(plan: PodStoragePlan, state: StorageState): (node: string) => string | undefined {
  const disk = plan.volumes.filter((v) => v.kind === "disk");
  if (!disk.length) return () => undefined;
  const ldns = new Map((state.ldns ?? []).map((n) => [n.metadata?.name ?? "", n]));
  const ldvByName = new Map((state.ldvs ?? []).map((v) => [v.metadata?.name ?? "", v]));
  // Disks held by a live LocalDiskVolume are not free, whatever the LocalDiskNode says yet.
  const held = new Set(
    (state.ldvs ?? [])
      .filter((v) => v.status?.state !== VolumeStates.Deleted && v.status?.devPath)
      .map((v) => `${(v.spec?.accessibility?.nodes ?? [])[0] ?? ""}:${v.status!.devPath}`),
  );
  const pending = disk.filter((v) => !v.provisioned);
  return (node) => {
    const ldn = ldns.get(node);
    if (!ldn || ldn.status?.state !== NodeStates.Ready) return `LocalDiskNode ${node} is ${ldn ? ldn.status?.state || "not reported" : "missing"}, not Ready`;
    for (const v of disk.filter((x) => x.provisioned)) {
      const ldv = v.volumeName ? ldvByName.get(v.volumeName) : undefined;
      const on = ldv?.spec?.accessibility?.nodes ?? [];
      if (!on.includes(node)) return `disk volume ${v.volumeName ?? "(none)"} of persistentvolumeclaim "${v.pvc}" is on ${on.join(", ") || "no node"}`;
    }
    const byType = new Map<string, PodVolume[]>();
    for (const v of pending) byType.set(v.pool, [...(byType.get(v.pool) ?? []), v]);
    for (const [type, vols] of byType) {
      const pool = isPoolClass(type) ? ldn.status?.pools?.[diskPoolName(type)] : undefined;
      const free = (pool?.disks ?? [])
        .filter((d) => d.state === DeviceStates.Available && !held.has(`${node}:${d.devPath}`))
        .map((d) => Number(d.capacityBytes ?? 0))
        .sort((a, b) => b - a);
      const want = vols.map((v) => v.requestBytes).sort((a, b) => b - a);
      if (want.length > free.length) return `node has ${free.length} Available ${type || "(no diskType)"} disk(s), the pod needs ${want.length}`;
      for (let i = 0; i < want.length; i++) {
        if (want[i]! > free[i]!)
          return `no Available ${type} disk of ${formatBytes(want[i]!)} for the pod's disk volumes (largest free disks: ${free.map(formatBytes).join(", ")})`;
      }
    }
    return undefined;
  };
}

function score(plan: PodStoragePlan, views: StorageNodeView[], node: string): number {
  const newLvm = plan.volumes.filter((v) => v.kind === "lvm" && !v.provisioned);
  const newDisk = plan.volumes.filter((v) => v.kind === "disk" && !v.provisioned);
  const kinds = (newLvm.length ? 1 : 0) + (newDisk.length ? 1 : 0);
  if (!kinds) return 0;
  let lvm = 0;
  if (newLvm.length) {
    const view = views.find((v) => v.name === node);
    let sum = 0;
    for (const v of newLvm) {
      const pool = view?.pools[v.pool];
      const free = pool ? Math.min(pool.freeBytes, pool.totalBytes - pool.usedBytes) : 0;
      sum += free > 0 ? Math.max(0, ((free - v.requestBytes) / free) * 100) : 0;
    }
    lvm = Math.floor(sum / newLvm.length);
  }
  const diskScore = 0;
  return Math.floor(((lvm + diskScore) / (100 * kinds)) * 100);
}

/** Whether node `node` fits: undefined if yes, else the reason. Nodes the plan never saw fail. */
export function filterNode(plan: PodStoragePlan, node: string): string | undefined {
  if (plan.fits.has(node)) return undefined;
  return plan.reasons.get(node) ?? plan.error ?? "node has neither a LocalStorageNode nor a LocalDiskNode";
}

/** The node's score, 0..100 (0 for nodes that do not fit). */
export function scoreNode(plan: PodStoragePlan, node: string): number {
  return plan.scores.get(node) ?? 0;
}

/** True when the pod has at least one PVC of our drivers (what the admission webhook keys on). */
export function usesOurVolumes(plan: PodStoragePlan): boolean {
  return plan.volumes.length > 0;
}

export interface StorageVerdict {
  plan: PodStoragePlan;
  /** Nodes that fit, best first (ties by name). */
  feasible: Array<{ node: string; score: number }>;
  /** node → reason. */
  failed: Record<string, string>;
}

/** Filter and score `nodeNames` for `pod` in one call (what an extender's filter + prioritize need). */
export function filterAndScore(pod: Pod, nodeNames: string[], state: StorageState): StorageVerdict {
  const plan = planPodStorage(pod, state, nodeNames);
  const feasible: StorageVerdict["feasible"] = [];
  const failed: Record<string, string> = {};
  for (const node of nodeNames) {
    const r = plan.volumes.length || plan.error ? filterNode(plan, node) : undefined;
    if (r) failed[node] = r;
    else feasible.push({ node, score: scoreNode(plan, node) });
  }
  feasible.sort((a, b) => b.score - a.score || a.node.localeCompare(b.node));
  return { plan, feasible, failed };
}
