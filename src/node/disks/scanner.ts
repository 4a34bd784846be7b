// Live discovery: keeps this node's LocalDisks equal to the disks present. A scan lists /sys/block, probes
// every device (probe.ts), maps it (discovery.ts) and creates or updates its LocalDisk; a LocalDisk of this
// node whose device is gone becomes Inactive. Scans run at start, on kernel block uevents (`udevadm monitor
// --kernel`: udevd-processed events do not arrive where no udevd runs), on /sys/block changes (poll, the
// fallback when even kernel events are not delivered, e.g. in a container without the netlink socket) and
// every resync period. Requests are coalesced: one scan at a time, one more queued at most.
// Simplification: a scan probes every selected device, not only the one an event names — a handful of
// blkid calls, and it makes every trigger level-triggered.
import { isHwError } from "../../api/errors.ts";
import type { Ld as LocalDisk } from "../../kube/hwameistor.ts";
import { LocalDiskStates, type PoolClass } from "../../api/names.ts";
import type { ResourceClient } from "../../kube/client.ts";
import type { Informer } from "../../kube/informer.ts";
import { isAlreadyExists, isConflict } from "../../kube/transport.ts";
import type { Logger } from "../../kube/types.ts";
import type { StreamHandle } from "../../host/runner.ts";
import { monitorBlockEvents } from "../../host/udev/udev.ts";
import { watchBlockDevices, type BlockWatcher } from "../../host/udev/poll.ts";
import { decideManaged, describeDisk, inactiveDiskSpec, mergeDiskSpec, sameSpec, type DiskFacts } from "./discovery.ts";
import { listBlockDeviceNames, probeDisk } from "./probe.ts";
import type { DeviceSelector } from "./selector.ts";

const RETRY_MS = 2000;

export interface ScannerOptions {
  nodeName: string;
  stateDir: string;
  selector: DeviceSelector;
  diskClass?: PoolClass;
  /** Full rescan period (default 30 s). */
  resyncMs?: number;
  /** /sys/block poll period (default 1 s; 0 = off). */
  pollMs?: number;
  /** Listen to kernel uevents (default true). */
  kernelEvents?: boolean;
  log: Logger;
  /** Called after a LocalDisk was created or re-activated (SMART check). */
  onDiskAppeared?: (name: string, facts: DiskFacts) => void;
}

export interface ScanResult {
  present: string[];
  created: string[];
  updated: string[];
  inactivated: string[];
}

export class DiskScanner {
  private running = false;
  private again = false;
  private idle: Promise<void> = Promise.resolve();
  private monitor?: StreamHandle;
  private poller?: BlockWatcher;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  readonly stats = { scans: 0, errors: 0, lastScanMs: 0 };

  constructor(
    private readonly disks: ResourceClient<LocalDisk>,
    private readonly cache: Informer<LocalDisk>,
    private readonly o: ScannerOptions,
  ) {}

  async start(): Promise<void> {
    await this.scanNow();
    if (this.o.kernelEvents ?? true) {
      try {
        this.monitor = monitorBlockEvents(() => this.request(), { source: "kernel" });
        this.monitor.done.catch((e: unknown) => this.o.log.warn({ err: String(e) }, "kernel uevent monitor failed; relying on the sysfs poll"));
      } catch (e) {
        this.o.log.warn({ err: String(e) }, "cannot start the kernel uevent monitor; relying on the sysfs poll");
      }
    }
    const pollMs = this.o.pollMs ?? 1000;
    if (pollMs > 0) this.poller = watchBlockDevices(pollMs, () => this.request());
    const resync = this.o.resyncMs ?? 30_000;
    this.timer = setInterval(() => this.request(), resync);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.poller?.stop();
    await this.monitor?.stop().catch(() => {});
    await this.idle;
  }

  /** Asks for a scan soon (coalesced). */
  request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = (async () => {
      try {
        do {
          this.again = false;
          await this.scanOnce().catch((e: unknown) => {
            this.stats.errors++;
            this.o.log.warn({ err: isHwError(e) ? e.fullMessage : String(e) }, "disk scan failed; retrying in 2 s");
            // Not an immediate loop: with the API server down that would spin.
            setTimeout(() => this.request(), RETRY_MS).unref();
          });
        } while (this.again && !this.stopped);
      } finally {
        this.running = false;
      }
    })();
  }

  /** Runs a scan now (waits for one in progress first). */
  async scanNow(): Promise<ScanResult> {
    await this.idle;
    this.running = true;
    try {
      return await this.scanOnce();
    } finally {
      this.running = false;
      // A trigger that arrived meanwhile (the poll reports a change only once) still gets its scan.
      if (this.again) this.request();
    }
  }

  private async scanOnce(): Promise<ScanResult> {
    const t0 = Date.now();
    this.stats.scans++;
    const found = new Map<string, { spec: NonNullable<LocalDisk["spec"]>; facts: DiskFacts }>();
    // Devices present but not probed this time: their disks are not declared gone on a transient failure.
    const unprobed = new Set<string>();
    for (const kname of await listBlockDeviceNames()) {
      const facts = await probeDisk(kname).catch((e: unknown) => {
        this.o.log.warn({ device: kname, err: isHwError(e) ? e.fullMessage : String(e) }, "probe failed; the disk keeps its state until the next scan");
        unprobed.add(`/dev/${kname}`);
        return undefined;
      });
      if (!facts) continue;
      const decision = decideManaged(facts, { selector: this.o.selector, stateDir: this.o.stateDir });
      if (!decision.manage) continue;
      const d = describeDisk(facts, { nodeName: this.o.nodeName, diskClass: this.o.diskClass });
      if (!d) {
        this.o.log.debug({ device: facts.devPath }, "no stable identity (no serial, WWN, by-path link or backing file): not managed");
        continue;
      }
      if (found.has(d.name)) {
        this.o.log.warn({ device: facts.devPath, disk: d.name }, "the same disk appears twice (a file attached to two loop devices?); keeping the first");
        continue;
      }
      found.set(d.name, { spec: d.spec, facts });
    }
    const result: ScanResult = { present: [...found.keys()], created: [], updated: [], inactivated: [] };
    for (const [name, { spec, facts }] of found) {
      const outcome = await this.upsert(name, spec);
      if (outcome === "created") result.created.push(name);
      if (outcome === "updated") result.updated.push(name);
      if (outcome === "created" || outcome === "reactivated") this.o.onDiskAppeared?.(name, facts);
    }
    for (const ld of this.cache.list()) {
      const name = ld.metadata!.name!;
      if (ld.spec?.nodeName !== this.o.nodeName || found.has(name) || ld.spec.state === LocalDiskStates.Inactive) continue;
      if (ld.spec.devicePath && unprobed.has(ld.spec.devicePath)) continue;
      await this.write(name, (cur) =>
        cur.spec?.nodeName === this.o.nodeName && cur.spec.state !== LocalDiskStates.Inactive ? inactiveDiskSpec(cur.spec) : undefined,
      );
      result.inactivated.push(name);
      this.o.log.info({ disk: name, was: ld.spec.devicePath }, "disk gone: Inactive");
    }
    this.stats.lastScanMs = Date.now() - t0;
    return result;
  }

  private async upsert(name: string, spec: NonNullable<LocalDisk["spec"]>): Promise<"created" | "updated" | "reactivated" | "unchanged"> {
    const cached = this.cache.getByName(name);
    if (!cached) {
      // The cache may lag a create of ours (crash window: created, then killed before the watch delivered it):
      // AlreadyExists falls through to the update path.
      try {
        const merged = mergeDiskSpec(undefined, spec);
        if (spec.devicePath?.startsWith("/dev/loop")) merged.supportSmart = false;
        await this.disks.create({ metadata: { name }, spec: merged });
        this.o.log.info({ disk: name, device: spec.devicePath, reserved: merged.reserved }, "new disk");
        return "created";
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
    const wasInactive = cached?.spec?.state === LocalDiskStates.Inactive;
    const changed = await this.write(name, (cur) => {
      const next = mergeDiskSpec(cur.spec, spec, { classOverride: this.o.diskClass !== undefined });
      return sameSpec(next, cur.spec) ? undefined : next;
    });
    if (changed && wasInactive) this.o.log.info({ disk: name, device: spec.devicePath }, "disk back: Active");
    return changed ? (wasInactive ? "reactivated" : "updated") : "unchanged";
  }

  /** Conditional spec update from the cached (then fresh) object; `edit` returns undefined for no change. */
  private async write(name: string, edit: (cur: LocalDisk) => NonNullable<LocalDisk["spec"]> | undefined): Promise<boolean> {
    let cur: LocalDisk | undefined = this.cache.getByName(name);
    for (let attempt = 0; attempt < 4; attempt++) {
      cur ??= await this.disks.get(name);
      if (!cur) return false;
      const next = edit(cur);
      if (!next) return false;
      try {
        await this.disks.update({ ...cur, spec: next });
        return true;
      } catch (e) {
        if (!isConflict(e)) throw e;
        cur = undefined; // someone else wrote: re-read and re-derive
      }
    }
    throw new Error(`LocalDisk ${name}: still conflicting after 4 attempts`);
  }
}
