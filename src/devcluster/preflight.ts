// Checks before `cluster up` changes anything: root, loop-device support, free space for the sparse disk
// files, the tools the processes run, and (--netns) the network tools and a free subnet. Every problem is
// reported at once, each with what to do about it. facts → problems is pure (preflight.test.ts).

import { accessSync, constants, existsSync, statSync, statfsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { HwError } from "../api/errors.ts";
import { formatBytes } from "../api/quantity.ts";

export interface PreflightFacts {
  uid: number;
  loopControl: boolean;
  /** Bytes free where the state dir lives, and the bytes the missing disk files need. */
  freeBytes: number;
  neededBytes: number;
  stateDirFs: string;
  missingTools: Array<{ tool: string; pkg: string }>;
  netns: boolean;
  /** --netns: the planned subnet is already routed by an interface that is not ours. */
  subnetTakenBy?: string;
  subnet?: string;
}

export function preflightProblems(f: PreflightFacts): string[] {
  const p: string[] = [];
  if (f.uid !== 0) p.push("not running as root: loop devices, mounts and namespaces need root (run with sudo)");
  if (!f.loopControl) p.push("no loop-device support: /dev/loop-control is missing (load the module: modprobe loop)");
  if (f.freeBytes < f.neededBytes) {
    p.push(
      `not enough free space in ${f.stateDirFs}: the disk files need ${formatBytes(f.neededBytes)}, ${formatBytes(f.freeBytes)} is free ` +
        `(use fewer/smaller disks: --disks-per-node, --disk-size, or another --state-dir)`,
    );
  }
  if (f.missingTools.length) {
    const pkgs = [...new Set(f.missingTools.map((t) => t.pkg))];
    p.push(
      `missing tools: ${f.missingTools.map((t) => t.tool).join(", ")} (install with: apt-get install -y ${pkgs.join(" ")}, or run scripts/install-deps.sh)`,
    );
  }
  if (f.netns && f.subnetTakenBy)
    p.push(`--netns: subnet ${f.subnet} is already routed via ${f.subnetTakenBy}; use another --state-dir (the subnet derives from it)`);
  return p;
}

export const REQUIRED_TOOLS: Array<{ tool: string; pkg: string }> = [
  { tool: "losetup", pkg: "mount" },
  { tool: "mount", pkg: "mount" },
  { tool: "umount", pkg: "mount" },
  { tool: "findmnt", pkg: "util-linux" },
  { tool: "blkid", pkg: "util-linux" },
  { tool: "wipefs", pkg: "util-linux" },
  { tool: "mkfs.xfs", pkg: "xfsprogs" },
];
export const NETNS_TOOLS: Array<{ tool: string; pkg: string }> = [
  { tool: "ip", pkg: "iproute2" },
  { tool: "nsenter", pkg: "util-linux" },
];

/** Whether an executable named `tool` is on PATH (no process started). */
export function onPath(tool: string, path = process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"): boolean {
  for (const dir of [...path.split(delimiter), "/usr/sbin", "/sbin"]) {
    if (!dir) continue;
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/** The nearest existing ancestor of a path (the state dir may not exist yet). */
export function existingAncestor(p: string): string {
  let cur = p;
  while (!existsSync(cur)) {
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return cur;
}

export function freeBytesAt(p: string): number {
  const s = statfsSync(existingAncestor(p));
  return Number(s.bavail) * Number(s.bsize);
}

export function hasLoopControl(): boolean {
  try {
    return statSync("/dev/loop-control").isCharacterDevice();
  } catch {
    return false;
  }
}

/** Throws FAILED_PRECONDITION listing every problem; returns quietly when there is none. */
export function assertPreflight(f: PreflightFacts): void {
  const problems = preflightProblems(f);
  if (problems.length === 0) return;
  throw new HwError("FAILED_PRECONDITION", "PreflightFailed", `cannot bring the cluster up (nothing was changed):\n  - ${problems.join("\n  - ")}`);
}
