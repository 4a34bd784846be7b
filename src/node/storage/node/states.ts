// LocalStorageNode (fact sheet §1.7, §6 "Consumers"), pure: the node's spec (storage IP, topology), which
// bound claims with owner `local-storage` become which pool devices, and the status the node agent writes
// (pools from the engine, conditions, poolExtendRecords).
//
// Claim consumption (per claim of this node, owner local-storage, status Bound, diskRefs set):
//
// | given                                                      | → action                                         |
// |------------------------------------------------------------|--------------------------------------------------|
// | a ref's LocalDisk is missing / Inactive / not under /dev    | wait (the disk manager reports it when it is back) |
// | a ref's LocalDisk is partitioned or under /dev/mapper       | skip that disk (never pooled, the claim still consumes the rest) |
// | every usable disk known                                    | ensurePool(LocalStorage_Pool<class>, devices) per class |
// | ensurePool ok for every class                              | append claim spec to poolExtendRecords[pool], ExpandSuccess=True, claim → Consumed |
// | ensurePool fails                                           | ExpandFailure=True with the error text, claim stays Bound, retried |
//
// Status: state Ready (the agent is up; the controller's lease check turns it Offline, §5.2); conditions
// Available (its message also names the engine), ExpandSuccess / ExpandFailure (the latest pool expansion).

import type { LocalDiskClaimSpec } from "../../../api/kinds/local-disk-claim.ts";
import type { LocalDisk } from "../../../api/kinds/local-disk.ts";
import type { LocalStorageNodeSpec, LocalStorageNodeStatus } from "../../../api/kinds/local-storage-node.ts";
import { overProvisionRatioOf } from "../../../api/thin-pool.ts";
import type { LocalPool, StorageNodeCondition } from "../../../api/kinds/storage-pool.ts";
import {
  Annotations,
  DEFAULT_TOPOLOGY_VALUE,
  DeviceStates,
  DiskClaimStates,
  LocalDiskStates,
  NodeStates,
  Owners,
  PoolTypes,
  StorageNodeConditionTypes,
  ThinPoolConditions,
  isPoolClass,
  storagePoolName,
  type PoolClass,
} from "../../../api/names.ts";
import type { EngineCapabilities, PoolStats, ThinPoolStats } from "../../engines/engine.ts";
import { thinPoolWarnings } from "../../engines/lvm/layout.ts";

type ThinPoolExtendRecord = NonNullable<LocalStorageNodeStatus["thinPoolExtendRecords"]>[string][number];

export const STORAGE_IPV4_ANNOTATION = Annotations.StorageIPv4;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const isIPv4 = (s: string): boolean => IPV4.test(s);

/** Storage IP: the `--storage-ip` flag, else the LSN spec, else the Node annotation; "" when none is valid. */
export function resolveStorageIP(flag: string | undefined, specIP: string | undefined, annotation: string | undefined): { ip: string; source: string } {
  for (const [v, source] of [
    [flag, "flag --storage-ip"],
    [specIP, "LocalStorageNode spec.storageIP"],
    [annotation, `Node annotation ${STORAGE_IPV4_ANNOTATION}`],
  ] as const) {
    if (v && isIPv4(v)) return { ip: v, source };
  }
  return { ip: "", source: "none" };
}

/** The LSN spec to write: hostname, storage IP, topology defaults ("default"). Undefined = unchanged. */
export function desiredSpec(current: LocalStorageNodeSpec | undefined, nodeName: string, storageIP: string): LocalStorageNodeSpec | undefined {
  const cur = current ?? {};
  const next: LocalStorageNodeSpec = {
    ...cur,
    hostname: cur.hostname || nodeName,
    storageIP: storageIP || cur.storageIP || "",
    topogoly: { zone: cur.topogoly?.zone || DEFAULT_TOPOLOGY_VALUE, region: cur.topogoly?.region || DEFAULT_TOPOLOGY_VALUE },
  };
  if (!next.storageIP) delete next.storageIP;
  return JSON.stringify(next) === JSON.stringify(current ?? null) ? undefined : next;
}

export interface ClaimLike {
  name: string;
  spec: LocalDiskClaimSpec;
  status: string;
}

export interface ConsumePlan {
  claim: string;
  /** Devices per pool class to ensure. */
  pools: Array<{ poolName: string; poolClass: PoolClass; devices: string[] }>;
  /** Disks of the claim that will never be pooled, with why. */
  skipped: Array<{ disk: string; reason: string }>;
  /** Non-empty: not yet (a disk is not reported usable yet); retry later. */
  waitingFor: string[];
}

/** Why a bound disk cannot join a pool now (wait) or ever (skip); undefined = usable. */
export function diskUsability(d: LocalDisk | undefined, name: string): { wait?: string; skip?: string } {
  if (!d?.spec) return { wait: `LocalDisk ${name} not found` };
  const dev = d.spec.devicePath ?? "";
  if (d.spec.state && d.spec.state !== LocalDiskStates.Active) return { wait: `LocalDisk ${name} is ${d.spec.state}` };
  if (!dev.startsWith("/dev/")) return { wait: `LocalDisk ${name} has no device path` };
  if (dev.startsWith("/dev/mapper/")) return { skip: `${dev} is a device-mapper device` };
  if (d.spec.partitioned || (d.spec.partitionInfo ?? []).length) return { skip: `${dev} holds partitions or a filesystem` };
  const cls = d.spec.diskAttributes?.type ?? "";
  if (!isPoolClass(cls)) return { skip: `${dev} has disk type ${JSON.stringify(cls)}, not HDD|SSD|NVMe` };
  return {};
}

/** The claims of this node the storage part consumes now, each with its pools. */
export function planConsumption(nodeName: string, claims: ClaimLike[], disks: Map<string, LocalDisk>): ConsumePlan[] {
  const out: ConsumePlan[] = [];
  for (const c of [...claims].sort((a, b) => a.name.localeCompare(b.name))) {
    if (c.spec.nodeName !== nodeName || c.spec.owner !== Owners.LocalStorage || c.status !== DiskClaimStates.Bound) continue;
    const refs = c.spec.diskRefs ?? [];
    if (!refs.length) continue;
    const plan: ConsumePlan = { claim: c.name, pools: [], skipped: [], waitingFor: [] };
    const byClass = new Map<PoolClass, string[]>();
    for (const ref of refs) {
      const name = ref.name ?? "";
      const d = disks.get(name);
      const u = diskUsability(d, name);
      if (u.wait) plan.waitingFor.push(u.wait);
      else if (u.skip) plan.skipped.push({ disk: name, reason: u.skip });
      else {
        const cls = d!.spec!.diskAttributes!.type as PoolClass;
        byClass.set(cls, [...(byClass.get(cls) ?? []), d!.spec!.devicePath!]);
      }
    }
    for (const [cls, devices] of [...byClass].sort()) plan.pools.push({ poolName: storagePoolName(cls), poolClass: cls, devices: devices.sort() });
    out.push(plan);
  }
  return out;
}

/**
 * `thinPool` of a LocalPool (§1.7): the engine's numbers, the ratio of the latest ThinPoolClaim record, and the
 * PoolState condition (warnings at ≥ 80 %). The condition's time moves only when its text changes.
 */
export function thinPoolStatus(
  t: ThinPoolStats,
  records: ThinPoolExtendRecord[] | undefined,
  previous: LocalPool["thinPool"] | undefined,
  now: string,
): NonNullable<LocalPool["thinPool"]> {
  const ratio = overProvisionRatioOf(records);
  const warnings = thinPoolWarnings(t, ratio);
  const reason = warnings.length ? ThinPoolConditions.ReasonWarning : ThinPoolConditions.ReasonNormal;
  const message = warnings.length ? warnings.join(". ") : "Thin pool is healthy";
  const prev = previous?.state;
  return {
    name: t.name,
    size: t.sizeBytes,
    metadataSize: t.metadataSizeBytes,
    ...(t.metadataPercent !== null ? { metadataPercent: t.metadataPercent } : {}),
    ...(t.dataPercent !== null ? { dataPercent: t.dataPercent } : {}),
    totalProvisionedSize: t.totalProvisionedBytes,
    currentProvisionRatio: (t.sizeBytes > 0 ? t.totalProvisionedBytes / t.sizeBytes : 0).toFixed(2),
    overProvisionRatio: ratio,
    thinVolumes: [...t.thinVolumes],
    state: {
      type: ThinPoolConditions.Type,
      status: "True",
      reason,
      message,
      lastTransitionTime: prev && prev.reason === reason && prev.message === message ? prev.lastTransitionTime : now,
    },
  };
}

export type EngineFeatures = NonNullable<NonNullable<LocalStorageNodeStatus["engine"]>["features"]>;

/** The features the node reports (additive status.engine.features) from the engine's capabilities. */
export function engineFeatures(c: EngineCapabilities): EngineFeatures {
  const f = (x: { supported: boolean; reason?: string } | undefined, missing: string) =>
    x ? { supported: x.supported, ...(x.reason ? { reason: x.reason } : {}) } : { supported: false, reason: missing };
  return {
    snapshots: f(c.snapshots, "not offered by this engine"),
    clones: f(c.clones, "not offered by this engine"),
    thin: f(c.thin, "this engine has no thin pools (LVM thin pools need the lvm engine with dm-thin-pool)"),
    encryption: f(c.encryption, "this engine offers no LUKS encryption (it needs dm-crypt)"),
  };
}

/** `status.pools[name]` from the engine's numbers (§1.7 LocalPool). Disks of a pool are InUse. */
export function poolStatus(s: PoolStats, thin?: { records?: ThinPoolExtendRecord[]; previous?: LocalPool["thinPool"]; now: string }): LocalPool {
  return {
    name: s.name,
    class: s.class,
    type: PoolTypes.Regular,
    path: s.path,
    totalCapacityBytes: s.totalCapacityBytes,
    usedCapacityBytes: s.usedCapacityBytes,
    volumeCapacityBytesLimit: s.volumeCapacityBytesLimit,
    freeCapacityBytes: s.freeCapacityBytes,
    totalVolumeCount: s.totalVolumeCount,
    usedVolumeCount: s.usedVolumeCount,
    freeVolumeCount: s.freeVolumeCount,
    disks: s.disks.map((d) => ({ devPath: d.devPath, type: s.class, capacityBytes: d.capacityBytes, state: DeviceStates.InUse })),
    volumes: [...s.volumes],
    ...(s.thinPool ? { thinPool: thinPoolStatus(s.thinPool, thin?.records, thin?.previous, thin?.now ?? new Date().toISOString()) } : {}),
  };
}

export interface ConditionInput {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
}

/** Replace conditions by type; timestamps move only when something changed. */
export function setNodeConditions(existing: StorageNodeCondition[], changes: ConditionInput[], now: string): StorageNodeCondition[] {
  const out = existing.map((c) => ({ ...c }));
  for (const ch of changes) {
    const i = out.findIndex((c) => c.type === ch.type);
    const prev = i >= 0 ? out[i] : undefined;
    if (prev && prev.status === ch.status && prev.reason === ch.reason && prev.message === ch.message) continue;
    const next: StorageNodeCondition = {
      type: ch.type,
      status: ch.status,
      reason: ch.reason,
      message: ch.message,
      lastUpdateTime: now,
      lastTransitionTime: prev && prev.status === ch.status ? (prev.lastTransitionTime ?? now) : now,
    };
    if (i >= 0) out[i] = next;
    else out.push(next);
  }
  return out;
}

export interface ExpandResult {
  claim: string;
  pools: string[];
  error?: string;
}

/** The conditions an expansion attempt leaves: success clears a previous failure, a failure keeps the text. */
export function expandConditions(r: ExpandResult): ConditionInput[] {
  if (r.error) {
    return [
      { type: StorageNodeConditionTypes.ExpandFailure, status: "True", reason: "PoolExpandFailed", message: `claim ${r.claim}: ${r.error}` },
      { type: StorageNodeConditionTypes.ExpandSuccess, status: "False", reason: "PoolExpandFailed", message: `claim ${r.claim} not consumed` },
    ];
  }
  return [
    {
      type: StorageNodeConditionTypes.ExpandSuccess,
      status: "True",
      reason: "PoolExpanded",
      message: `claim ${r.claim} added to ${r.pools.join(", ") || "no pool"}`,
    },
    { type: StorageNodeConditionTypes.ExpandFailure, status: "False", reason: "PoolExpanded", message: `claim ${r.claim} consumed` },
  ];
}

export function availableCondition(engine: { kind: string; reason: string }, poolErrors: string[]): ConditionInput {
  return poolErrors.length
    ? {
        type: StorageNodeConditionTypes.Available,
        status: "False",
        reason: "PoolUnavailable",
        message: `engine ${engine.kind} (${engine.reason}); ${poolErrors.join("; ")}`,
      }
    : { type: StorageNodeConditionTypes.Available, status: "True", reason: "StorageAvailable", message: `engine ${engine.kind} (${engine.reason})` };
}

/** Append a consumed claim's spec to `poolExtendRecords[pool]` once (the same claim twice is one record). */
export function withExtendRecord(
  records: Record<string, LocalDiskClaimSpec[]> | undefined,
  pool: string,
  spec: LocalDiskClaimSpec,
): Record<string, LocalDiskClaimSpec[]> {
  const out = { ...(records ?? {}) };
  const list = out[pool] ?? [];
  const key = JSON.stringify(spec);
  if (!list.some((r) => JSON.stringify(r) === key)) out[pool] = [...list, spec];
  return out;
}

/** The whole status the agent writes (pools replaced from the engine; records and conditions merged). */
export function nextStatus(
  current: LocalStorageNodeStatus | undefined,
  stats: PoolStats[],
  conditions: StorageNodeCondition[],
  engine?: { kind: "lvm" | "file"; reason: string; filesystem?: "btrfs" | "xfs"; features?: EngineFeatures },
  now: string = new Date().toISOString(),
): LocalStorageNodeStatus {
  const pools: Record<string, LocalPool> = {};
  for (const s of [...stats].sort((a, b) => a.name.localeCompare(b.name))) {
    pools[s.name] = poolStatus(s, { records: current?.thinPoolExtendRecords?.[s.name], previous: current?.pools?.[s.name]?.thinPool, now });
  }
  const st: LocalStorageNodeStatus = {
    ...(current ?? {}),
    state: current?.state === NodeStates.Maintain ? NodeStates.Maintain : NodeStates.Ready,
    pools,
    conditions,
    ...(engine ? { engine } : {}),
  };
  return st;
}
