// The LocalVolumeConvert reconciler (leader only): the volume and its replicas → states.ts → actions → status
// once if it changed. Watches volumes and replicas too, so the conversion completes as soon as the new replica
// is in sync.
//
// Crash windows: setReplicaNumber only raises the count (a re-run finds it set and the state machine moves
// on); deleteObject of a gone object is done. Status writes are conditional on resourceVersion.

import { controllerHead, type ReconcilerOptions } from "../head.ts";
import { Controller } from "../../kube/controller.ts";
import { nameOf, type LocalVolumeConvertObject, type Lv, type Lvr } from "../../kube/hwameistor.ts";
import { isNotFound } from "../../kube/transport.ts";
import { VolumeStates } from "../../api/names.ts";
import { decideConvert, type ConvertFacts } from "./states.ts";

export function convertController(o: ReconcilerOptions): Controller {
  const { log, c, ctl, informer } = controllerHead(o, "localvolumeconvert", 1, (k) => reconcile(k));
  const convInf = informer<LocalVolumeConvertObject>(c.lvconvert, "localvolumeconverts", 30_000);
  const lvInf = informer<Lv>(c.lv, "localvolumes(convert)");
  const lvrInf = informer<Lvr>(c.lvr, "localvolumereplicas(convert)");
  const byVolume = (volume: string | undefined) =>
    convInf
      .list()
      .filter((x) => x.spec?.volumeName === volume)
      .map(nameOf);
  ctl.watch(convInf);
  ctl.watch(lvInf, (lv) => byVolume(nameOf(lv)));
  ctl.watch(lvrInf, (r) => byVolume(r.spec?.volumeName));

  async function reconcile(name: string) {
    const conv = await c.lvconvert.get(name);
    if (!conv) return;
    const volume = conv.spec?.volumeName ?? "";
    const lv = await c.lv.get(volume);
    const live = lvrInf.list().filter((r) => r.spec?.volumeName === volume && !r.spec?.delete);
    const facts: ConvertFacts = {
      state: conv.status?.state ?? "",
      abort: !!conv.spec?.abort,
      target: conv.spec?.replicaNumber ?? 2,
      ...(lv
        ? {
            volume: {
              name: volume,
              replicaNumber: lv.spec?.replicaNumber ?? 1,
              convertible: !!lv.spec?.convertible,
              state: lv.status?.state ?? "",
              replicas: live.map((r) => ({
                node: r.spec?.nodeName ?? "",
                ready: r.status?.state === VolumeStates.Ready,
                synced: !!r.status?.synced,
                ...(r.status?.resync ? { resync: r.status.resync } : {}),
              })),
            },
          }
        : {}),
    };
    const d = decideConvert(facts);
    for (const a of d.actions) {
      if (a.type === "setReplicaNumber" && lv) {
        await c.lv.update({ ...lv, spec: { ...lv.spec, replicaNumber: a.replicaNumber } });
        log.info({ volume, replicaNumber: a.replicaNumber }, "convert: replica count raised");
      } else if (a.type === "deleteObject") {
        await c.lvconvert.delete(name).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
        log.info({ convert: name, volume }, "convert completed; object removed");
        return;
      }
    }
    if (d.state !== (conv.status?.state ?? "") || d.message !== (conv.status?.message ?? "")) {
      await c.lvconvert.updateStatus({ ...conv, status: { state: d.state, message: d.message } });
      if (d.state === "Failed") void ctl.recordEvent(conv, "Warning", "ConvertFailed", d.message);
    }
    return d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : d.state !== (conv.status?.state ?? "") ? { requeueAfterMs: 0 } : undefined;
  }

  return ctl;
}
