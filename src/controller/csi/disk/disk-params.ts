// Pure decisions of the disk driver's CreateVolume: StorageClass parameters (§2.2), the node from the
// topology requirement, and the disk choice (the SMALLEST Available disk of the type that fits, §3.2).

import { invalid } from "../../../api/errors.ts";
import { ScParams, TopologyKeys, isPoolClass, type PoolClass } from "../../../api/names.ts";
import type { TopologyRequirement } from "../../../csi/types.ts";
import { formatBytes } from "../../../api/quantity.ts";

export interface DiskVolumeParams {
  diskType: PoolClass;
  minCapBytes?: number;
  /** `<namespace>/<name>` when the provisioner passed both metadata keys. */
  pvc?: string;
}

/** A parameter the request leaves out takes the value of the operator's default disk StorageClass (§2.4). */
export const DISK_PARAMETER_DEFAULTS = { [ScParams.DiskType]: "HDD" } as const;

export function parseDiskParams(p: Record<string, string> | undefined): DiskVolumeParams {
  const params = p ?? {};
  const diskType = params[ScParams.DiskType] || DISK_PARAMETER_DEFAULTS[ScParams.DiskType];
  if (!isPoolClass(diskType)) throw invalid(`parameters.${ScParams.DiskType} ${JSON.stringify(diskType)} is not one of HDD, SSD, NVMe`);
  const out: DiskVolumeParams = { diskType };
  const minCap = params[ScParams.MinCap];
  if (minCap !== undefined && minCap !== "") {
    const n = Number(minCap);
    // The original: "error if ≤ 0".
    if (!/^\d+$/.test(minCap) || !Number.isSafeInteger(n) || n <= 0) {
      throw invalid(`parameters.${ScParams.MinCap} ${JSON.stringify(minCap)} must be a positive number of bytes`);
    }
    out.minCapBytes = n;
  }
  const name = params[ScParams.PvcName];
  const ns = params[ScParams.PvcNamespace];
  if (name && ns) out.pvc = `${ns}/${name}`;
  return out;
}

export interface NodePreference {
  /** The nodes the volume may live on (requisite segments with our key); undefined = any node. */
  allowed?: string[];
  /** Nodes to try first, in order (preferred segments with our key). */
  preferred: string[];
}

/**
 * Where a disk volume may live, from accessibility_requirements (CSI: requisite restricts, preferred orders;
 * the requirement is optional). Segments without our key constrain nothing here.
 */
export function nodePreference(req: TopologyRequirement | null | undefined): NodePreference {
  const key = TopologyKeys.DiskNode;
  const nodesOf = (ts: TopologyRequirement["preferred"]) => [...new Set((ts ?? []).map((t) => t.segments?.[key]).filter((n): n is string => !!n))];
  const requisite = nodesOf(req?.requisite);
  const preferred = nodesOf(req?.preferred).filter((n) => !requisite.length || requisite.includes(n));
  return { ...(requisite.length ? { allowed: requisite } : {}), preferred };
}

/** The nodes to try in order: preferred ones first, then the rest of the allowed (or known) nodes by name. */
export function nodesInOrder(pref: NodePreference, knownNodes: string[]): string[] {
  const pool = pref.allowed ?? [...knownNodes].sort();
  return [...pref.preferred.filter((n) => pool.includes(n)), ...pool.filter((n) => !pref.preferred.includes(n))];
}

export interface CandidateDisk {
  localDiskName: string;
  devPath: string;
  capacityBytes: number;
}

/** The smallest disk with requiredBytes ≤ capacity (≤ limitBytes when set); ties broken by name. */
export function chooseDisk(disks: CandidateDisk[], requiredBytes: number, limitBytes?: number): CandidateDisk | undefined {
  return disks
    .filter((d) => d.capacityBytes >= requiredBytes && (limitBytes === undefined || d.capacityBytes <= limitBytes))
    .sort((a, b) => a.capacityBytes - b.capacityBytes || a.localDiskName.localeCompare(b.localDiskName))[0];
}

/** Human list of disks for error messages: "/dev/sdb (1.0 GiB)". */
export function describeDisks(disks: CandidateDisk[]): string {
  if (!disks.length) return "none";
  return disks.map((d) => `${d.devPath} (${formatBytes(d.capacityBytes)})`).join(", ");
}
