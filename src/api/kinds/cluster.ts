// Cluster (`hmcluster`, §1.18): the operator's install description (operator repo, same group/version).
// Component blocks carry Kubernetes pod-spec fragments (resources, affinity, tolerations) and per-component
// container blocks with varying names, so each block keeps unknown fields (x-kubernetes-preserve-unknown-fields)
// while the fields our operator reads are typed.

import { Type, type Static } from "typebox";
import { Kinds } from "../names.ts";
import { Bool, DateTime, FreeForm, FreeFormList, Int, Int32, Opt, Str, StrList, defineKind, kindObject } from "./common.ts";

const preserve = { "x-kubernetes-preserve-unknown-fields": true };

export const ImageSpec = Type.Object({
  registry: Opt(Str()),
  repository: Opt(Str()),
  tag: Opt(Str()),
});

/** A container block: `{resources, image}` (plus whatever the operator version adds). */
export const ContainerCommon = Type.Object(
  {
    resources: Opt(FreeForm()),
    image: Opt(ImageSpec),
  },
  preserve,
);

export const PodCommon = Type.Object(
  {
    priorityClassName: Opt(Str()),
    nodeAffinity: Opt(FreeForm()),
    podAffinity: Opt(FreeForm()),
    tolerations: Opt(FreeFormList()),
  },
  preserve,
);

/** The shape every component block shares; container blocks (`manager`, `csiController`, …) pass through. */
const componentProps = {
  disable: Opt(Bool()),
  replicas: Opt(Int32()),
  common: Opt(PodCommon),
};
export const ComponentSpec = Type.Object(componentProps, preserve);
export type ComponentSpec = Static<typeof ComponentSpec>;

export const LocalStorageSpec = Type.Object(
  {
    ...componentProps,
    member: Opt(
      Type.Object(
        {
          drbdStartPort: Opt(Int()),
          maxHAVolumeCount: Opt(Int()),
          juicesyncImage: Opt(ImageSpec),
          hostPathSSHDir: Opt(Str()),
          hostPathDRBDDir: Opt(Str()),
        },
        preserve,
      ),
    ),
  },
  preserve,
);

export const StorageClassSpec = Type.Object(
  {
    disable: Opt(Bool()),
    allowVolumeExpansion: Opt(Bool()),
    reclaimPolicy: Opt(Str()),
    fsType: Opt(Str()),
  },
  preserve,
);

export const ApiServerSpec = Type.Object(
  {
    ...componentProps,
    authentication: Opt(Type.Object({ enable: Opt(Bool()), accessId: Opt(Str()), secretKey: Opt(Str()) }, preserve)),
  },
  preserve,
);

export const AdmissionControllerSpec = Type.Object({ ...componentProps, failurePolicy: Opt(Str({ description: "Fail | Ignore" })) }, preserve);

export const DiskReserveConfiguration = Type.Object({
  nodeName: Opt(Str()),
  devices: Opt(StrList()),
});

/** Additive (not in the original): the rebalancing policy run by the controller (docs/migration.md#rebalancing). */
export const RebalancePolicy = Type.Object({
  enabled: Opt(Bool({ default: false, description: "move volumes off pools fuller than thresholdPercent, one migration at a time" })),
  thresholdPercent: Opt(Int({ minimum: 1, maximum: 99, default: 80, description: "a node's pool above this fill sheds volumes; no target goes above it" })),
  intervalSeconds: Opt(Int({ minimum: 10, default: 300, description: "how often the plan is made while no migration runs" })),
  includeReplicated: Opt(Bool({ default: false, description: "also move replicas of HA volumes (never onto a node holding another replica)" })),
});
export type RebalancePolicy = Static<typeof RebalancePolicy>;

export const ClusterSpec = Type.Object({
  targetNamespace: Opt(Str()),
  notClaimDisk: Opt(Bool()),
  diskReserveConfigurations: Opt(Type.Array(DiskReserveConfiguration)),
  localDiskManager: Opt(ComponentSpec),
  localStorage: Opt(LocalStorageSpec),
  scheduler: Opt(ComponentSpec),
  evictor: Opt(ComponentSpec),
  admissionController: Opt(AdmissionControllerSpec),
  apiServer: Opt(ApiServerSpec),
  exporter: Opt(ComponentSpec),
  auditor: Opt(ComponentSpec),
  failoverAssistant: Opt(ComponentSpec),
  pvcAutoResizer: Opt(ComponentSpec),
  localDiskActionController: Opt(ComponentSpec),
  ui: Opt(ComponentSpec),
  drbd: Opt(ComponentSpec),
  rbac: Opt(FreeForm()),
  storageClass: Opt(StorageClassSpec),
  dataLoadManager: Opt(ComponentSpec),
  dataSetManager: Opt(ComponentSpec),
  datasetDefaultPoolClass: Opt(Str()),
  rebalance: Opt(RebalancePolicy),
});
export type ClusterSpec = Static<typeof ClusterSpec>;

export const ClusterStatus = Type.Object({
  installedCRDS: Opt(Bool()),
  drbdAdapterCreated: Opt(Bool()),
  drbdAdapterCreatedJobNum: Opt(Int()),
  diskReserveState: Opt(Str()),
  phase: Opt(Str({ description: '"" | ToReserve | Reserved | CreatedLDC' })),
  rebalance: Opt(
    Type.Object(
      {
        lastPlanTime: Opt(DateTime()),
        migration: Opt(Str({ description: "the LocalVolumeMigrate it started last" })),
        message: Opt(Str({ description: "what the last plan did or why nothing moves" })),
      },
      { description: "Additive: the rebalancing policy's last pass" },
    ),
  ),
  componentStatus: Opt(
    FreeForm({ description: "<component>: {instances|csi: {pods, desiredPodCount, availablePodCount, workloadType, workloadName}, health}" }),
  ),
});
export type ClusterStatus = Static<typeof ClusterStatus>;

export const ClusterSchema = kindObject(ClusterSpec, ClusterStatus, "Cluster describes a HwameiStor installation (operator)");
export type Cluster = Static<typeof ClusterSchema>;

export const clusterKind = defineKind(Kinds.Cluster, ClusterSchema, []);
