// `hwameictl pool expand <node> <diskType> <owner>` (reference §9): a LocalDiskClaim for the node's free disks of
// that type, as the original's REST `POST /cluster/pools/expand` does; the disk manager binds them and the node's
// storage adds them to its pool. Refused before anything is created when the node has no free disk of that type
// or a claim of that name is still pending.
import type { Command } from "commander";
import { HwError, invalid } from "../../../api/errors.ts";
import { API_VERSION, DiskClaimStates, Kinds, LocalDiskClaimStates, LocalDiskStates, Owners, isPoolClass, operatorClaimName } from "../../../api/names.ts";
import type { View } from "../../print.ts";
import type { Ctl, Ldc } from "../context.ts";

export async function expandPool(ctl: Ctl, node: string, diskType: string, owner: string): Promise<View> {
  if (!isPoolClass(diskType)) throw invalid(`disk type ${JSON.stringify(diskType)} is not HDD, SSD or NVMe`);
  const owners: string[] = [Owners.LocalStorage, Owners.LocalDiskManager];
  if (!owners.includes(owner))
    throw invalid(`owner ${JSON.stringify(owner)} is not ${owners.join(" or ")}`, {
      hint: "local-storage: an LVM pool; local-disk-manager: whole-disk volumes",
    });
  await ctl.requireNode(node);
  const disks = (await ctl.c.ld.list()).items.filter((d) => d.spec?.nodeName === node && d.spec?.diskAttributes?.type === diskType);
  const free = disks.filter(
    (d) =>
      d.status?.claimState === LocalDiskClaimStates.Available &&
      !d.spec?.reserved &&
      d.spec?.state !== LocalDiskStates.Inactive &&
      !d.spec?.partitioned &&
      !d.spec?.claimRef,
  );
  if (!free.length) {
    const why = disks
      .map(
        (d) => `${d.spec?.devicePath} (${d.status?.claimState || "?"}${d.spec?.reserved ? ", reserved" : ""}${d.spec?.owner ? `, owner ${d.spec.owner}` : ""})`,
      )
      .join(", ");
    throw new HwError("FAILED_PRECONDITION", "NoFreeDisk", `node ${node} has no free ${diskType} disk to add`, {
      hint: why ? `its ${diskType} disks: ${why}` : `it has no ${diskType} disks (hwameictl disk list --node ${node})`,
    });
  }
  const name = operatorClaimName(node, diskType);
  const existing = await ctl.c.ldc.get(name);
  if (existing && existing.status?.status !== DiskClaimStates.Bound && existing.status?.status !== DiskClaimStates.Consumed) {
    throw new HwError("ALREADY_EXISTS", "ClaimPending", `LocalDiskClaim ${name} is still ${existing.status?.status || "pending"}`, {
      hint: `wait for it: kubectl get ldc ${name}`,
    });
  }
  if (existing) await ctl.c.ldc.delete(name);
  const claim = await ctl.c.ldc.create({
    apiVersion: API_VERSION,
    kind: Kinds.LocalDiskClaim,
    metadata: { name },
    spec: { nodeName: node, owner, description: { diskType } },
  } as Ldc);
  return {
    sections: [
      {
        columns: [
          { header: "claim", value: (r: Ldc) => r.metadata?.name },
          { header: "node", value: (r: Ldc) => r.spec?.nodeName },
          { header: "type", value: (r: Ldc) => r.spec?.description?.diskType },
          { header: "owner", value: (r: Ldc) => r.spec?.owner },
        ],
        rows: [claim],
      },
    ],
    text: `claimed for ${owner}: ${free.map((d) => d.spec?.devicePath).join(", ")} on ${node} (the pool grows once the claim is Bound: hwameictl pool list --node ${node})`,
    data: claim,
  };
}

export function registerPoolExpand(pool: Command, ctl: () => Ctl): void {
  pool
    .command("expand <node> <diskType> <owner>")
    .description("add a node's free disks of a type (HDD|SSD|NVMe) to its pool: a LocalDiskClaim for owner local-storage or local-disk-manager")
    .action(async (node: string, t: string, owner: string) => {
      const c = ctl();
      c.print(await expandPool(c, node, t, owner));
    });
}
