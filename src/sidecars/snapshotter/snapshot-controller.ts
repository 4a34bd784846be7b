// The snapshot controller (external-snapshotter's common controller, driver-agnostic): VolumeSnapshot →
// VolumeSnapshotContent, status back from the content, deletion by the content's deletionPolicy.
// - Dynamic (spec.source.persistentVolumeClaimName): the claim must be Bound to a CSI PV; the class is
//   spec.volumeSnapshotClassName or the driver's default (annotation snapshot.storage.kubernetes.io/is-default-class,
//   written back into the snapshot's spec as upstream); the content is `snapcontent-<snapshot uid>` with
//   source.volumeHandle, the class's driver and deletionPolicy, and volumeSnapshotRef; the sidecar
//   (snapshotter.ts) takes the snapshot.
// - Pre-provisioned (spec.source.volumeSnapshotContentName): bound when the content's volumeSnapshotRef names
//   this snapshot.
// - Status: boundVolumeSnapshotContentName, readyToUse, restoreSize (quantity), creationTime (RFC 3339),
//   error; Events CreatingSnapshot, SnapshotCreated, SnapshotReady, SnapshotContentCreationFailed as upstream.
// - Finalizers: the snapshot carries volumesnapshot-as-source-protection (kept while a claim being
//   provisioned uses it as a data source) and volumesnapshot-bound-protection; the content carries
//   volumesnapshotcontent-bound-protection. Deleting a snapshot: Delete policy → the content is annotated
//   volumesnapshot-being-deleted and deleted (the sidecar calls DeleteSnapshot and drops the content's
//   finalizer); Retain → the content's finalizer is dropped and the content stays.
// Bad input (no such claim, claim not bound, unknown class) → status.error + a Warning Event naming the fix;
// nothing is created; it converges once fixed (the claim and class informers requeue the snapshot).

import type { Pv, Pvc } from "../../api/core.ts";
import { KubeAnnotations, KubeFinalizers } from "../../api/names.ts";

import { Controller } from "../../kube/controller.ts";
import { roleInformers, type RoleOptions } from "../../kube/informer-factory.ts";
import { PV, PVC, VOLUME_SNAPSHOT, VOLUME_SNAPSHOT_CLASS, VOLUME_SNAPSHOT_CONTENT, metaTime } from "../../kube/resources.ts";
import { isNotFound } from "../../kube/transport.ts";
import { objectKey, type KubeObject } from "../../kube/types.ts";
import { bytesQuantity, SIDECAR_RESYNC_MS, sidecarController } from "../common.ts";

type Any = any; // snapshot kinds have no shape in src/api yet
export const contentNameOf = (vs: Any) => `snapcontent-${vs.metadata?.uid}`;

/** Nanoseconds since the epoch (content status) → RFC 3339 (snapshot status). */
export const nsToTime = (ns: number | string | undefined) =>
  ns === undefined || ns === null ? undefined : new Date(Number(BigInt(ns) / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, "Z");

export function snapshotController(o: RoleOptions) {
  const { log, f } = roleInformers(o, SIDECAR_RESYNC_MS);
  const snaps = o.client.forKind<Any>(VOLUME_SNAPSHOT);
  const contents = o.client.forKind<Any>(VOLUME_SNAPSHOT_CONTENT);
  const inf = {
    vs: f.for<Any>(VOLUME_SNAPSHOT),
    vsc: f.for<Any>(VOLUME_SNAPSHOT_CONTENT),
    cls: f.for<Any>(VOLUME_SNAPSHOT_CLASS),
    pvc: f.for<Pvc & KubeObject>(PVC),
    pv: f.for<Pv & KubeObject>(PV),
  };
  const ctl: Controller = sidecarController(o.client, log, {
    name: "snapshot-controller",
    workers: 2,
    component: "snapshot-controller",
    reconcile: (key) => sync(key),
  });
  const pending = () =>
    inf.vs
      .list()
      .filter((v) => !v.status?.boundVolumeSnapshotContentName || !v.status?.readyToUse)
      .map(objectKey);
  ctl
    .watch(inf.vs)
    .watch(inf.vsc, (c) => (c.spec?.volumeSnapshotRef?.name ? `${c.spec.volumeSnapshotRef.namespace}/${c.spec.volumeSnapshotRef.name}` : undefined))
    .watch(inf.cls, pending)
    .watch(inf.pvc, (c) => {
      const ns = c.metadata?.namespace;
      const src = [c.spec?.dataSourceRef, c.spec?.dataSource].filter((d) => d?.kind === "VolumeSnapshot").map((d) => `${ns}/${d!.name}`);
      const asSource = inf.vs
        .list()
        .filter((v) => v.metadata?.namespace === ns && v.spec?.source?.persistentVolumeClaimName === c.metadata?.name)
        .map(objectKey);
      return [...src, ...asSource];
    })
    .watch(inf.pv, () => undefined);

  async function fail(vs: Any, message: string): Promise<void> {
    if (vs.status?.error?.message !== message) {
      await ctl.recordEvent(vs, "Warning", "SnapshotContentCreationFailed", message);
      await snaps.patchStatus(vs.metadata.name, { status: { error: { message, time: metaTime() }, readyToUse: false } }, { namespace: vs.metadata.namespace });
    }
    throw new Error(message);
  }

  async function sync(key: string): Promise<void> {
    const vs = inf.vs.get(key);
    const [ns, name] = key.split("/") as [string, string];
    if (!vs) {
      // Gone: an orphaned dynamic content follows its deletion policy.
      for (const c of inf.vsc.list().filter((x) => x.spec?.volumeSnapshotRef?.namespace === ns && x.spec?.volumeSnapshotRef?.name === name))
        await releaseContent(c);
      return;
    }
    const contentName: string | undefined =
      vs.status?.boundVolumeSnapshotContentName ??
      vs.spec?.source?.volumeSnapshotContentName ??
      (inf.vsc.getByName(contentNameOf(vs)) ? contentNameOf(vs) : undefined);
    const content = contentName ? inf.vsc.getByName(contentName) : undefined;

    if (vs.metadata?.deletionTimestamp) {
      const inUse = inf.pvc
        .list()
        .some(
          (c) =>
            c.metadata?.namespace === ns &&
            !c.spec?.volumeName &&
            [c.spec?.dataSourceRef, c.spec?.dataSource].some((d) => d?.kind === "VolumeSnapshot" && d.name === name),
        );
      if (inUse) {
        log.info({ snapshot: key }, "snapshot is the data source of a claim being provisioned: deletion waits");
        return;
      }
      if (content && content.spec?.volumeSnapshotRef?.uid === vs.metadata?.uid) await releaseContent(content);
      for (const f of [KubeFinalizers.SnapshotAsSource, KubeFinalizers.SnapshotBound]) await snaps.removeFinalizer(name, f, ns);
      return;
    }
    for (const f of [KubeFinalizers.SnapshotAsSource, KubeFinalizers.SnapshotBound]) {
      if (!(vs.metadata?.finalizers ?? []).includes(f)) {
        await snaps.addFinalizer(name, f, ns);
        return;
      }
    }

    if (!content) {
      if (vs.spec?.source?.volumeSnapshotContentName)
        return fail(vs, `VolumeSnapshotContent ${vs.spec.source.volumeSnapshotContentName} not found: create it or use spec.source.persistentVolumeClaimName`);
      await createContent(vs);
      return;
    }
    const ref = content.spec?.volumeSnapshotRef;
    if (ref?.name !== name || ref?.namespace !== ns || (ref?.uid && ref.uid !== vs.metadata?.uid)) {
      return fail(
        vs,
        `VolumeSnapshotContent ${content.metadata.name} is bound to another snapshot (${ref?.namespace}/${ref?.name}); its spec.volumeSnapshotRef must name ${key}`,
      );
    }
    if (!ref.uid) {
      await contents.patch(content.metadata.name, { spec: { volumeSnapshotRef: { uid: vs.metadata?.uid } } });
      return;
    }
    if (!(content.metadata?.finalizers ?? []).includes(KubeFinalizers.ContentBound))
      await contents.addFinalizer(content.metadata.name, KubeFinalizers.ContentBound);
    await syncStatus(vs, content);
  }

  async function createContent(vs: Any): Promise<void> {
    const ns = vs.metadata.namespace;
    const claimName = vs.spec?.source?.persistentVolumeClaimName;
    if (!claimName) return fail(vs, "spec.source needs persistentVolumeClaimName or volumeSnapshotContentName");
    const prefix = `failed to get input parameters to create snapshot ${vs.metadata.name}`;
    const pvc = inf.pvc.getByName(claimName, ns);
    if (!pvc) return fail(vs, `${prefix}: persistentvolumeclaim "${claimName}" not found: create it or fix spec.source.persistentVolumeClaimName`);
    if (pvc.status?.phase !== "Bound" || !pvc.spec?.volumeName)
      return fail(vs, `${prefix}: the PVC ${claimName} is not yet bound to a PV, will not attempt to take a snapshot`);
    const pv = inf.pv.getByName(pvc.spec.volumeName);
    const driver = pv?.spec?.csi?.driver;
    if (!driver) return fail(vs, `${prefix}: volume ${pvc.spec.volumeName} of claim ${claimName} is not a CSI volume`);
    let cls: Any | undefined;
    const className: string | undefined = vs.spec?.volumeSnapshotClassName;
    if (className) {
      cls = inf.cls.getByName(className);
      if (!cls)
        return fail(
          vs,
          `${prefix}: volumesnapshotclass.snapshot.storage.k8s.io "${className}" not found: create it or set spec.volumeSnapshotClassName to an existing class`,
        );
      if (cls.driver !== driver) return fail(vs, `${prefix}: VolumeSnapshotClass ${className} is for driver ${cls.driver}, the volume's driver is ${driver}`);
    } else {
      const defaults = inf.cls.list().filter((c) => c.driver === driver && c.metadata?.annotations?.[KubeAnnotations.IsDefaultSnapshotClass] === "true");
      if (defaults.length !== 1)
        return fail(
          vs,
          `${prefix}: ${defaults.length ? "more than one" : "cannot find a"} default snapshot class for snapshot ${vs.metadata.name} (driver ${driver}): set spec.volumeSnapshotClassName`,
        );
      cls = defaults[0]!;
      await snaps.patch(vs.metadata.name, { spec: { volumeSnapshotClassName: cls.metadata.name } }, { namespace: ns });
      return; // the update brings it back
    }
    const contentName = contentNameOf(vs);
    try {
      await contents.create({
        apiVersion: "snapshot.storage.k8s.io/v1",
        kind: "VolumeSnapshotContent",
        metadata: { name: contentName, finalizers: [KubeFinalizers.ContentBound] },
        spec: {
          volumeSnapshotRef: {
            kind: "VolumeSnapshot",
            apiVersion: "snapshot.storage.k8s.io/v1",
            namespace: ns,
            name: vs.metadata.name,
            uid: vs.metadata.uid,
            resourceVersion: vs.metadata.resourceVersion,
          },
          source: { volumeHandle: pv!.spec!.csi!.volumeHandle },
          volumeSnapshotClassName: cls.metadata.name,
          driver,
          deletionPolicy: cls.deletionPolicy ?? "Delete",
        },
      });
    } catch (e) {
      if ((e as { code?: string }).code !== "ALREADY_EXISTS") throw e;
    }
    await snaps.patchStatus(vs.metadata.name, { status: { boundVolumeSnapshotContentName: contentName, readyToUse: false, error: null } }, { namespace: ns });
    await ctl.recordEvent(vs, "Normal", "CreatingSnapshot", `Waiting for a snapshot ${ns}/${vs.metadata.name} to be created by the CSI driver.`);
    log.info({ snapshot: `${ns}/${vs.metadata.name}`, content: contentName }, "VolumeSnapshotContent created");
  }

  async function syncStatus(vs: Any, content: Any): Promise<void> {
    const cs = content.status ?? {};
    const next: Record<string, any> = {
      boundVolumeSnapshotContentName: content.metadata.name,
      readyToUse: !!cs.readyToUse,
      ...(cs.creationTime !== undefined ? { creationTime: nsToTime(cs.creationTime) } : {}),
      ...(cs.restoreSize !== undefined ? { restoreSize: bytesQuantity(Number(cs.restoreSize)) } : {}),
      error: cs.error ?? null,
    };
    const cur = vs.status ?? {};
    const same = Object.entries(next).every(([k, v]) => JSON.stringify(cur[k] ?? null) === JSON.stringify(v ?? null));
    if (same) return;
    await snaps.patchStatus(vs.metadata.name, { status: next }, { namespace: vs.metadata.namespace });
    const id = `${vs.metadata.namespace}/${vs.metadata.name}`;
    if (next.creationTime && !cur.creationTime)
      await ctl.recordEvent(vs, "Normal", "SnapshotCreated", `Snapshot ${id} was successfully created by the CSI driver.`);
    if (next.readyToUse && !cur.readyToUse) await ctl.recordEvent(vs, "Normal", "SnapshotReady", `Snapshot ${id} is ready to use.`);
  }

  /** The snapshot is going: Delete → the content goes (the sidecar deletes the snapshot first); Retain → it stays, unprotected. */
  async function releaseContent(c: Any): Promise<void> {
    const name = c.metadata.name;
    if ((c.spec?.deletionPolicy ?? "Delete") === "Delete") {
      if (c.metadata?.annotations?.[KubeAnnotations.SnapshotBeingDeleted] !== "yes") {
        await contents.patch(name, { metadata: { annotations: { [KubeAnnotations.SnapshotBeingDeleted]: "yes" } } });
      }
      if (!c.metadata?.deletionTimestamp) {
        try {
          await contents.delete(name);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      return;
    }
    await contents.removeFinalizer(name, KubeFinalizers.ContentBound);
  }

  return { controller: ctl, start: () => ctl.start(), stop: () => ctl.stop() };
}
