// external-provisioner's decisions, pure (provisioner.ts does the reads, the CSI calls and the writes):
// - shouldProvision: an unbound, live claim handed to this driver by the PV controller
//   (`volume.kubernetes.io/storage-provisioner`), of a class this driver provisions, with a selected node
//   when the class is WaitForFirstConsumer, and no PV `pvc-<uid>` yet;
// - the CreateVolume request: name `pvc-<uid>` (the idempotency key: a retry after a crash asks for the same
//   volume), capacity, one capability per access mode, the class parameters without the reserved
//   `csi.storage.k8s.io/` keys plus the --extra-create-metadata keys (pvc/name, pvc/namespace, pv/name),
//   topology (--strict-topology: the selected node's segment is the only requisite and preferred one;
//   Immediate: every registered node's segment requisite, none preferred first), and the content source;
// - the PV built from the answer: capacity, CSI source (driver, handle, fsType, volumeAttributes),
//   nodeAffinity from the accessible topology, reclaim policy, claimRef, `pv.kubernetes.io/provisioned-by`
//   and, for reclaim Delete, the finalizer `external-provisioner.volume.kubernetes.io/finalizer`.

import type { NodeSelector, NodeSelectorTerm, Pv, Pvc, StorageClassShape } from "../../api/core.ts";
import { CsiParamKeys, KubeAnnotations, KubeFinalizers } from "../../api/names.ts";
import { quantityOrUndefined } from "../../api/quantity.ts";
import type { CreateVolumeRequest, CreateVolumeResponse, Topology } from "../../csi/types.ts";
import { bytesQuantity, volumeCapabilities } from "../common.ts";

export const pvNameOf = (c: Pvc) => `pvc-${c.metadata?.uid}`;

export type Skip = { skip: string };

/** Whether this provisioner should act on the claim now; a reason to skip it otherwise. */
export function shouldProvision(c: Pvc, sc: StorageClassShape | undefined, driver: string, pvExists: boolean): Skip | undefined {
  if (c.metadata?.deletionTimestamp) return { skip: "claim is being deleted" };
  if (c.spec?.volumeName) return { skip: "claim already names a volume" };
  const handedTo = c.metadata?.annotations?.[KubeAnnotations.StorageProvisioner] ?? c.metadata?.annotations?.[KubeAnnotations.BetaStorageProvisioner];
  if (handedTo !== driver) return { skip: "claim not handed to this provisioner" };
  if (!sc || sc.provisioner !== driver) return { skip: "class not provisioned by this driver" };
  if (sc.volumeBindingMode === "WaitForFirstConsumer" && !c.metadata?.annotations?.[KubeAnnotations.SelectedNode])
    return { skip: "waiting for the scheduler to select a node" };
  if (pvExists) return { skip: "volume already provisioned" };
  return undefined;
}

/** The class parameters passed to the driver: reserved csi.storage.k8s.io/ keys removed, metadata keys added. */
export function createParameters(sc: StorageClassShape, c: Pvc): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sc.parameters ?? {})) if (!k.startsWith(CsiParamKeys.Prefix)) out[k] = v;
  out[CsiParamKeys.PvcName] = c.metadata?.name ?? "";
  out[CsiParamKeys.PvcNamespace] = c.metadata?.namespace ?? "";
  out[CsiParamKeys.PvName] = pvNameOf(c);
  return out;
}

export interface RequestInputs {
  claim: Pvc;
  sc: StorageClassShape;
  /** The selected node's segment (WaitForFirstConsumer), from CSINode + Node labels. */
  selectedTopology?: Topology;
  /** Every registered node's segment (Immediate, topology-aware drivers). */
  allTopologies?: Topology[];
  /** Already resolved: { snapshot: { snapshot_id } } or { volume: { volume_id } }. */
  contentSource?: unknown;
  /** The size the source needs (snapshot restoreSize, source PVC capacity): the request may not be smaller. */
  sourceBytes?: number;
}

export function fsTypeOf(sc: StorageClassShape): string | undefined {
  return sc.parameters?.[CsiParamKeys.FsType] || undefined;
}

/** The CreateVolume request for a claim; throws a plain Error (a bad claim, not a driver failure) when it cannot be built. */
export function createVolumeRequest(i: RequestInputs): CreateVolumeRequest {
  const c = i.claim;
  const requested = quantityOrUndefined(c.spec?.resources?.requests?.storage);
  if (requested === undefined) throw new Error(`claim ${c.metadata?.namespace}/${c.metadata?.name} has no valid spec.resources.requests.storage (e.g. 1Gi)`);
  if (i.sourceBytes !== undefined && requested < i.sourceBytes) {
    throw new Error(
      `requested volume size ${requested} is less than the size ${i.sourceBytes} for the source; request at least ${bytesQuantity(i.sourceBytes)}`,
    );
  }
  const modes = c.spec?.accessModes ?? [];
  if (modes.length === 0) throw new Error(`claim ${c.metadata?.namespace}/${c.metadata?.name} has no spec.accessModes (e.g. [ReadWriteOnce])`);
  const req: CreateVolumeRequest = {
    name: pvNameOf(c),
    capacity_range: { required_bytes: String(requested) },
    volume_capabilities: volumeCapabilities(modes, c.spec?.volumeMode, fsTypeOf(i.sc), (i.sc as { mountOptions?: string[] }).mountOptions),
    parameters: createParameters(i.sc, c),
  };
  if (i.selectedTopology) req.accessibility_requirements = { requisite: [i.selectedTopology], preferred: [i.selectedTopology] };
  else if (i.allTopologies?.length) req.accessibility_requirements = { requisite: i.allTopologies, preferred: i.allTopologies };
  if (i.contentSource) req.volume_content_source = i.contentSource;
  return req;
}

/** nodeAffinity from the volume's accessible topology: one term per segment, a matchExpression per key. */
export function nodeAffinityOf(topologies: Topology[] | undefined): { required: NodeSelector } | undefined {
  const terms: NodeSelectorTerm[] = (topologies ?? [])
    .map((t) => Object.entries(t.segments ?? {}).map(([key, value]) => ({ key, operator: "In", values: [value] })))
    .filter((e) => e.length > 0)
    .map((matchExpressions) => ({ matchExpressions }));
  return terms.length ? { required: { nodeSelectorTerms: terms } } : undefined;
}

/** The PV for a provisioned volume. */
export function persistentVolume(i: {
  claim: Pvc;
  sc: StorageClassShape;
  driver: string;
  identity: string;
  res: CreateVolumeResponse;
  requestedBytes: number;
}): Pv {
  const c = i.claim;
  const v = i.res.volume;
  const bytes = Number(v.capacity_bytes ?? 0) || i.requestedBytes;
  const reclaim = i.sc.reclaimPolicy || "Delete";
  const block = c.spec?.volumeMode === "Block";
  const pv: Pv = {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name: pvNameOf(c),
      annotations: { [KubeAnnotations.ProvisionedBy]: i.driver },
      ...(reclaim === "Delete" ? { finalizers: [KubeFinalizers.ProvisionerDeletion] } : {}),
    },
    spec: {
      capacity: { storage: bytesQuantity(bytes) },
      accessModes: c.spec?.accessModes ?? [],
      persistentVolumeReclaimPolicy: reclaim,
      storageClassName: i.sc.metadata?.name ?? "",
      volumeMode: block ? "Block" : "Filesystem",
      claimRef: {
        kind: "PersistentVolumeClaim",
        apiVersion: "v1",
        namespace: c.metadata?.namespace,
        name: c.metadata?.name,
        uid: c.metadata?.uid,
        resourceVersion: c.metadata?.resourceVersion,
      },
      csi: {
        driver: i.driver,
        volumeHandle: v.volume_id,
        ...(block || !fsTypeOf(i.sc) ? {} : { fsType: fsTypeOf(i.sc) }),
        volumeAttributes: { ...(v.volume_context ?? {}), [KubeAnnotations.ProvisionerIdentity]: i.identity },
      },
    },
  };
  const mountOptions = (i.sc as { mountOptions?: string[] }).mountOptions;
  if (mountOptions?.length) pv.spec!.mountOptions = mountOptions;
  const affinity = nodeAffinityOf(v.accessible_topology);
  if (affinity) pv.spec!.nodeAffinity = affinity;
  return pv;
}

/** Whether the deleter should delete this PV's volume now (and why not). */
export function shouldDelete(pv: Pv, driver: string, attachedTo: string[]): Skip | undefined {
  if (pv.metadata?.annotations?.[KubeAnnotations.ProvisionedBy] !== driver) return { skip: "not provisioned by this driver" };
  if (pv.spec?.csi?.driver !== driver) return { skip: "not a volume of this driver" };
  if ((pv.spec?.persistentVolumeReclaimPolicy || "Delete") !== "Delete") return { skip: "reclaim policy is not Delete" };
  const released = pv.status?.phase === "Released" || pv.status?.phase === "Failed";
  const deletedUnbound = !!pv.metadata?.deletionTimestamp && !pv.spec?.claimRef;
  if (!released && !deletedUnbound) return { skip: "volume is not released" };
  if (attachedTo.length) return { skip: `persistentvolume ${pv.metadata?.name} is still attached to node ${attachedTo.join(", ")}` };
  return undefined;
}
