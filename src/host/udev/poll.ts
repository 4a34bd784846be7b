// Polling fallback for block device discovery where udev events do not arrive (no udevd in the container,
// as on this machine): diff /sys/block every intervalMs. A device is "changed" when its dev number, size,
// read-only flag or loop backing file changed (a loop re-attached to another file keeps its name). Only those
// attributes are read (readSysBlockBrief): a machine may list hundreds of loop devices, read every second.

import { listSysBlock, readSysBlockBrief, SYS_BLOCK, type SysBlockBrief } from "../sysfs/sysfs.ts";
import { isHwError } from "../../api/errors.ts";

export interface BlockChange {
  added: SysBlockBrief[];
  removed: SysBlockBrief[];
  changed: SysBlockBrief[];
}

export type BlockSnapshot = Map<string, SysBlockBrief>;

export async function snapshotBlockDevices(root = SYS_BLOCK): Promise<BlockSnapshot> {
  const snap: BlockSnapshot = new Map();
  for (const name of await listSysBlock(root)) {
    try {
      snap.set(name, await readSysBlockBrief(name, root));
    } catch (e) {
      // vanished between readdir and read: the next round sees it as absent
      if (!(isHwError(e) && e.reason === "DeviceNotFound")) throw e;
    }
  }
  return snap;
}

const fingerprint = (d: SysBlockBrief) => `${d.majMin}|${d.sizeBytes}|${d.readOnly}|${d.loopBackingFile ?? ""}`;

export function diffBlockSnapshots(before: BlockSnapshot, after: BlockSnapshot): BlockChange {
  const added: SysBlockBrief[] = [];
  const removed: SysBlockBrief[] = [];
  const changed: SysBlockBrief[] = [];
  for (const [name, d] of after) {
    const old = before.get(name);
    if (!old) added.push(d);
    else if (fingerprint(old) !== fingerprint(d)) changed.push(d);
  }
  for (const [name, d] of before) if (!after.has(name)) removed.push(d);
  return { added, removed, changed };
}

export interface BlockWatcher {
  /** Resolves once the baseline snapshot is taken (changes after this point are reported). */
  ready: Promise<void>;
  stop(): void;
}

/**
 * Call onChange with the differences every intervalMs (only when something changed). The first snapshot is
 * the baseline and is not reported: list the devices yourself at start, as the original does with its crawler.
 */
export function watchBlockDevices(intervalMs: number, onChange: (c: BlockChange) => void, root = SYS_BLOCK): BlockWatcher {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let last: BlockSnapshot | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const tick = async () => {
    try {
      const now = await snapshotBlockDevices(root);
      if (last && !stopped) {
        const c = diffBlockSnapshots(last, now);
        if (c.added.length || c.removed.length || c.changed.length) onChange(c);
      }
      last = now;
      markReady();
    } finally {
      if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
    }
  };
  void tick();
  return {
    ready,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
