// The QoS reconciler of one node (fact sheet §7): keeps the IO limits of every volume with a Ready replica on
// this node equal to the LocalVolume's spec.volumeQoS (the LocalVolumeReplica's copy when the volume object
// is not readable). Keyed by volume name; woken by LocalVolume changes (an edit of volumeQoS applies within
// the watch latency, well under a second), by this node's replicas, by the replica reconciler's hook, and by
// a 60 s resync. Runs at every start, so limits are re-applied after an agent restart (they also survive it
// in the kernel).
//
// A malformed quantity changes nothing (the rules in place stay) and is reported as a Warning Event
// `QoSInvalid` on the LocalVolume with the precise message. When the volume has no Ready replica here any
// more, its rules are cleared and its cgroup removed (apply.ts says why).

import { realpath } from "node:fs/promises";
import { isHwError } from "../../../api/errors.ts";
import { VolumeStates } from "../../../api/names.ts";
import { CGROUP_ROOT } from "../../../host/cgroup/cgroup.ts";
import { Controller } from "../../../kube/controller.ts";
import type { HwameistorClients, Lv, Lvr } from "../../../kube/hwameistor.ts";
import { Informer } from "../../../kube/informer.ts";
import type { NodeContext } from "../../context.ts";
import type { NodeReplicas } from "../replicas.ts";
import { consumerOrOwn, type InformerFactory } from "../../../kube/informer-factory.ts";
import { applyVolumeQos, removeVolumeQos } from "./apply.ts";
import { qosLimits } from "./limits.ts";

export interface QosControllerOptions {
  ctx: NodeContext;
  c: HwameistorClients;
  /** cgroup filesystem root (tests). */
  cgroupRoot?: string;
  /** This node's replica cache (storage/replicas.ts); default: an informer of every replica. */
  replicas?: NodeReplicas;
  /** The agent's shared informers (LocalVolumes); default: its own. */
  informers?: InformerFactory;
}

export interface QosController extends Controller {
  /** For the replica reconciler's hook. */
  enqueueVolume(volume: string): void;
}

export function qosController(o: QosControllerOptions): QosController {
  const { ctx, c } = o;
  const root = o.cgroupRoot ?? CGROUP_ROOT;
  const lvInf = consumerOrOwn<Lv>(o.informers, c.lv, { log: ctx.log, name: "localvolumes", resyncPeriodMs: 60_000 });
  const lvrInf = o.replicas?.informer() ?? new Informer<Lvr>(c.lvr, { log: ctx.log, name: "localvolumereplicas" });
  const ctl = new Controller({ name: "volume-qos", log: ctx.log, workers: 2, reconcile: (k) => reconcile(k) }) as QosController;
  const mine = (r: Lvr) => r.spec?.nodeName === ctx.nodeName;
  ctl.watch(lvrInf, (r) => (mine(r) ? r.spec?.volumeName || undefined : undefined));
  ctl.watch(lvInf, (lv) => {
    const name = lv.metadata?.name ?? "";
    return lvrInf.list().some((r) => mine(r) && r.spec?.volumeName === name) ? name : undefined;
  });
  ctl.enqueueVolume = (v: string) => ctl.enqueue(v);
  /** Last invalid-spec message per volume, so the Event is recorded once per distinct mistake. */
  const reported = new Map<string, string>();

  async function reconcile(volume: string) {
    const lvr = lvrInf.list().find((r) => mine(r) && r.spec?.volumeName === volume && !r.spec?.delete && r.status?.state === VolumeStates.Ready);
    if (!lvr) {
      const r = await removeVolumeQos(volume, root);
      if (r.cleared.length || r.cgroupRemoved) ctx.log.info({ volume, cleared: r.cleared, cgroupRemoved: r.cgroupRemoved }, "volume IO limits removed");
      return r.cleared.length && !r.cgroupRemoved ? { requeueAfterMs: 10_000 } : undefined;
    }
    const lv = lvInf.getByName(volume);
    const qos = lv ? lv.spec?.volumeQoS : lvr.spec?.volumeQoS;
    let limits;
    try {
      limits = qosLimits(volume, qos);
    } catch (e) {
      if (!isHwError(e)) throw e;
      if (reported.get(volume) !== e.message) {
        reported.set(volume, e.message);
        ctx.log.warn({ volume }, e.message);
        void ctx.recorder.recordEvent(lv ?? lvr, "Warning", "QoSInvalid", `${e.message}; the limits in place are kept`);
      }
      return;
    }
    reported.delete(volume);
    const devPath = lvr.status?.devPath || lvr.status?.storagePath;
    if (!devPath) return;
    const dev = await realpath(devPath).catch(() => devPath); // missing: only an error when a limit needs it
    const res = await applyVolumeQos(volume, dev, limits, root);
    if (res.changed.length) ctx.log.info({ volume, device: `${dev} (${res.majMin})`, limits, cgroups: res.changed }, "volume IO limits applied");
    return undefined;
  }
  return ctl;
}
