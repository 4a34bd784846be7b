// `hwameictl sc list | add <name> [flags] | delete <name>` (reference §9): HwameiStor StorageClasses.
// add takes the original's flags and defaults; two of its quirks are fixed (docs/compatibility.md): the filesystem
// goes to `csi.storage.k8s.io/fstype` (the original writes `fstype`, which the driver ignores) and `--diskType`
// sets the disk driver's `diskType` (the original binds it to the volumeKind variable).
import type { Command } from "commander";
import { HwError, invalid } from "../../../api/errors.ts";
import { Drivers, ScDefaults, ScParams, ScParamValues, isPoolClass } from "../../../api/names.ts";
import type { View } from "../../print.ts";
import { assertObjectName, driverShort, type Ctl, type Sc } from "../context.ts";

export interface ScAddFlags {
  provisioner: string;
  convertible: string;
  striped: string;
  replicaNumber: string;
  fstype: string;
  poolClass: string;
  poolType: string;
  volumeKind: string;
  diskType?: string;
  iops?: string;
  throughput?: string;
}

const scColumns = [
  { header: "name", value: (s: Sc) => s.metadata?.name },
  { header: "provisioner", value: (s: Sc) => s.provisioner },
  { header: "pool", value: (s: Sc) => s.parameters?.[ScParams.PoolClass] ?? s.parameters?.[ScParams.DiskType] },
  { header: "replicas", value: (s: Sc) => s.parameters?.[ScParams.ReplicaNumber] },
  { header: "convertible", value: (s: Sc) => s.parameters?.[ScParams.Convertible] },
  { header: "fstype", value: (s: Sc) => s.parameters?.[ScParams.FsType] ?? s.parameters?.[ScParams.HwameictlFsType] },
  { header: "reclaim", value: (s: Sc) => s.reclaimPolicy },
  { header: "binding", value: (s: Sc) => s.volumeBindingMode, wide: true },
  { header: "expansion", value: (s: Sc) => !!s.allowVolumeExpansion, wide: true },
];

export async function listStorageClasses(ctl: Ctl): Promise<View> {
  const items = (await ctl.sc.list()).items.filter((s) => driverShort(s.provisioner)).sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  return { sections: [{ columns: scColumns, rows: items, empty: "No HwameiStor StorageClasses." }], data: items };
}

const bool = (v: string, flag: string): string => {
  if (v !== "true" && v !== "false") throw invalid(`${flag} ${JSON.stringify(v)} is not true or false`);
  return v;
};
const posInt = (v: string, flag: string): string => {
  if (!/^[1-9][0-9]*$/.test(v)) throw invalid(`${flag} ${JSON.stringify(v)} is not a positive integer`);
  return v;
};

/** The StorageClass `sc add` creates (pure; every flag validated before anything is written). */
export function storageClassFor(name: string, f: ScAddFlags): Sc {
  assertObjectName(name, "StorageClass");
  if (!driverShort(f.provisioner)) throw invalid(`--provisioner ${JSON.stringify(f.provisioner)} is not ${Drivers.Lvm} or ${Drivers.Disk}`);
  if (!["xfs", "ext4"].includes(f.fstype)) throw invalid(`--fstype ${JSON.stringify(f.fstype)} is not xfs or ext4`);
  const params: Record<string, string> = { [ScParams.FsType]: f.fstype };
  if (f.provisioner === Drivers.Lvm) {
    if (!isPoolClass(f.poolClass)) throw invalid(`--poolClass ${JSON.stringify(f.poolClass)} is not HDD, SSD or NVMe`);
    if (!["1", "2"].includes(f.replicaNumber)) throw invalid(`--replicaNumber ${JSON.stringify(f.replicaNumber)} is not 1 or 2`);
    if (f.poolType !== ScParamValues.PoolTypeRegular) throw invalid(`--poolType ${JSON.stringify(f.poolType)}: only ${ScParamValues.PoolTypeRegular} exists`);
    if (f.volumeKind !== ScParamValues.VolumeKindLvm) throw invalid(`--volumeKind ${JSON.stringify(f.volumeKind)}: only ${ScParamValues.VolumeKindLvm} exists`);
    Object.assign(params, {
      [ScParams.PoolClass]: f.poolClass,
      [ScParams.PoolType]: f.poolType,
      [ScParams.VolumeKind]: f.volumeKind,
      [ScParams.ReplicaNumber]: f.replicaNumber,
      [ScParams.Convertible]: bool(f.convertible, "--convertible"),
      [ScParams.Striped]: bool(f.striped, "--striped"),
    });
    if (f.iops) params[ScParams.ProvisionIopsOnCreation] = posInt(f.iops, "--iops");
    if (f.throughput) params[ScParams.ProvisionThroughputOnCreation] = posInt(f.throughput, "--throughput");
  } else {
    const t = f.diskType ?? f.poolClass;
    if (!isPoolClass(t)) throw invalid(`--diskType ${JSON.stringify(t)} is not HDD, SSD or NVMe`);
    params[ScParams.DiskType] = t;
    if (f.iops || f.throughput) throw invalid("--iops and --throughput apply to lvm.hwameistor.io volumes only");
  }
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name },
    provisioner: f.provisioner,
    parameters: params,
    reclaimPolicy: "Delete",
    allowVolumeExpansion: f.provisioner === Drivers.Lvm ? ScDefaults.AllowVolumeExpansion : false,
    volumeBindingMode: ScDefaults.VolumeBindingMode,
  };
}

export async function addStorageClass(ctl: Ctl, name: string, f: ScAddFlags): Promise<View> {
  const want = storageClassFor(name, f);
  if (await ctl.sc.get(name))
    throw new HwError("ALREADY_EXISTS", "AlreadyExists", `StorageClass ${name} exists`, {
      hint: `hwameictl sc delete ${name} first (StorageClass parameters cannot change)`,
    });
  const created = await ctl.sc.create(want);
  return { sections: [{ columns: scColumns, rows: [created] }], data: created };
}

export async function deleteStorageClass(ctl: Ctl, name: string): Promise<View> {
  await ctl.requireStorageClass(name);
  await ctl.sc.delete(name);
  return { text: `StorageClass ${name} deleted`, data: { deleted: name } };
}

export function registerStorageClassCommands(program: Command, ctl: () => Ctl): void {
  const sc = program.command("sc").description("HwameiStor StorageClasses: list, add, delete");
  sc.command("list")
    .description("list the StorageClasses of lvm.hwameistor.io and disk.hwameistor.io")
    .action(async () => {
      const c = ctl();
      c.print(await listStorageClasses(c));
    });
  sc.command("add <name>")
    .description("create a StorageClass (the original's flags and defaults)")
    .option("--provisioner <driver>", "lvm.hwameistor.io | disk.hwameistor.io", Drivers.Lvm)
    .option("--convertible <bool>", "the volume can later become HA", ScDefaults.Convertible)
    .option("--striped <bool>", "stripe over the pool's disks", ScDefaults.Striped)
    .option("--replicaNumber <n>", "1 or 2", ScDefaults.ReplicaNumber)
    .option("--fstype <fs>", "xfs | ext4", ScDefaults.FsType)
    .option("--poolClass <class>", "HDD | SSD | NVMe", "HDD")
    .option("--poolType <type>", "REGULAR", ScParamValues.PoolTypeRegular)
    .option("--volumeKind <kind>", "LVM", ScParamValues.VolumeKindLvm)
    .option("--diskType <type>", "disk.hwameistor.io: HDD | SSD | NVMe (default --poolClass)")
    .option("--iops <n>", "IO limit: IOPS at creation (provision-iops-on-creation)")
    .option("--throughput <n>", "IO limit: bytes/s at creation (provision-throughput-on-creation)")
    .action(async (name: string, f: ScAddFlags) => {
      const c = ctl();
      c.print(await addStorageClass(c, name, f));
    });
  sc.command("delete <name>")
    .description("delete a HwameiStor StorageClass")
    .action(async (name: string) => {
      const c = ctl();
      c.print(await deleteStorageClass(c, name));
    });
}
