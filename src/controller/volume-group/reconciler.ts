// The LocalVolumeGroup reconciler (leader only), §4.4's volumegroup manager:
// - adds the finalizer `hwameistor.io/localvolumegroup-protection`;
// - drops entries with empty names, and entries whose LocalVolume has been missing for longer than
//   `orphanGraceMs` (CSI CreateVolume appends the entry just BEFORE it creates the LocalVolume; the grace
//   covers that window, and a crash inside it is repaired by the provisioner's retry, which finds the
//   entry; only an abandoned request leaves an entry to be dropped here). Simplification: "missing since"
//   is remembered in memory, so a leader change restarts the grace period;
// - keeps `accessibility.nodes` = the sorted replica hosts when all volumes agree (warns otherwise);
// - deletes the group once `volumes` is empty (finalizer removed first).

import { Finalizers } from "../../api/names.ts";
import { Controller } from "../../kube/controller.ts";
import { silentLogger } from "../../kube/types.ts";
import { informerFor, type ReconcilerOptions } from "../head.ts";
import { hwameistorClients, type Lv, type Lvg } from "../../kube/hwameistor.ts";
import { groupNodes } from "../../api/placement/groups.ts";

export interface VolumeGroupControllerOptions extends ReconcilerOptions {
  /** How long an entry's LocalVolume may be missing before the entry is dropped (default 120 s). */
  orphanGraceMs?: number;
}

export function volumeGroupController(o: VolumeGroupControllerOptions): Controller {
  const log = o.log ?? silentLogger;
  const c = hwameistorClients(o.client);
  const grace = o.orphanGraceMs ?? 120_000;
  const inf = informerFor(o);
  const lvgInf = inf<Lvg>(c.lvg, "localvolumegroups");
  const lvInf = inf<Lv>(c.lv, "localvolumes");
  const missingSince = new Map<string, number>(); // "<group>/<volume>" → first seen missing

  const controller = new Controller({ name: "localvolumegroup", log, events: { client: o.client, component: "hwameistor-controller" }, reconcile });
  controller.watch(lvgInf);
  controller.watch(lvInf, (lv) => lv.spec?.volumegroup || undefined);

  async function reconcile(name: string) {
    const g = lvgInf.getByName(name);
    if (!g) return;
    const spec = g.spec ?? {};
    const volumes = spec.volumes ?? [];
    if (!volumes.length) {
      if (g.metadata?.finalizers?.includes(Finalizers.LocalVolumeGroupProtection)) await c.lvg.removeFinalizer(name, Finalizers.LocalVolumeGroupProtection);
      if (!g.metadata?.deletionTimestamp) await c.lvg.delete(name);
      log.info({ group: name }, "LocalVolumeGroup removed (no volumes)");
      return;
    }
    if (g.metadata?.deletionTimestamp) return; // held by the finalizer until its volumes are gone
    if (!g.metadata?.finalizers?.includes(Finalizers.LocalVolumeGroupProtection)) {
      await c.lvg.addFinalizer(name, Finalizers.LocalVolumeGroupProtection);
      return; // the update comes back as an event
    }
    let requeueAfterMs: number | undefined;
    const now = Date.now();
    const keep = volumes.filter((v) => {
      if (!v.localvolume || !v.pvc) return false;
      const key = `${name}/${v.localvolume}`;
      if (lvInf.getByName(v.localvolume)) {
        missingSince.delete(key);
        return true;
      }
      const since = missingSince.get(key) ?? now;
      missingSince.set(key, since);
      if (now - since >= grace) {
        missingSince.delete(key);
        log.warn({ group: name, volume: v.localvolume }, "dropping a group entry whose LocalVolume never appeared");
        return false;
      }
      requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, grace - (now - since) + 50);
      return true;
    });
    const lvs = keep.map((v) => lvInf.getByName(v.localvolume!)).filter((x): x is Lv => !!x);
    const nodes = groupNodes(lvs);
    if (nodes.conflict) void controller.recordEvent(g, "Warning", "ReplicaNodesDiffer", `volumes of group ${name} are placed differently: ${nodes.conflict}`);
    const next = { ...spec, volumes: keep, accessibility: { ...spec.accessibility, nodes: nodes.nodes ?? spec.accessibility?.nodes ?? [] } };
    if (
      JSON.stringify(next.volumes) !== JSON.stringify(volumes) ||
      JSON.stringify(next.accessibility.nodes) !== JSON.stringify(spec.accessibility?.nodes ?? [])
    ) {
      await c.lvg.update({ ...g, spec: next });
    }
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }
  return controller;
}
