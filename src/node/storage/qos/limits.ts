// Volume IO limits (fact sheet §7), pure: LocalVolume spec.volumeQoS {iops, throughput} (Kubernetes quantity
// strings) → the per-device limits the node agent writes. Missing or "" or "0" = unlimited (0).
// `iops` limits read and write IOPS, `throughput` read and write bytes/s, as the original. A malformed
// quantity is an INVALID_ARGUMENT naming the volume, the field and the value; nothing is applied then.
// Also the cgroup directories the limits go to (see docs/expansion-qos.md "Which cgroup").

import type { IoLimits } from "../../../host/cgroup/cgroup.ts";
import { parseQuantity } from "../../../api/quantity.ts";

export interface VolumeQoSSpec {
  iops?: string;
  throughput?: string;
}

/** spec.volumeQoS → device limits (0 = unlimited). */
export function qosLimits(volume: string, qos: VolumeQoSSpec | undefined): IoLimits {
  const field = (v: string | undefined, name: string) =>
    v === undefined || v.trim() === "" ? 0 : parseQuantity(v, `volume ${volume}: spec.volumeQoS.${name}`);
  const iops = field(qos?.iops, "iops");
  const bps = field(qos?.throughput, "throughput");
  return { readIops: iops, writeIops: iops, readBps: bps, writeBps: bps };
}

export const isUnlimited = (l: IoLimits): boolean => !l.readBps && !l.writeBps && !l.readIops && !l.writeIops;

/** Directory (relative to the io hierarchy) of a volume's own cgroup: workloads of the volume run there. */
export const VOLUME_CGROUP_PARENT = "hwameistor";
export const volumeCgroupRel = (volume: string): string => `${VOLUME_CGROUP_PARENT}/${volume}`;

/** The kubepods cgroups the original writes (§7), relative to the io hierarchy, in its order of preference. */
export const KUBEPODS_RELS = ["kubepods.slice", "kubepods"] as const;
