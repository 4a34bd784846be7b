// Per-volume I/O metrics of the replicas on this node, from the kernel's counters in /sys/block/<dev>/stat of each
// replica's block device (the loop device of a `file` replica, the dm device of an LVM one) — docs/exporter.md.
//
// - Counters (reads, writes, bytes, time spent) are read at scrape time from the devices found by the last sample,
//   so a scrape shows the kernel's current totals. A replica's device that is detached and attached again starts
//   from zero: Prometheus treats that as a counter reset.
// - Latency histogram: /sys/block/<dev>/stat holds only sums, not per-I/O times. Every `intervalMs` (10 s) the
//   sampler takes the deltas and observes the interval's MEAN latency (Δticks / Δios) once per interval that had
//   I/O. Simplification, said in the help text: the histogram is a distribution of 10-second means, not of
//   individual I/Os (that would need a tracer, e.g. blktrace/eBPF).
// - The replica list comes from the engine (`listReplicas()`: the kernel device behind each devPath), refreshed
//   by the sampler; nothing here talks to the API server.

import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { isHwError } from "../../api/errors.ts";
import { readBlockStat, type BlockStat } from "../../host/sysfs/sysfs.ts";
import type { Logger } from "../../kube/types.ts";
import type { Replica } from "../engines/engine.ts";

export const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const LABELS = ["node_name", "pool_name", "volume_name", "device"] as const;
type Labels = Record<(typeof LABELS)[number], string>;

interface Tracked {
  labels: Labels;
  device: string;
  last?: BlockStat;
}

export interface VolumeIoOptions {
  nodeName: string;
  listReplicas(): Promise<Replica[]>;
  registry: Registry;
  log: Logger;
  intervalMs?: number;
  /** /sys/block (tests). */
  sysBlock?: string;
}

const SECTOR = 512;

export class VolumeIoMetrics {
  private tracked = new Map<string, Tracked>();
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;
  private readonly latency: Histogram<"node_name" | "pool_name" | "volume_name" | "device" | "op">;

  constructor(private readonly o: VolumeIoOptions) {
    const reg = [o.registry];
    const current = () => this.current();
    const counter = (name: string, help: string, pick: (s: BlockStat) => number) =>
      new Counter({
        name,
        help,
        labelNames: LABELS,
        registers: reg,
        async collect() {
          this.reset();
          for (const [t, s] of await current()) this.inc(t.labels, pick(s));
        },
      });
    counter("hwameistor_volume_io_reads_total", "Read I/Os completed on the replica's block device (/sys/block/<dev>/stat).", (s) => s.readIos);
    counter("hwameistor_volume_io_writes_total", "Write I/Os completed on the replica's block device.", (s) => s.writeIos);
    counter("hwameistor_volume_io_read_bytes_total", "Bytes read from the replica's block device.", (s) => s.readSectors * SECTOR);
    counter("hwameistor_volume_io_written_bytes_total", "Bytes written to the replica's block device.", (s) => s.writeSectors * SECTOR);
    counter(
      "hwameistor_volume_io_read_seconds_total",
      "Sum of the time read I/Os took (rate over rate of reads = mean read latency).",
      (s) => s.readTicksMs / 1000,
    );
    counter(
      "hwameistor_volume_io_write_seconds_total",
      "Sum of the time write I/Os took (rate over rate of writes = mean write latency).",
      (s) => s.writeTicksMs / 1000,
    );
    counter("hwameistor_volume_io_busy_seconds_total", "Time the device had I/O in flight (rate = utilisation).", (s) => s.ioTicksMs / 1000);
    new Gauge({
      name: "hwameistor_volume_io_in_flight",
      help: "I/Os in flight on the replica's block device now.",
      labelNames: LABELS,
      registers: reg,
      async collect() {
        this.reset();
        for (const [t, s] of await current()) this.set(t.labels, s.inFlight);
      },
    });
    this.latency = new Histogram({
      name: "hwameistor_volume_io_latency_seconds",
      help: "Mean I/O latency of each 10-second interval with I/O, per replica device and op (read|write); the kernel keeps only sums, so this is a distribution of interval means, not of single I/Os.",
      labelNames: [...LABELS, "op"] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: reg,
    });
  }

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.o.intervalMs ?? 10_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sampling;
  }

  /** Refreshes the replica list and observes each device's mean latency since the last sample. */
  sample(): Promise<void> {
    this.sampling ??= this.doSample().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private async doSample(): Promise<void> {
    let replicas: Replica[];
    try {
      replicas = await this.o.listReplicas();
    } catch (e) {
      this.o.log.warn({ err: isHwError(e) ? e.fullMessage : String(e) }, "volume I/O metrics: listing replicas failed");
      return;
    }
    const next = new Map<string, Tracked>();
    for (const r of replicas) {
      if (!r.kernelDevice) continue;
      const key = `${r.poolName}/${r.volumeName}`;
      const prev = this.tracked.get(key);
      const device = r.kernelDevice.replace(/^\/dev\//, "");
      const t: Tracked =
        prev && prev.device === device ? prev : { device, labels: { node_name: this.o.nodeName, pool_name: r.poolName, volume_name: r.volumeName, device } };
      next.set(key, t);
    }
    this.tracked = next;
    for (const [t, s] of await this.current()) {
      const p = t.last;
      t.last = s;
      if (!p) continue;
      const observe = (op: string, ios: number, ticksMs: number) => {
        if (ios > 0 && ticksMs >= 0) this.latency.observe({ ...t.labels, op }, ticksMs / ios / 1000);
      };
      observe("read", s.readIos - p.readIos, s.readTicksMs - p.readTicksMs);
      observe("write", s.writeIos - p.writeIos, s.writeTicksMs - p.writeTicksMs);
    }
  }

  /** The current counters of every tracked device that still exists. */
  private async current(): Promise<Array<[Tracked, BlockStat]>> {
    const out: Array<[Tracked, BlockStat]> = [];
    await Promise.all(
      [...this.tracked.values()].map(async (t) => {
        try {
          out.push([t, await readBlockStat(t.device, this.o.sysBlock)]);
        } catch (e) {
          // detached since the last sample: it drops out until the next sample finds it again
          if (!(isHwError(e) && e.reason === "DeviceNotFound")) throw e;
        }
      }),
    );
    return out;
  }
}
