// The disk manager of a node agent (docs/disk-manager.md): live discovery (scanner.ts: full scans on a timer,
// probes of the devices events name) plus one controller
// that runs the LocalDisk, LocalDiskClaim, LocalDiskAction and LocalDiskNode reconcilers with a single
// worker, plus the SMART monitor. `startDiskManager(ctx, options)` returns a Service.
import type { PoolClass } from "../../api/names.ts";
import { DiskClaimStates } from "../../api/names.ts";
import { Controller } from "../../kube/controller.ts";
import { consumerOrOwn } from "../../kube/informer-factory.ts";
import type { NodeContext, Service } from "../context.ts";
import { reconcileAction } from "./action/reconciler.ts";
import { reconcileClaim } from "./claim/reconciler.ts";
import { ensureDiskNode, reconcileDiskNode } from "./disk-node/reconciler.ts";
import { hwameistorClients } from "../../kube/hwameistor.ts";
import { reconcileLocalDisk } from "./local-disk/reconciler.ts";
import { Keys, type DiskRuntime } from "./runtime.ts";
import { DiskScanner } from "./scanner.ts";
import type { DeviceSelector } from "./selector.ts";
import { DEFAULT_SMART_INTERVAL_MS, SmartMonitor } from "./smart.ts";

export interface DiskManagerOptions {
  selector: DeviceSelector;
  /** Sets diskAttributes.type of every managed disk (dev cluster). */
  diskClass?: PoolClass;
  /** Full rescan and informer resync period (default 30 s). */
  resyncMs?: number;
  /** /sys/block poll period (default 1 s, 0 = off; it stops once a kernel uevent arrives). */
  pollMs?: number;
  /** Kernel uevent monitor (default on). */
  kernelEvents?: boolean;
  smartIntervalMs?: number;
  /** Grace before a claim for a node without a LocalDiskNode is explained (default 10 s). */
  unknownNodeGraceMs?: number;
}

export interface DiskManager extends Service {
  scanner: DiskScanner;
  controller: Controller;
}

const PENDING_CLAIM = new Set<string>(["", DiskClaimStates.Pending, DiskClaimStates.Extending]);

export async function startDiskManager(ctx: NodeContext, o: DiskManagerOptions): Promise<DiskManager> {
  const c = hwameistorClients(ctx.client);
  const resyncMs = o.resyncMs ?? 30_000;
  const rt: DiskRuntime = {
    ctx,
    c,
    inf: {
      // Shared with the agent's other parts (ctx.informers); the resync is this controller's own.
      ld: consumerOrOwn(ctx.informers, c.ld, { log: ctx.log, name: "localdisks", resyncPeriodMs: resyncMs }),
      ldc: consumerOrOwn(ctx.informers, c.ldc, { log: ctx.log, name: "localdiskclaims", resyncPeriodMs: resyncMs }),
      lda: consumerOrOwn(ctx.informers, c.lda, { log: ctx.log, name: "localdiskactions" }),
      ldn: consumerOrOwn(ctx.informers, c.ldn, { log: ctx.log, name: "localdisknodes" }),
      ldv: consumerOrOwn(ctx.informers, c.ldv, { log: ctx.log, name: "localdiskvolumes" }),
      lsn: consumerOrOwn(ctx.informers, c.lsn, { log: ctx.log, name: "localstoragenodes" }),
    },
    unknownNodeGraceMs: o.unknownNodeGraceMs ?? 10_000,
  };
  const me = ctx.nodeName;
  const controller = new Controller({
    name: "disk-manager",
    workers: 1, // one worker: see runtime.ts
    log: ctx.log,
    reconcile: async (key) => {
      if (key === Keys.node) return reconcileDiskNode(rt);
      const i = key.indexOf(":");
      const kind = key.slice(0, i);
      const name = key.slice(i + 1);
      if (kind === "ld") return reconcileLocalDisk(rt, name);
      if (kind === "ldc") return reconcileClaim(rt, name);
      if (kind === "lda") return reconcileAction(rt, name);
    },
  });
  // A disk of this node changed: its own state, the node's pools, every action, every waiting claim.
  controller.watch(rt.inf.ld, (d) => {
    if (d.spec?.nodeName !== me && d.spec?.preNodeName !== me) return undefined;
    const claims = rt.inf.ldc
      .list()
      .filter((x) => x.spec?.nodeName === me && PENDING_CLAIM.has(x.status?.status ?? ""))
      .map((x) => Keys.claim(x.metadata!.name!));
    return [Keys.disk(d.metadata!.name!), Keys.node, ...rt.inf.lda.keys().map(Keys.action), ...claims];
  });
  controller.watch(rt.inf.ldc, (x) => Keys.claim(x.metadata!.name!));
  controller.watch(rt.inf.lda, (x) => Keys.action(x.metadata!.name!));
  controller.watch(rt.inf.ldv, () => Keys.node);
  controller.watch(rt.inf.ldn, (x) => (x.metadata?.name === me ? Keys.node : undefined));
  controller.watch(rt.inf.lsn, (x) =>
    x.metadata?.name === me
      ? rt.inf.ld
          .list()
          .filter((d) => d.spec?.nodeName === me)
          .map((d) => Keys.disk(d.metadata!.name!))
      : undefined,
  );

  const smart = new SmartMonitor(rt, o.smartIntervalMs ?? DEFAULT_SMART_INTERVAL_MS);
  const scanner = new DiskScanner(c.ld, rt.inf.ld, {
    nodeName: me,
    stateDir: ctx.stateDir,
    selector: o.selector,
    diskClass: o.diskClass,
    resyncMs,
    pollMs: o.pollMs,
    kernelEvents: o.kernelEvents,
    log: ctx.log,
    onDiskAppeared: (name) => void smart.check(name),
  });

  await controller.start(); // informers synced, workers running
  await ensureDiskNode(rt);
  controller.enqueue(Keys.node);
  await scanner.start();
  smart.start();
  ctx.log.info({ node: me, disks: rt.inf.ld.list().filter((d) => d.spec?.nodeName === me).length }, "disk manager started");

  let stopped: Promise<void> | undefined;
  return {
    scanner,
    controller,
    stop() {
      stopped ??= (async () => {
        smart.stop();
        await scanner.stop();
        await controller.stop();
      })();
      return stopped;
    },
  };
}
