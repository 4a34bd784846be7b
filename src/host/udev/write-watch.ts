// Writes to whole-disk device nodes, seen through inotify — what udevd's "watch" option does for disks (its
// rules watch sd*, vd*, nvme*, loop*… and turn a close after writing into a "change" uevent). Where no udevd
// runs (this machine, many containers) nothing tells that a filesystem or partition table was just written onto
// a disk; this watch does. Node's fs.watch reports IN_MODIFY (each write(2) through the node, not the
// filesystem's own I/O of a mounted disk), so a writer that goes on is one stream of events: onWritten is
// called once the device has had no write for quietMs.

import { watch, type FSWatcher } from "node:fs";
import { assertDevicePath } from "../validate.ts";

export class DeviceWriteWatch {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly quiet = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly onWritten: (devPath: string) => void,
    private readonly quietMs = 1000,
  ) {}

  /** Watch exactly these device paths (/dev/sdb, /dev/loop3): new ones are added, the others dropped. */
  set(devPaths: Iterable<string>): void {
    if (this.closed) return;
    const want = new Set(devPaths);
    for (const [p, w] of this.watchers) if (!want.has(p)) this.drop(p, w);
    for (const p of want) {
      if (this.watchers.has(p)) continue;
      let w: FSWatcher;
      try {
        assertDevicePath(p);
        w = watch(p, { persistent: false }, (kind) => (kind === "change" ? this.written(p) : this.gone(p)));
      } catch {
        continue; // not a device path, or the node is already gone: the device's events and the full scans still look at it
      }
      w.on("error", () => this.gone(p));
      this.watchers.set(p, w);
    }
  }

  /** The device paths watched now. */
  paths(): string[] {
    return [...this.watchers.keys()].sort();
  }

  close(): void {
    this.closed = true;
    for (const [p, w] of this.watchers) this.drop(p, w);
  }

  private written(p: string): void {
    clearTimeout(this.quiet.get(p));
    const t = setTimeout(() => {
      this.quiet.delete(p);
      this.onWritten(p);
    }, this.quietMs);
    t.unref();
    this.quiet.set(p, t);
  }

  /** The node was removed or renamed: stop watching it (a re-created node is a new inode; set() re-adds it). */
  private gone(p: string): void {
    const w = this.watchers.get(p);
    if (w) this.drop(p, w);
    this.onWritten(p);
  }

  private drop(p: string, w: FSWatcher): void {
    w.close();
    this.watchers.delete(p);
    clearTimeout(this.quiet.get(p));
    this.quiet.delete(p);
  }
}
