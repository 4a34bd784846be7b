// Which LocalDiskClaims the operator creates (§1.18, phase Reserved → CreatedLDC), pure: one per node and
// disk type that has Available, unreserved, Active disks, named `<node>-<lower(type)>-claim`, owner
// `local-storage`. A claim of that name that still exists (Pending, Bound, …) is left alone.

import type { LocalDisk as LdT } from "../../api/kinds/local-disk.ts";
import type { LocalDiskClaim } from "../../api/kinds/local-disk-claim.ts";
import { API_VERSION, Kinds, LocalDiskClaimStates, LocalDiskStates, Owners } from "../../api/names.ts";
import { operatorClaimName } from "../../api/names.ts";

/** A LocalDisk as read from the API (spec always present). */
export type LocalDisk = LdT & { spec: NonNullable<LdT["spec"]> };
type Claim = LocalDiskClaim & { spec: NonNullable<LocalDiskClaim["spec"]> };

export function isFreeDisk(d: LocalDisk): boolean {
  return (
    d.status?.claimState === LocalDiskClaimStates.Available &&
    !d.spec.reserved &&
    d.spec.state !== LocalDiskStates.Inactive &&
    !d.spec.partitioned &&
    !d.spec.claimRef
  );
}

export function claimsToCreate(disks: LocalDisk[], existingClaims: Array<Pick<LocalDiskClaim, "metadata">>): Claim[] {
  const existing = new Set(existingClaims.map((c) => c.metadata?.name));
  const groups = new Map<string, { node: string; type: string }>();
  for (const d of disks) {
    if (!isFreeDisk(d)) continue;
    const type = d.spec.diskAttributes?.type;
    if (!type) continue;
    const name = operatorClaimName(d.spec.nodeName, type);
    if (!existing.has(name)) groups.set(name, { node: d.spec.nodeName, type });
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([name, g]) =>
        ({
          apiVersion: API_VERSION,
          kind: Kinds.LocalDiskClaim,
          metadata: { name },
          spec: { nodeName: g.node, owner: Owners.LocalStorage, description: { diskType: g.type } },
        }) as Claim,
    );
}

/** Disks to reserve per `spec.diskReserveConfigurations` (node + device path), not reserved yet. */
export function disksToReserve(disks: LocalDisk[], configs: Array<{ nodeName?: string; devices?: string[] }> | undefined): LocalDisk[] {
  const want = new Set<string>();
  for (const c of configs ?? []) for (const dev of c.devices ?? []) want.add(`${c.nodeName}\0${dev}`);
  return disks.filter((d) => !d.spec.reserved && !d.spec.claimRef && d.spec.devicePath && want.has(`${d.spec.nodeName}\0${d.spec.devicePath}`));
}
