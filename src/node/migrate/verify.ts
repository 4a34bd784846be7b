// On-disk verification of a migration's target before the source replica is deleted (docs/migration.md
// "On-disk verification"). The copy's tables prove that every chunk arrived intact and was handed to the target's
// disk, which acknowledged it durable; this re-reads what the disk holds, with O_DIRECT, and its chunk-CRC table's
// digest must equal the source's before the controller deletes the source replica.
//
// Off the copy and off the cut-over pause where the engine allows: the instant the final round is on the target's
// disk (and before the target can go live), its volume file is frozen in a reflink clone (FICLONE, O(extents):
// milliseconds); the target then reports its checksum, goes live, and the clone — sharing the target's blocks on
// disk as they were written — is re-read while the pod already runs there. The source replica (frozen itself since
// the cut-over) is kept until that read matched. Where no clone can be made (the lvm engine; a filesystem without
// reflink) the device itself is re-read before the target reports its checksum: the target is not live yet, so the
// read is in the pause (an offline copy's pause holds the whole copy anyway).

import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { isHwError } from "../../api/errors.ts";
import { chunkTableChecksum } from "../../host/copier/copier.ts";
import { cloneFile } from "../../host/fs/reflink.ts";
import { backingFileOf, clonePath, sweepSnapshots } from "./precopy.ts";

const TAG_PREFIX = "verify-";
/** The clone's tag (precopy.ts naming): one per copy attempt, so a later attempt never reads an earlier freeze. */
export const verifyTag = (attempt: string): string => `${TAG_PREFIX}a${attempt.replace(/[^0-9]/g, "")}`;

export interface Frozen {
  /** What the verification reads: the clone, or the device itself. */
  path: string;
  /** The volume file the clone was taken from; undefined: no clone (read the device before it goes live). */
  file?: string;
  /** Time the freeze took (the part of this in the cut-over pause). */
  ms: number;
}

/** Freezes the target's state right after the final round: a reflink clone of its volume file where one can be made. */
export async function freezeTarget(devPath: string, attempt: string): Promise<Frozen> {
  const t0 = performance.now();
  const file = await backingFileOf(devPath);
  if (file) {
    const path = clonePath(file, verifyTag(attempt), 0);
    await rm(path, { force: true }); // a crash's leftover of this attempt: taken before the copy that just ended
    try {
      await cloneFile(file, path);
      return { path, file, ms: performance.now() - t0 };
    } catch (e) {
      if (!(isHwError(e) && e.reason === "ReflinkUnsupported")) throw e;
    }
  }
  return { path: devPath, ms: performance.now() - t0 };
}

/** The frozen clone of `attempt` an earlier incarnation of this agent left (killed mid-verification), if any. */
export async function frozenClone(devPath: string, attempt: string): Promise<Frozen | undefined> {
  const file = await backingFileOf(devPath);
  if (!file) return undefined;
  const path = clonePath(file, verifyTag(attempt), 0);
  return existsSync(path) ? { path, file, ms: 0 } : undefined;
}

/** Re-reads the frozen state whole with O_DIRECT: the digest of its chunk-CRC table (comparable with the copy's). */
export async function onDiskChecksum(f: Frozen, size: number, chunk: number): Promise<{ checksum: string; ms: number }> {
  const t0 = performance.now();
  const checksum = await chunkTableChecksum(f.path, size, chunk);
  return { checksum, ms: performance.now() - t0 };
}

/** Removes every verification clone of `file` (the pre-copy's own clones are the source's business). */
export function releaseFrozen(file: string): Promise<string[]> {
  return sweepSnapshots(file, (tag) => !tag.startsWith(TAG_PREFIX));
}
