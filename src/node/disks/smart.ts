// SMART health (§6 "SMART"): `supportSmart` and `smartInfo.overallHealth` on each Active LocalDisk of this
// node, at start, for every new disk, and every interval (default 6 h). Loop devices never support SMART
// (no smartctl call). Simplification: the original also stores the full `smartctl --all` JSON per node in
// ConfigMap hwameistor-smart-result; we do not (yet).
import { isHwError } from "../../api/errors.ts";
import type { LocalDiskSpec } from "../../api/kinds/local-disk.ts";
import { LocalDiskStates, SmartResults } from "../../api/names.ts";
import { smartAll, type SmartResult } from "../../host/smart/smart.ts";
import { myDisks, type DiskRuntime } from "./runtime.ts";

export const DEFAULT_SMART_INTERVAL_MS = 6 * 3600_000;

/** The SMART fields of a disk spec from a smartctl result (undefined result = no SMART, e.g. loop). */
export function smartFields(r: SmartResult | undefined): Pick<LocalDiskSpec, "supportSmart" | "smartInfo"> {
  if (!r?.supportSmart) return { supportSmart: false };
  if (r.healthPassed === null) return { supportSmart: true };
  return { supportSmart: true, smartInfo: { overallHealth: r.healthPassed ? SmartResults.Passed : SmartResults.Failed } };
}

export class SmartMonitor {
  private timer?: NodeJS.Timeout;
  private warnedMissing = false;
  constructor(
    private readonly rt: DiskRuntime,
    private readonly intervalMs = DEFAULT_SMART_INTERVAL_MS,
  ) {}

  start(): void {
    void this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async checkAll(): Promise<void> {
    for (const d of myDisks(this.rt)) await this.check(d.metadata!.name!);
  }

  async check(name: string): Promise<void> {
    try {
      const ld = this.rt.inf.ld.getByName(name) ?? (await this.rt.c.ld.get(name));
      const dev = ld?.spec?.devicePath;
      if (!ld?.spec || ld.spec.state === LocalDiskStates.Inactive || !dev) return;
      let r: SmartResult | undefined;
      if (!dev.startsWith("/dev/loop")) r = await smartAll(dev);
      const want = smartFields(r);
      if (ld.spec.supportSmart === want.supportSmart && ld.spec.smartInfo?.overallHealth === want.smartInfo?.overallHealth) return;
      await this.rt.c.ld.patch(name, { spec: { supportSmart: want.supportSmart, smartInfo: want.smartInfo ?? null } });
    } catch (e) {
      if (isHwError(e) && e.reason === "ToolNotInstalled") {
        if (!this.warnedMissing) this.rt.ctx.log.warn({ err: e.fullMessage }, "SMART checks disabled");
        this.warnedMissing = true;
        return;
      }
      this.rt.ctx.log.warn({ disk: name, err: isHwError(e) ? e.fullMessage : String(e) }, "SMART check failed");
    }
  }
}
