// A file's extent map (FIEMAP, read with `filefrag -v -s`: the -s makes the kernel write dirty pages back first,
// so delayed allocations and XFS copy-on-write remaps are in the map) and the difference of two maps.
//
// What the online migration relies on (verified on this kernel by fiemap.host.test.ts, btrfs with NOCOW files and
// XFS with reflink=1): after a reflink clone (FICLONE) the two files share every extent; a later write to the live
// file never lands on a shared extent — even on a NOCOW btrfs file it is copied once to a new physical extent —
// so a range written since a clone maps to another physical address in a clone taken afterwards. Comparing the
// physical mapping of two clones therefore finds every range written between them (a superset: relocation by
// balance/defrag also shows up, which only costs a needless copy). The older clone must still exist when the
// later write happens: it is what keeps the extent shared.

import { HwError } from "../../api/errors.ts";
import { run, type RunOptions } from "../runner.ts";
import { assertAbsolutePath } from "../validate.ts";

export interface Extent {
  /** Byte offset in the file. */
  logical: number;
  /** Byte address on the filesystem (btrfs: its logical address space). */
  physical: number;
  length: number;
  /** Allocated but never written (reads as zeros). */
  unwritten: boolean;
}

/** Byte range [offset, offset + length). */
export interface Range {
  offset: number;
  length: number;
}

const HEADER = /\((\d+) blocks? of (\d+) bytes\)/;
const ROW = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+(\d+)\.\.\s*(\d+):\s+(\d+):\s*(\d+:)?\s*(\S*)\s*$/;

/** Parse `filefrag -v` output (units: the block size its header names). */
export function parseFilefrag(text: string, what = "filefrag output"): Extent[] {
  const h = HEADER.exec(text);
  if (!h) throw new HwError("INTERNAL", "FiemapUnparsable", `${what}: no "(N blocks of B bytes)" header`);
  const bs = Number(h[2]);
  const out: Extent[] = [];
  for (const line of text.split("\n")) {
    const m = ROW.exec(line);
    if (!m) continue;
    const flags = (m[7] ?? "").split(",");
    out.push({ logical: Number(m[1]) * bs, physical: Number(m[3]) * bs, length: Number(m[5]) * bs, unwritten: flags.includes("unwritten") });
  }
  return out;
}

/** The extents of `path`, after the kernel wrote its dirty pages back. */
export async function fileExtents(path: string, opts: RunOptions = {}): Promise<Extent[]> {
  assertAbsolutePath(path);
  const r = await run(["filefrag", "-v", "-s", path], { timeoutMs: 120_000, ...opts });
  return parseFilefrag(r.stdout, `filefrag -v ${path}`);
}

/** Ranges of [0, size) holding data (written extents), merged. */
export function dataRanges(extents: Extent[], size: number): Range[] {
  return merge(extents.filter((e) => !e.unwritten).map((e) => clip({ offset: e.logical, length: e.length }, size)));
}

/**
 * Ranges of [0, size) where `before` and `after` differ: a different physical address, data on one side and a
 * hole (or an unwritten extent) on the other. Merged and sorted.
 */
export function changedRanges(before: Extent[], after: Extent[], size: number): Range[] {
  const cuts = new Set<number>([0, size]);
  for (const e of [...before, ...after]) {
    if (e.logical < size) cuts.add(e.logical);
    if (e.logical + e.length < size) cuts.add(e.logical + e.length);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const at = (map: Extent[], off: number) => {
    const e = find(map, off);
    return e && !e.unwritten ? e.physical + (off - e.logical) : -1;
  };
  const out: Range[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const off = points[i]!;
    if (at(before, off) !== at(after, off)) out.push({ offset: off, length: points[i + 1]! - off });
  }
  return merge(out);
}

/** Total bytes of some ranges. */
export const rangeBytes = (rs: Range[]): number => rs.reduce((n, r) => n + r.length, 0);

/** Binary search of a sorted extent list (filefrag prints them in logical order). */
function find(map: Extent[], off: number): Extent | undefined {
  let lo = 0;
  let hi = map.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = map[mid]!;
    if (off < e.logical) hi = mid - 1;
    else if (off >= e.logical + e.length) lo = mid + 1;
    else return e;
  }
  return undefined;
}

function clip(r: Range, size: number): Range {
  const end = Math.min(r.offset + r.length, size);
  return { offset: r.offset, length: Math.max(0, end - r.offset) };
}

function merge(rs: Range[]): Range[] {
  const out: Range[] = [];
  for (const r of [...rs].filter((x) => x.length > 0).sort((a, b) => a.offset - b.offset)) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else out.push({ ...r });
  }
  return out;
}
