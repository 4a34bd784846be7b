// Reflink clones (FICLONE): an O(1) copy of a file that shares its extents until either copy is written.
// Node's copyFile with COPYFILE_FICLONE_FORCE issues the FICLONE ioctl itself (no `cp` process) and fails
// instead of falling back to a byte copy, so a clone is never silently a full copy. Works on btrfs and on
// XFS formatted with `-m reflink=1`, within one filesystem.

import { constants } from "node:fs";
import { copyFile } from "node:fs/promises";
import { HwError } from "../../api/errors.ts";
import { run, type RunOptions } from "../runner.ts";
import { assertAbsolutePath } from "../validate.ts";

/**
 * Clone `src` to `dst` (which must not exist). Errors: ALREADY_EXISTS (dst exists), NOT_FOUND (src missing),
 * FAILED_PRECONDITION ReflinkUnsupported (filesystem without reflink, or src/dst on different filesystems).
 */
export async function cloneFile(src: string, dst: string): Promise<void> {
  assertAbsolutePath(src);
  assertAbsolutePath(dst);
  try {
    await copyFile(src, dst, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new HwError("ALREADY_EXISTS", "AlreadyExists", `clone target ${dst} already exists`, { cause: e });
    if (code === "ENOENT") throw new HwError("NOT_FOUND", "NotFound", `clone source ${src} not found`, { cause: e });
    if (code === "EOPNOTSUPP" || code === "ENOTSUP" || code === "EXDEV" || code === "ENOSYS" || code === "EINVAL") {
      throw new HwError("FAILED_PRECONDITION", "ReflinkUnsupported", `cannot reflink ${src} to ${dst}: ${code}`, {
        hint: "both files must be on one btrfs, or one XFS formatted with reflink=1",
        cause: e,
      });
    }
    throw e;
  }
}

/**
 * Copy `src` to `dst` (which must not exist) byte by byte, keeping holes (`cp --sparse=always`: GNU cp finds the
 * data with SEEK_DATA/SEEK_HOLE and leaves zero blocks unallocated). For a copy between two filesystems, where
 * a reflink cannot be made: O(data), not O(1).
 */
export async function copyFileSparse(src: string, dst: string, opts: RunOptions = {}): Promise<void> {
  assertAbsolutePath(src);
  assertAbsolutePath(dst);
  await run(["cp", "--sparse=always", "--reflink=never", "--no-clobber", "--", src, dst], { timeoutMs: 60 * 60_000, ...opts });
}
