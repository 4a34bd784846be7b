// Which block devices this agent manages (`--devices`). Several node agents share one machine in the dev
// cluster, each with its own loop devices; loop numbers change when a file is re-attached, so an entry may
// select by backing file instead of by device path:
//   /dev/loop1            a device path
//   /dev/loop[1-3]        a device-path glob (Go filepath.Match semantics, see glob.ts)
//   file:/var/lib/n1/*.img a loop device whose backing file matches the glob
// No entries = every (non-virtual) disk of the host, as the original does.
import { invalid } from "../../api/errors.ts";
import { matchesGlob } from "./glob.ts";

export interface DeviceSelector {
  /** Device-path patterns (exact paths are patterns without metacharacters). */
  devicePatterns: string[];
  /** Backing-file patterns for loop devices. */
  filePatterns: string[];
}

export const FILE_PREFIX = "file:";

/** Parses a comma-separated `--devices` value; undefined or empty → select everything. */
export function parseDeviceList(list: string | undefined): DeviceSelector {
  const sel: DeviceSelector = { devicePatterns: [], filePatterns: [] };
  for (const raw of (list ?? "").split(",")) {
    const e = raw.trim();
    if (e === "") continue;
    if (e.startsWith(FILE_PREFIX)) {
      const p = e.slice(FILE_PREFIX.length);
      if (!p.startsWith("/")) throw invalid(`--devices entry ${JSON.stringify(e)}: the backing-file pattern must be an absolute path`);
      sel.filePatterns.push(p);
    } else {
      if (!e.startsWith("/dev/")) {
        throw invalid(`--devices entry ${JSON.stringify(e)} is neither a /dev/ path (or glob) nor file:<glob>`, {
          hint: "e.g. --devices /dev/sdb,/dev/nvme*n1 or --devices file:/var/lib/hwameistor/node-1/*.img",
        });
      }
      sel.devicePatterns.push(e);
    }
  }
  return sel;
}

/** True when the selector has no entries (every disk of the host). */
export const selectsAll = (s: DeviceSelector): boolean => s.devicePatterns.length === 0 && s.filePatterns.length === 0;

/** Whether an entry explicitly names this device (by path or by its loop backing file). */
export function isExplicitlySelected(s: DeviceSelector, dev: { devPath: string; loopBackingFile?: string | null }): boolean {
  if (s.devicePatterns.some((p) => matchesGlob(p, dev.devPath))) return true;
  const f = dev.loopBackingFile;
  return !!f && s.filePatterns.some((p) => matchesGlob(p, f));
}
