// The file engine's on-pool files: `<name>.img` (complete) and `.<name>.img.partial` (being made). A partial
// is never attached and never counted; it becomes an image only by an atomic rename after fsync. A pool has
// one or more stores (pool-fs.ts: one filesystem each); an image lives in exactly one of them.

import { open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { syncDir } from "../common.ts";
import { ifExists } from "../../../host/files.ts";
import type { Store } from "./pool-fs.ts";

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

export type ImageKind = "volumesDir" | "snapshotsDir";

export interface Image {
  name: string;
  size: number;
  store: Store;
  /** `<store dir>/<name>.img` */
  file: string;
}

/** Every complete image of this kind in every store, by name. */
export async function imagesIn(stores: Store[], kind: ImageKind): Promise<Map<string, Image>> {
  const out = new Map<string, Image>();
  for (const store of stores) {
    for (const [name, size] of await imageSizes(store[kind])) if (!out.has(name)) out.set(name, { name, size, store, file: join(store[kind], name + IMG) });
  }
  return out;
}

/** The store holding `<name>.img` of this kind, or undefined. */
export async function findImage(stores: Store[], kind: ImageKind, name: string): Promise<Image | undefined> {
  for (const store of stores) {
    const file = join(store[kind], name + IMG);
    const st = await ifExists(stat(file));
    if (st?.isFile()) return { name, size: st.size, store, file };
  }
  return undefined;
}

/** Σ sizes of the images per store uuid (thick accounting: what is promised on each filesystem). */
export function promisedPerStore(...maps: Map<string, Image>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const i of m.values()) out.set(i.store.uuid, (out.get(i.store.uuid) ?? 0) + i.size);
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
