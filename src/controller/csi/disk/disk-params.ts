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

export function parseDiskParams(p: Record<string, string> | undefined): DiskVolumeParams {
  const params = p ?? {};
  const diskType = params[ScParams.DiskType];
  if (!diskType) throw invalid(`parameters.${ScParams.DiskType} is required (HDD, SSD or NVMe)`);
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

/**
 * The node a volume must live on: the first preferred segment carrying our key, else the single requisite
 * one. A requirement without our key, or several requisite nodes with no preference, is INVALID_ARGUMENT.
 */
export function nodeFromTopology(req: TopologyRequirement | null | undefined): string {
  const key = TopologyKeys.DiskNode;
  const nodesOf = (ts: TopologyRequirement["preferred"]) => (ts ?? []).map((t) => t.segments?.[key]).filter((n): n is string => !!n);
  const preferred = nodesOf(req?.preferred);
  if (preferred.length) return preferred[0]!;
  const requisite = nodesOf(req?.requisite);
  if (requisite.length === 1) return requisite[0]!;
  if (requisite.length > 1) {
    throw invalid(`accessibility_requirements: a disk volume lives on one node, but ${requisite.length} requisite nodes were given with no preferred one`);
  }
  throw invalid(`accessibility_requirements: a topology segment with key ${key} is required`, {
    hint: "use a StorageClass with volumeBindingMode WaitForFirstConsumer and the provisioner's --feature-gates=Topology=true",
  });
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

