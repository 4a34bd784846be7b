// LocalDiskClaim (reference §6 "LDC machine"), pure: which disks a claim may take, why the others are
// refused, and the claim's next status.
//
//   status               facts                                         → next         actions
//   ""                   —                                             → Pending
//   Pending|Extending    no owner                                      → Pending      Warning: owner required
//   Pending|Extending    diskRefs empty, candidates                    → Bound        bind each (claimRef+owner), diskRefs
//   Pending|Extending    diskRefs empty, no candidate                  → Pending      Warning LocalDiskClaimAssignFail, reasons per disk
//   Pending|Extending    diskRefs set                                  → Bound
//   Bound                no diskRefs                                   → Pending
//   Bound                owner local-disk-manager                      → Consumed     disk-pool symlinks + poolExtendRecords
//   Bound                owner local-storage                           → Bound        (the storage part consumes it)
//   Consumed                                                          → ToBeDeleted
//   ToBeDeleted                                                       → Deleted
//   Deleted                                                           → (CR deleted)
import type { LocalDiskClaim } from "../../../api/kinds/local-disk-claim.ts";
import type { LocalDisk } from "../../../api/kinds/local-disk.ts";
import { DEV_TYPE_DISK, DiskClaimStates, LocalDiskClaimStates, LocalDiskStates, ObjectNames, Owners } from "../../../api/names.ts";

/** Why a disk cannot serve a claim; undefined = it can. */
export function rejectReason(claim: LocalDiskClaim, disk: LocalDisk): string | undefined {
  const spec = disk.spec;
  const want = claim.spec!;
  const d = want.description ?? {};
  const name = disk.metadata?.name ?? "";
  const claimUid = claim.metadata?.uid;
  if (!spec) return "has no spec";
  if (spec.claimRef && claimUid && spec.claimRef.uid === claimUid) return undefined; // already ours (crash between bind and diskRefs)
  if (!name.startsWith(ObjectNames.LocalDiskPrefix)) return `old-style name (no ${ObjectNames.LocalDiskPrefix} prefix)`;
  if (spec.nodeName !== want.nodeName) return `on node ${spec.nodeName}, not ${want.nodeName}`;
  if (spec.state && spec.state !== LocalDiskStates.Active) return `state ${spec.state}`;
  if (spec.claimRef) return `already bound to claim ${spec.claimRef.name ?? "?"}`;
  if (spec.reserved) return "reserved";
  if (disk.status?.claimState !== LocalDiskClaimStates.Available) return `claimState ${disk.status?.claimState || "(none)"}, not Available`;
  if (spec.partitionInfo && spec.partitionInfo.length > 0) return "holds partitions or a filesystem";
  // An ownerless disk serves only local-storage claims (the original's OwnerMatch); a local-disk-manager claim
  // needs disks whose spec.owner was set to local-disk-manager first.
  const owner = spec.owner ?? "";
  if (!(owner === want.owner || (owner === "" && want.owner === Owners.LocalStorage))) {
    return owner === ""
      ? `no owner (counts as ${Owners.LocalStorage}), claim is for ${want.owner}: set spec.owner=${want.owner} on the disk`
      : `owned by ${owner}, claim is for ${want.owner}`;
  }
  if (spec.diskAttributes?.devType && spec.diskAttributes.devType !== DEV_TYPE_DISK) return `devType ${spec.diskAttributes.devType}`;
  if (d.capacity && (spec.capacity ?? 0) < d.capacity) return `too small (${spec.capacity ?? 0} < ${d.capacity} bytes)`;
  if (d.diskType && spec.diskAttributes?.type !== d.diskType) return `type ${spec.diskAttributes?.type ?? "unknown"}, claim wants ${d.diskType}`;
  if (d.localDiskNames?.length && !d.localDiskNames.includes(name)) return "not in localDiskNames";
  if (d.devicePaths?.length && !d.devicePaths.includes(spec.devicePath ?? "")) return `devicePath ${spec.devicePath} not in devicePaths`;
  return undefined;
}

export interface Assignment {
  disks: LocalDisk[];
  rejected: Array<{ name: string; reason: string }>;
}

/** Every disk of the claim's node that may serve it, and why each other disk of that node may not. */
export function assignDisks(claim: LocalDiskClaim, disks: LocalDisk[]): Assignment {
  const out: Assignment = { disks: [], rejected: [] };
  for (const disk of [...disks].sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1))) {
    if (disk.spec?.nodeName !== claim.spec?.nodeName) continue;
    const r = rejectReason(claim, disk);
    if (r === undefined) out.disks.push(disk);
    else out.rejected.push({ name: disk.metadata!.name!, reason: r });
  }
  return out;
}

/** The Warning message of a claim nothing matches. */
export function assignFailMessage(claim: LocalDiskClaim, a: Assignment): string {
  const want = claim.spec!;
  const d = want.description ?? {};
  const asked = [
    `owner ${want.owner}`,
    d.diskType ? `type ${d.diskType}` : "",
    d.capacity ? `capacity >= ${d.capacity}` : "",
    d.localDiskNames?.length ? `names ${d.localDiskNames.join(",")}` : "",
    d.devicePaths?.length ? `paths ${d.devicePaths.join(",")}` : "",
  ].filter(Boolean);
  const head = `no disk of node ${want.nodeName} matches claim ${claim.metadata?.name} (${asked.join(", ")})`;
  if (a.rejected.length === 0) return `${head}: the node has no disks`;
  return `${head}: ${a.rejected.map((r) => `${r.name}: ${r.reason}`).join("; ")}`;
}

export type ClaimStep =
  | { kind: "setStatus"; status: string }
  | { kind: "warn"; reason: string; message: string }
  | { kind: "bind"; disks: LocalDisk[] }
  | { kind: "consume" }
  | { kind: "delete" }
  | { kind: "none" };

/** The next step for a claim, given the disks of its node. */
export function nextClaimStep(claim: LocalDiskClaim, disks: LocalDisk[]): ClaimStep {
  const status = claim.status?.status ?? "";
  const refs = claim.spec?.diskRefs ?? [];
  switch (status) {
    case "":
      return { kind: "setStatus", status: DiskClaimStates.Pending };
    case DiskClaimStates.Pending:
    case DiskClaimStates.Extending: {
      if (!claim.spec?.owner) return { kind: "warn", reason: "LocalDiskClaimAssignFail", message: `claim ${claim.metadata?.name} has no spec.owner` };
      if (refs.length > 0) return { kind: "setStatus", status: DiskClaimStates.Bound };
      const a = assignDisks(claim, disks);
      if (a.disks.length === 0) return { kind: "warn", reason: "LocalDiskClaimAssignFail", message: assignFailMessage(claim, a) };
      return { kind: "bind", disks: a.disks };
    }
    case DiskClaimStates.Bound:
      if (refs.length === 0) return { kind: "setStatus", status: DiskClaimStates.Pending };
      return claim.spec?.owner === Owners.LocalDiskManager ? { kind: "consume" } : { kind: "none" };
    case DiskClaimStates.Consumed:
      return { kind: "setStatus", status: DiskClaimStates.ToBeDeleted };
    case DiskClaimStates.ToBeDeleted:
      return { kind: "setStatus", status: DiskClaimStates.Deleted };
    case DiskClaimStates.Deleted:
      return { kind: "delete" };
    default:
      return { kind: "none" };
  }
}
