// LocalDiskAction `reserve` rules (reference §6). The original's code and module docs reserve disks
// *smaller than minCapacity* or *larger than maxCapacity*; its CRD field comments say the opposite
// ("max: capacity should be less than"). We follow the code and docs (docs/compatibility.md).
import { matchesGlob } from "./glob.ts";

export interface ReserveRule {
  minCapacity?: number;
  maxCapacity?: number;
  devicePath?: string; // glob, e.g. /dev/sd*
}

/** Whether a rule selects a disk of this capacity and path. An empty rule selects nothing. */
export function ruleSelects(rule: ReserveRule, disk: { capacity: number; devicePath: string }): boolean {
  const min = rule.minCapacity ?? 0;
  const max = rule.maxCapacity ?? 0;
  const path = rule.devicePath ?? "";
  if (min === 0 && max === 0 && path === "") return false;
  return (min === 0 || disk.capacity < min) && (max === 0 || disk.capacity > max) && (path === "" || matchesGlob(path, disk.devicePath));
}
