// The cluster-state metrics of `hwameistor exporter` (reference §8, docs/exporter.md): a pure function from the
// objects the exporter's informers hold to samples. Every name, label and value of the original first (its
// `uuid` label and `kind="Total"` included, which its docs forget), then what the original lacks (replica sync
// state, SMART health, snapshots), each marked "(ours)".
//
// All are gauges recomputed at every scrape, as the original's const metrics are: an object that is gone
// simply stops being reported.

import { StoragePools } from "../api/names.ts";
import type { KubeObject } from "../kube/types.ts";

export interface MetricDef {
  name: string;
  help: string;
  labels: readonly string[];
  /** Not in the original. */
  ours?: boolean;
}

const metric = (name: string, help: string, labels: readonly string[]): MetricDef => ({ name, help, labels });
/** Not in the original: its help says so. Ours use snake_case label names (promtool's lint; the original's camelCase ones stay). */
const ours = (name: string, help: string, labels: readonly string[]): MetricDef => ({ name, help: `${help} (ours).`, labels, ours: true });

export const CLUSTER_METRICS = {
  ldCapacity: metric("hwameistor_localdisk_capacity", "The capacity of the localdisk.", ["uuid", "nodeName", "type", "devPath", "reserved", "owner", "status"]),
  lsnCapacity: metric("hwameistor_localstoragenode_capacity", "The storage capacity of the localstoragenode.", ["nodeName", "poolName", "kind"]),
  lsnVolumeCount: metric("hwameistor_localstoragenode_volumecount", "The volume count of the localstoragenode.", ["nodeName", "poolName", "kind"]),
  lsnStatus: metric("hwameistor_localstoragenode_status", "The status of the localstoragenode.", ["nodeName", "status"]),
  lvCapacity: metric("hwameistor_localvolume_capacity", "The capacity of the localvolume.", ["poolName", "volumeName", "type", "mountedOn", "kind"]),
  lvStatus: metric("hwameistor_localvolume_status", "The status summary of the localvolume.", ["poolName", "volumeName", "type", "mountedOn", "status"]),
  lvrCapacity: metric("hwameistor_localvolumereplica_capacity", "The capacity of the localvolumereplica.", ["nodeName", "poolName", "volumeName"]),
  lvrStatus: metric("hwameistor_localvolumereplica_status", "The status of the localvolumereplica.", ["nodeName", "poolName", "volumeName", "status"]),
  migrateDuration: metric("hwameistor_localvolumemigrate_duration", "The duration of the localvolumemigrate operation.", [
    "volumeName",
    "startTime",
    "from",
    "to",
  ]),
  migrateStatus: metric("hwameistor_localvolumemigrate_status", "The status of the localvolumemigrate operation.", ["volumeName", "status"]),
  convertDuration: metric("hwameistor_localvolumeconvert_duration", "The duration of the localvolumeconvert operation.", ["volumeName", "startTime"]),
  convertStatus: metric("hwameistor_localvolumeconvert_status", "The status of the localvolumeconvert operation.", ["volumeName", "status"]),
  expandDuration: metric("hwameistor_localvolumeexpand_duration", "The duration of the localvolumeexpand operation.", ["volumeName", "startTime"]),
  expandStatus: metric("hwameistor_localvolumeexpand_status", "The status of the localvolumeexpand operation.", ["volumeName", "status"]),
  smartAttribute: metric("ata_smart_attribute", "device attributes", [
    "device",
    "node",
    "attribute_name",
    "attribute_flags_short",
    "attribute_flags_long",
    "attribute_value_type",
    "attribute_id",
  ]),
  lvrSynced: ours("hwameistor_localvolumereplica_synced", "1 when the replica is in sync (status.synced), else 0", ["node_name", "pool_name", "volume_name"]),
  lvrHaState: ours(
    "hwameistor_localvolumereplica_ha_state",
    "1 for the replica's replication state (status.haState.state: Consistent, Inconsistent, Up, Down) where it has one",
    ["node_name", "pool_name", "volume_name", "state"],
  ),
  lvrResyncBytes: ours(
    "hwameistor_localvolumereplica_resync_bytes",
    "A replica's resync as its primary's data plane reports it (status.resync): kind done, total or dirty",
    ["node_name", "pool_name", "volume_name", "kind"],
  ),
  lsnReplicationAvailable: ours(
    "hwameistor_localstoragenode_replication_available",
    "1 when the node's data plane can replicate volumes (status.replication.available), else 0; absent on nodes without one",
    ["node_name"],
  ),
  ldSmartHealth: ours("hwameistor_localdisk_smart_health", "1 for the disk's SMART overall health (Passed or Failed) where SMART is supported", [
    "uuid",
    "node_name",
    "dev_path",
    "health",
  ]),
  lvsStatus: ours("hwameistor_localvolumesnapshot_status", "1 for the state of each volume snapshot", ["snapshot_name", "volume_name", "status"]),
  lvsCapacity: ours("hwameistor_localvolumesnapshot_capacity_bytes", "Bytes allocated to each volume snapshot", ["snapshot_name", "volume_name"]),
} satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof CLUSTER_METRICS;

export interface Sample {
  metric: MetricKey;
  labels: Record<string, string>;
  value: number;
}

type Obj = KubeObject & { spec?: any; status?: any };

/** What the exporter's informers hold. */
export interface ClusterSnapshot {
  localDisks: Obj[];
  localStorageNodes: Obj[];
  localVolumes: Obj[];
  localDiskVolumes: Obj[];
  localVolumeReplicas: Obj[];
  migrates: Obj[];
  converts: Obj[];
  expands: Obj[];
  snapshots: Obj[];
  /** data of ConfigMap hwameistor-smart-result: node name → smartctl JSON (see smartSamples). */
  smartResults: Record<string, string>;
}

const POOL_CLASSES: Record<string, string> = { [StoragePools.HDD]: "HDD", [StoragePools.SSD]: "SSD", [StoragePools.NVMe]: "NVMe" };

/** The original's unifiedPoolName: LocalStorage_PoolHDD → HDD (also accepts the class itself); else Unknown. */
export function unifiedPoolName(pool: string | undefined): string {
  if (!pool) return "Unknown";
  if (POOL_CLASSES[pool]) return POOL_CLASSES[pool]!;
  return ["HDD", "SSD", "NVMe"].includes(pool) ? pool : "Unknown";
}

/** NonHA (not convertible), HA (convertible and more than one replica), Convertible. */
export function volumeType(lv: Obj): string {
  if (!lv.spec?.convertible) return "NonHA";
  return (lv.spec?.replicaNumber ?? 1) > 1 ? "HA" : "Convertible";
}

/** Go's time.Time.String() of a UTC timestamp, the original's startTime label: "2006-01-02 15:04:05 +0000 UTC". */
export function goTimeString(iso: string | undefined): string {
  if (!iso) return "0001-01-01 00:00:00 +0000 UTC";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const frac = d.getUTCMilliseconds() ? `.${p(d.getUTCMilliseconds(), 3).replace(/0+$/, "")}` : "";
  return `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${frac} +0000 UTC`;
}

const num = (v: unknown): number =>
  typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v !== "" && Number.isFinite(Number(v)) ? Number(v) : 0;
const str = (v: unknown): string => (typeof v === "string" ? v : "");

export function clusterSamples(s: ClusterSnapshot, nowMs: number): Sample[] {
  const out: Sample[] = [];
  const add = (metric: MetricKey, labels: Record<string, string>, value: number) => out.push({ metric, labels, value });

  for (const d of s.localDisks) {
    const sp = d.spec ?? {};
    add(
      "ldCapacity",
      {
        uuid: str(sp.uuid),
        nodeName: str(sp.nodeName),
        type: str(sp.diskAttributes?.type),
        devPath: str(sp.devicePath),
        reserved: sp.reserved ? "true" : "false",
        owner: str(sp.owner) || "Unknown",
        status: str(d.status?.claimState),
      },
      num(sp.capacity),
    );
    if (sp.supportSmart && sp.smartInfo?.overallHealth) {
      add("ldSmartHealth", { uuid: str(sp.uuid), node_name: str(sp.nodeName), dev_path: str(sp.devicePath), health: str(sp.smartInfo.overallHealth) }, 1);
    }
  }

  for (const n of s.localStorageNodes) {
    const node = n.metadata?.name ?? "";
    add("lsnStatus", { nodeName: node, status: str(n.status?.state) }, 1);
    const repl = n.status?.replication;
    if (repl) add("lsnReplicationAvailable", { node_name: node }, repl.available ? 1 : 0);
    for (const [poolName, pool] of Object.entries<any>(n.status?.pools ?? {})) {
      const p = unifiedPoolName(poolName);
      for (const [kind, cap, cnt] of [
        ["Total", pool.totalCapacityBytes, pool.totalVolumeCount],
        ["Free", pool.freeCapacityBytes, pool.freeVolumeCount],
        ["Used", pool.usedCapacityBytes, pool.usedVolumeCount],
      ] as const) {
        add("lsnCapacity", { nodeName: node, poolName: p, kind }, num(cap));
        add("lsnVolumeCount", { nodeName: node, poolName: p, kind }, num(cnt));
      }
    }
  }

  for (const v of s.localVolumes) {
    const base = {
      poolName: unifiedPoolName(v.spec?.poolName),
      volumeName: v.metadata?.name ?? "",
      type: volumeType(v),
      mountedOn: str(v.status?.publishedNode),
    };
    add("lvCapacity", { ...base, kind: "Allocated" }, num(v.status?.allocatedCapacityBytes));
    add("lvCapacity", { ...base, kind: "Used" }, num(v.status?.usedCapacityBytes));
    add("lvStatus", { ...base, status: str(v.status?.state) }, 1);
  }
  for (const v of s.localDiskVolumes) {
    const nodes: string[] = v.spec?.accessibility?.nodes ?? [];
    const mountedOn = (v.status?.mountPoints ?? []).length > 0 && nodes.length > 0 ? nodes[0]! : "";
    const base = { poolName: str(v.spec?.diskType), volumeName: v.metadata?.name ?? "", type: "Disk", mountedOn };
    add("lvCapacity", { ...base, kind: "Allocated" }, num(v.status?.allocatedCapacityBytes));
    add("lvCapacity", { ...base, kind: "Used" }, num(v.status?.usedCapacityBytes));
    add("lvStatus", { ...base, status: str(v.status?.state) }, 1);
  }

  for (const r of s.localVolumeReplicas) {
    const base = { nodeName: str(r.spec?.nodeName), poolName: unifiedPoolName(r.spec?.poolName), volumeName: str(r.spec?.volumeName) };
    add("lvrCapacity", base, num(r.status?.allocatedCapacityBytes));
    add("lvrStatus", { ...base, status: str(r.status?.state) }, 1);
    const ours = { node_name: base.nodeName, pool_name: base.poolName, volume_name: base.volumeName };
    add("lvrSynced", ours, r.status?.synced ? 1 : 0);
    if (r.status?.haState?.state) add("lvrHaState", { ...ours, state: str(r.status.haState.state) }, 1);
    const rs = r.status?.resync;
    if (rs) for (const kind of ["done", "total", "dirty"] as const) add("lvrResyncBytes", { ...ours, kind }, num(rs[`${kind}Bytes`]));
  }

  const age = (o: Obj) => Math.max(0, (nowMs - new Date(o.metadata?.creationTimestamp ?? nowMs).getTime()) / 1000);
  for (const m of s.migrates) {
    add(
      "migrateDuration",
      {
        volumeName: str(m.spec?.volumeName),
        startTime: goTimeString(m.metadata?.creationTimestamp),
        from: str(m.spec?.sourceNode),
        to: str(m.status?.targetNode),
      },
      age(m),
    );
    add("migrateStatus", { volumeName: str(m.spec?.volumeName), status: str(m.status?.state) }, 1);
  }
  for (const [objs, dur, st] of [
    [s.converts, "convertDuration", "convertStatus"],
    [s.expands, "expandDuration", "expandStatus"],
  ] as const) {
    for (const o of objs) {
      add(dur, { volumeName: str(o.spec?.volumeName), startTime: goTimeString(o.metadata?.creationTimestamp) }, age(o));
      add(st, { volumeName: str(o.spec?.volumeName), status: str(o.status?.state) }, 1);
    }
  }

  for (const snap of s.snapshots) {
    const base = { snapshot_name: snap.metadata?.name ?? "", volume_name: str(snap.spec?.sourceVolume) };
    add("lvsStatus", { ...base, status: str(snap.status?.state) }, 1);
    add("lvsCapacity", base, num(snap.status?.allocatedCapacityBytes));
  }

  for (const [node, text] of Object.entries(s.smartResults)) out.push(...smartSamples(node, text));
  return out;
}

// ---------------------------------------------------------------- SMART (ata_smart_attribute)

const FLAG_NAMES = [
  ["prefailure", "prefailure"],
  ["updated_online", "updated_online"],
  ["performance", "performance"],
  ["auto_keep", "auto_keep"],
  ["error_rate", "error_rate"],
  ["event_count", "event_count"],
] as const;

/**
 * One node's entry of ConfigMap hwameistor-smart-result: smartctl `--json --all` documents, as an array or an
 * object keyed by device. Each ATA attribute gives four samples (value, worst, thresh, raw), as the original.
 * A value that does not parse yields nothing (the exporter must keep serving).
 */
export function smartSamples(node: string, text: string): Sample[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  const docs: any[] = Array.isArray(doc) ? doc : doc && typeof doc === "object" ? Object.values(doc) : [];
  const out: Sample[] = [];
  for (const d of docs) {
    const device = str(d?.device?.info_name) || str(d?.device?.name);
    for (const a of d?.ata_smart_attributes?.table ?? []) {
      const flags = a?.flags ?? {};
      const long = FLAG_NAMES.filter(([k]) => flags[k])
        .map(([, n]) => n)
        .join(",");
      const base = {
        device,
        node,
        attribute_name: str(a?.name),
        attribute_flags_short: str(flags.string),
        attribute_flags_long: long,
        attribute_id: String(num(a?.id)),
      };
      out.push({ metric: "smartAttribute", labels: { ...base, attribute_value_type: "value" }, value: num(a?.value) });
      out.push({ metric: "smartAttribute", labels: { ...base, attribute_value_type: "worst" }, value: num(a?.worst) });
      out.push({ metric: "smartAttribute", labels: { ...base, attribute_value_type: "thresh" }, value: num(a?.thresh) });
      out.push({ metric: "smartAttribute", labels: { ...base, attribute_value_type: "raw" }, value: num(a?.raw?.value) });
    }
  }
  return out;
}
