// Switches for features that are not built yet but whose absence is visible to users. One place, so the
// work that builds the feature flips one constant (and its tests) instead of hunting for call sites.
//
// Data replication between nodes is no longer a switch: it is a per-node fact each node agent reports from
// its data plane (LocalStorageNode status.replication; src/api/replication.ts, docs/replication.md).
// CreateVolume refuses replicaNumber > 1 without enough such nodes, and the operator makes the -ha and
// -convertible StorageClasses only when nodes can replicate.
export {};
