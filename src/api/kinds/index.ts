// Every kind of hwameistor.io/v1alpha1, in the order of the fact sheet §1.

import type { KindDefinition } from "./common.ts";
import { clusterKind } from "./cluster.ts";
import { eventKind } from "./event.ts";
import { localDiskActionKind } from "./local-disk-action.ts";
import { localDiskClaimKind } from "./local-disk-claim.ts";
import { localDiskNodeKind } from "./local-disk-node.ts";
import { localDiskVolumeKind } from "./local-disk-volume.ts";
import { localDiskKind } from "./local-disk.ts";
import { localStorageNodeKind } from "./local-storage-node.ts";
import { localVolumeConvertKind } from "./local-volume-convert.ts";
import { localVolumeExpandKind } from "./local-volume-expand.ts";
import { localVolumeGroupKind } from "./local-volume-group.ts";
import { localVolumeMigrateKind } from "./local-volume-migrate.ts";
import { localVolumeReplicaSnapshotRestoreKind } from "./local-volume-replica-snapshot-restore.ts";
import { localVolumeReplicaSnapshotKind } from "./local-volume-replica-snapshot.ts";
import { localVolumeReplicaKind } from "./local-volume-replica.ts";
import { localVolumeSnapshotRestoreKind } from "./local-volume-snapshot-restore.ts";
import { localVolumeSnapshotKind } from "./local-volume-snapshot.ts";
import { localVolumeKind } from "./local-volume.ts";
import { resizePolicyKind } from "./resize-policy.ts";
import { thinPoolClaimKind } from "./thin-pool-claim.ts";

export type { KindDefinition, PrinterColumn, ObjectMeta } from "./common.ts";

export const kindDefinitions: readonly KindDefinition[] = [
  localDiskKind,
  localDiskNodeKind,
  localDiskClaimKind,
  localDiskVolumeKind,
  localDiskActionKind,
  localStorageNodeKind,
  localVolumeKind,
  localVolumeReplicaKind,
  localVolumeGroupKind,
  localVolumeMigrateKind,
  localVolumeConvertKind,
  localVolumeExpandKind,
  localVolumeSnapshotKind,
  localVolumeReplicaSnapshotKind,
  localVolumeSnapshotRestoreKind,
  localVolumeReplicaSnapshotRestoreKind,
  thinPoolClaimKind,
  resizePolicyKind,
  eventKind,
  clusterKind,
];

/** Look a kind up by kind name ("LocalVolume"), plural, singular or short name ("lv"); undefined if unknown. */
export function findKind(name: string): KindDefinition | undefined {
  const lower = name.toLowerCase();
  return kindDefinitions.find(
    (d) => d.kind === name || d.kind.toLowerCase() === lower || d.plural === lower || d.singular === lower || d.shortNames.includes(lower),
  );
}
