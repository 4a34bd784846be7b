// `hwameictl volume create NAME --class SC --size 2Gi [--node N]`: what the external-provisioner does for
// a PVC — CreateVolume on the driver's CSI controller with the StorageClass parameters (minus the
// csi.storage.k8s.io/ keys, plus the PVC name/namespace metadata) and a topology requirement naming one node
// (requisite = preferred = the node, as for a pod's selected node). Without --node we pick the node whose
// pool has the most free space, as a scheduler would. Then records a PersistentVolume (driver, handle,
// fsType, volume context) so `volume mount` can act as kubelet does.

import type { Command } from "commander";
import { HwError } from "../../../api/errors.ts";
import { DeviceStates, ScParams, diskPoolName, isPoolClass, storagePoolName } from "../../../api/names.ts";
import { connectCsi } from "../../../csi/client.ts";
import type * as T from "../../../csi/types.ts";
import { formatBytes, parseSize } from "../../../api/quantity.ts";
import type { View } from "../../print.ts";
import { assertObjectName, driverShort, type Ctl, type DriverShort, type Sc } from "../context.ts";
import { driverName, mountCapability, requireVolume, topologyKey, withRetry } from "./common.ts";
import { volumeColumns } from "./list.ts";

export interface CreateFlags {
  class: string;
  size: string;
  node?: string;
  namespace: string;
  csiSocket?: string;
}

const RESERVED_PREFIX = "csi.storage.k8s.io/";

/** The CreateVolume parameters a provisioner passes for this class and PVC (pure). */
export function createParameters(sc: Sc, pvcName: string, pvcNamespace: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(sc.parameters ?? {})) if (!k.startsWith(RESERVED_PREFIX)) params[k] = v;
  params[ScParams.PvcName] = pvcName;
  params[ScParams.PvcNamespace] = pvcNamespace;
  return params;
}

/** The node with the most room for `bytes` in the class's pool, or RESOURCE_EXHAUSTED naming each node's free space. */
export async function pickNode(ctl: Ctl, driver: DriverShort, sc: Sc, bytes: number): Promise<string> {
  const cls = sc.parameters?.[driver === "lvm" ? ScParams.PoolClass : ScParams.DiskType] ?? "";
  if (!isPoolClass(cls))
    throw new HwError(
      "INVALID_ARGUMENT",
      "Invalid",
      `StorageClass ${sc.metadata?.name} has no valid ${driver === "lvm" ? ScParams.PoolClass : ScParams.DiskType} parameter`,
    );
  const free: Array<{ node: string; bytes: number }> = [];
  if (driver === "lvm") {
    for (const n of (await ctl.c.lsn.list()).items)
      free.push({ node: n.metadata!.name!, bytes: n.status?.pools?.[storagePoolName(cls)]?.freeCapacityBytes ?? 0 });
  } else {
    for (const n of (await ctl.c.ldn.list()).items) {
      const disks = (n.status?.pools?.[diskPoolName(cls)]?.disks ?? []).filter((d) => d.state === DeviceStates.Available && (d.capacityBytes ?? 0) >= bytes);
      free.push({ node: n.metadata!.name!, bytes: Math.max(0, ...disks.map((d) => d.capacityBytes ?? 0)) });
    }
  }
  const best = free.filter((f) => f.bytes >= bytes).sort((a, b) => b.bytes - a.bytes || a.node.localeCompare(b.node))[0];
  if (best) return best.node;
  throw new HwError("RESOURCE_EXHAUSTED", "NoCapacity", `no node has ${formatBytes(bytes)} free in a ${cls} ${driver === "lvm" ? "storage" : "disk"} pool`, {
    hint: free.length ? `free per node: ${free.map((f) => `${f.node} ${formatBytes(f.bytes)}`).join(", ")}` : "no node has such a pool (hwameictl pool list)",
  });
}

export async function createVolume(ctl: Ctl, name: string, f: CreateFlags): Promise<View> {
  assertObjectName(name, "volume name");
  const bytes = parseSize(f.size, "--size");
  const sc = await ctl.requireStorageClass(f.class);
  const driver = driverShort(sc.provisioner)!;
  if (f.node) await ctl.requireNode(f.node);
  const node = f.node ?? (await pickNode(ctl, driver, sc, bytes));
  const fsType = sc.parameters?.[ScParams.FsType] ?? "";
  const segment = { segments: { [topologyKey(driver)]: node } };
  const req: T.CreateVolumeRequest = {
    name,
    capacity_range: { required_bytes: String(bytes) },
    volume_capabilities: [mountCapability(fsType)],
    parameters: createParameters(sc, name, f.namespace),
    accessibility_requirements: { requisite: [segment], preferred: [segment] },
  };
  const deadline = Date.now() + ctl.timeoutMs;
  const csi = await connectCsi(ctl.controllerSocket(driver, f.csiSocket), { callTimeoutMs: Math.min(60_000, ctl.timeoutMs) });
  let res: T.CreateVolumeResponse;
  try {
    res = await withRetry(`CreateVolume ${name}`, deadline, () => csi.createVolume(req));
  } finally {
    csi.close();
  }
  await recordPv(ctl, name, sc, driver, node, fsType, res).catch(() => undefined); // a record only; the volume exists either way
  const v = await requireVolume(ctl, name);
  return { sections: [{ columns: volumeColumns, rows: [v.row] }], data: { volume: v.object, csi: res.volume } };
}

async function recordPv(ctl: Ctl, name: string, sc: Sc, driver: DriverShort, node: string, fsType: string, res: T.CreateVolumeResponse): Promise<void> {
  if (await ctl.pv.get(name)) return;
  await ctl.pv.create({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: String(res.volume.capacity_bytes ?? "0") },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? "Delete",
      storageClassName: sc.metadata!.name,
      volumeMode: "Filesystem",
      csi: { driver: driverName(driver), volumeHandle: res.volume.volume_id, fsType, volumeAttributes: res.volume.volume_context ?? {} },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: topologyKey(driver), operator: "In", values: [node] }] }] } },
    },
  } as never);
}

export function registerVolumeCreate(volume: Command, ctl: () => Ctl): void {
  volume
    .command("create <name>")
    .description("create a volume through the driver's CSI controller (as the external-provisioner does for a PVC)")
    .requiredOption("--class <storageclass>", "StorageClass, e.g. hwameistor-storage-lvm-hdd")
    .requiredOption("--size <size>", "capacity, e.g. 2Gi")
    .option("--node <name>", "placement hint: the node the volume must be on (a pod's selected node); default: most free space")
    .option("--namespace <ns>", "namespace recorded as the PVC's", "default")
    .option("--csi-socket <path>", "the driver's CSI controller socket (default: the dev cluster's)")
    .action(async (name: string, o: CreateFlags) => {
      const c = ctl();
      c.print(await createVolume(c, name, o));
    });
}
