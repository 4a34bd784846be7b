// Whether device-mapper works: open /dev/mapper/control read-write, as libdevmapper does (no command runs).
// On this kernel the node exists but open fails with ENODEV (no dm module), so the check must be the open.

import { open } from "node:fs/promises";

export const DM_CONTROL = "/dev/mapper/control";

export async function hasDeviceMapper(controlPath = DM_CONTROL): Promise<{ available: boolean; reason: string }> {
  try {
    const fh = await open(controlPath, "r+");
    await fh.close();
    return { available: true, reason: `${controlPath} opens` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    return { available: false, reason: `device-mapper unavailable: open ${controlPath}: ${code}` };
  }
}
