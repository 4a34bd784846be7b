// Switches for features that are not built yet but whose absence is visible to users. One place, so the
// work that builds the feature flips one constant (and its tests) instead of hunting for call sites.

/**
 * Data replication between nodes (replicaNumber > 1). Until it exists:
 * - CreateVolume with replicaNumber > 1 is INVALID_ARGUMENT ReplicationNotAvailable (src/controller/csi/lvm/params.ts)
 *   instead of creating unreplicated copies that would report `synced`;
 * - the operator creates no HA StorageClass (src/controller/operator/storage-classes.ts).
 */
export const REPLICATION_AVAILABLE = false;
