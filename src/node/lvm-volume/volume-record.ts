// What an lvm.hwameistor.io volume keeps on its node: `<stateDir>/lvm-volume/<volume>.json`, written before
// the first mkfs (and before the first raw-block hand-out). It is the proof that lets NodePublish mount (not
// format) again, and the reason a filesystem this system did not create is never formatted over or
// mounted: a replica device with any signature but no record naming that filesystem is foreign.
// Atomic writes (temp + fsync + rename) through the engines' helpers.

import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../engines/common.ts";
import { rm } from "node:fs/promises";

export interface LvmVolumeRecord {
  volume: string;
  devPath: string;
  /** How the device was first handed out. */
  accessType: "block" | "mount";
  /** Set just before mkfs (crash window: mkfs done, record not yet updated → adopted if the type matches). */
  formatting?: string;
  /** The filesystem this system created. */
  formatted?: { fsType: string; uuid: string };
  firstPublishedAt: string;
}

export const recordPath = (stateDir: string, volume: string): string => join(stateDir, "lvm-volume", `${volume}.json`);

export const readVolumeRecord = (stateDir: string, volume: string): Promise<LvmVolumeRecord | undefined> => readJson<LvmVolumeRecord>(recordPath(stateDir, volume));
export const writeVolumeRecord = (stateDir: string, rec: LvmVolumeRecord): Promise<void> => writeJsonAtomic(recordPath(stateDir, rec.volume), rec);
export const removeVolumeRecord = (stateDir: string, volume: string): Promise<void> => rm(recordPath(stateDir, volume), { force: true });
