// The LocalDiskVolume state machine on its node (fact sheet §5.8), as a pure function from the volume and
// the facts the reconciler observed to the next state and the actions to run. Original state strings.
//
// Differences from the original, deliberately: mounting is done by the CSI node service itself (NodePublish
// mounts and records the mount point; the original hands mount points to this loop via ToBeMounted), so the
// mount rows are gone; and the disk's pool state (InUse/Available in LocalDiskNode) is written here.
//
// Transition table (first matching row wins):
//
// | # | given                                              | next state  | actions                                          |
// |---|----------------------------------------------------|-------------|--------------------------------------------------|
// | 1 | being deleted (deletionTimestamp), state is live    | ToBeDeleted | —                                                |
// | 2 | "" and no disk assigned                            | —           | — (the controller assigns the disk)              |
// | 3 | Creating or "" with a disk, disk not on this node  | —           | — requeue (disk manager has not reported it)     |
// | 4 | Creating or "" with a disk                         | Created     | ensurePoolLink, markDiskInUse                    |
// | 5 | Created/Ready/NotReady/ToBeMounted                 | —           | ensurePoolLink if missing, markDiskInUse if not  |
// | 6 | ToBeDeleted with mount points                      | —           | — requeue until unpublished                      |
// | 7 | ToBeDeleted without mount points                   | Deleted     | —                                                |
// | 8 | Deleted                                            | —           | removePoolLink, wipeOwnFilesystem, markDiskAvailable, removeFinalizer, deleteObject |

import { VolumeStates } from "../../api/names.ts";

export type Action = "ensurePoolLink" | "markDiskInUse" | "removePoolLink" | "wipeOwnFilesystem" | "markDiskAvailable" | "removeFinalizer" | "deleteObject";

export interface VolumeFacts {
  state: string;
  deleting: boolean;
  /** status.localDiskName is set. */
  hasDisk: boolean;
  mountPointCount: number;
  /** The assigned disk is a LocalDisk of this node. */
  diskOnNode: boolean;
  /** The pool symlink exists and points at the disk. */
  poolLinkOk: boolean;
  /** The LocalDiskNode pool lists the disk as InUse. */
  diskMarkedInUse: boolean;
}

export interface Decision {
  /** New status.state; undefined = unchanged. */
  state?: string;
  actions: Action[];
  requeueAfterMs?: number;
  /** Why, for logs and tests. */
  reason: string;
}

const LIVE = [VolumeStates.Created, VolumeStates.Ready, VolumeStates.NotReady, VolumeStates.ToBeUnmount] as string[];

export function decide(f: VolumeFacts): Decision {
  const creating = f.state === VolumeStates.Creating || f.state === VolumeStates.Empty;
  if (f.deleting && (creating || LIVE.includes(f.state))) return { state: VolumeStates.ToBeDeleted, actions: [], reason: "object is being deleted" };
  if (creating && !f.hasDisk) return { actions: [], reason: "waiting for the controller to assign a disk" };
  if (creating && !f.diskOnNode) return { actions: [], requeueAfterMs: 5_000, reason: "the assigned disk is not a LocalDisk of this node (yet)" };
  if (creating) return { state: VolumeStates.Created, actions: ["ensurePoolLink", "markDiskInUse"], reason: "disk reserved" };
  if (LIVE.includes(f.state)) {
    const actions: Action[] = [];
    if (f.diskOnNode && !f.poolLinkOk) actions.push("ensurePoolLink");
    if (f.diskOnNode && !f.diskMarkedInUse) actions.push("markDiskInUse");
    return { actions, reason: actions.length ? "repairing pool link / disk state" : "in sync" };
  }
  if (f.state === VolumeStates.ToBeDeleted) {
    if (f.mountPointCount > 0) return { actions: [], requeueAfterMs: 2_000, reason: "still published" };
    return { state: VolumeStates.Deleted, actions: [], reason: "no mount points left" };
  }
  if (f.state === VolumeStates.Deleted) {
    const actions: Action[] = f.hasDisk
      ? ["removePoolLink", "wipeOwnFilesystem", "markDiskAvailable", "removeFinalizer", "deleteObject"]
      : ["removeFinalizer", "deleteObject"];
    return { actions, reason: "releasing the disk" };
  }
  return { actions: [], reason: `unknown state ${JSON.stringify(f.state)}: left alone` };
}
