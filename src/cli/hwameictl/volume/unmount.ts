// `hwameictl volume unmount NAME --node N --path P`: NodeUnpublish on the node, then ControllerUnpublish
// (when the driver advertises it).
import type { Command } from "commander";
import { resolve } from "node:path";
import { connectCsi } from "../../../csi/client.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { controllerCaps, requireVolume, withRetry } from "./common.ts";
import { volumeColumns } from "./list.ts";
import type { MountFlags } from "./mount.ts";

export async function unmountVolume(ctl: Ctl, name: string, f: MountFlags): Promise<View> {
  const v = await requireVolume(ctl, name);
  await ctl.requireNode(f.node);
  const target = resolve(f.path);
  const deadline = Date.now() + ctl.timeoutMs;
  const callTimeoutMs = Math.min(60_000, ctl.timeoutMs);
  const node = await connectCsi(ctl.nodeSocket(f.node, v.driver, f.nodeCsiSocket), { callTimeoutMs });
  try {
    await withRetry(`NodeUnpublishVolume ${name} on ${f.node}`, deadline, () => node.nodeUnpublishVolume({ volume_id: name, target_path: target }));
  } finally {
    node.close();
  }
  const ctrl = await connectCsi(ctl.controllerSocket(v.driver, f.csiSocket), { callTimeoutMs });
  try {
    if ((await controllerCaps(ctrl)).has("PUBLISH_UNPUBLISH_VOLUME")) {
      await withRetry(`ControllerUnpublishVolume ${name} from ${f.node}`, deadline, () =>
        ctrl.call("Controller", "ControllerUnpublishVolume", { volume_id: name, node_id: f.node }),
      );
    }
  } finally {
    ctrl.close();
  }
  const after = await requireVolume(ctl, name);
  return {
    sections: [{ columns: volumeColumns, rows: [after.row] }],
    text: `unmounted ${name} from ${target} on ${f.node}`,
    data: { volume: name, node: f.node, path: target },
  };
}

export function registerVolumeUnmount(volume: Command, ctl: () => Ctl): void {
  volume
    .command("unmount <name>")
    .description("unmount a volume from a path on a node and unpublish it")
    .requiredOption("--node <name>", "the node where it is mounted")
    .requiredOption("--path <dir>", "the mount point")
    .option("--csi-socket <path>", "the driver's CSI controller socket (default: the dev cluster's)")
    .option("--node-csi-socket <path>", "the node's CSI socket (default: the dev cluster's)")
    .action(async (name: string, o: MountFlags) => {
      const c = ctl();
      c.print(await unmountVolume(c, name, o));
    });
}
