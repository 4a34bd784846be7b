// src/scheduler: where pods go, for storage. Pure decision code (no I/O):
//
// - storage.ts   HwameiStor's filter and score (fact sheet §4.1) — the code a real kube-scheduler reaches
//                through the scheduler extender (filter / prioritize) and the embedded scheduler runs in-process:
//                `planPodStorage(pod, state)` → `filterNode(plan, node)`, `scoreNode(plan, node)`,
//                `plan.annotationPatches`; or `filterAndScore(pod, nodeNames, state)`.
// - predicates.ts kube-scheduler's storage-relevant default plugins (unschedulable, taints, node affinity,
//                VolumeBinding), for the embedded scheduler only (a real cluster has its own).
// - place.ts     one decision of the embedded scheduler: profiles by spec.schedulerName, weights, tie-break.
//
// The embedded scheduler loop (scheduler.ts) is the only part with I/O. docs/scheduler.md has the tables.
export {
  filterAndScore,
  filterNode,
  planPodStorage,
  pvcRequestBytes,
  scoreNode,
  usesOurVolumes,
  HWAMEISTOR_DRIVERS,
  type AnnotationPatch,
  type PodStoragePlan,
  type PodVolume,
  type StorageState,
  type StorageVerdict,
  type VolumeSnapshotContentView,
  type VolumeSnapshotView,
} from "./storage.ts";
export {
  DEFAULT_SCHEDULER_NAME,
  EMBEDDED_PROFILES,
  HWAMEISTOR_SCHEDULER_NAME,
  placePod,
  schedulerNameOf,
  type PlacementInput,
  type PodPlacement,
} from "./place.ts";
