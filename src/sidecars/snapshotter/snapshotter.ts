// external-snapshotter's sidecar for one driver: VolumeSnapshotContents of the driver → CSI.
// - Dynamic (spec.source.volumeHandle, no status.snapshotHandle yet): CreateSnapshot named
//   `snapshot-<VolumeSnapshot uid>` (the idempotency key: a retry after a crash gets the same snapshot) with
//   the class parameters minus the reserved csi.storage.k8s.io/ keys plus the --extra-create-metadata keys
//   (volumesnapshot name/namespace, volumesnapshotcontent name) → status {snapshotHandle, creationTime (ns),
//   readyToUse, restoreSize (bytes)}; not ready yet → asked again until it is.
// - Pre-provisioned (spec.source.snapshotHandle): ListSnapshots by id → the same status.
// - Deleted content with deletionPolicy Delete: DeleteSnapshot (NOT_FOUND = gone), then the content's
//   volumesnapshotcontent-bound-protection finalizer goes; Retain: the finalizer goes, the snapshot stays.
// Failures: status.error {message, time} (the snapshot controller copies it to the VolumeSnapshot), an Event
// SnapshotCreationFailed, retry with backoff.
// Our lvm driver names the snapshot object after the request name with "snapshot" → "snapcontent", so the
// LocalVolumeSnapshot of a VolumeSnapshot is named like its VolumeSnapshotContent (docs/snapshots.md).

import { CsiParamKeys, KubeFinalizers } from "../../api/names.ts";
import type { HwError } from "../../api/errors.ts";

import { Controller } from "../../kube/controller.ts";
import { roleInformers } from "../../kube/informer-factory.ts";
import { VOLUME_SNAPSHOT_CLASS, VOLUME_SNAPSHOT_CONTENT, metaTime } from "../../kube/resources.ts";

import { rpcError, SIDECAR_RESYNC_MS, sidecarController, type SidecarOptions } from "../common.ts";

type Any = any; // snapshot kinds have no shape in src/api yet

interface CsiSnapshot {
  size_bytes?: string | number;
  snapshot_id: string;
  source_volume_id?: string;
  creation_time?: { seconds?: string | number; nanos?: number } | null;
  ready_to_use?: boolean;
}

/** CSI snapshot → VolumeSnapshotContent status fields. */
export function contentStatus(s: CsiSnapshot): Record<string, unknown> {
  const t = s.creation_time;
  const ns = t ? BigInt(t.seconds ?? 0) * 1_000_000_000n + BigInt(t.nanos ?? 0) : undefined;
  return {
    snapshotHandle: s.snapshot_id,
    readyToUse: !!s.ready_to_use,
    restoreSize: Number(s.size_bytes ?? 0),
    // int64 nanoseconds in a JSON number: exact to ~256 ns at today's epoch (a JavaScript double).
    ...(ns !== undefined ? { creationTime: Number(ns) } : {}),
    error: null,
  };
}

/** CreateSnapshot parameters: class parameters without reserved keys, plus the snapshot's metadata. */
export function snapshotParameters(classParams: Record<string, string> | undefined, content: Any): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(classParams ?? {})) if (!k.startsWith(CsiParamKeys.Prefix)) out[k] = v;
  const ref = content.spec?.volumeSnapshotRef ?? {};
  out[CsiParamKeys.SnapshotName] = ref.name ?? "";
  out[CsiParamKeys.SnapshotNamespace] = ref.namespace ?? "";
  out[CsiParamKeys.SnapshotContentName] = content.metadata?.name ?? "";
  return out;
}

export function snapshotter(o: SidecarOptions) {
  const { log, f } = roleInformers(o, SIDECAR_RESYNC_MS);
  const driver = o.driver.name;
  const contents = o.client.forKind<Any>(VOLUME_SNAPSHOT_CONTENT);
  const inf = {
    vsc: f.for<Any>(VOLUME_SNAPSHOT_CONTENT),
    cls: f.for<Any>(VOLUME_SNAPSHOT_CLASS),
  };
  const ctl: Controller = sidecarController(o.client, log, {
    name: `snapshotter-${driver}`,
    workers: 2,
    component: `csi-snapshotter ${driver}`,
    reconcile: (key) => sync(key),
  });
  ctl.watch(inf.vsc).watch(inf.cls, () => undefined);
  const timeoutMs = o.timeoutMs ?? 60_000;

  async function setError(c: Any, message: string): Promise<void> {
    await contents.patchStatus(c.metadata.name, { status: { error: { message, time: metaTime() }, readyToUse: false } });
    await ctl.recordEvent(c, "Warning", "SnapshotCreationFailed", message);
  }

  async function sync(name: string): Promise<{ requeueAfterMs?: number } | void> {
    const c = inf.vsc.get(name);
    if (!c || c.spec?.driver !== driver) return;
    const handle: string | undefined = c.status?.snapshotHandle ?? c.spec?.source?.snapshotHandle;
    if (c.metadata?.deletionTimestamp) {
      if (!(c.metadata.finalizers ?? []).includes(KubeFinalizers.ContentBound)) return;
      if ((c.spec?.deletionPolicy ?? "Delete") === "Delete" && handle) {
        try {
          await o.driver.csi.call("Controller", "DeleteSnapshot", { snapshot_id: handle }, { timeoutMs });
        } catch (e) {
          if ((e as HwError).code !== "NOT_FOUND") {
            await setError(c, `failed to delete snapshot ${handle}: ${rpcError(e)}`);
            throw e;
          }
        }
        log.info({ content: name, snapshot: handle }, "snapshot deleted");
      }
      await contents.removeFinalizer(name, KubeFinalizers.ContentBound);
      return;
    }
    if (c.status?.readyToUse && c.status?.snapshotHandle) return;
    let snap: CsiSnapshot | undefined;
    try {
      if (c.spec?.source?.volumeHandle) {
        const cls = c.spec?.volumeSnapshotClassName ? inf.cls.getByName(c.spec.volumeSnapshotClassName) : undefined;
        const uid = c.spec?.volumeSnapshotRef?.uid;
        if (!uid) return; // the snapshot controller fills the reference first
        const res = await o.driver.csi.call<{ snapshot: CsiSnapshot }>(
          "Controller",
          "CreateSnapshot",
          { source_volume_id: c.spec.source.volumeHandle, name: `snapshot-${uid}`, parameters: snapshotParameters(cls?.parameters, c) },
          { timeoutMs },
        );
        snap = res.snapshot;
      } else if (c.spec?.source?.snapshotHandle) {
        const res = await o.driver.csi.call<{ entries?: Array<{ snapshot: CsiSnapshot }> }>(
          "Controller",
          "ListSnapshots",
          { snapshot_id: c.spec.source.snapshotHandle },
          { timeoutMs },
        );
        snap = res.entries?.[0]?.snapshot;
        if (!snap) {
          await setError(c, `snapshot ${c.spec.source.snapshotHandle} does not exist in driver ${driver}: fix spec.source.snapshotHandle`);
          throw new Error(`content ${name}: snapshot ${c.spec.source.snapshotHandle} not found`);
        }
      } else {
        await setError(c, "spec.source needs volumeHandle or snapshotHandle");
        return;
      }
    } catch (e) {
      if ((e as HwError).code) await setError(c, `failed to take snapshot of the volume ${c.spec?.source?.volumeHandle ?? ""}: ${rpcError(e)}`);
      throw e;
    }
    await contents.patchStatus(name, { status: contentStatus(snap) });
    if (!snap.ready_to_use) return { requeueAfterMs: 2000 };
    log.info({ content: name, snapshot: snap.snapshot_id }, "snapshot ready");
  }

  return { controller: ctl, start: () => ctl.start(), stop: () => ctl.stop() };
}
