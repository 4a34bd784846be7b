// The StatefulSet controller's decisions (kube-controller-manager's statefulset controller), pure: from a
// StatefulSet, the pods it owns and the PVCs of the namespace to the next actions and the status.
//
// | rule | upstream |
// |---|---|
// | pod names | `<set>-<ordinal>`, ordinals spec.ordinals.start … start+replicas−1 |
// | pod identity | labels of the template + `statefulset.kubernetes.io/pod-name` + `apps.kubernetes.io/pod-index`; hostname = pod name, subdomain = serviceName; controller ownerReference |
// | claims | per volumeClaimTemplate `<template>-<set>-<ordinal>`, labelled with the selector's matchLabels, created before the pod if missing, never deleted here (retention Retain) |
// | OrderedReady | one step at a time: create the lowest missing ordinal only when every lower one is Running and Ready; scale down the highest ordinal first, only when the others are Running and Ready; wait while a pod terminates |
// | Parallel | create every missing ordinal, delete every surplus one, without waiting |
// | failed pods | a Failed or Succeeded pod is deleted and then recreated under its name |
// | status | replicas (pods that exist), readyReplicas, availableReplicas (ready; minReadySeconds not honoured), currentReplicas = updatedReplicas = replicas, observedGeneration |
//
// Deliberately left out (docs/kcm.md): rolling updates and revisions (a template change reaches pods created
// afterwards, like updateStrategy OnDelete), persistentVolumeClaimRetentionPolicy Delete, minReadySeconds,
// partitions, ControllerRevisions.

import type { Pod, PodVolume, Pvc, StatefulSet } from "../../api/core.ts";
import type { OwnerReference } from "../../api/kinds/common.ts";

export const Labels = {
  PodName: "statefulset.kubernetes.io/pod-name",
  PodIndex: "apps.kubernetes.io/pod-index",
} as const;

export type Action = { type: "createClaim"; claim: Pvc; pod: string } | { type: "createPod"; pod: Pod } | { type: "deletePod"; name: string; reason: string };

export interface Decision {
  actions: Action[];
  status: NonNullable<StatefulSet["status"]>;
}

const isReady = (p: Pod): boolean => p.status?.phase === "Running" && (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
const isTerminating = (p: Pod): boolean => !!p.metadata?.deletionTimestamp;
const isFinished = (p: Pod): boolean => p.status?.phase === "Failed" || p.status?.phase === "Succeeded";

export function ownerRefOf(sts: StatefulSet): OwnerReference {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    name: sts.metadata?.name ?? "",
    uid: sts.metadata?.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Whether the pod is controlled by this StatefulSet (its controller ownerReference has the set's uid). */
export function ownedBy(pod: Pod, sts: StatefulSet): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((r) => r.controller && r.kind === "StatefulSet" && r.uid === sts.metadata?.uid);
}

export const claimName = (template: string, set: string, ordinal: number): string => `${template}-${set}-${ordinal}`;

/** The ordinal of `<set>-<n>`, or undefined. */
export function ordinalOf(set: string, podName: string): number | undefined {
  if (!podName.startsWith(`${set}-`)) return undefined;
  const rest = podName.slice(set.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}

/** A v1 object made from one of the set's templates: in the set's namespace, the template's labels (then `labels`) and annotations. */
function fromTemplate<K extends "Pod" | "PersistentVolumeClaim">(
  sts: StatefulSet,
  kind: K,
  name: string,
  tpl: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
  labels: Record<string, string> = {},
) {
  return {
    apiVersion: "v1",
    kind,
    metadata: {
      name,
      namespace: sts.metadata?.namespace,
      labels: { ...(tpl?.labels ?? {}), ...labels },
      ...(tpl?.annotations ? { annotations: tpl.annotations } : {}),
    },
  };
}

export function newClaim(sts: StatefulSet, template: NonNullable<NonNullable<StatefulSet["spec"]>["volumeClaimTemplates"]>[number], ordinal: number): Pvc {
  const set = sts.metadata?.name ?? "";
  const name = claimName(template.metadata?.name ?? "", set, ordinal);
  return {
    ...fromTemplate(sts, "PersistentVolumeClaim", name, template.metadata, sts.spec?.selector?.matchLabels),
    spec: structuredClone(template.spec ?? {}),
  };
}

export function newPod(sts: StatefulSet, ordinal: number): Pod {
  const set = sts.metadata?.name ?? "";
  const name = `${set}-${ordinal}`;
  const tpl = sts.spec?.template ?? {};
  const spec = structuredClone(tpl.spec ?? { containers: [] });
  const volumes: PodVolume[] = (spec.volumes ?? []).filter((v) => !(sts.spec?.volumeClaimTemplates ?? []).some((t) => t.metadata?.name === v.name));
  for (const t of sts.spec?.volumeClaimTemplates ?? []) {
    const tname = t.metadata?.name ?? "";
    volumes.push({ name: tname, persistentVolumeClaim: { claimName: claimName(tname, set, ordinal) } });
  }
  spec.volumes = volumes;
  spec.hostname = name;
  if (sts.spec?.serviceName) spec.subdomain = sts.spec.serviceName;
  const pod = fromTemplate(sts, "Pod", name, tpl.metadata, { [Labels.PodName]: name, [Labels.PodIndex]: String(ordinal) });
  return { ...pod, metadata: { ...pod.metadata, ownerReferences: [ownerRefOf(sts)] }, spec };
}

/** What to do next for `sts`, given the pods it owns and the claims of its namespace. */
export function decide(sts: StatefulSet, ownedPods: Pod[], claims: Pvc[]): Decision {
  const set = sts.metadata?.name ?? "";
  const replicas = sts.spec?.replicas ?? 1;
  const start = sts.spec?.ordinals?.start ?? 0;
  const parallel = sts.spec?.podManagementPolicy === "Parallel";
  const byOrdinal = new Map<number, Pod>();
  for (const p of ownedPods) {
    const n = ordinalOf(set, p.metadata?.name ?? "");
    if (n !== undefined) byOrdinal.set(n, p);
  }
  const wanted = (n: number) => n >= start && n < start + replicas;
  const actions: Action[] = [];
  const claimNames = new Set(claims.map((c) => c.metadata?.name ?? ""));

  // Failed or finished pods are deleted (then recreated on a later pass).
  for (const [n, p] of byOrdinal) {
    if (wanted(n) && isFinished(p) && !isTerminating(p))
      actions.push({ type: "deletePod", name: p.metadata?.name ?? "", reason: `pod ${p.metadata?.name} is ${p.status?.phase}: recreating it` });
  }
  const healthy = (n: number) => {
    const p = byOrdinal.get(n);
    return !!p && isReady(p) && !isTerminating(p);
  };
  const busy = [...byOrdinal.values()].some(isTerminating);

  // Create missing ordinals (lowest first).
  for (let n = start; n < start + replicas; n++) {
    if (byOrdinal.has(n)) {
      if (!parallel && !healthy(n)) break; // OrderedReady: wait for this one
      continue;
    }
    if (!parallel && (busy || ![...Array(n - start).keys()].every((i) => healthy(start + i)))) break;
    for (const t of sts.spec?.volumeClaimTemplates ?? []) {
      const c = newClaim(sts, t, n);
      if (!claimNames.has(c.metadata!.name!)) actions.push({ type: "createClaim", claim: c, pod: `${set}-${n}` });
    }
    actions.push({ type: "createPod", pod: newPod(sts, n) });
    if (!parallel) break;
  }

  // Scale down: highest surplus ordinal first.
  const surplus = [...byOrdinal.keys()].filter((n) => !wanted(n)).sort((a, b) => b - a);
  for (const n of surplus) {
    const p = byOrdinal.get(n)!;
    if (isTerminating(p)) {
      if (!parallel) break;
      continue;
    }
    if (!parallel && (busy || [...byOrdinal.keys()].some((m) => m !== n && wanted(m) && !healthy(m)))) break;
    actions.push({ type: "deletePod", name: p.metadata?.name ?? "", reason: `scale down to ${replicas}` });
    if (!parallel) break;
  }

  const live = ownedPods.filter((p) => !isTerminating(p));
  const ready = live.filter(isReady).length;
  return {
    actions,
    status: {
      observedGeneration: sts.metadata?.generation ?? 1,
      replicas: ownedPods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      currentReplicas: ownedPods.length,
      updatedReplicas: ownedPods.length,
    },
  };
}
