// Live discovery: keeps this node's LocalDisks equal to the disks present. Two kinds of work, one at a time:
// - a full scan lists /sys/block, probes every device (probe.ts), maps it (discovery.ts), creates or updates
//   its LocalDisk, and turns a LocalDisk of this node whose device is gone Inactive. It runs at start and every
//   resync period: the level-triggered safety net (the original re-lists its disks on a timer too).
// - a device probe does the same for the devices an event names, and inactivates only the LocalDisks whose
//   device path is one of them. Kernel block uevents (`udevadm monitor --kernel`: udevd-processed events do
//   not arrive where no udevd runs) name one device each (a partition's event → its disk, udev.ts
//   blockEventDisk); the /sys/block poll (poll.ts, the fallback when kernel events are not delivered, e.g. in
//   a container without the netlink socket) names what it saw change. It stops once a kernel event arrived.
// A write to a free disk's device node (write-watch.ts: inotify, as udevd's "watch") names that disk too.
// A burst of events (a loop detach is two "change" events 50 µs apart) is coalesced: the names wait SETTLE_MS
// in one set and each is probed once; names arriving during a probe are probed after it. Only devices that
// sysfs alone does not already exclude (another agent's or test's loop device, our own volumes' loops, size 0)
// get lsblk and blkid: on a shared machine most uevents cost a few sysfs reads and spawn nothing.
import { isHwError } from "../../api/errors.ts";
import type { Ld as LocalDisk } from "../../kube/hwameistor.ts";
import { LocalDiskClaimStates, LocalDiskStates, type PoolClass } from "../../api/names.ts";
import type { ResourceClient } from "../../kube/client.ts";
import type { CacheInformer } from "../../kube/informer.ts";
import { isAlreadyExists, isConflict } from "../../kube/transport.ts";
import type { Logger } from "../../kube/types.ts";
import type { StreamHandle } from "../../host/runner.ts";
import { blockEventDisk, monitorBlockEvents, type UdevEvent } from "../../host/udev/udev.ts";
import { watchBlockDevices, type BlockChange, type BlockWatcher } from "../../host/udev/poll.ts";
import { DeviceWriteWatch } from "../../host/udev/write-watch.ts";
import { decideManaged, describeDisk, inactiveDiskSpec, mergeDiskSpec, sameSpec, type DiskFacts } from "./discovery.ts";
import { completeDiskFacts, listBlockDeviceNames, readDiskSysFacts } from "./probe.ts";
import type { DeviceSelector } from "./selector.ts";

const RETRY_MS = 2000;
/** How long the device names of a burst of events are collected before they are probed. */
const SETTLE_MS = 30;

export interface ScannerOptions {
  nodeName: string;
  stateDir: string;
  selector: DeviceSelector;
  diskClass?: PoolClass;
  /** Full rescan period (default 30 s). */
  resyncMs?: number;
  /** /sys/block poll period (default 1 s; 0 = off); it runs until the first kernel uevent arrives. */
  pollMs?: number;
  /** Listen to kernel uevents (default true). */
  kernelEvents?: boolean;
  /** Probe a free managed disk again 1 s after something wrote to its device node (default true; write-watch.ts). */
  watchWrites?: boolean;
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

type Spec = NonNullable<LocalDisk["spec"]>;

/** One device looked at: gone, not ours, probed and ours, or not probed (a transient failure). */
type Probed = { kind: "gone" | "unmanaged" | "failed" } | { kind: "disk"; name: string; spec: Spec; facts: DiskFacts };

export class DiskScanner {
  private running = false;
  /** A full scan is wanted. */
  private fullWanted = false;
  /** Kernel names of devices to probe (coalesced). */
  private readonly wanted = new Set<string>();
  private settle?: NodeJS.Timeout;
  private idle: Promise<void> = Promise.resolve();
  private monitor?: StreamHandle;
  private poller?: BlockWatcher;
  private timer?: NodeJS.Timeout;
  private writes?: DeviceWriteWatch;
  /** Device paths of the free disks this agent manages, as last probed (what `writes` watches). */
  private readonly watched = new Set<string>();
  private stopped = false;
  /** scans: full scans; deviceProbes: devices probed on events; spawningProbes: of all probes, those that ran lsblk/blkid. */
  readonly stats = { scans: 0, deviceProbes: 0, spawningProbes: 0, events: 0, errors: 0, lastScanMs: 0 };

  constructor(
    private readonly disks: ResourceClient<LocalDisk>,
    private readonly cache: CacheInformer<LocalDisk>,
    private readonly o: ScannerOptions,
  ) {}

  async start(): Promise<void> {
    if (this.o.watchWrites ?? true) this.writes = new DeviceWriteWatch((devPath) => this.requestDevices([devPath.slice("/dev/".length)]));
    await this.scanNow();
    if (this.o.kernelEvents ?? true) {
      try {
        this.monitor = monitorBlockEvents((e) => this.onKernelEvent(e), { source: "kernel" });
        this.monitor.done.then(
          () => this.monitorEnded("kernel uevent monitor ended"),
          (e: unknown) => this.monitorEnded(`kernel uevent monitor failed: ${String(e)}`),
        );
      } catch (e) {
        this.o.log.warn({ err: String(e) }, "cannot start the kernel uevent monitor; relying on the sysfs poll");
      }
    }
    this.startPoll();
    const resync = this.o.resyncMs ?? 30_000;
    this.timer = setInterval(() => this.request(), resync);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.settle) clearTimeout(this.settle);
    this.poller?.stop();
    this.writes?.close();
    await this.monitor?.stop().catch(() => {});
    await this.idle;
  }

  /** Asks for a full scan soon (coalesced). */
  request(): void {
    if (this.stopped) return;
    this.fullWanted = true;
    this.kick();
  }

  /** Asks for a probe of these devices (kernel names, e.g. "sdb", "loop3") after SETTLE_MS (coalesced). */
  requestDevices(names: Iterable<string>): void {
    if (this.stopped) return;
    for (const n of names) this.wanted.add(n);
    if (this.running || this.settle || this.wanted.size === 0) return; // the running loop or the timer takes them
    this.settle = setTimeout(() => {
      this.settle = undefined;
      this.kick();
    }, SETTLE_MS);
  }

  /** Runs a full scan now (waits for the work in progress first). */
  async scanNow(): Promise<ScanResult> {
    while (this.running) await this.idle;
    this.running = true;
    const scan = this.scanOnce();
    this.idle = scan.then(
      () => {},
      () => {},
    );
    try {
      return await scan;
    } finally {
      this.running = false;
      // What arrived meanwhile (the poll reports a change only once) still gets its probe.
      this.kick();
    }
  }

  private onKernelEvent(e: UdevEvent): void {
    this.stats.events++;
    if (this.poller) {
      // Kernel events are delivered here: the poll was their stand-in. Lost events are the resync's job.
      this.poller.stop();
      this.poller = undefined;
      this.o.log.info({}, "kernel uevents arrive: the /sys/block poll stops");
    }
    const disk = blockEventDisk(e);
    if (disk) this.requestDevices([disk]);
    else this.request(); // an event naming no device we can read: look at everything
  }

  private monitorEnded(why: string): void {
    if (this.stopped) return;
    this.o.log.warn({}, `${why}; relying on the /sys/block poll`);
    this.monitor = undefined;
    this.startPoll();
    this.request(); // events may have been missed in between
  }

  private startPoll(): void {
    const pollMs = this.o.pollMs ?? 1000;
    if (pollMs <= 0 || this.poller || this.stopped) return;
    const names = (c: BlockChange) => [...c.added, ...c.removed, ...c.changed].map((d) => d.name);
    this.poller = watchBlockDevices(pollMs, (c) => this.requestDevices(names(c)));
  }

  /** Starts the work loop unless it runs (it picks up whatever is wanted when its step ends). */
  private kick(): void {
    if (this.running || this.stopped || (!this.fullWanted && this.wanted.size === 0)) return;
    if (this.settle) clearTimeout(this.settle);
    this.settle = undefined;
    this.running = true;
    this.idle = (async () => {
      try {
        while (!this.stopped && (this.fullWanted || this.wanted.size > 0)) {
          const step = this.fullWanted ? this.scanOnce() : this.probeDevices(this.takeWanted());
          await step.catch((e: unknown) => {
            this.stats.errors++;
            this.o.log.warn({ err: isHwError(e) ? e.fullMessage : String(e) }, "disk scan failed; a full scan follows in 2 s");
            // Not an immediate loop: with the API server down that would spin.
            setTimeout(() => this.request(), RETRY_MS).unref();
          });
        }
      } finally {
        this.running = false;
      }
    })();
  }

  private takeWanted(): string[] {
    const names = [...this.wanted];
    this.wanted.clear();
    return names;
  }

  /** Looks at one device; the lsblk/blkid part only when sysfs does not already rule it out. */
  private async probeOne(kname: string): Promise<Probed> {
    let facts: DiskFacts | undefined;
    try {
      facts = await readDiskSysFacts(kname);
      if (!facts) return { kind: "gone" };
      const manage = { selector: this.o.selector, stateDir: this.o.stateDir };
      if (!decideManaged(facts, manage).manage) return { kind: "unmanaged" };
      this.stats.spawningProbes++;
      facts = await completeDiskFacts(facts);
      if (!decideManaged(facts, manage).manage) return { kind: "unmanaged" };
    } catch (e) {
      this.o.log.warn({ device: kname, err: isHwError(e) ? e.fullMessage : String(e) }, "probe failed; the disk keeps its state until the next scan");
      return { kind: "failed" };
    }
    const d = describeDisk(facts, { nodeName: this.o.nodeName, diskClass: this.o.diskClass });
    if (!d) {
      this.o.log.debug({ device: facts.devPath }, "no stable identity (no serial, WWN, by-path link or backing file): not managed");
      return { kind: "unmanaged" };
    }
    return { kind: "disk", name: d.name, spec: d.spec, facts };
  }

  private async scanOnce(): Promise<ScanResult> {
    const t0 = Date.now();
    this.stats.scans++;
    // A full scan covers every device: what was wanted before it starts is in it.
    this.fullWanted = false;
    this.wanted.clear();
    const found = new Map<string, { spec: Spec; facts: DiskFacts }>();
    // Devices present but not probed this time: their disks are not declared gone on a transient failure.
    const unprobed = new Set<string>();
    for (const kname of await listBlockDeviceNames()) {
      const p = await this.probeOne(kname);
      if (p.kind === "failed") unprobed.add(`/dev/${kname}`);
      if (p.kind === "disk") this.keepFirst(found, p);
    }
    for (const p of this.watched) if (!unprobed.has(p)) this.watched.delete(p);
    const result = await this.apply(found, (ld) => !(ld.spec?.devicePath && unprobed.has(ld.spec.devicePath)));
    this.stats.lastScanMs = Date.now() - t0;
    return result;
  }

  /**
   * Probes the named devices only. Their LocalDisks are created or updated; a LocalDisk of this node whose
   * device path is one of them and that is not found there any more becomes Inactive. A disk found at a new
   * path whose LocalDisk still names an old path not probed here (moved between two events) takes a full scan:
   * only that can tell whether the old path still holds it too.
   */
  private async probeDevices(knames: string[]): Promise<ScanResult> {
    this.stats.deviceProbes += knames.length;
    const found = new Map<string, { spec: Spec; facts: DiskFacts }>();
    const probed = new Set<string>();
    for (const kname of knames) {
      const p = await this.probeOne(kname);
      if (p.kind === "failed") continue;
      probed.add(`/dev/${kname}`);
      if (p.kind === "disk") this.keepFirst(found, p);
    }
    for (const [name, { spec }] of found) {
      const cur = this.cache.getByName(name)?.spec;
      const elsewhere = cur?.nodeName === this.o.nodeName && cur.state !== LocalDiskStates.Inactive && cur.devicePath && cur.devicePath !== spec.devicePath;
      if (elsewhere && !probed.has(cur.devicePath!)) return this.scanOnce();
    }
    for (const p of probed) this.watched.delete(p);
    return this.apply(found, (ld) => !!ld.spec?.devicePath && probed.has(ld.spec.devicePath));
  }

  private keepFirst(found: Map<string, { spec: Spec; facts: DiskFacts }>, p: Extract<Probed, { kind: "disk" }>): void {
    if (found.has(p.name)) {
      this.o.log.warn({ device: p.facts.devPath, disk: p.name }, "the same disk appears twice (a file attached to two loop devices?); keeping the first");
      return;
    }
    found.set(p.name, { spec: p.spec, facts: p.facts });
  }

  /** Writes what was found; inactivates this node's Active LocalDisks not found among those `mayBeGone` admits. */
  private async apply(found: Map<string, { spec: Spec; facts: DiskFacts }>, mayBeGone: (ld: LocalDisk) => boolean): Promise<ScanResult> {
    // Watched for writes: the free ones, where a filesystem written onto them changes what they can be used for.
    // A claimed disk is its user's to write (a raw block volume would be probed after every write).
    for (const [name, { spec }] of found) {
      const ld = this.cache.getByName(name);
      const free = !ld?.spec?.claimRef && ld?.status?.claimState !== LocalDiskClaimStates.Bound;
      if (spec.devicePath && free) this.watched.add(spec.devicePath);
    }
    this.writes?.set(this.watched);
    const result: ScanResult = { present: [...found.keys()], created: [], updated: [], inactivated: [] };
    for (const [name, { spec, facts }] of found) {
      const outcome = await this.upsert(name, spec);
      if (outcome === "created") result.created.push(name);
      if (outcome === "updated") result.updated.push(name);
      if (outcome === "created" || outcome === "reactivated") this.o.onDiskAppeared?.(name, facts);
    }
    for (const ld of this.cache.list()) {
      const name = ld.metadata!.name!;
      if (ld.spec?.nodeName !== this.o.nodeName || found.has(name) || ld.spec.state === LocalDiskStates.Inactive || !mayBeGone(ld)) continue;
      await this.write(name, (cur) =>
        cur.spec?.nodeName === this.o.nodeName && cur.spec.state !== LocalDiskStates.Inactive ? inactiveDiskSpec(cur.spec) : undefined,
      );
      result.inactivated.push(name);
      this.o.log.info({ disk: name, was: ld.spec.devicePath }, "disk gone: Inactive");
    }
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
