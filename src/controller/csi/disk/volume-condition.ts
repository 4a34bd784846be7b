// The volume condition the disk driver's controller reports (ListVolumes / ControllerGetVolume), from the
// API only: the LocalDiskVolume's state and its disk's.

import { LocalDiskStates, VolumeStates } from "../../../api/names.ts";
import type { Ld, Ldv } from "../../../kube/hwameistor.ts";
import { USABLE_STATES, nodeOfLdv } from "../../../kube/local-disk-volume.ts";
import type { VolumeCondition } from "../../../csi/types.ts";

/** The condition of one disk volume. */
export function volumeCondition(ldv: Ldv, disk: Ld | undefined): VolumeCondition {
  const state = ldv.status?.state ?? "";
  const name = ldv.metadata?.name ?? "";
  if (ldv.metadata?.deletionTimestamp || state === VolumeStates.ToBeDeleted || state === VolumeStates.Deleted) {
    return { abnormal: true, message: `volume ${name} is being deleted` };
  }
  if (!USABLE_STATES.includes(state)) return { abnormal: true, message: `volume ${name} is ${state || "not yet assigned a disk"}` };
  if (!disk) return { abnormal: true, message: `disk ${ldv.status?.localDiskName ?? "?"} of volume ${name} is gone` };
  if (disk.spec?.state && disk.spec.state !== LocalDiskStates.Active) {
    return { abnormal: true, message: `disk ${disk.metadata?.name} (${ldv.status?.devPath}) of volume ${name} is ${disk.spec.state}` };
  }
  return { abnormal: false, message: `volume ${name} is ${state} on ${ldv.status?.devPath} of node ${nodeOfLdv(ldv)}` };
}
