// What CSI CreateVolume places against: informer caches of LocalStorageNodes, LocalVolumes and
// LocalVolumeGroups (listed and watched once per process, instead of three lists per CreateVolume), plus what
// this process has placed that the caches do not show yet.
//
// The second part is kube-scheduler's "assume" cache applied to volumes: a placement decision is recorded in
// memory at once (assumeVolume/assumeGroup, under the placement lock), so the next decision counts it even
// though the LocalVolume is still being written or its watch event has not arrived. An assumption ends when
// - the informer shows the object (the LocalVolume by name; a group once it lists every volume assumed into
//   it): from then on the cache counts it (confirm);
// - the write failed (forget);
// - it has been finished (written) for `ttlMs` and the cache still does not show it: the object came and went
//   while the watch was down, or the watch is stuck. As the scheduler's TTL, a safety net, never the normal path.
// Without the assumptions a stale cache would let back-to-back CreateVolumes promise the same free bytes twice
// (placement-cache.int.test.ts shows it with a frozen cache).
//
// Until the informers' first list has arrived (or while a CRD is missing) the snapshot is read with live lists,
// as before, so the first CreateVolume after a start neither waits for nor misses anything.
//
// The same process also keeps a LocalVolumeReplica cache: a waiting CreateVolume looks at its replicas' errors
// and ControllerPublish at the replica on the node, which used to list every replica of the cluster per look.

import type { CacheInformer } from "../../../kube/informer.ts";
import { consumerOrOwn, type InformerFactory } from "../../../kube/informer-factory.ts";
import { ObjectWakes, type Wake } from "../../../kube/object-wake.ts";
import { listAll, nameOf, type HwameistorClients, type Lsn, type Lv, type Lvg, type Lvr } from "../../../kube/hwameistor.ts";
import { withoutVolume } from "../../../api/placement/groups.ts";
import type { Logger } from "../../../kube/types.ts";

export interface PlacementSnapshot {
  lsns: Lsn[];
  lvs: Lv[];
  lvgs: Lvg[];
}

interface Assumed<T> {
  obj: T;
  /** Set once the write finished; the assumption is dropped after that (if the cache never shows it). */
  expiresAt?: number;
}

interface AssumedGroup extends Assumed<Lvg> {
  /** Volumes this process put into the group and the cache does not list there yet. */
  awaiting: Set<string>;
}

export class PlacementCache {
  private readonly inf: { lsn: CacheInformer<Lsn>; lv: CacheInformer<Lv>; lvg: CacheInformer<Lvg>; lvr: CacheInformer<Lvr> };
  private readonly volumes = new Map<string, Assumed<Lv>>();
  private readonly groups = new Map<string, AssumedGroup>();
  private readonly lvWakes: ObjectWakes<Lv>;
  private started = false;
  private readonly ttlMs: number;

  /**
   * `informers`: the process's shared informers (the controller's; every replica has them, leader or not, and the
   * leader's reconcilers read the same caches). Without it the cache has informers of its own (tests).
   */
  constructor(
    private readonly c: HwameistorClients,
    log: Logger,
    o: { ttlMs?: number; informers?: InformerFactory } = {},
  ) {
    this.ttlMs = o.ttlMs ?? 30_000;
    const f = o.informers;
    this.inf = {
      lsn: consumerOrOwn(f, c.lsn, { log, name: "csi-localstoragenodes" }),
      lv: consumerOrOwn(f, c.lv, { log, name: "csi-localvolumes" }),
      lvg: consumerOrOwn(f, c.lvg, { log, name: "csi-localvolumegroups" }),
      lvr: consumerOrOwn(f, c.lvr, { log, name: "csi-localvolumereplicas" }),
    };
    this.lvWakes = new ObjectWakes(this.inf.lv);
    const seenLv = (lv: Lv): void => void this.volumes.delete(nameOf(lv));
    this.inf.lv.addHandlers({ add: seenLv, update: (_o, lv) => seenLv(lv), delete: seenLv });
    this.inf.lvg.addHandlers({
      add: (g) => this.confirmGroup(g),
      update: (_o, g) => this.confirmGroup(g),
      delete: (g) => void this.groups.delete(nameOf(g)),
    });
  }

  /** Starts the informers (idempotent; also done on first use). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const i of Object.values(this.inf)) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.inf).map((i) => i.stop()));
  }

  /** Whether placement's three caches have their first list (the replica cache is asked on its own). */
  synced(): boolean {
    return [this.inf.lsn, this.inf.lv, this.inf.lvg].every((i) => i.hasSynced());
  }

  /**
   * The cluster as placement sees it: the caches plus the assumptions. Live lists instead of the caches until
   * they have synced, or with `live` (a refusal is decided on them: a lagging cache never refuses a volume).
   */
  async snapshot(live = false): Promise<PlacementSnapshot & { live: boolean }> {
    this.start();
    const cached = !live && this.synced();
    const [lsns, lvs, lvgs] = cached
      ? [this.inf.lsn.list(), this.inf.lv.list(), this.inf.lvg.list()]
      : await Promise.all([listAll(this.c.lsn), listAll(this.c.lv), listAll(this.c.lvg)]);
    // Only the cache confirms an assumption: a live list may be ahead of it, and the next decision reads the cache.
    // The work here is per assumption (usually none or a few), not per object of the cluster: a create must not
    // cost O(volumes + groups) beyond the one copy of the cached lists.
    const now = Date.now();
    if (!this.volumes.size && !this.groups.size) return { lsns, lvs, lvgs, live: !cached };
    const liveNames = cached ? undefined : new Set(lvs.map(nameOf));
    const have = (name: string) => (liveNames ? liveNames.has(name) : this.inf.lv.getByName(name) !== undefined);
    for (const [name, a] of this.volumes) {
      if (a.expiresAt !== undefined && a.expiresAt < now) this.volumes.delete(name);
      else if (have(name)) {
        if (cached) this.volumes.delete(name);
      } else lvs.push(a.obj);
    }
    if (!this.groups.size) return { lsns, lvs, lvgs, live: !cached };
    // A group assumed while the cache already listed the volume gets no further event: confirm it here.
    if (cached) for (const name of [...this.groups.keys()]) this.confirmGroup(this.inf.lvg.getByName(name));
    const byName = new Map(lvgs.map((g) => [nameOf(g), g]));
    for (const [name, a] of this.groups) {
      if (a.expiresAt !== undefined && a.expiresAt < now) this.groups.delete(name);
      else if (!cached && byName.get(name) && listsAll(byName.get(name)!, a.awaiting))
        continue; // the live object has it all
      else byName.set(name, a.obj);
    }
    return { lsns, lvs, lvgs: [...byName.values()], live: !cached };
  }

  /** Records a LocalVolume about to be written: placement counts it from now on. */
  assumeVolume(lv: Lv): void {
    this.volumes.set(nameOf(lv), { obj: lv });
  }

  /** Records the group as this call is about to write it, with `volume` in it. */
  assumeGroup(group: Lvg, volume: string): void {
    const name = nameOf(group);
    const awaiting = this.groups.get(name)?.awaiting ?? new Set<string>();
    awaiting.add(volume);
    this.groups.set(name, { obj: group, awaiting });
  }

  /** The writes of `volume` are done: its assumptions now only wait for the cache (or expire). */
  finish(volume: string, group: string): void {
    const expiresAt = Date.now() + this.ttlMs;
    const v = this.volumes.get(volume);
    if (v) v.expiresAt = expiresAt;
    const g = this.groups.get(group);
    if (g) g.expiresAt = expiresAt;
  }

  /** The writes of `volume` failed: drop what was assumed for it. */
  forget(volume: string, group: string): void {
    this.volumes.delete(volume);
    const g = this.groups.get(group);
    if (!g) return;
    g.awaiting.delete(volume);
    const spec = g.obj.spec && withoutVolume(g.obj.spec, volume);
    if (!g.awaiting.size) this.groups.delete(group);
    else if (spec) g.obj = { ...g.obj, spec };
  }

  /** How many placements are assumed and not yet confirmed (tests, logs). */
  get assumedCount(): number {
    return this.volumes.size;
  }

  /** The cached LocalVolume (undefined when the cache does not have it: not synced, not seen yet, or gone). */
  cachedVolume(name: string): Lv | undefined {
    return this.synced() ? this.inf.lv.getByName(name) : undefined;
  }

  /** The replicas of `volume`: cached, or listed while the cache has not synced (`live`: always listed). */
  async replicasOf(volume: string, live = false): Promise<Lvr[]> {
    this.start();
    const all = !live && this.inf.lvr.hasSynced() ? this.inf.lvr.list() : await listAll(this.c.lvr);
    return all.filter((r) => r.spec?.volumeName === volume);
  }

  /** Wake-ups for a wait on LocalVolume `name` (src/csi/wait.ts): every informer event of that volume. */
  volumeWake(name: string): Wake {
    this.start();
    return this.lvWakes.for(name);
  }

  private confirmGroup(g: Lvg | undefined): void {
    if (!g) return;
    const a = this.groups.get(nameOf(g));
    if (!a) return;
    const listed = volumesOf(g);
    for (const v of a.awaiting) if (listed.has(v)) a.awaiting.delete(v);
    if (!a.awaiting.size) this.groups.delete(nameOf(g));
  }
}

const volumesOf = (g: Lvg): Set<string | undefined> => new Set((g.spec?.volumes ?? []).map((v) => v.localvolume));
const listsAll = (g: Lvg, volumes: Set<string>): boolean => [...volumes].every((v) => volumesOf(g).has(v));
