// `hwameictl vsc list | add <name> [--snapsize N] | delete <name>` (reference §9): VolumeSnapshotClasses of
// lvm.hwameistor.io (snapshot.storage.k8s.io/v1).
import type { Command } from "commander";
import { HwError, invalid, notFound } from "../../../api/errors.ts";
import { Drivers, SnapshotClassParams } from "../../../api/names.ts";
import { VOLUME_SNAPSHOT_CLASS } from "../../../kube/resources.ts";
import type { KubeObject } from "../../../kube/types.ts";
import type { View } from "../../print.ts";
import { assertObjectName, type Ctl } from "../context.ts";

type Vsc = KubeObject & { driver?: string; deletionPolicy?: string; parameters?: Record<string, string> };
const vscClient = (ctl: Ctl) => ctl.client.forKind<Vsc>(VOLUME_SNAPSHOT_CLASS);
const columns = [
  { header: "name", value: (v: Vsc) => v.metadata?.name },
  { header: "driver", value: (v: Vsc) => v.driver },
  { header: "deletion policy", value: (v: Vsc) => v.deletionPolicy },
  { header: "snapsize", value: (v: Vsc) => v.parameters?.[SnapshotClassParams.SnapSize] ?? "" },
];

export async function listVsc(ctl: Ctl): Promise<View> {
  const items = (await vscClient(ctl).list()).items.filter((v) => v.driver === Drivers.Lvm).sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  return { sections: [{ columns, rows: items, empty: "No HwameiStor VolumeSnapshotClasses." }], data: items };
}

export async function addVsc(ctl: Ctl, name: string, snapsize?: string): Promise<View> {
  assertObjectName(name, "VolumeSnapshotClass");
  if (snapsize !== undefined && !/^[1-9][0-9]*$/.test(snapsize)) throw invalid(`--snapsize ${JSON.stringify(snapsize)} is not a positive number of bytes`);
  const c = vscClient(ctl);
  if (await c.get(name)) throw new HwError("ALREADY_EXISTS", "AlreadyExists", `VolumeSnapshotClass ${name} exists`);
  const created = await c.create({
    apiVersion: "snapshot.storage.k8s.io/v1",
    kind: "VolumeSnapshotClass",
    metadata: { name },
    driver: Drivers.Lvm,
    deletionPolicy: "Delete",
    ...(snapsize ? { parameters: { [SnapshotClassParams.SnapSize]: snapsize } } : {}),
  });
  return { sections: [{ columns, rows: [created] }], data: created };
}

export async function deleteVsc(ctl: Ctl, name: string): Promise<View> {
  const c = vscClient(ctl);
  if (!(await c.get(name))) throw notFound(`VolumeSnapshotClass ${JSON.stringify(name)}`, "hwameictl vsc list shows them");
  await c.delete(name);
  return { text: `VolumeSnapshotClass ${name} deleted`, data: { deleted: name } };
}

export function registerVscCommands(program: Command, ctl: () => Ctl): void {
  const vsc = program.command("vsc").description("VolumeSnapshotClasses of lvm.hwameistor.io: list, add, delete");
  vsc
    .command("list")
    .description("list them")
    .action(async () => {
      const c = ctl();
      c.print(await listVsc(c));
    });
  vsc
    .command("add <name>")
    .description("create one")
    .option("--snapsize <bytes>", "snapshot size in bytes (parameter snapsize)")
    .action(async (name: string, o: { snapsize?: string }) => {
      const c = ctl();
      c.print(await addVsc(c, name, o.snapsize));
    });
  vsc
    .command("delete <name>")
    .description("delete one")
    .action(async (name: string) => {
      const c = ctl();
      c.print(await deleteVsc(c, name));
    });
}
