// `hwameictl vs …` (reference §9): Kubernetes VolumeSnapshots of HwameiStor volumes, namespaced (--ns, default
// "default"):
//   vs list [--ns]                                   VolumeSnapshots and their readiness
//   vs add <vs> --vsc <class> --pvc <pvc> [--ns]     a VolumeSnapshot of a PVC (the snapshot controller and the
//                                                    csi-snapshotter then call CreateSnapshot)
//   vs delete <vs> [--ns]
//   vs restore <vs> --pvc <new> --storage <size> [--ns]   a new PVC with the snapshot as dataSource, in the source
//                                                    PVC's StorageClass (the provisioner restores into it)
//   vs rollback <vs> [--ns]                          the source volume returned to the snapshot: a
//                                                    LocalVolumeSnapshotRestore (rollback) of the bound snapshot
import type { Command } from "commander";
import { HwError, notFound } from "../../../api/errors.ts";
import { parseQuantity } from "../../../api/quantity.ts";
import { PVC, VOLUME_SNAPSHOT, VOLUME_SNAPSHOT_CLASS, VOLUME_SNAPSHOT_CONTENT } from "../../../kube/resources.ts";
import type { KubeObject } from "../../../kube/types.ts";
import type { View } from "../../print.ts";
import { assertObjectName, type Ctl } from "../context.ts";
import { rollbackSnapshot } from "../snapshot/rollback.ts";

type Vs = KubeObject & { spec?: any; status?: any };
const vsClient = (ctl: Ctl) => ctl.client.forKind<Vs>(VOLUME_SNAPSHOT);
const columns = [
  { header: "namespace", value: (v: Vs) => v.metadata?.namespace },
  { header: "name", value: (v: Vs) => v.metadata?.name },
  { header: "pvc", value: (v: Vs) => v.spec?.source?.persistentVolumeClaimName },
  { header: "class", value: (v: Vs) => v.spec?.volumeSnapshotClassName },
  { header: "ready", value: (v: Vs) => !!v.status?.readyToUse },
  { header: "content", value: (v: Vs) => v.status?.boundVolumeSnapshotContentName ?? "", wide: true },
  { header: "size", value: (v: Vs) => v.status?.restoreSize ?? "" },
];

async function requireVs(ctl: Ctl, name: string, ns: string): Promise<Vs> {
  const v = await vsClient(ctl).get(name, ns);
  if (v) return v;
  const names = (await vsClient(ctl).list({ namespace: ns })).items.map((x) => x.metadata!.name!).sort();
  throw notFound(
    `VolumeSnapshot ${ns}/${name}`,
    names.length ? `the VolumeSnapshots of ${ns} are: ${names.join(", ")}` : `namespace ${ns} has no VolumeSnapshots`,
  );
}

export async function listVs(ctl: Ctl, ns?: string): Promise<View> {
  const items = (await vsClient(ctl).list(ns ? { namespace: ns } : {})).items;
  return { sections: [{ columns, rows: items, empty: "No VolumeSnapshots." }], data: items };
}

export async function addVs(ctl: Ctl, name: string, o: { vsc: string; pvc: string; ns: string }): Promise<View> {
  assertObjectName(name, "VolumeSnapshot");
  if (!(await ctl.client.forKind(VOLUME_SNAPSHOT_CLASS).get(o.vsc)))
    throw notFound(`VolumeSnapshotClass ${JSON.stringify(o.vsc)}`, "hwameictl vsc list shows them; hwameictl vsc add creates one");
  if (!(await ctl.client.forKind(PVC).get(o.pvc, o.ns))) throw notFound(`PersistentVolumeClaim ${o.ns}/${o.pvc}`, "the PVC to snapshot must exist in --ns");
  if (await vsClient(ctl).get(name, o.ns)) throw new HwError("ALREADY_EXISTS", "AlreadyExists", `VolumeSnapshot ${o.ns}/${name} exists`);
  const created = await vsClient(ctl).create(
    {
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: { name, namespace: o.ns },
      spec: { volumeSnapshotClassName: o.vsc, source: { persistentVolumeClaimName: o.pvc } },
    },
    o.ns,
  );
  return { sections: [{ columns, rows: [created] }], data: created };
}

export async function deleteVs(ctl: Ctl, name: string, ns: string): Promise<View> {
  await requireVs(ctl, name, ns);
  await vsClient(ctl).delete(name, ns);
  return { text: `VolumeSnapshot ${ns}/${name} deleted`, data: { deleted: `${ns}/${name}` } };
}

export async function restoreVs(ctl: Ctl, name: string, o: { pvc: string; storage: string; ns: string }): Promise<View> {
  assertObjectName(o.pvc, "PersistentVolumeClaim");
  parseQuantity(o.storage, "--storage");
  const vs = await requireVs(ctl, name, o.ns);
  const pvcs = ctl.client.forKind<Vs>(PVC);
  const src = vs.spec?.source?.persistentVolumeClaimName ? await pvcs.get(vs.spec.source.persistentVolumeClaimName, o.ns) : undefined;
  if (!src) throw new HwError("FAILED_PRECONDITION", "SourceGone", `the source PVC of VolumeSnapshot ${o.ns}/${name} is gone; its StorageClass is unknown`);
  if (await pvcs.get(o.pvc, o.ns)) throw new HwError("ALREADY_EXISTS", "AlreadyExists", `PersistentVolumeClaim ${o.ns}/${o.pvc} exists`);
  const created = await pvcs.create(
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: o.pvc, namespace: o.ns },
      spec: {
        storageClassName: src.spec?.storageClassName,
        accessModes: src.spec?.accessModes ?? ["ReadWriteOnce"],
        resources: { requests: { storage: o.storage } },
        dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name },
      },
    },
    o.ns,
  );
  return { text: `PersistentVolumeClaim ${o.ns}/${o.pvc} created from VolumeSnapshot ${name}`, data: created };
}

export async function rollbackVs(ctl: Ctl, name: string, ns: string): Promise<View> {
  const vs = await requireVs(ctl, name, ns);
  const contentName = vs.status?.boundVolumeSnapshotContentName;
  const content = contentName ? await ctl.client.forKind<Vs>(VOLUME_SNAPSHOT_CONTENT).get(contentName) : undefined;
  const handle = content?.status?.snapshotHandle as string | undefined;
  if (!handle)
    throw new HwError("FAILED_PRECONDITION", "NotReady", `VolumeSnapshot ${ns}/${name} is not bound to a snapshot yet`, {
      hint: "wait until hwameictl vs list shows it ready",
    });
  return rollbackSnapshot(ctl, handle);
}

export function registerVsCommands(program: Command, ctl: () => Ctl): void {
  const vs = program.command("vs").description("VolumeSnapshots of HwameiStor volumes: list, add, delete, restore, rollback");
  vs.command("list")
    .description("list VolumeSnapshots")
    .option("--ns <namespace>", "only this namespace")
    .action(async (o: { ns?: string }) => {
      const c = ctl();
      c.print(await listVs(c, o.ns));
    });
  vs.command("add <vs>")
    .description("snapshot a PVC")
    .requiredOption("--vsc <class>", "VolumeSnapshotClass")
    .requiredOption("--pvc <pvc>", "the PVC")
    .option("--ns <namespace>", "namespace", "default")
    .action(async (name: string, o: { vsc: string; pvc: string; ns: string }) => {
      const c = ctl();
      c.print(await addVs(c, name, o));
    });
  vs.command("delete <vs>")
    .description("delete a VolumeSnapshot")
    .option("--ns <namespace>", "namespace", "default")
    .action(async (name: string, o: { ns: string }) => {
      const c = ctl();
      c.print(await deleteVs(c, name, o.ns));
    });
  vs.command("restore <vs>")
    .description("a new PVC from the snapshot")
    .requiredOption("--pvc <name>", "the new PVC")
    .requiredOption("--storage <size>", "its size, e.g. 1Gi")
    .option("--ns <namespace>", "namespace", "default")
    .action(async (name: string, o: { pvc: string; storage: string; ns: string }) => {
      const c = ctl();
      c.print(await restoreVs(c, name, o));
    });
  vs.command("rollback <vs>")
    .description("return the source volume to the snapshot (it must not be mounted)")
    .option("--ns <namespace>", "namespace", "default")
    .action(async (name: string, o: { ns: string }) => {
      const c = ctl();
      c.print(await rollbackVs(c, name, o.ns));
    });
}
