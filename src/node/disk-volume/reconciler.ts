// The LocalDiskVolume reconciler of one node: gathers facts (the LDV, its LocalDisk, the pool link, the
// LocalDiskNode pool entry), asks states.ts what to do, runs the actions, writes status once if it changed.
// Only volumes whose accessibility names this node are touched.
//
// Disk pool state (decision, see docs/csi.md): this reconciler writes the disk's `state` (InUse/Available)
// in `LocalDiskNode.status.pools.LocalDisk_Pool<TYPE>.disks[]` itself, with a JSON patch guarded by a
// `test` of the entry's devPath (a concurrent rewrite of the pools by the disk manager makes it a conflict
// and a quiet requeue, never a write to the wrong entry). The disk manager, when it rebuilds the pools,
// must derive InUse the same way: a disk is InUse iff a LocalDiskVolume that is not Deleted names it in
// `status.localDiskName` (equivalently, a pool volume link points at it, as in the original). The controller
// never trusts the pool state alone: it also excludes disks held by live LDVs.

import { isHwError, toErrorStatus } from "../../api/errors.ts";
import { DeviceStates, Finalizers, VolumeStates, diskPoolName, isPoolClass } from "../../api/names.ts";
import { isBlockDevice } from "../../host/blkdev.ts";
import { probeFilesystem, wipeSignatures } from "../../host/fs/fs.ts";
import { findMountsBySource } from "../../host/mount/mount.ts";
import { Controller, type ReconcileResult } from "../../kube/controller.ts";
import { consumerOrOwn } from "../../kube/informer-factory.ts";
import { mutateLdvStatus, nodeOfLdv } from "../../kube/local-disk-volume.ts";
import { hwameistorClients, type Ld, type Ldv } from "../../kube/hwameistor.ts";
import type { NodeContext } from "../context.ts";
import { decide, type Action, type VolumeFacts } from "./states.ts";
import { diskVolumeRecords, ensurePoolLink, linkTargetOf, poolLinkOk, poolLinkPath, removePoolLink } from "./volume-files.ts";

export function diskVolumeController(ctx: NodeContext): Controller {
  const c = hwameistorClients(ctx.client);
  const informer = consumerOrOwn<Ldv>(ctx.informers, c.ldv, { log: ctx.log, name: "localdiskvolumes" });
  const ctl = new Controller({
    name: "disk-volume-node",
    log: ctx.log,
    reconcile: (key) => reconcile(key),
  });
  ctl.watch(informer, (ldv) => (nodeOfLdv(ldv) === ctx.nodeName ? ldv.metadata?.name : undefined));

  async function setDiskState(ldv: Ldv, devPath: string, state: string): Promise<void> {
    const type = ldv.spec?.diskType ?? "";
    if (!isPoolClass(type)) return;
    const pool = diskPoolName(type);
    const ldn = await c.ldn.get(ctx.nodeName);
    const idx = (ldn?.status?.pools?.[pool]?.disks ?? []).findIndex((d) => d.devPath === devPath);
    if (!ldn || idx < 0) return; // not listed: nothing of the disk manager's to update
    if (ldn.status!.pools![pool]!.disks![idx]!.state === state) return;
    const base = `/status/pools/${pool}/disks/${idx}`;
    await c.ldn.patchStatus(
      ctx.nodeName,
      [
        { op: "test", path: `${base}/devPath`, value: devPath },
        { op: "replace", path: `${base}/state`, value: state },
      ],
      { type: "json" },
    );
  }

  async function wipeOwnFilesystem(ldv: Ldv, dev: string): Promise<void> {
    const name = ldv.metadata!.name!;
    const rec = diskVolumeRecords.read(ctx.stateDir, name);
    if (!rec?.formatted) {
      if (ldv.spec?.canWipe) ctx.log.warn({ volume: name, dev }, "canWipe is set but this node has no record of the filesystem it created: not wiping");
      return;
    }
    if (!isBlockDevice(dev)) {
      ctx.log.warn({ volume: name, dev }, "disk not present: cannot wipe the filesystem this volume created");
      return;
    }
    if ((await findMountsBySource(dev)).length) throw new Error(`${dev} of volume ${name} is still mounted somewhere; not wiping`);
    const probe = await probeFilesystem(dev);
    if (!probe) return; // already wiped (crash window: wipe done, record not yet removed)
    if (probe.type !== rec.formatted.fsType || (rec.formatted.uuid && probe.uuid !== rec.formatted.uuid)) {
      ctx.log.warn({ volume: name, dev, found: probe }, "the filesystem on the disk is not the one this volume created: not wiping");
      return;
    }
    // Erases exactly the signatures of our filesystem type; refuses if any other signature is present.
    await wipeSignatures(dev, rec.formatted.fsType);
    ctx.log.info({ volume: name, dev, fsType: rec.formatted.fsType }, "wiped the filesystem this volume created");
  }

  async function reconcile(name: string): Promise<ReconcileResult | void> {
    const ldv = await c.ldv.get(name);
    if (!ldv || nodeOfLdv(ldv) !== ctx.nodeName) return;
    const st = ldv.status ?? {};
    const diskType = ldv.spec?.diskType ?? "";
    const disk: Ld | undefined = st.localDiskName ? await c.ld.get(st.localDiskName) : undefined;
    const diskOnNode = !!disk && disk.spec?.nodeName === ctx.nodeName && !!disk.spec.devicePath;
    const dev = diskOnNode ? disk!.spec!.devicePath! : (st.devPath ?? "");
    const link = isPoolClass(diskType) ? poolLinkPath(ctx.stateDir, diskType, name) : undefined;
    const target = linkTargetOf(dev, disk?.spec?.devLinks ?? []);
    let diskMarkedInUse = true;
    if (isPoolClass(diskType)) {
      const ldn = await c.ldn.get(ctx.nodeName);
      const entry = ldn?.status?.pools?.[diskPoolName(diskType)]?.disks?.find((d) => d.devPath === dev);
      diskMarkedInUse = !entry || entry.state === DeviceStates.InUse;
    }
    const facts: VolumeFacts = {
      state: st.state ?? "",
      deleting: !!ldv.metadata?.deletionTimestamp,
      hasDisk: !!st.localDiskName,
      mountPointCount: (st.mountPoints ?? []).length,
      diskOnNode,
      poolLinkOk: !!link && poolLinkOk(link, target),
      diskMarkedInUse,
    };
    const d = decide(facts);
    ctx.log.debug({ volume: name, facts, decision: d }, "disk volume reconcile");

    const run: Record<Action, () => Promise<void>> = {
      ensurePoolLink: async () => {
        if (link) ensurePoolLink(link, target);
      },
      markDiskInUse: () => setDiskState(ldv, dev, DeviceStates.InUse),
      removePoolLink: async () => {
        if (link) removePoolLink(link);
      },
      wipeOwnFilesystem: async () => {
        await wipeOwnFilesystem(ldv, dev);
        diskVolumeRecords.remove(ctx.stateDir, name);
      },
      markDiskAvailable: () => setDiskState(ldv, dev, DeviceStates.Available),
      removeFinalizer: async () => {
        // Delete first (a finalizer holds it), then release: the object disappears in one step for watchers.
        if (!ldv.metadata?.deletionTimestamp) await c.ldv.delete(name);
        await c.ldv.removeFinalizer(name, Finalizers.LocalDisk);
      },
      deleteObject: async () => {
        await c.ldv.delete(name);
      },
    };
    try {
      for (const a of d.actions) await run[a]();
    } catch (e) {
      // The failure travels in status.error (code + reason as raised) to the CSI controller; retried with backoff.
      if (!isHwError(e)) throw e;
      const error = toErrorStatus(e);
      await mutateLdvStatus(c.ldv, name, (s) => {
        if (JSON.stringify(s.error) === JSON.stringify(error)) return false;
        s.error = error;
      });
      throw e;
    }
    if (st.error) {
      await mutateLdvStatus(c.ldv, name, (s) => {
        if (!s.error) return false;
        delete s.error;
      });
    }

    const devMoved = diskOnNode && st.devPath !== dev && st.state !== VolumeStates.Deleted;
    if ((d.state && d.state !== st.state) || devMoved) {
      await mutateLdvStatus(c.ldv, name, (s) => {
        if (d.state) s.state = d.state;
        if (devMoved) s.devPath = dev;
        if (d.state === VolumeStates.Created && link) s.volumePath = link;
      });
      if (d.state) {
        void ctx.recorder.recordEvent(ldv, "Normal", `Volume${d.state}`, `volume ${name} is ${d.state}: ${d.reason}`);
        ctx.log.info({ volume: name, from: st.state, to: d.state, reason: d.reason }, "disk volume state");
      }
    }
    return d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : undefined;
  }

  return ctl;
}
