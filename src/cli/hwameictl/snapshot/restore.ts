// `hwameictl snapshot restore SNAP --to NEWVOL [--size 2Gi]`: CSI CreateVolume with the snapshot as content
// source, as the external-provisioner does for a PVC with a dataSource. The new volume is created on the
// snapshot's node and pool (in place only), at least the source's size.
import type { Command } from "commander";
import { ScParams, TopologyKeys } from "../../../api/names.ts";
import { parseSize } from "../../../api/quantity.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { withRetry } from "../volume/common.ts";
import { requireSnapshot, withController } from "./common.ts";

const CLASS_OF: Record<string, string> = { LocalStorage_PoolHDD: "HDD", LocalStorage_PoolSSD: "SSD", LocalStorage_PoolNVMe: "NVMe" };

export async function restoreSnapshot(ctl: Ctl, name: string, to: string, size?: string, socket?: string): Promise<View> {
  const snap = await requireSnapshot(ctl, name);
  const src = await ctl.c.lv.get(snap.spec?.sourceVolume ?? "");
  const bytes = size ? parseSize(size, "--size") : (src?.spec?.requiredCapacityBytes ?? snap.status?.allocatedCapacityBytes ?? 0);
  const node = snap.spec?.accessibility?.nodes?.[0] ?? "";
  const pool = src?.spec?.poolName ?? "LocalStorage_PoolHDD";
  const fsType = src?.status?.fsType || "xfs";
  const t0 = Date.now();
  const deadline = t0 + ctl.timeoutMs;
  await withController(ctl, socket, (csi) =>
    withRetry(
      `CreateVolume ${to} from snapshot ${name}`,
      deadline,
      () =>
        csi.call("Controller", "CreateVolume", {
          name: to,
          capacity_range: { required_bytes: String(bytes) },
          volume_capabilities: [{ mount: { fs_type: fsType, mount_flags: [] }, access_mode: { mode: "SINGLE_NODE_WRITER" } }],
          parameters: {
            [ScParams.PoolClass]: CLASS_OF[pool] ?? "HDD",
            [ScParams.ReplicaNumber]: "1",
            [ScParams.FsType]: fsType,
            [ScParams.PvcName]: to,
            [ScParams.PvcNamespace]: "default",
          },
          accessibility_requirements: {
            requisite: [{ segments: { [TopologyKeys.LvmNode]: node } }],
            preferred: [{ segments: { [TopologyKeys.LvmNode]: node } }],
          },
          volume_content_source: { snapshot: { snapshot_id: name } },
        }),
      (e) => ["UNAVAILABLE", "ABORTED"].includes(e.code),
    ),
  );
  return { text: `volume ${to} restored from snapshot ${name} on node ${node} in ${Date.now() - t0} ms`, data: { volume: to, snapshot: name, node } };
}

export function registerSnapshotRestore(snapshot: Command, ctl: () => Ctl): void {
  snapshot
    .command("restore <name>")
    .description("create a new volume with the snapshot's content (on the snapshot's node)")
    .requiredOption("--to <volume>", "the new volume's name")
    .option("--size <size>", "capacity (default: the source volume's), e.g. 2Gi")
    .option("--csi-socket <path>", "the lvm driver's CSI controller socket (default: the dev cluster's)")
    .action(async (name: string, o: { to: string; size?: string; csiSocket?: string }) => {
      const c = ctl();
      c.print(await restoreSnapshot(c, name, o.to, o.size, o.csiSocket));
    });
}
