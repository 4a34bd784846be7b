// `hwameictl volume migrate|convert|expand` as the original's (reference §9), each with `abort <vol>` and `list`:
//   volume migrate <vol> <srcNode> [targetNode] [need|forbid]   → LocalVolumeMigrate migrate-<vol>
//   volume convert <vol>                                        → LocalVolumeConvert convert-<vol> (replicaNumber 2)
//   volume expand <vol> <targetCapacity>  (or --size)           → expand.ts (CSI ControllerExpandVolume + node grow)
//   volume <op> abort <vol>  → spec.abort = true on the operation;  volume <op> list → the operations, their states
// As in the original (cobra subcommands win), a volume literally named "abort" or "list" cannot be given to these verbs.
// The migrate controller acts on migrations (docs/migration.md); convert by src/controller/convert/ (docs/replication.md).
// Nothing here reports progress that is not in the resource's status.

import type { Command } from "commander";
import { HwError, invalid, notFound } from "../../../api/errors.ts";
import { localVolumeConvertKind } from "../../../api/kinds/local-volume-convert.ts";
import { localVolumeExpandKind } from "../../../api/kinds/local-volume-expand.ts";
import { localVolumeMigrateKind } from "../../../api/kinds/local-volume-migrate.ts";
import { AnnotationValues, Annotations, ObjectNames } from "../../../api/names.ts";
import type { LocalVolumeConvertObject, LocalVolumeMigrateObject } from "../../../kube/hwameistor.ts";
import type { ResourceClient } from "../../../kube/client.ts";
import type { KubeObject } from "../../../kube/types.ts";
import type { Column, View } from "../../print.ts";
import type { Ctl, Lv } from "../context.ts";
import { expandVolume, type ExpandFlags } from "./expand.ts";

export type OpName = "migrate" | "convert" | "expand";
type Op = KubeObject & { spec?: any; status?: any };

const NOT_BUILT = (op: string) => (op === "migrate" ? "progress in its status (state, message)" : "its state follows in its status");

function opClient(ctl: Ctl, op: OpName): ResourceClient<Op> {
  const kind = op === "migrate" ? localVolumeMigrateKind : op === "convert" ? localVolumeConvertKind : localVolumeExpandKind;
  return ctl.client.forKind<Op>(kind);
}

/** The operation's object name, as the original names it. */
export const opObjectName = (op: OpName, volume: string): string =>
  op === "migrate" ? `${ObjectNames.MigratePrefix}${volume}` : op === "convert" ? `${ObjectNames.ConvertPrefix}${volume}` : volume;

async function requireLv(ctl: Ctl, name: string): Promise<Lv> {
  const lv = await ctl.c.lv.get(name);
  if (lv) return lv;
  const names = (await ctl.c.lv.list()).items.map((v) => v.metadata!.name!).sort();
  throw notFound(`volume ${JSON.stringify(name)} (LocalVolume)`, names.length ? `the LocalVolumes are: ${names.join(", ")}` : "there are no LocalVolumes");
}

export interface OpRow {
  kind: string;
  name: string;
  volume: string;
  state: string;
  source: string;
  target: string;
  abort: boolean;
  age: string;
  message: string;
}

const opRow = (op: OpName, o: Op): OpRow => ({
  kind: op,
  name: o.metadata?.name ?? "",
  volume: o.spec?.volumeName ?? "",
  state: o.status?.state ?? "",
  source: o.spec?.sourceNode ?? "",
  target:
    op === "migrate"
      ? o.status?.targetNode || (o.spec?.targetNodesSuggested ?? []).join(",")
      : op === "expand"
        ? String(o.spec?.requiredCapacityBytes ?? "")
        : String(o.spec?.replicaNumber ?? ""),
  abort: !!o.spec?.abort,
  age: o.metadata?.creationTimestamp ?? "",
  message: o.status?.message ?? "",
});

const opColumns = (op: OpName): Column<OpRow>[] => [
  { header: "name", value: (r) => r.name },
  { header: "volume", value: (r) => r.volume },
  ...(op === "migrate" ? [{ header: "source", value: (r: OpRow) => r.source }] : []),
  { header: op === "migrate" ? "target" : op === "expand" ? "required bytes" : "replicas", value: (r) => r.target },
  { header: "state", value: (r) => r.state || "(submitted)" },
  { header: "abort", value: (r) => r.abort },
  { header: "created", value: (r) => r.age },
  { header: "message", value: (r) => r.message, wide: true },
];

export async function listOperations(ctl: Ctl, op: OpName): Promise<View> {
  const items = (await opClient(ctl, op).list()).items.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  return { sections: [{ columns: opColumns(op), rows: items.map((o) => opRow(op, o)), empty: `No ${op} operations.` }], data: items };
}

export async function abortOperation(ctl: Ctl, op: OpName, volume: string): Promise<View> {
  const c = opClient(ctl, op);
  const name = opObjectName(op, volume);
  const cur = await c.get(name);
  if (!cur) {
    const names = (await c.list()).items.map((o) => o.metadata!.name!).sort();
    throw notFound(
      `${op} operation of volume ${volume} (${c.resource.kind} ${name})`,
      names.length ? `the ${op} operations are: ${names.join(", ")}` : `there is no ${op} operation`,
    );
  }
  if (["Completed", "Aborted"].includes(cur.status?.state ?? "")) {
    throw new HwError("FAILED_PRECONDITION", "OperationFinished", `${op} of volume ${volume} is already ${cur.status.state}; nothing to abort`);
  }
  const updated = cur.spec?.abort ? cur : await c.patch(name, { spec: { abort: true } });
  return {
    sections: [{ columns: opColumns(op), rows: [opRow(op, updated)] }],
    text: `abort requested for ${c.resource.kind} ${name}${op === "expand" ? "" : ` (${NOT_BUILT(op)})`}`,
    data: updated,
  };
}

export interface MigrateArgs {
  volume: string;
  sourceNode: string;
  targetNode?: string;
  affinity?: string;
}

export async function submitMigrate(ctl: Ctl, a: MigrateArgs): Promise<View> {
  const affinity = a.affinity ?? AnnotationValues.ReplicaAffinityNeed;
  if (![AnnotationValues.ReplicaAffinityNeed, AnnotationValues.ReplicaAffinityForbid].includes(affinity as "need")) {
    throw invalid(`replica affinity ${JSON.stringify(a.affinity)} is not need or forbid`, {
      hint: "hwameictl volume migrate <vol> <srcNode> [targetNode] [need|forbid]",
    });
  }
  const lv = await requireLv(ctl, a.volume);
  await ctl.requireNode(a.sourceNode);
  if (a.targetNode) await ctl.requireNode(a.targetNode);
  const replicaNodes = lv.spec?.accessibility?.nodes ?? [];
  if (replicaNodes.length && !replicaNodes.includes(a.sourceNode)) {
    throw new HwError(
      "FAILED_PRECONDITION",
      "NotOnSourceNode",
      `volume ${a.volume} has no replica on ${a.sourceNode}; its replicas are on ${replicaNodes.join(", ")}`,
    );
  }
  if (a.targetNode && a.targetNode === a.sourceNode) throw invalid(`target node ${a.targetNode} is the source node`);
  if (a.targetNode && replicaNodes.includes(a.targetNode)) {
    throw new HwError("FAILED_PRECONDITION", "AlreadyOnTarget", `volume ${a.volume} already has a replica on ${a.targetNode}`);
  }
  const body: LocalVolumeMigrateObject = {
    metadata: { name: opObjectName("migrate", a.volume), annotations: { [Annotations.ReplicaAffinity]: affinity } },
    spec: { volumeName: a.volume, sourceNode: a.sourceNode, targetNodesSuggested: a.targetNode ? [a.targetNode] : [], migrateAllVols: true, abort: false },
  } as LocalVolumeMigrateObject;
  return submit(ctl, "migrate", body);
}

export async function submitConvert(ctl: Ctl, volume: string): Promise<View> {
  const lv = await requireLv(ctl, volume);
  if ((lv.spec?.replicaNumber ?? 1) > 1)
    throw new HwError("FAILED_PRECONDITION", "AlreadyHA", `volume ${volume} already has ${lv.spec!.replicaNumber} replicas`);
  if (!lv.spec?.convertible) {
    throw new HwError("FAILED_PRECONDITION", "NotConvertible", `volume ${volume} is not convertible (spec.convertible is false)`, {
      hint: 'only volumes of a StorageClass with convertible: "true" can become HA',
    });
  }
  const body = {
    metadata: { name: opObjectName("convert", volume) },
    spec: { volumeName: volume, replicaNumber: 2, abort: false },
  } as LocalVolumeConvertObject;
  return submit(ctl, "convert", body);
}

async function submit(ctl: Ctl, op: OpName, body: Op): Promise<View> {
  const c = opClient(ctl, op);
  const name = body.metadata!.name!;
  const existing = await c.get(name);
  if (existing && !["Completed", "Aborted", "Failed"].includes(existing.status?.state ?? "")) {
    throw new HwError("ALREADY_EXISTS", "OperationInProgress", `${c.resource.kind} ${name} exists (state ${existing.status?.state || "submitted"})`, {
      hint: `hwameictl volume ${op} abort ${body.spec.volumeName} — or wait for it`,
    });
  }
  if (existing) await c.delete(name);
  const created = await c.create(body);
  return {
    sections: [{ columns: opColumns(op), rows: [opRow(op, created)] }],
    text: `${c.resource.kind} ${name} created; ${NOT_BUILT(op)}. Follow it with: hwameictl volume ${op} list`,
    data: created,
  };
}

export async function expandOp(ctl: Ctl, volume: string, size: string | undefined, f: Omit<ExpandFlags, "size"> & { size?: string }): Promise<View> {
  const want = size ?? f.size;
  if (!want) throw invalid("the target capacity is missing", { hint: "hwameictl volume expand <vol> <targetCapacity>, e.g. 2Gi (or --size 2Gi)" });
  if (size && f.size && size !== f.size) throw invalid(`two capacities given: ${size} and --size ${f.size}`);
  return expandVolume(ctl, volume, { ...f, size: want });
}

// ---------------------------------------------------------------- commander wiring

const dispatch = async (ctl: () => Ctl, op: OpName, first: string, rest: string[], run: (c: Ctl) => Promise<View>) => {
  const c = ctl();
  if (first === "list") {
    if (rest.length) throw invalid(`volume ${op} list takes no arguments`);
    return c.print(await listOperations(c, op));
  }
  if (first === "abort") {
    if (rest.length !== 1) throw invalid(`volume ${op} abort takes the volume's name`, { hint: `hwameictl volume ${op} abort <vol>` });
    return c.print(await abortOperation(c, op, rest[0]!));
  }
  c.print(await run(c));
};

export function registerVolumeOperations(volume: Command, ctl: () => Ctl): void {
  volume
    .command("migrate")
    .usage("<vol> <srcNode> [targetNode] [need|forbid] | abort <vol> | list")
    .description("move a volume's replica off srcNode (LocalVolumeMigrate migrate-<vol>); abort or list migrations")
    .argument("<vol>", "the volume, or abort | list")
    .argument("[args...]", "srcNode [targetNode] [need|forbid]")
    .action(async (first: string, args: string[]) =>
      dispatch(ctl, "migrate", first, args, (c) => {
        if (args.length < 1 || args.length > 3) throw invalid("volume migrate needs <vol> <srcNode> [targetNode] [need|forbid]");
        const [src, a2, a3] = args;
        const affinityOnly = a2 === AnnotationValues.ReplicaAffinityNeed || a2 === AnnotationValues.ReplicaAffinityForbid;
        return submitMigrate(c, { volume: first, sourceNode: src!, targetNode: affinityOnly ? undefined : a2, affinity: affinityOnly ? a2 : a3 });
      }),
    );
  volume
    .command("convert")
    .usage("<vol> | abort <vol> | list")
    .description("make a convertible volume HA, 2 replicas (LocalVolumeConvert convert-<vol>); abort or list conversions")
    .argument("<vol>", "the volume, or abort | list")
    .argument("[args...]")
    .action(async (first: string, args: string[]) =>
      dispatch(ctl, "convert", first, args, (c) => {
        if (args.length) throw invalid("volume convert takes only the volume's name");
        return submitConvert(c, first);
      }),
    );
  volume
    .command("expand")
    .usage("<vol> <targetCapacity> [options] | abort <vol> | list")
    .description("grow a volume (CSI ControllerExpandVolume, then NodeExpandVolume with --node/--path); abort or list expansions")
    .argument("<vol>", "the volume, or abort | list")
    .argument("[args...]", "targetCapacity, e.g. 2Gi")
    .option("--size <size>", "the new capacity (the original's positional <targetCapacity> also works)")
    .option("--no-wait", "submit the expansion and return at once")
    .option("--node <node>", "the node the volume is mounted on (with --path: grow the filesystem online)")
    .option("--path <dir>", "the volume's mount point on --node")
    .option("--csi-socket <path>", "the driver's CSI controller socket (default: the dev cluster's)")
    .option("--node-csi-socket <path>", "the node's lvm CSI socket (default: the dev cluster's)")
    .action(async (first: string, args: string[], o: Omit<ExpandFlags, "size"> & { size?: string }) =>
      dispatch(ctl, "expand", first, args, (c) => {
        if (args.length > 1) throw invalid("volume expand takes <vol> <targetCapacity>");
        return expandOp(c, first, args[0], o);
      }),
    );
}
