// The PV controller's decisions (kube-controller-manager, pkg/controller/volume/persistentvolume), pure:
// from a claim or a volume and the objects around it to what must change. pv-controller.ts gathers the
// facts and performs the writes; binder.test.ts is the scenario table.
//
// Matches upstream: bind by storageClassName, volumeMode, access modes (the PV's ⊇ the claim's), capacity
// (smallest PV that fits wins), label selector and pre-binding (PV.spec.claimRef / PVC.spec.volumeName);
// the annotations bind-completed / bound-by-controller; phases Pending/Bound/Lost (claims) and
// Available/Bound/Released/Failed (volumes); dynamic provisioning is handed to the external provisioner by
// annotating the claim `volume.kubernetes.io/storage-provisioner`; WaitForFirstConsumer claims wait for the
// scheduler's `volume.kubernetes.io/selected-node`; a claim without storageClassName gets the default class
// (retroactive default StorageClass assignment, 1.28+); Events with upstream's reasons and messages.
// DIFFERENCE: for a WaitForFirstConsumer claim with a selected node, a static PV that fits the claim and
// whose nodeAffinity admits the node is bound here (upstream kube-scheduler's VolumeBinding pre-binds it);
// without a selected node only PVs pre-bound to the claim are bound, as upstream.
// ADDITION: while a claim is Pending, condition `Bound=False` carries the reason and the fix (upstream keeps
// them in Events only).

import type { NodeSelector, NodeSelectorRequirement, Pv, Pvc, StorageClassShape } from "../api/core.ts";
import { labelSelectorMatcher, type LabelSelector } from "../api/label-selector.ts";
import { KubeAnnotations } from "../api/names.ts";
import { quantityOrUndefined } from "../api/quantity.ts";

export const ClaimPhases = { Pending: "Pending", Bound: "Bound", Lost: "Lost" } as const;
export const VolumePhases = { Pending: "Pending", Available: "Available", Bound: "Bound", Released: "Released", Failed: "Failed" } as const;

export interface EventSpec {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export type ClaimAction =
  /** Nothing to do but keep (or set) the phase; event and condition explain a Pending claim. */
  | { kind: "pending"; event?: EventSpec; condition?: { reason: string; message: string } }
  | { kind: "setDefaultClass"; className: string }
  /** Hand the claim to an external provisioner (annotate it), then wait. */
  | { kind: "provision"; provisioner: string; event: EventSpec }
  /** Bind claim and volume: PV.claimRef (if not yet pointing at the claim), then the claim's volumeName, annotations and status. */
  | { kind: "bind"; volume: string; pvBoundByController: boolean; claimBoundByController: boolean }
  /** Bound: keep the claim's status in step with the volume. */
  | { kind: "bound"; volume: string }
  | { kind: "lost"; event: EventSpec };

export interface ClaimFacts {
  claim: Pvc;
  volumes: Pv[];
  classes: Map<string, StorageClassShape>;
  /** Labels of the selected node (WaitForFirstConsumer), when the claim has one and the node exists. */
  selectedNodeLabels?: Record<string, string>;
}

const ann = (o: { metadata?: { annotations?: Record<string, string> } } | undefined, k: string) => o?.metadata?.annotations?.[k];
export const claimKey = (c: Pvc) => `${c.metadata?.namespace ?? ""}/${c.metadata?.name ?? ""}`;
export const requestBytes = (c: Pvc) => quantityOrUndefined(c.spec?.resources?.requests?.storage) ?? 0;
export const capacityBytes = (v: Pv) => quantityOrUndefined(v.spec?.capacity?.storage) ?? 0;
/** The claim's class name: "" means "no class" (only class-less PVs); undefined means "not set" (default class applies). */
export const classOf = (c: Pvc): string | undefined => (c.spec?.storageClassName === null ? undefined : c.spec?.storageClassName);

export function isDelayBinding(c: Pvc, classes: Map<string, StorageClassShape>): boolean {
  const cls = classOf(c);
  return !!cls && classes.get(cls)?.volumeBindingMode === "WaitForFirstConsumer";
}

/** The default StorageClass (annotation is-default-class "true"); the newest wins when several are marked, as upstream. */
export function defaultClass(classes: Map<string, StorageClassShape>): StorageClassShape | undefined {
  const defaults = [...classes.values()].filter((c) => ann(c, KubeAnnotations.IsDefaultClass) === "true");
  defaults.sort(
    (a, b) =>
      String(b.metadata?.creationTimestamp ?? "").localeCompare(String(a.metadata?.creationTimestamp ?? "")) ||
      String(a.metadata?.name).localeCompare(String(b.metadata?.name)),
  );
  return defaults[0];
}

/** Whether the PV's claimRef names this claim (uid empty = pre-bound by the user to the name). */
export function claimRefMatches(v: Pv, c: Pvc): boolean {
  const r = v.spec?.claimRef;
  if (!r) return false;
  if (r.name !== c.metadata?.name || (r.namespace ?? "") !== (c.metadata?.namespace ?? "")) return false;
  return !r.uid || r.uid === c.metadata?.uid;
}

function matchesRequirement(req: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const v = labels[req.key];
  switch (req.operator) {
    case "In":
      return v !== undefined && (req.values ?? []).includes(v);
    case "NotIn":
      return v === undefined || !(req.values ?? []).includes(v);
    case "Exists":
      return v !== undefined;
    case "DoesNotExist":
      return v === undefined;
    case "Gt":
      return v !== undefined && Number(v) > Number(req.values?.[0]);
    case "Lt":
      return v !== undefined && Number(v) < Number(req.values?.[0]);
    default:
      return false;
  }
}

/** A required NodeSelector against a node's labels (terms ORed, expressions ANDed; matchFields: metadata.name only). */
export function nodeSelectorMatches(sel: NodeSelector | undefined, labels: Record<string, string>, nodeName?: string): boolean {
  const terms = sel?.nodeSelectorTerms ?? [];
  if (terms.length === 0) return true;
  return terms.some((t) => {
    const exprs = t.matchExpressions ?? [];
    const fields = t.matchFields ?? [];
    if (exprs.length === 0 && fields.length === 0) return false;
    return (
      exprs.every((e) => matchesRequirement(e, labels)) &&
      fields.every((f) => f.key === "metadata.name" && matchesRequirement({ ...f, key: "n" }, { n: nodeName ?? "" }))
    );
  });
}

/** Why the volume cannot serve the claim (checkVolumeSatisfyClaim), or undefined when it can. */
export function mismatch(v: Pv, c: Pvc): string | undefined {
  const want = requestBytes(c);
  const have = capacityBytes(v);
  if (have < want) return `requested PV is too small (capacity ${v.spec?.capacity?.storage ?? "0"} < request ${c.spec?.resources?.requests?.storage})`;
  const vClass = v.spec?.storageClassName ?? "";
  const cClass = classOf(c) ?? "";
  if (vClass !== cClass) return `storageClassName does not match (volume "${vClass}", claim "${cClass}")`;
  const vMode = v.spec?.volumeMode || "Filesystem";
  const cMode = c.spec?.volumeMode || "Filesystem";
  if (vMode !== cMode) return `incompatible volumeMode (volume ${vMode}, claim ${cMode})`;
  const modes = new Set(v.spec?.accessModes ?? []);
  const missing = (c.spec?.accessModes ?? []).filter((m) => !modes.has(m));
  if (missing.length) return `incompatible accessMode (the volume offers ${[...modes].join(",") || "none"}, the claim asks ${missing.join(",")})`;
  return undefined;
}

/** findBestMatchForClaim: a pre-bound PV first, else the smallest available PV that satisfies the claim. */
export function findBestMatch(f: ClaimFacts, delayBinding: boolean): Pv | undefined {
  const c = f.claim;
  const selector = c.spec?.selector as LabelSelector | undefined;
  const selects = selector ? labelSelectorMatcher(selector) : () => true;
  let best: Pv | undefined;
  for (const v of f.volumes) {
    if (v.metadata?.deletionTimestamp) continue;
    if (mismatch(v, c)) continue;
    if (claimRefMatches(v, c)) return v; // pre-bound: always wins (upstream returns it at once)
    if (v.spec?.claimRef) continue; // bound or pre-bound to another claim
    if ((v.status?.phase ?? VolumePhases.Available) !== VolumePhases.Available) continue;
    if (!selects(v.metadata?.labels ?? {})) continue;
    if (delayBinding) {
      if (!f.selectedNodeLabels) continue;
      if (!nodeSelectorMatches(v.spec?.nodeAffinity?.required, f.selectedNodeLabels, ann(c, KubeAnnotations.SelectedNode))) continue;
    }
    if (!best || capacityBytes(v) < capacityBytes(best)) best = v;
  }
  return best;
}

/** syncUnboundClaim of a claim that names no volume: bind the best match, wait, or ask for provisioning. */
function decideUnnamedClaim(f: ClaimFacts, c: ClaimFacts["claim"]): ClaimAction {
  const cls = classOf(c);
  if (cls === undefined) {
    const d = defaultClass(f.classes);
    if (d?.metadata?.name) return { kind: "setDefaultClass", className: d.metadata.name };
  }
  const delay = isDelayBinding(c, f.classes);
  const v = findBestMatch(f, delay);
  if (v) return { kind: "bind", volume: v.metadata!.name!, pvBoundByController: !claimRefMatches(v, c), claimBoundByController: true };
  const selected = ann(c, KubeAnnotations.SelectedNode);
  if (delay && !selected) {
    const message = "waiting for first consumer to be created before binding";
    return { kind: "pending", event: { type: "Normal", reason: "WaitForFirstConsumer", message }, condition: { reason: "WaitForFirstConsumer", message } };
  }
  if (!cls) {
    const message = "no persistent volumes available for this claim and no storage class is set";
    return {
      kind: "pending",
      event: { type: "Normal", reason: "FailedBinding", message },
      condition: { reason: "FailedBinding", message: `${message}; create a matching PersistentVolume or set spec.storageClassName` },
    };
  }
  const sc = f.classes.get(cls);
  if (!sc) {
    const message = `storageclass.storage.k8s.io "${cls}" not found`;
    return {
      kind: "pending",
      event: { type: "Warning", reason: "ProvisioningFailed", message },
      condition: {
        reason: "StorageClassNotFound",
        message: `${message}: create the StorageClass or set spec.storageClassName to an existing one (the claim binds once it exists)`,
      },
    };
  }
  if (sc.provisioner === "kubernetes.io/no-provisioner") {
    const message = `no persistent volumes available for this claim and StorageClass "${cls}" provisions none (kubernetes.io/no-provisioner)`;
    return {
      kind: "pending",
      event: { type: "Normal", reason: "FailedBinding", message },
      condition: { reason: "FailedBinding", message: `${message}; create a matching PersistentVolume` },
    };
  }
  if (ann(c, KubeAnnotations.StorageProvisioner) === sc.provisioner) return { kind: "pending" };
  return {
    kind: "provision",
    provisioner: sc.provisioner,
    event: {
      type: "Normal",
      reason: "ExternalProvisioning",
      message: `Waiting for a volume to be created either by the external provisioner '${sc.provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
    },
  };
}

/** syncClaim. */
export function decideClaim(f: ClaimFacts): ClaimAction {
  const c = f.claim;
  const volName = c.spec?.volumeName ?? "";
  const byName = new Map(f.volumes.map((v) => [v.metadata?.name ?? "", v]));

  if (ann(c, KubeAnnotations.BindCompleted) === undefined) {
    // ---- syncUnboundClaim
    if (!volName) return decideUnnamedClaim(f, c);
    // The user asked for a specific volume.
    const v = byName.get(volName);
    if (!v) {
      const message = `volume "${volName}" not found`;
      return {
        kind: "pending",
        event: { type: "Warning", reason: "FailedBinding", message },
        condition: { reason: "VolumeNotFound", message: `${message}: create it or clear spec.volumeName` },
      };
    }
    if (!v.spec?.claimRef) {
      const why = mismatch(v, c);
      if (why) {
        const message = `Cannot bind to requested volume "${volName}": ${why}`;
        return { kind: "pending", event: { type: "Warning", reason: "VolumeMismatch", message }, condition: { reason: "VolumeMismatch", message } };
      }
      return { kind: "bind", volume: volName, pvBoundByController: true, claimBoundByController: false };
    }
    if (claimRefMatches(v, c)) return { kind: "bind", volume: volName, pvBoundByController: false, claimBoundByController: false };
    const message = `volume "${volName}" already bound to a different claim.`;
    return { kind: "pending", event: { type: "Warning", reason: "FailedBinding", message }, condition: { reason: "FailedBinding", message } };
  }

  // ---- syncBoundClaim
  if (!volName)
    return {
      kind: "lost",
      event: { type: "Warning", reason: "ClaimLost", message: "Bound claim has lost reference to PersistentVolume. Data on this volume is lost!" },
    };
  const v = byName.get(volName);
  if (!v)
    return {
      kind: "lost",
      event: { type: "Warning", reason: "ClaimLost", message: "Bound claim has lost its PersistentVolume. Data on this volume is lost!" },
    };
  if (!v.spec?.claimRef)
    return { kind: "bind", volume: volName, pvBoundByController: true, claimBoundByController: ann(c, KubeAnnotations.BoundByController) === "yes" };
  if (v.spec.claimRef.uid === c.metadata?.uid) return { kind: "bound", volume: volName };
  return {
    kind: "lost",
    event: { type: "Warning", reason: "ClaimMisbound", message: "Two claims are bound to the same volume, this one is bound incorrectly" },
  };
}

export type VolumeAction =
  | { kind: "phase"; phase: string; message?: string; event?: EventSpec }
  /** The claim it was bound to by the controller is bound elsewhere: clear claimRef. */
  | { kind: "unbind" }
  /** The claim exists but is not bound to it yet: the claim's sync finishes the binding. */
  | { kind: "enqueueClaim"; claim: string };

/** syncVolume. `claim` is the object named by claimRef (any uid), undefined when it does not exist. */
export function decideVolume(v: Pv, claim: Pvc | undefined): VolumeAction {
  const ref = v.spec?.claimRef;
  const phase = v.status?.phase;
  if (!ref) return { kind: "phase", phase: VolumePhases.Available };
  if (!ref.uid) {
    // Pre-bound by the user to a claim name: Available until that claim binds it.
    if (claim && claim.spec?.volumeName === v.metadata?.name) return { kind: "enqueueClaim", claim: claimKey(claim) };
    return { kind: "phase", phase: VolumePhases.Available };
  }
  const c = claim && claim.metadata?.uid === ref.uid ? claim : undefined;
  if (!c) {
    // The claim is gone: Released, then the reclaim policy.
    const policy = v.spec?.persistentVolumeReclaimPolicy || "Retain";
    if (phase === VolumePhases.Failed) return { kind: "phase", phase: VolumePhases.Failed, message: v.status?.message };
    if (policy === "Retain") return { kind: "phase", phase: VolumePhases.Released };
    if (policy === "Delete") {
      if (ann(v, KubeAnnotations.ProvisionedBy)) return { kind: "phase", phase: VolumePhases.Released }; // the external provisioner deletes it
      const message = `error getting deleter volume plugin for volume "${v.metadata?.name}": no deletable volume plugin matched (it was not provisioned by an external provisioner); delete the volume and the PV by hand or set persistentVolumeReclaimPolicy: Retain`;
      return { kind: "phase", phase: VolumePhases.Failed, message, event: { type: "Warning", reason: "VolumeFailedDelete", message } };
    }
    const message = `reclaim policy ${policy} is not supported; use Delete or Retain`;
    return { kind: "phase", phase: VolumePhases.Failed, message, event: { type: "Warning", reason: "VolumeUnknownReclaimPolicy", message } };
  }
  const vName = v.metadata?.name;
  if (!c.spec?.volumeName) return { kind: "enqueueClaim", claim: claimKey(c) };
  if (c.spec.volumeName === vName) {
    // Bound both ways once the claim carries bind-completed; until then the claim's sync finishes it.
    if (ann(c, KubeAnnotations.BindCompleted) === undefined) return { kind: "enqueueClaim", claim: claimKey(c) };
    return { kind: "phase", phase: VolumePhases.Bound };
  }
  // The claim is bound to another volume.
  if (ann(v, KubeAnnotations.BoundByController) === "yes") return { kind: "unbind" };
  if (ann(v, KubeAnnotations.ProvisionedBy)) return { kind: "phase", phase: VolumePhases.Released };
  return { kind: "phase", phase: phase ?? VolumePhases.Available };
}
