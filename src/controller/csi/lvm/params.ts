// lvm.hwameistor.io request parsing, pure: StorageClass parameters (§2.1), capacity_range, topology.
// Every failure is INVALID_ARGUMENT naming the parameter (or UNIMPLEMENTED for a feature not built yet),
// and nothing here can reach a command line unvalidated: QoS values must be Kubernetes quantities.
// Parameters are optional (CSI): a missing one takes the value the operator's StorageClass carries
// (LVM_PARAMETER_DEFAULTS: poolClass HDD, replicaNumber 1), so a bare CreateVolume gets what a PVC of the
// default StorageClass would.

import { invalid } from "../../../api/errors.ts";
import { MAX_HA_REPLICAS } from "../../../api/replication.ts";
import { MIN_VOLUME_BYTES } from "../../../api/kinds/common.ts";
import { POOL_CLASSES, ScDefaults, ScParams, TopologyKeys, VOLUME_ENCRYPT_TYPES, isPoolClass, storagePoolName, type PoolClass } from "../../../api/names.ts";
import { parseSecretRef } from "../../../api/encryption.ts";
import { provisionSize } from "../../../csi/capacity.ts";
import type { CapacityRange, TopologyRequirement } from "../../../csi/types.ts";
import { isQuantity } from "../../../api/quantity.ts";

export interface LvmParams {
  poolClass: PoolClass;
  poolName: string;
  replicaNumber: number;
  convertible: boolean;
  volumeQoS: { iops?: string; throughput?: string };
  pvcName: string;
  pvcNamespace: string;
  /** `thin: "true"`: a thin LV in the node's thin pool (dm-thin). */
  thin: boolean;
  /** `encryptType` + `encryptSecret`: LUKS on the replica device (dm-crypt). */
  volumeEncrypt?: { enable: true; type: "LUKS"; secret: string };
}

/** Replica counts this build places: up to 3, on distinct nodes (the original allows 2; docs/compatibility.md). */
export const MAX_REPLICA_NUMBER = MAX_HA_REPLICAS;
export const DEFAULT_PVC_NAMESPACE = "default";

/** What a parameter the request leaves out defaults to: the operator's default StorageClass (§2.4). */
export const LVM_PARAMETER_DEFAULTS = { [ScParams.PoolClass]: "HDD", [ScParams.ReplicaNumber]: ScDefaults.ReplicaNumber } as const;

export function parseLvmParams(p: Record<string, string> | undefined, volumeName: string): LvmParams {
  const params = p ?? {};
  const cls = params[ScParams.PoolClass] || LVM_PARAMETER_DEFAULTS[ScParams.PoolClass];
  if (!isPoolClass(cls)) throw invalid(`parameter ${ScParams.PoolClass} ${JSON.stringify(cls)} is not one of ${POOL_CLASSES.join(", ")}`);

  const rn = params[ScParams.ReplicaNumber] || LVM_PARAMETER_DEFAULTS[ScParams.ReplicaNumber];
  if (!/^[0-9]+$/.test(rn) || Number(rn) < 1 || Number(rn) > 4)
    throw invalid(`parameter ${ScParams.ReplicaNumber} ${JSON.stringify(rn)} is not an integer from 1 to 4`);
  const replicaNumber = Number(rn);
  // Whether enough nodes can replicate is a fact of the cluster, checked at placement (provision.ts).
  if (replicaNumber > MAX_REPLICA_NUMBER) {
    throw invalid(`parameter ${ScParams.ReplicaNumber} ${rn} is not supported (at most ${MAX_REPLICA_NUMBER})`);
  }
  // §2.1: only read when replicaNumber < 2; replicaNumber ≥ 2 forces convertible.
  const convertible = replicaNumber >= 2 || (params[ScParams.Convertible] ?? "").toLowerCase() === "true";

  // §2.1: thin is an error with convertible or replicaNumber ≠ 1 (a thin pool is a node's own).
  const thin = (params[ScParams.Thin] ?? "").toLowerCase() === "true";
  if (thin && (convertible || replicaNumber !== 1)) {
    throw invalid(`parameter ${ScParams.Thin}=true needs ${ScParams.ReplicaNumber} 1 and ${ScParams.Convertible} not true (thin pools are per node)`);
  }

  const volumeEncrypt = encryptionOf(params, volumeName);
  const volumeQoS = qosOf(params);
  // Without external-provisioner (--extra-create-metadata) there is no PVC: the volume names itself.
  return {
    poolClass: cls,
    poolName: storagePoolName(cls),
    replicaNumber,
    convertible,
    volumeQoS,
    pvcName: params[ScParams.PvcName] || volumeName,
    pvcNamespace: params[ScParams.PvcNamespace] || DEFAULT_PVC_NAMESPACE,
    thin,
    ...(volumeEncrypt ? { volumeEncrypt } : {}),
  };
}

/**
 * §2.1: both set → LUKS. Deliberate difference: one without the other is refused (the original silently
 * created an unencrypted volume), and the secret reference must be "<namespace>/<name>".
 */
function encryptionOf(params: Record<string, string>, volumeName: string): LvmParams["volumeEncrypt"] {
  const encType = params[ScParams.EncryptType];
  const encSecret = params[ScParams.EncryptSecret];
  if (!encType && !encSecret) return undefined;
  if (!encType || !encSecret) {
    throw invalid(
      `parameters ${ScParams.EncryptType} and ${ScParams.EncryptSecret} go together (LUKS and "<namespace>/<name>" of a Secret with the passphrase under "key"); only ${encType ? ScParams.EncryptType : ScParams.EncryptSecret} is set`,
    );
  }
  if (!(VOLUME_ENCRYPT_TYPES as readonly string[]).includes(encType))
    throw invalid(`parameter ${ScParams.EncryptType} ${JSON.stringify(encType)} is not one of ${VOLUME_ENCRYPT_TYPES.join(", ")}`);
  parseSecretRef(encSecret, volumeName);
  return { enable: true, type: "LUKS", secret: encSecret };
}

/** The IO limits a volume is created with (provision*OnCreation), each a non-negative quantity. */
function qosOf(params: Record<string, string>): LvmParams["volumeQoS"] {
  const volumeQoS: LvmParams["volumeQoS"] = {};
  for (const [key, field] of [
    [ScParams.ProvisionIopsOnCreation, "iops"],
    [ScParams.ProvisionThroughputOnCreation, "throughput"],
  ] as const) {
    const v = params[key];
    if (v === undefined || v === "") continue;
    if (!isQuantity(v) || v.trim().startsWith("-"))
      throw invalid(`parameter ${key} ${JSON.stringify(v.slice(0, 40))} is not a Kubernetes quantity (e.g. 100, 1Mi)`);
    volumeQoS[field] = v;
  }
  return volumeQoS;
}

/** LVM sizes are multiples of 4 MiB (rounded up), at least 4 MiB. */
export const roundUpToExtent = (n: number): number => Math.max(MIN_VOLUME_BYTES, Math.ceil(n / MIN_VOLUME_BYTES) * MIN_VOLUME_BYTES);

/**
 * The size to create (src/csi/capacity.ts: optional range, default size, the filesystem's minimum), rounded
 * up to 4 MiB extents; OUT_OF_RANGE when that exceeds limit_bytes.
 */
export function capacityOf(range: CapacityRange | null | undefined, fsType?: string): { requiredBytes: number; limitBytes?: number } {
  const { bytes, limitBytes } = provisionSize(range, { fsType, minBytes: MIN_VOLUME_BYTES, roundUp: roundUpToExtent });
  return { requiredBytes: bytes, limitBytes };
}

/** requisite/preferred reduced to our node key. Segments without it constrain nothing here. */
export function nodeTopology(req: TopologyRequirement | null | undefined): { requisite?: string[]; preferred: string[] } {
  const nodes = (ts: Array<{ segments?: Record<string, string> }> | undefined) =>
    (ts ?? []).map((t) => t.segments?.[TopologyKeys.LvmNode]).filter((n): n is string => !!n);
  const requisite = nodes(req?.requisite);
  return { requisite: requisite.length ? [...new Set(requisite)] : undefined, preferred: nodes(req?.preferred) };
}
