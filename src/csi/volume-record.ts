// The per-volume record a CSI node service keeps on its node: `<stateDir>/<dir>/<volume>.json`, one
// directory per driver (`disk-volume/` for disk.hwameistor.io, `lvm-volume/` for lvm.hwameistor.io; those
// names are on existing nodes' disks and must not change). Written before the first mkfs and before the
// first raw-block hand-out, it is the proof that lets NodePublish mount (not format) again, that lets the
// disk driver's DeleteVolume wipe only its own signature, and the reason a filesystem this system did not
// create is never formatted over or mounted (publish.ts).
//
// Writes are atomic and durable: temp file, fsync, rename, fsync of the directory. A record that is not
// valid JSON is DATA_LOSS CorruptState, never "no record" (that would re-open the first-use path).
// Simplification: synchronous I/O; the files are tiny and written once or twice per volume.

import fs from "node:fs";
import path from "node:path";
import { readJsonIfExistsSync } from "../host/files.ts";

export interface VolumeRecord {
  volume: string;
  /** The device path the volume was first handed out from (what the driver names it, not the realpath). */
  devPath: string;
  /** disk.hwameistor.io only: the LocalDisk the volume holds. */
  localDiskName?: string;
  /** How the device was first handed out. */
  accessType: "block" | "mount";
  /** Set just before mkfs (crash window: mkfs done, record not yet updated → adopted if the type matches). */
  formatting?: string;
  /** The UUID given to that mkfs (xfs: `-m uuid=`), so the adoption also checks it is that filesystem. */
  formattingUuid?: string;
  /** The filesystem this system created. */
  formatted?: { fsType: string; uuid: string };
  firstPublishedAt: string;
}

/** One driver's records; every function takes the node agent's state directory. */
export interface VolumeRecords {
  path(stateDir: string, volume: string): string;
  read(stateDir: string, volume: string): VolumeRecord | undefined;
  write(stateDir: string, rec: VolumeRecord): void;
  remove(stateDir: string, volume: string): void;
}

/** The records kept under `<stateDir>/<dir>/`. */
export function volumeRecords(dir: string): VolumeRecords {
  const recordPath = (stateDir: string, volume: string) => path.join(stateDir, dir, `${volume}.json`);
  return {
    path: recordPath,
    read(stateDir, volume) {
      return readJsonIfExistsSync<VolumeRecord>(recordPath(stateDir, volume), "volume record");
    },
    write(stateDir, rec) {
      const p = recordPath(stateDir, rec.volume);
      fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
      const tmp = `${p}.tmp-${process.pid}`;
      const fd = fs.openSync(tmp, "w", 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(rec, null, 2) + "\n");
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, p);
      syncDir(path.dirname(p));
    },
    remove(stateDir, volume) {
      fs.rmSync(recordPath(stateDir, volume), { force: true });
    },
  };
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
