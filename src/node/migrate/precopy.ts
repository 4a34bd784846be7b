// Reflink snapshots for the online pre-copy of a migration (docs/migration.md "Online pre-copy"). A replica
// whose device is a loop device over a file on a reflink filesystem (the file engine: btrfs, or XFS with
// reflink=1) is copied while its pod runs: each round clones the volume file (FICLONE, O(1)), and the ranges to
// send are those whose extents moved since the previous round's clone (src/host/fs/fiemap.ts says why that finds
// every write). The previous clone is removed only after the next one exists, so every write in between hit a
// shared extent and was copied to a new one.
//
// The clones are hidden files beside the volume file, `.<volume file>.migrate-<tag>-<round>`: on the same
// filesystem (a reflink cannot cross one), skipped by the engine's image listing (dot files), and found again
// by name after a crash (sweepSnapshots). A replica that is not a loop over a file, or whose filesystem cannot
// reflink (the lvm engine), has no pre-copy: PrecopyUnsupported, and the copy is offline.

import { readdir, realpath, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { HwError, isHwError } from "../../api/errors.ts";
import { cloneFile } from "../../host/fs/reflink.ts";
import { changedRanges, dataRanges, fileExtents, type Extent, type Range } from "../../host/fs/fiemap.ts";
import { listLoopsSysfs } from "../../host/loop/loop.ts";

const MARK = ".migrate-";

/** The file behind a loop device, or undefined for any other device. */
export async function backingFileOf(devPath: string): Promise<string | undefined> {
  const real = await realpath(devPath).catch(() => devPath);
  const l = (await listLoopsSysfs()).find((x) => x.name === real);
  // an offset would shift the file's extents against the device's bytes: such a device is copied offline
  return l && !l.backFileDeleted && l.backFile && l.offset === 0 ? l.backFile : undefined;
}

/** Where clone `n` of `file` with `tag` lives (hidden, beside it; found again by sweepSnapshots and snapshotsIn). */
export const clonePath = (file: string, tag: string, n: number): string => join(dirname(file), `.${basename(file)}${MARK}${tag}-${n}`);

export interface Round {
  round: number;
  /** The clone this round reads from. */
  path: string;
  /** Ranges to send: everything with data (round 0), else what changed since the previous clone. */
  changed: Range[];
}

/** The rounds of one pre-copy of `file`; `tag` makes its clones' names unique (volume attempt and stream). */
export class SnapshotSeries {
  private prev?: { path: string; extents: Extent[] };
  private n = 0;

  constructor(
    readonly file: string,
    readonly tag: string,
    readonly size: number,
  ) {
    if (!/^[A-Za-z0-9_-]+$/.test(tag)) throw new HwError("INVALID_ARGUMENT", "Invalid", `snapshot tag ${JSON.stringify(tag)}: letters, digits, - and _ only`);
  }

  private pathOf(n: number): string {
    return clonePath(this.file, this.tag, n);
  }

  /** Clone the live file, diff against the previous clone, drop the previous clone. */
  async next(): Promise<Round> {
    const path = this.pathOf(this.n);
    await rm(path, { force: true }); // left by a crash of this same stream: never trusted
    try {
      await cloneFile(this.file, path);
    } catch (e) {
      if (isHwError(e) && e.reason === "ReflinkUnsupported")
        throw new HwError("FAILED_PRECONDITION", "PrecopyUnsupported", `${this.file} cannot be cloned (${e.message}): the volume is copied offline`);
      throw e;
    }
    const extents = await fileExtents(path);
    const changed = this.prev ? changedRanges(this.prev.extents, extents, this.size) : dataRanges(extents, this.size);
    if (this.prev) await rm(this.prev.path, { force: true });
    this.prev = { path, extents };
    return { round: this.n++, path, changed };
  }

  /** Remove every clone of this series (also those of an earlier incarnation with the same tag). */
  async removeAll(): Promise<void> {
    this.prev = undefined;
    await sweepSnapshots(this.file, () => false, this.tag);
  }
}

/**
 * Remove the pre-copy clones of `file` (all, or those of one tag) unless `keep(tag)`. Returns what it removed.
 * Called when a stream ends, when a new stream starts, and when the node agent starts (crash leftovers).
 */
export async function sweepSnapshots(file: string, keep: (tag: string) => boolean = () => false, onlyTag?: string): Promise<string[]> {
  const prefix = `.${basename(file)}${MARK}`;
  const removed: string[] = [];
  for (const f of (await readdir(dirname(file)).catch(() => [])) as string[]) {
    if (!f.startsWith(prefix)) continue;
    const tag = f.slice(prefix.length).replace(/-\d+$/, "");
    if ((onlyTag !== undefined && tag !== onlyTag) || keep(tag)) continue;
    await rm(join(dirname(file), f), { force: true });
    removed.push(join(dirname(file), f));
  }
  return removed;
}

/** Every pre-copy clone in `dir` (any volume file): for the agent's start-up sweep. */
export async function snapshotsIn(dir: string): Promise<string[]> {
  return ((await readdir(dir).catch(() => [])) as string[]).filter((f) => f.startsWith(".") && f.includes(MARK)).map((f) => join(dir, f));
}
