// The file engine's on-pool files: `<name>.img` (complete) and `.<name>.img.partial` (being made). A partial
// is never attached and never counted; it becomes an image only by an atomic rename after fsync.

import { open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { syncDir } from "../common.ts";
import { ifExists } from "../../../host/files.ts";

export const IMG = ".img";
export const PARTIAL = ".partial";

export const partialPath = (dir: string, name: string): string => join(dir, `.${name}${IMG}${PARTIAL}`);

/** name → size of every complete `<name>.img` in dir. */
export async function imageSizes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const f of (await ifExists(readdir(dir))) ?? []) {
    if (!f.endsWith(IMG) || f.startsWith(".")) continue;
    const s = await ifExists(stat(join(dir, f)));
    if (s?.isFile()) out.set(f.slice(0, -IMG.length), s.size);
  }
  return out;
}

/** Create `<dir>/.<name>.img.partial` with `make`, then rename it to `<name>.img` (a complete file or none). */
export async function writeImage(dir: string, name: string, make: (partial: string) => Promise<void>): Promise<void> {
  const partial = partialPath(dir, name);
  await rm(partial, { force: true }); // a crash left it; it was never attached (only complete files are)
  await make(partial);
  const fh = await open(partial, "r");
  await fh.sync();
  await fh.close();
  await rename(partial, join(dir, name + IMG));
  await syncDir(dir);
}
