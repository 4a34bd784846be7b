// The LocalVolumeExpand reconciler (leader only): gathers the volume, its replicas and the pools, asks
// states.ts for the next step, runs its actions, writes status once if it changed. Also watches volumes and
// replicas so an expansion moves on as soon as the node agent reports the grown replica.
//
// Crash windows: setVolumeCapacity / setReplicaCapacity only ever raise a size (a re-run after a crash
// between the write and the status write finds the size already there and writes nothing); deleteObject of
// a gone object is done. Status writes are conditional on resourceVersion; a conflict is a quiet requeue.

import { controllerHead, type ReconcilerOptions } from "../head.ts";
import { Controller } from "../../kube/controller.ts";
import { type LocalVolumeExpandObject } from "../../kube/hwameistor.ts";
import { isConflict, isNotFound } from "../../kube/transport.ts";
import { VolumeStates } from "../../api/names.ts";
import { nameOf, type Lsn, type Lv, type Lvr } from "../../kube/hwameistor.ts";
import { growthProblem } from "./capacity.ts";
import { decideExpand, roundUp4MiB, type ExpandAction, type ExpandFacts, type ExpandReplicaFact } from "./states.ts";

export type ExpandControllerOptions = ReconcilerOptions;

export function replicaFact(r: Lvr): ExpandReplicaFact {
  const nr = (r.status?.conditions ?? []).find((c) => c.type === "Ready" && c.status === "False");
  return {
    name: nameOf(r),
    nodeName: r.spec?.nodeName ?? "",
    state: r.status?.state ?? "",
    delete: !!r.spec?.delete,
    requiredCapacityBytes: r.spec?.requiredCapacityBytes ?? 0,
    allocatedCapacityBytes: r.status?.allocatedCapacityBytes ?? 0,
    ...(nr?.message ? { notReadyMessage: nr.message } : {}),
  };
}

export function expandController(o: ExpandControllerOptions): Controller {
  const { log, c, ctl, informer } = controllerHead(o, "localvolumeexpand", 2, (k) => reconcile(k));
  const lveInf = informer<LocalVolumeExpandObject>(c.lvexpand, "localvolumeexpands", 30_000);
  const lvInf = informer<Lv>(c.lv, "localvolumes");
  const lvrInf = informer<Lvr>(c.lvr, "localvolumereplicas");
  const lsnInf = informer<Lsn>(c.lsn, "localstoragenodes");
  // The expand object is named after its volume (§1.13); a change of the volume or a replica wakes it.
  ctl.watch(lveInf);
  ctl.watch(lvInf, (lv) => (lveInf.getByName(nameOf(lv)) ? nameOf(lv) : undefined));
  ctl.watch(lvrInf, (r) => (r.spec?.volumeName && lveInf.getByName(r.spec.volumeName) ? r.spec.volumeName : undefined));
  ctl.watch(lsnInf, () => undefined);

  async function run(a: ExpandAction, lve: LocalVolumeExpandObject, volume: string): Promise<void> {
    switch (a.type) {
      case "deleteObject":
        await c.lvexpand.delete(nameOf(lve)).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
        return;
      case "setVolumeCapacity":
        // Read fresh: the LocalVolume reconciler writes the same object (config); only ever raise.
        for (let i = 0; ; i++) {
          const lv = await c.lv.get(volume);
          if (!lv || (lv.spec?.requiredCapacityBytes ?? 0) >= a.bytes) return;
          try {
            await c.lv.update({ ...lv, spec: { ...lv.spec, requiredCapacityBytes: a.bytes } });
            log.info({ volume, bytes: a.bytes }, "volume required capacity raised");
            return;
          } catch (e) {
            if (isConflict(e) && i < 8) continue;
            throw e;
          }
        }
      case "setReplicaCapacity":
        for (const n of a.names) {
          const r = await c.lvr.get(n);
          if (!r || (r.spec?.requiredCapacityBytes ?? 0) >= a.bytes) continue;
          await c.lvr.patch(n, { spec: { requiredCapacityBytes: a.bytes } });
          log.info({ volume, replica: n, bytes: a.bytes }, "replica required capacity raised");
        }
        return;
    }
  }

  async function reconcile(name: string) {
    const lve = lveInf.getByName(name);
    if (!lve) return;
    const volume = lve.spec?.volumeName || name;
    const lv = lvInf.getByName(volume);
    const required = lve.spec?.requiredCapacityBytes ?? 0;
    const state = lve.status?.state ?? "";
    const facts: ExpandFacts = {
      volume: lv && {
        state: lv.status?.state ?? "",
        deleting: !!lv.spec?.delete || lv.status?.state === VolumeStates.ToBeDeleted || lv.status?.state === VolumeStates.Deleted,
        requiredCapacityBytes: lv.spec?.requiredCapacityBytes ?? 0,
        allocatedCapacityBytes: lv.status?.allocatedCapacityBytes ?? 0,
      },
      replicas: lvrInf
        .list()
        .filter((r) => r.spec?.volumeName === volume)
        .map(replicaFact),
      poolProblem: lv && state === "Submitted" ? growthProblem(lv, roundUp4MiB(required), lsnInf.list(), lvInf.list()) : undefined,
    };
    const d = decideExpand({ name, volumeName: volume, requiredCapacityBytes: required, abort: !!lve.spec?.abort, state }, facts);
    for (const a of d.actions) await run(a, lve, volume);
    if (d.actions.some((a) => a.type === "deleteObject")) return;
    const status = { ...(lve.status ?? {}), ...d.status, state: d.state };
    if (JSON.stringify(status) !== JSON.stringify(lve.status ?? {})) {
      await c.lvexpand.updateStatus({ ...lve, status });
      if (d.state !== state) {
        log.info({ expand: name, volume, from: state, to: d.state }, status.message ?? "");
        if (d.state === "Failed") void ctl.recordEvent(lve, "Warning", "ExpandFailed", status.message ?? "");
      }
    }
    return d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : undefined;
  }

  return ctl;
}
