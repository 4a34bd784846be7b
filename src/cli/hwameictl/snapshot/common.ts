// What the snapshot commands share: typed clients for the snapshot kinds, the table row, the CSI controller.
import { HwError, notFound } from "../../../api/errors.ts";

import { localVolumeSnapshotRestoreKind } from "../../../api/kinds/local-volume-snapshot-restore.ts";
import { localVolumeSnapshotKind } from "../../../api/kinds/local-volume-snapshot.ts";
import { connectCsi, type CsiClient } from "../../../csi/client.ts";
import { formatBytes } from "../../../api/quantity.ts";
import type { LocalVolumeSnapshotObject, LocalVolumeSnapshotRestoreObject } from "../../../kube/hwameistor.ts";
import type { Ctl } from "../context.ts";

export const lvsClient = (ctl: Ctl) => ctl.client.forKind<LocalVolumeSnapshotObject>(localVolumeSnapshotKind);
export const lvsrClient = (ctl: Ctl) => ctl.client.forKind<LocalVolumeSnapshotRestoreObject>(localVolumeSnapshotRestoreKind);

export interface SnapshotRow {
  name: string;
  volume: string;
  node: string;
  state: string;
  capacityBytes: number;
  created: string;
  message: string;
}

export function snapshotRow(s: LocalVolumeSnapshotObject): SnapshotRow {
  return {
    name: s.metadata?.name ?? "",
    volume: s.spec?.sourceVolume ?? "",
    node: (s.spec?.accessibility?.nodes ?? []).join(","),
    state: s.status?.state ?? "",
    capacityBytes: s.status?.allocatedCapacityBytes ?? 0,
    created: s.status?.creationTime ?? "",
    message: s.status?.message ?? "",
  };
}

export const snapshotColumns = [
  { header: "name", value: (r: SnapshotRow) => r.name },
  { header: "volume", value: (r: SnapshotRow) => r.volume },
  { header: "node", value: (r: SnapshotRow) => r.node },
  { header: "state", value: (r: SnapshotRow) => r.state },
  { header: "capacity", value: (r: SnapshotRow) => formatBytes(r.capacityBytes) },
  { header: "created", value: (r: SnapshotRow) => r.created },
  { header: "message", value: (r: SnapshotRow) => r.message, wide: true },
];

export async function requireSnapshot(ctl: Ctl, name: string): Promise<LocalVolumeSnapshotObject> {
  const s = await lvsClient(ctl).get(name);
  if (!s) {
    const names = (await lvsClient(ctl).list()).items.map((x) => x.metadata?.name).join(", ");
    throw notFound(`snapshot ${name}`, names ? `snapshots: ${names}` : "there are no snapshots; create one with: hwameictl snapshot create NAME --volume VOL");
  }
  return s;
}

export async function withController<R>(ctl: Ctl, socket: string | undefined, fn: (csi: CsiClient) => Promise<R>): Promise<R> {
  const csi = await connectCsi(ctl.controllerSocket("lvm", socket), { callTimeoutMs: ctl.timeoutMs });
  try {
    return await fn(csi);
  } finally {
    csi.close();
  }
}

export const inUse = (volume: string, node: string) =>
  new HwError("FAILED_PRECONDITION", "VolumeInUse", `volume ${volume} is published on node ${node}`, {
    hint: `unmount it first: hwameictl volume unmount ${volume} --node ${node} --path <path>`,
  });
