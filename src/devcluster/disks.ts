// The node disks: sparse files attached as loop devices (`up`), and the teardown `down` does: unmount
// everything mounted under the state dir or from one of its loop devices (a volume a user mounted at
// /mnt/x counts), then detach every loop device whose backing file is in the state dir. Teardown runs in
// rounds because layers stack (a pool filesystem on a disk loop, replica files in it attached as loops,
// those mounted elsewhere): each round peels what is free, until nothing of ours is left.

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename } from "node:path";
import { attachLoop, createSparseFile, detachLoop, listLoops, type LoopDevice } from "../host/loop/loop.ts";
import { listMounts, unmount, type MountInfo } from "../host/mount/mount.ts";
import { layoutOf, nodeLayout, nodeNames } from "./layout.ts";
import type { ClusterOptions } from "./options.ts";

/** Bytes of disk files that do not exist yet (what preflight must find free). */
export function missingDiskBytes(stateDir: string, o: ClusterOptions): number {
  const l = layoutOf(stateDir);
  let n = 0;
  for (const name of nodeNames(o)) for (const f of nodeLayout(l, name, o.disksPerNode).diskFiles) if (!existsSync(f)) n += o.diskSizeBytes;
  return n;
}

/** Creates missing disk files and attaches every one (idempotent: an attached file keeps its device). */
export async function ensureDisks(stateDir: string, o: ClusterOptions): Promise<Record<string, string[]>> {
  const l = layoutOf(stateDir);
  const out: Record<string, string[]> = {};
  for (const name of nodeNames(o)) {
    const n = nodeLayout(l, name, o.disksPerNode);
    await mkdir(n.disksDir, { recursive: true });
    await mkdir(n.stateDir, { recursive: true });
    out[name] = [];
    for (const f of n.diskFiles) {
      if (!existsSync(f)) await createSparseFile(f, o.diskSizeBytes);
      out[name].push((await attachLoop(f)).name);
    }
  }
  return out;
}

const under = (dir: string, p: string): boolean => p === dir || p.startsWith(dir.endsWith("/") ? dir : dir + "/");

/** The mounts to remove in this round (pure): under the state dir, or from one of our loop devices. Deepest first. */
export function mountsToRemove(stateDir: string, mounts: MountInfo[], loops: LoopDevice[]): MountInfo[] {
  const devs = new Set(loops.map((l) => l.name));
  const fromOurLoop = (src: string) => devs.has(src.replace(/\[.*\]$/, ""));
  return mounts.filter((m) => under(stateDir, m.target) || fromOurLoop(m.source)).sort((a, b) => b.target.length - a.target.length);
}

export const loopsOf = (stateDir: string, loops: LoopDevice[]): LoopDevice[] => loops.filter((l) => under(stateDir, l.backFile));

/**
 * Ours: backed by a file under the state dir, or one of `known` (listed before the processes stopped) whose backing
 * file is still the same or is that file's name alone — what the kernel shows for a loop over a FUSE file (an HA
 * volume's data plane frontend) once the FUSE mount is gone. Without `known` such a loop cannot be told apart.
 */
export const ourLoops = (stateDir: string, loops: LoopDevice[], known: LoopDevice[] = []): LoopDevice[] =>
  loops.filter(
    (l) => under(stateDir, l.backFile) || known.some((k) => k.name === l.name && (k.backFile === l.backFile || l.backFile === `/${basename(k.backFile)}`)),
  );

export interface TeardownReport {
  unmounted: string[];
  detached: string[];
  left: string[];
}

export async function teardownMountsAndLoops(stateDir: string, rounds = 6, known: LoopDevice[] = []): Promise<TeardownReport> {
  const rep: TeardownReport = { unmounted: [], detached: [], left: [] };
  for (let round = 0; round < rounds; round++) {
    const loops = ourLoops(stateDir, await listLoops(), known);
    const mounts = mountsToRemove(stateDir, await listMounts(), loops);
    if (loops.length === 0 && mounts.length === 0) return rep;
    for (const m of mounts) {
      try {
        await unmount(m.target);
        rep.unmounted.push(`${m.target} (${m.source})`);
      } catch {
        /* busy: an upper layer goes first; next round */
      }
    }
    // Replica loops (backing file inside a mounted pool) first, then the disks: longest path first is close enough.
    for (const l of [...loops].sort((a, b) => b.backFile.length - a.backFile.length)) {
      const stillMounted = (await listMounts()).some((m) => m.source.replace(/\[.*\]$/, "") === l.name);
      if (stillMounted) continue;
      try {
        await detachLoop(l.name);
        if (!rep.detached.includes(l.name)) rep.detached.push(l.name);
      } catch {
        /* busy; next round */
      }
    }
    await new Promise((r) => setTimeout(r, 200 * round));
  }
  // A loop whose detach was accepted while the kernel still held it (autoclear set) goes once that is released — a
  // moment after the unmount, seconds on a loaded machine (e2e: two disk loops still listed when `down` returned,
  // gone shortly after). Wait for those rather than report them; anything else left is reported at once.
  for (let waited = 0; waited < 10_000; waited += 250) {
    const loops = ourLoops(stateDir, await listLoops(), known);
    if (loops.length === 0 || mountsToRemove(stateDir, await listMounts(), loops).length > 0) break;
    if (!loops.every((l) => l.autoclear && rep.detached.includes(l.name))) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const loops = ourLoops(stateDir, await listLoops(), known);
  const mounts = mountsToRemove(stateDir, await listMounts(), loops);
  rep.left = [...mounts.map((m) => `mount ${m.target}`), ...loops.map((l) => `loop ${l.name} (${l.backFile})`)];
  return rep;
}
