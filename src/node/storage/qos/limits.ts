// Volume IO limits (fact sheet §7), pure: LocalVolume spec.volumeQoS {iops, throughput} (Kubernetes quantity
// strings) → the per-device limits the node agent writes. Missing or "" or "0" = unlimited (0).
// `iops` limits read and write IOPS, `throughput` read and write bytes/s, as the original. A malformed
// quantity is an INVALID_ARGUMENT naming the volume, the field and the value; nothing is applied then.
// Also the cgroup directories the limits go to (see docs/expansion-qos.md "Which cgroup").

import { HwError } from "../../../api/errors.ts";
import type { IoLimits } from "../../../host/cgroup/cgroup.ts";

const SUFFIX: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY = /^\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$/;

/** A Kubernetes quantity as a whole number (rounded up, as resource.Quantity.Value()); throws on malformed. */
export function parseQuantity(text: string, what: string): number {
  const m = QUANTITY.exec(text.trim());
  if (!m) throw new HwError("INVALID_ARGUMENT", "InvalidQuantity", `${what} ${JSON.stringify(text)} is not a Kubernetes quantity (e.g. 500, 10Mi, 1.5k)`);
  const base = Number(m[1]);
  const v = m[2] ? base * 10 ** Number(m[2].slice(1)) : base * SUFFIX[m[3] ?? ""]!;
  const n = v <= 0 ? 0 : Math.ceil(v - 1e-9);
  if (!Number.isSafeInteger(n)) throw new HwError("INVALID_ARGUMENT", "InvalidQuantity", `${what} ${JSON.stringify(text)} is out of range`);
  return n;
}

export interface VolumeQoSSpec {
  iops?: string;
  throughput?: string;
}

/** spec.volumeQoS → device limits (0 = unlimited). */
export function qosLimits(volume: string, qos: VolumeQoSSpec | undefined): IoLimits {
  const field = (v: string | undefined, name: string) => (v === undefined || v.trim() === "" ? 0 : parseQuantity(v, `volume ${volume}: spec.volumeQoS.${name}`));
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
