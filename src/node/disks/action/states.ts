// LocalDiskAction `reserve` (reference §1.6, §6), pure: which of this node's disks an action reserves, and
// the action's `status.latestMatchedLds` (newest first, at most 10). The rule itself is reserve-rule.ts.
import type { LocalDiskAction } from "../../../api/kinds/local-disk-action.ts";
import type { LocalDisk } from "../../../api/kinds/local-disk.ts";
import { DiskActions } from "../../../api/names.ts";
import { ruleSelects } from "../reserve-rule.ts";

export const MAX_MATCHED = 10;

/** Unreserved disks the action's rule selects (by capacity and devicePath glob), sorted by name. */
export function disksToReserve(action: LocalDiskAction, disks: LocalDisk[]): LocalDisk[] {
  if (action.spec?.action !== DiskActions.Reserve || !action.spec.rule) return [];
  const rule = action.spec.rule;
  return disks
    .filter((d) => !d.spec?.reserved)
    .filter((d) => ruleSelects(rule, { capacity: d.spec?.capacity ?? 0, devicePath: d.spec?.devicePath ?? "" }))
    .sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1));
}

/** Newest first, no duplicates (a name matched again moves to the front), capped. */
export function nextMatchedList(prev: string[] | undefined, newlyMatched: string[]): string[] {
  const out = [...newlyMatched].reverse();
  for (const n of prev ?? []) if (!out.includes(n)) out.push(n);
  return out.slice(0, MAX_MATCHED);
}
