// Volumes for hwameictl: a LocalVolume (lvm.hwameistor.io) or a LocalDiskVolume (disk.hwameistor.io) of
// the same name — those are the source of truth. The PersistentVolume `volume create` records (as the
// external-provisioner would) only carries what a later mount needs: fsType and the volume context.
//
// CSI calls are retried the way the sidecars retry: UNAVAILABLE ("still in progress"), ABORTED (another
// call for the volume runs) and DEADLINE_EXCEEDED are retried until --timeout.

import { HwError, notFound } from "../../../api/errors.ts";
import { Drivers, TopologyKeys } from "../../../api/names.ts";
import type { CsiClient } from "../../../csi/client.ts";
import type * as T from "../../../csi/types.ts";
import { sleep } from "../../../kube/types.ts";
import type { Ctl, DriverShort, Ldv, Lv } from "../context.ts";

export interface VolumeRow {
  name: string;
  driver: DriverShort;
  pool: string;
  capacityBytes: number;
  nodes: string[];
  state: string;
  published: string;
  replicas: number;
  fsType: string;
  usedBytes: number | undefined;
  pvc: string;
}

export function lvRow(v: Lv): VolumeRow {
  return {
    name: v.metadata!.name!,
    driver: "lvm",
    pool: v.spec?.poolName ?? "",
    capacityBytes: v.status?.allocatedCapacityBytes || v.spec?.requiredCapacityBytes || 0,
    nodes: v.spec?.accessibility?.nodes ?? [],
    state: v.status?.state ?? "",
    published: v.status?.publishedNode ?? "",
    replicas: v.spec?.replicaNumber ?? 0,
    fsType: v.status?.fsType ?? "",
    usedBytes: v.status?.usedCapacityBytes,
    pvc: v.spec?.pvcName ? `${v.spec.pvcNamespace}/${v.spec.pvcName}` : "",
  };
}

export function ldvRow(v: Ldv): VolumeRow {
  const mps = v.status?.mountPoints ?? [];
  return {
    name: v.metadata!.name!,
    driver: "disk",
    pool: v.spec?.diskType ? `LocalDisk_Pool${v.spec.diskType}` : "",
    capacityBytes: v.status?.allocatedCapacityBytes || v.spec?.requiredCapacityBytes || 0,
    nodes: v.spec?.accessibility?.nodes ?? [],
    state: v.status?.state ?? "",
    published: mps.length ? (v.spec?.accessibility?.nodes?.[0] ?? "") : "",
    replicas: 1,
    fsType: mps[0]?.fsTye ?? "",
    usedBytes: v.status?.usedCapacityBytes,
    pvc: v.spec?.persistentVolumeClaimName ?? "",
  };
}

export interface FoundVolume {
  row: VolumeRow;
  object: Lv | Ldv;
  driver: DriverShort;
}

/** The volume by name, or NOT_FOUND listing the volumes there are. */
export async function requireVolume(ctl: Ctl, name: string): Promise<FoundVolume> {
  const lv = await ctl.c.lv.get(name);
  if (lv) return { row: lvRow(lv), object: lv, driver: "lvm" };
  const ldv = await ctl.c.ldv.get(name);
  if (ldv) return { row: ldvRow(ldv), object: ldv, driver: "disk" };
  const [lvs, ldvs] = await Promise.all([ctl.c.lv.list(), ctl.c.ldv.list()]);
  const names = [...lvs.items, ...ldvs.items].map((v) => v.metadata!.name!).sort();
  throw notFound(
    `volume ${JSON.stringify(name)}`,
    names.length ? `the volumes are: ${names.join(", ")}` : "there are no volumes; create one with `hwameictl volume create`",
  );
}

export const topologyKey = (d: DriverShort): string => (d === "lvm" ? TopologyKeys.LvmNode : TopologyKeys.DiskNode);
export const driverName = (d: DriverShort): string => (d === "lvm" ? Drivers.Lvm : Drivers.Disk);

export function mountCapability(fsType: string): T.VolumeCapability {
  return { mount: { fs_type: fsType, mount_flags: [] }, access_mode: { mode: "SINGLE_NODE_WRITER" } };
}

const RETRYABLE = new Set(["UNAVAILABLE", "ABORTED", "DEADLINE_EXCEEDED"]);

/** Calls fn until it succeeds, fails for good, or the deadline passes (then the last error). */
export async function withRetry<R>(
  what: string,
  deadlineMs: number,
  fn: () => Promise<R>,
  retryable: (e: HwError) => boolean = (e) => RETRYABLE.has(e.code),
): Promise<R> {
  let delay = 250;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof HwError) || !retryable(e) || Date.now() + delay > deadlineMs) {
        if (e instanceof HwError && retryable(e)) {
          throw new HwError(e.code, e.reason, `${what}: ${e.message}`, { hint: "still not done at --timeout; run the command again to continue", cause: e });
        }
        throw e;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

export async function controllerCaps(c: CsiClient): Promise<Set<string>> {
  const r = await c.controllerGetCapabilities();
  return new Set(r.capabilities.map((x) => x.rpc?.type).filter((x): x is NonNullable<typeof x> => !!x));
}
