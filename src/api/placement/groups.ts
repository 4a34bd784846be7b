// LocalVolumeGroup rules (fact sheet §4.4), pure; shared by CSI CreateVolume, the group reconciler and the
// pod scheduler. A group holds the volumes of one pod so they share
// placement. Found through any PVC of a pod that uses this PVC (core Pod objects, same namespace), else
// per PVC. FIX of the original's HEAD regression: every PVC of the pod is appended to `spec.volumes`
// (HEAD forgets the second one, so it loses the shared placement on migrate/convert).

import type { ObjectMeta } from "../kinds/common.ts";
import type { LocalVolumeGroup, LocalVolumeGroupSpec } from "../kinds/local-volume-group.ts";
import type { LocalVolume } from "../kinds/local-volume.ts";

type Lv = LocalVolume;
type Lvg = LocalVolumeGroup;
/** The part of a core Pod read here (any Pod shape fits). */
export interface PodVolumesView {
  metadata?: ObjectMeta;
  spec?: { volumes?: Array<{ persistentVolumeClaim?: { claimName?: string } }> };
}

/** Pods in `namespace` that mount `pvc`. */
export function podsUsingPvc<P extends PodVolumesView>(pods: P[], namespace: string, pvc: string): P[] {
  return pods.filter(
    (p) =>
      (p.metadata?.namespace ?? "") === namespace &&
      !p.metadata?.deletionTimestamp &&
      (p.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === pvc),
  );
}

/** Every PVC of those pods (including `pvc`), sorted. */
export function pvcsOfPods(pods: PodVolumesView[], pvc: string): string[] {
  const s = new Set([pvc]);
  for (const p of pods) for (const v of p.spec?.volumes ?? []) if (v.persistentVolumeClaim?.claimName) s.add(v.persistentVolumeClaim.claimName);
  return [...s].sort();
}

/** The group of this volume: one that already lists it, else one in `namespace` with any of `pvcs`. */
export function findGroup(lvgs: Lvg[], namespace: string, pvcs: string[], volumeName: string): Lvg | undefined {
  const live = lvgs.filter((g) => !g.metadata?.deletionTimestamp);
  return (
    live.find((g) => (g.spec?.volumes ?? []).some((v) => v.localvolume === volumeName)) ??
    live.find((g) => (g.spec?.namespace ?? "") === namespace && (g.spec?.volumes ?? []).some((v) => v.pvc && pvcs.includes(v.pvc)))
  );
}

/** The spec with {pvc, localvolume} appended (unchanged if present) and pods merged; undefined if nothing changes. */
export function withVolume(spec: LocalVolumeGroupSpec, pvc: string, volumeName: string, pods: string[]): LocalVolumeGroupSpec | undefined {
  const volumes = [...(spec.volumes ?? [])];
  let changed = false;
  if (!volumes.some((v) => v.localvolume === volumeName)) {
    volumes.push({ pvc, localvolume: volumeName });
    changed = true;
  }
  const allPods = [...new Set([...(spec.pods ?? []), ...pods])].sort();
  if (allPods.length !== (spec.pods ?? []).length) changed = true;
  return changed ? { ...spec, volumes, pods: allPods } : undefined;
}

/** The spec without `volumeName`; undefined if it was not there. */
export function withoutVolume(spec: LocalVolumeGroupSpec, volumeName: string): LocalVolumeGroupSpec | undefined {
  const volumes = spec.volumes ?? [];
  if (!volumes.some((v) => v.localvolume === volumeName)) return undefined;
  return { ...spec, volumes: volumes.filter((v) => v.localvolume !== volumeName) };
}

/**
 * accessibility.nodes the group should show: the sorted replica hosts, when every configured volume of the
 * group agrees; `conflict` lists the disagreeing volumes otherwise (left for a person, as the original).
 */
export function groupNodes(lvs: Lv[]): { nodes?: string[]; conflict?: string } {
  const sets = lvs
    .filter((lv) => lv.spec?.config?.replicas?.length)
    .map((lv) => ({ name: lv.metadata?.name ?? "", nodes: lv.spec!.config!.replicas.map((r) => r.hostname).sort() }));
  if (!sets.length) return {};
  const first = JSON.stringify(sets[0]!.nodes);
  const off = sets.filter((s) => JSON.stringify(s.nodes) !== first);
  if (off.length) return { conflict: sets.map((s) => `${s.name} on [${s.nodes.join(", ")}]`).join(", ") };
  return { nodes: sets[0]!.nodes };
}
