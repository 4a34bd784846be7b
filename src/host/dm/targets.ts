// Which device-mapper features this kernel offers: COW snapshots (dm-snapshot), thin provisioning (dm-thin-pool)
// and encryption (dm-crypt). A target is available when `dmsetup targets` lists it (loaded), or when its module
// is loaded (/sys/module) or installed (modules.dep / modules.builtin), since the kernel loads a dm target module
// on first use. Each feature also needs its user-space tool (thin_check for thin pools, cryptsetup for LUKS).
// On this machine /dev/mapper/control does not open, so every feature reports that reason; `dmsetup targets`
// parsing is tested against SYNTHETIC output (testdata/README.md).

import { access, readFile } from "node:fs/promises";
import { open } from "node:fs/promises";
import { release } from "node:os";
import { run } from "../runner.ts";

export const DM_CONTROL = "/dev/mapper/control";

export type DmFeature = "snapshot" | "thin" | "crypt";
export interface FeatureState {
  available: boolean;
  reason: string;
}
export type DmFeatures = Record<DmFeature, FeatureState>;

/** dm target names, the module that provides them, the tool the feature needs. */
export const FEATURE_TARGETS: Record<DmFeature, { targets: string[]; module: string; tool: string }> = {
  snapshot: { targets: ["snapshot", "snapshot-origin", "snapshot-merge"], module: "dm_snapshot", tool: "lvcreate" },
  thin: { targets: ["thin-pool", "thin"], module: "dm_thin_pool", tool: "thin_check" },
  crypt: { targets: ["crypt"], module: "dm_crypt", tool: "cryptsetup" },
};

/** `dmsetup targets`: "<name> v<major>.<minor>.<patch>" per line. */
export function parseDmTargets(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(\S+)\s+v(\d+\.\d+\.\d+)\s*$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** Whether modules.dep or modules.builtin (their text) names the module (dm_crypt ↔ dm-crypt.ko[.xz|.zst]). */
export function moduleListed(modulesText: string, module: string): boolean {
  const file = module.replace(/_/g, "[-_]");
  return new RegExp(`(^|/)${file}\\.ko(\\.(xz|zst|gz))?(:|\\s|$)`, "m").test(modulesText);
}

export interface ProbeOptions {
  controlPath?: string;
  sysModuleDir?: string;
  modulesDir?: string;
  /** Directories searched for the tools (default: PATH plus /sbin, /usr/sbin). */
  toolDirs?: string[];
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

export async function probeDmFeatures(o: ProbeOptions = {}): Promise<DmFeatures> {
  const control = o.controlPath ?? DM_CONTROL;
  let dmReason = "";
  try {
    const fh = await open(control, "r+");
    await fh.close();
  } catch (e) {
    dmReason = `device-mapper unavailable: open ${control}: ${(e as NodeJS.ErrnoException).code ?? "error"}`;
  }
  const out = {} as DmFeatures;
  if (dmReason) {
    for (const f of Object.keys(FEATURE_TARGETS) as DmFeature[]) out[f] = { available: false, reason: dmReason };
    return out;
  }
  const loaded = await run(["dmsetup", "targets"])
    .then((r) => parseDmTargets(r.stdout))
    .catch(() => new Map<string, string>());
  const modDir = o.modulesDir ?? `/lib/modules/${release()}`;
  const modulesText = [
    await readFile(`${modDir}/modules.dep`, "utf8").catch(() => ""),
    await readFile(`${modDir}/modules.builtin`, "utf8").catch(() => ""),
  ].join("\n");
  const toolDirs = o.toolDirs ?? [...(process.env.PATH ?? "").split(":").filter(Boolean), "/sbin", "/usr/sbin"];
  for (const [f, spec] of Object.entries(FEATURE_TARGETS) as Array<[DmFeature, (typeof FEATURE_TARGETS)[DmFeature]]>) {
    const target = spec.targets.find((t) => loaded.has(t));
    const modLoaded = await exists(`${o.sysModuleDir ?? "/sys/module"}/${spec.module}`);
    const kernelOk = !!target || modLoaded || moduleListed(modulesText, spec.module);
    let tool = false;
    for (const d of toolDirs) if (await exists(`${d}/${spec.tool}`)) tool = true;
    out[f] = !kernelOk
      ? { available: false, reason: `dm target ${spec.targets[0]} unavailable: not loaded and module ${spec.module} not installed` }
      : !tool
        ? { available: false, reason: `${spec.tool} is not installed` }
        : { available: true, reason: target ? `dm target ${target} v${loaded.get(target)}` : `module ${spec.module} ${modLoaded ? "loaded" : "installed"}` };
  }
  return out;
}
