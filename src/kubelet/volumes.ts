// The kubelet's volume manager for CSI persistent volumes, as pkg/volume/csi does it:
// - a PVC must be Bound; its PV must be a CSI PV of a driver registered on this node (a socket);
// - attach: when the driver needs attaching (no CSIDriver object, or one with attachRequired ≠ false) the
//   VolumeAttachment for (PV, this node) must report `status.attached`; its `attachmentMetadata` is the
//   publish_context;
// - stage (NodeStageVolume at the globalmount / block staging path) only for drivers that advertise
//   STAGE_UNSTAGE_VOLUME — HwameiStor's drivers do not (as the original), so they are published directly;
// - publish (NodePublishVolume) at the pod's path; block volumes at the volumeDevices publish file, linked
//   from the pod's volumeDevices directory;
// - node expansion (NodeExpandVolume) while published when the PVC says FileSystemResizePending, then the
//   PVC's status.capacity and conditions as the kubelet writes them;
// - teardown: unpublish, then unstage when no other pod of this node still uses the staging path.
// Every step is idempotent in the driver; the pod record lists a volume before its publish is called, so a
// crash mid-publish is cleaned up by the next teardown.

import { mkdir, rm, symlink, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { HwError } from "../api/errors.ts";
import type { Pod, Pv, Pvc, VolumeAttachment } from "../api/core.ts";
import { quantityOrUndefined } from "../api/quantity.ts";
import type { CsiClient } from "../csi/client.ts";
import { blockPublishPath, blockStagingPath, podDeviceLink, publishPath, stagingPath } from "./paths.ts";

export interface VolumeRecord {
  /** Pod volume name. */
  name: string;
  pv: string;
  driver: string;
  handle: string;
  block: boolean;
  target: string;
  /** Staging path when staged. */
  staging?: string;
  /** Block: the pod's device link. */
  link?: string;
  readOnly: boolean;
}

export interface VolumeFacts {
  pvcs: Pvc[];
  pvs: Pv[];
  attachments: VolumeAttachment[];
  /** Drivers whose CSIDriver says attachRequired: false. */
  noAttach: Set<string>;
}

export interface CsiNodeClients {
  /** The node service of `driver`, or undefined when the driver has no socket on this node. */
  client(driver: string): CsiClient | undefined;
  /** Whether the driver advertises STAGE_UNSTAGE_VOLUME. */
  canStage(driver: string): Promise<boolean>;
}

const ACCESS: Record<string, string> = {
  ReadWriteOnce: "SINGLE_NODE_WRITER",
  ReadOnlyMany: "MULTI_NODE_READER_ONLY",
  ReadWriteMany: "MULTI_NODE_MULTI_WRITER",
  ReadWriteOncePod: "SINGLE_NODE_SINGLE_WRITER",
};

function capability(pv: Pv, block: boolean): object {
  const mode = ACCESS[pv.spec?.accessModes?.[0] ?? "ReadWriteOnce"] ?? "SINGLE_NODE_WRITER";
  return block
    ? { block: {}, access_mode: { mode } }
    : { mount: { fs_type: pv.spec?.csi?.fsType ?? "", mount_flags: pv.spec?.mountOptions ?? [] }, access_mode: { mode } };
}

export interface Resolved {
  records: VolumeRecord[];
  /** Why the pod's volumes are not ready yet (waiting, not an error). */
  waiting?: string;
  /** PV per pod volume name, for publish context. */
  pvs: Map<string, { pv: Pv; pvc: Pvc; publishContext: Record<string, string> }>;
}

/** Which CSI volumes the pod needs on `node`, and what they wait for. Pure. */
export function resolvePodVolumes(pod: Pod, node: string, root: string, f: VolumeFacts): Resolved {
  const ns = pod.metadata?.namespace ?? "default";
  const uid = pod.metadata?.uid ?? "";
  const out: Resolved = { records: [], pvs: new Map() };
  for (const v of pod.spec?.volumes ?? []) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (!claim) continue;
    const pvc = f.pvcs.find((p) => p.metadata?.name === claim && (p.metadata?.namespace ?? "default") === ns);
    if (!pvc) return { ...out, waiting: `persistentvolumeclaim "${claim}" not found` };
    if (pvc.status?.phase !== "Bound" || !pvc.spec?.volumeName) return { ...out, waiting: `persistentvolumeclaim "${claim}" is not bound yet` };
    const pv = f.pvs.find((p) => p.metadata?.name === pvc.spec!.volumeName);
    if (!pv) return { ...out, waiting: `persistentvolume "${pvc.spec.volumeName}" not found` };
    const csi = pv.spec?.csi;
    if (!csi)
      throw new HwError("FAILED_PRECONDITION", "NotCsi", `persistentvolume "${pv.metadata?.name}" is not a CSI volume: only CSI volumes are mounted here`);
    const pvName = pv.metadata?.name ?? "";
    let publishContext: Record<string, string> = {};
    if (!f.noAttach.has(csi.driver)) {
      const va = f.attachments.find((a) => a.spec?.nodeName === node && a.spec?.source?.persistentVolumeName === pvName);
      if (!va?.status?.attached) {
        const err = va?.status?.attachError?.message;
        return { ...out, waiting: `waiting for VolumeAttachment of volume ${pvName} to node ${node}${err ? `: ${err}` : ""}` };
      }
      publishContext = va.status.attachmentMetadata ?? {};
    }
    const block = pv.spec?.volumeMode === "Block";
    out.records.push({
      name: v.name,
      pv: pvName,
      driver: csi.driver,
      handle: csi.volumeHandle,
      block,
      target: block ? blockPublishPath(root, pvName, uid) : publishPath(root, uid, pvName),
      ...(block ? { link: podDeviceLink(root, uid, pvName) } : {}),
      readOnly: !!(v.persistentVolumeClaim?.readOnly || csi.readOnly),
    });
    out.pvs.set(v.name, { pv, pvc, publishContext });
  }
  return out;
}

/** Stage (if the driver stages) and publish one volume; idempotent. `rec.staging` is set when staged. */
export async function setUpVolume(root: string, csi: CsiNodeClients, rec: VolumeRecord, pv: Pv, publishContext: Record<string, string>): Promise<void> {
  const client = csi.client(rec.driver);
  if (!client)
    throw new HwError("UNAVAILABLE", "DriverNotRegistered", `driver name ${rec.driver} not found in the list of registered CSI drivers on this node`, {
      hint: "is the node agent serving that driver's socket?",
    });
  const cap = capability(pv, rec.block);
  const ctx = pv.spec?.csi?.volumeAttributes ?? {};
  if (await csi.canStage(rec.driver)) {
    const staging = rec.block ? blockStagingPath(root, rec.pv) : stagingPath(root, rec.driver, rec.handle);
    await mkdir(rec.block ? staging : dirname(staging), { recursive: true });
    await client.call("Node", "NodeStageVolume", {
      volume_id: rec.handle,
      publish_context: publishContext,
      staging_target_path: staging,
      volume_capability: cap,
      volume_context: ctx,
    });
    rec.staging = staging;
  }
  await mkdir(dirname(rec.target), { recursive: true });
  await client.nodePublishVolume({
    volume_id: rec.handle,
    publish_context: publishContext,
    ...(rec.staging ? { staging_target_path: rec.staging } : {}),
    target_path: rec.target,
    volume_capability: cap as never,
    readonly: rec.readOnly,
    volume_context: ctx,
  });
  if (rec.link) {
    await mkdir(dirname(rec.link), { recursive: true });
    await symlink(rec.target, rec.link).catch((e: NodeJS.ErrnoException) => (e.code === "EEXIST" ? undefined : Promise.reject(e)));
  }
}

/** Unpublish (and unstage when `unstage`); idempotent: a target that is gone is success. */
export async function tearDownVolume(csi: CsiNodeClients, rec: VolumeRecord, unstage: boolean): Promise<void> {
  const client = csi.client(rec.driver);
  if (!client)
    throw new HwError(
      "UNAVAILABLE",
      "DriverNotRegistered",
      `driver ${rec.driver} has no socket on this node: volume ${rec.pv} stays published at ${rec.target} until it is back`,
    );
  if (rec.link) await unlink(rec.link).catch(() => undefined);
  await client.nodeUnpublishVolume({ volume_id: rec.handle, target_path: rec.target });
  await rm(rec.target, { recursive: false, force: true }).catch(() => undefined);
  if (rec.staging && unstage) {
    await client.call("Node", "NodeUnstageVolume", { volume_id: rec.handle, staging_target_path: rec.staging });
  }
}

/** Whether the PVC asks the node for a filesystem resize (the resizer set FileSystemResizePending). */
export function needsNodeExpansion(pvc: Pvc): boolean {
  return (pvc.status?.conditions ?? []).some((c) => c.type === "FileSystemResizePending" && c.status === "True");
}

/** NodeExpandVolume to the PV's capacity; returns the PVC status patch the kubelet writes afterwards. */
export async function expandVolume(csi: CsiNodeClients, rec: VolumeRecord, pv: Pv, pvc: Pvc): Promise<object> {
  const client = csi.client(rec.driver);
  if (!client) throw new HwError("UNAVAILABLE", "DriverNotRegistered", `driver ${rec.driver} has no socket on this node`);
  const capacity = pv.spec?.capacity?.storage ?? "";
  const bytes = quantityOrUndefined(capacity);
  if (bytes === undefined) throw new HwError("FAILED_PRECONDITION", "PvWithoutCapacity", `persistentvolume "${rec.pv}" has no valid spec.capacity.storage`);
  await client.call("Node", "NodeExpandVolume", {
    volume_id: rec.handle,
    volume_path: rec.target,
    capacity_range: { required_bytes: String(bytes) },
    ...(rec.staging ? { staging_target_path: rec.staging } : {}),
    volume_capability: capability(pv, rec.block),
  });
  return {
    status: {
      capacity: { ...(pvc.status?.capacity ?? {}), storage: capacity },
      conditions: (pvc.status?.conditions ?? []).filter((c) => c.type !== "FileSystemResizePending" && c.type !== "Resizing"),
      allocatedResourceStatuses: null,
    },
  };
}
