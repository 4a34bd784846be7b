// Where the time of a CreateVolume goes: watches LocalVolumes and LocalVolumeReplicas and records, per volume,
// when each step was first seen (receive time of the watch event, performance.now()):
//   lvCreated      the controller's CSI service wrote the LocalVolume
//   lvrCreated     the controller's LocalVolume reconciler wrote the replica
//   lvrReady       the node agent made the replica (file + loop device) and reported it Ready
//   lvReady        the LocalVolume reconciler saw that and set the volume Ready
// The CSI call returns when its LocalVolume informer shows lvReady (its poll, 200 ms growing ×1.5 to 1 s, is the safety net). Watch delivery on the embedded API server
// is ~1 ms (bench/apiserver.ts), small against these steps.

import { localVolumeReplicaKind } from "../../src/api/kinds/local-volume-replica.ts";
import { localVolumeKind } from "../../src/api/kinds/local-volume.ts";
import { VolumeStates } from "../../src/api/names.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import type { KubeObject } from "../../src/kube/types.ts";

export interface VolumeSteps {
  lvCreated?: number;
  lvrCreated?: number;
  lvrReady?: number;
  lvReady?: number;
}

export class VolumeTrace {
  readonly steps = new Map<string, VolumeSteps>();
  private readonly ac = new AbortController();
  private readonly done: Promise<unknown>[] = [];

  constructor(private readonly client: KubeClient) {}

  private at(volume: string): VolumeSteps {
    let s = this.steps.get(volume);
    if (!s) this.steps.set(volume, (s = {}));
    return s;
  }

  async start(): Promise<void> {
    const now = () => performance.now();
    const lv = this.client.forKind(localVolumeKind);
    const lvr = this.client.forKind(localVolumeReplicaKind);
    const [lvList, lvrList] = await Promise.all([lv.list(), lvr.list()]);
    const state = (o: KubeObject) => (o as { status?: { state?: string } }).status?.state;
    this.done.push(
      lv
        .watch({ resourceVersion: lvList.resourceVersion, signal: this.ac.signal }, (ev) => {
          if (ev.type !== "ADDED" && ev.type !== "MODIFIED") return;
          const s = this.at(ev.object.metadata!.name!);
          s.lvCreated ??= now();
          if (state(ev.object) === VolumeStates.Ready) s.lvReady ??= now();
        })
        .catch(() => undefined),
      lvr
        .watch({ resourceVersion: lvrList.resourceVersion, signal: this.ac.signal }, (ev) => {
          if (ev.type !== "ADDED" && ev.type !== "MODIFIED") return;
          const volume = (ev.object as { spec?: { volumeName?: string } }).spec?.volumeName;
          if (!volume) return;
          const s = this.at(volume);
          s.lvrCreated ??= now();
          if (state(ev.object) === VolumeStates.Ready) s.lvrReady ??= now();
        })
        .catch(() => undefined),
    );
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await Promise.allSettled(this.done);
  }
}
