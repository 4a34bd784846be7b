// Engine selection per node (`--engine auto|lvm|file`): auto → lvm where device-mapper works (the original's
// data path), else file. The choice and its reason are reported in the LocalStorageNode status.

import { HwError } from "../../api/errors.ts";
import type { EngineChoice, EngineKind, StorageEngine } from "./engine.ts";
import { FileEngine, type FileEngineOptions } from "./file/file-engine.ts";
import { LvmEngine, type LvmEngineOptions } from "./lvm/lvm-engine.ts";
import { hasDeviceMapper } from "./dm.ts";

export { hasDeviceMapper };

export interface EngineSelection {
  kind: EngineKind;
  /** For LocalStorageNode status: "auto: device-mapper unavailable: open /dev/mapper/control: ENXIO → file". */
  reason: string;
  engine: StorageEngine;
}

export interface SelectEngineOptions {
  file: FileEngineOptions;
  lvm?: LvmEngineOptions;
  /** Injected probe, for tests. */
  probe?: () => Promise<{ available: boolean; reason: string }>;
}

export async function selectEngine(choice: EngineChoice, o: SelectEngineOptions): Promise<EngineSelection> {
  const dm = await (o.probe ?? hasDeviceMapper)();
  switch (choice) {
    case "file":
      return { kind: "file", reason: "requested: file", engine: new FileEngine(o.file) };
    case "lvm":
      // Allowed without device-mapper (metadata + loop windows); the engine's capabilities() say what is missing.
      return {
        kind: "lvm",
        reason: dm.available ? "requested: lvm" : `requested: lvm (${dm.reason}: metadata only, loop-window devices)`,
        engine: new LvmEngine({ ...o.lvm, deviceMapper: dm.available }),
      };
    case "auto":
      return dm.available
        ? { kind: "lvm", reason: `auto: ${dm.reason} → lvm`, engine: new LvmEngine({ ...o.lvm, deviceMapper: true }) }
        : { kind: "file", reason: `auto: ${dm.reason} → file`, engine: new FileEngine(o.file) };
    default:
      throw new HwError("INVALID_ARGUMENT", "UnknownEngine", `engine ${JSON.stringify(choice)} is not one of auto, lvm, file`);
  }
}
