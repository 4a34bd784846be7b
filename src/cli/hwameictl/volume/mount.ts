// `hwameictl volume mount NAME --node N --path P`: what the attacher and kubelet do — ControllerPublish
// (when the driver advertises PUBLISH_UNPUBLISH_VOLUME) for the node, then NodePublish on that node's CSI
// socket with the publish context (no staging: neither driver stages). fsType and volume context come from
// the PersistentVolume `volume create` recorded (xfs and {} without one).
import type { Command } from "commander";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { connectCsi } from "../../../csi/client.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { controllerCaps, mountCapability, requireVolume, withRetry } from "./common.ts";
import { volumeColumns } from "./list.ts";

export interface MountFlags {
  node: string;
  path: string;
  readonly?: boolean;
  csiSocket?: string;
  nodeCsiSocket?: string;
}

export async function csiAttributes(ctl: Ctl, name: string): Promise<{ fsType: string; volumeContext: Record<string, string> }> {
  const pv = await ctl.pv.get(name).catch(() => undefined);
  return { fsType: pv?.spec?.csi?.fsType || "xfs", volumeContext: pv?.spec?.csi?.volumeAttributes ?? {} };
}

export async function mountVolume(ctl: Ctl, name: string, f: MountFlags): Promise<View> {
  const v = await requireVolume(ctl, name);
  await ctl.requireNode(f.node);
  const target = resolve(f.path);
  const { fsType, volumeContext } = await csiAttributes(ctl, name);
  const cap = mountCapability(fsType);
  const deadline = Date.now() + ctl.timeoutMs;
  const callTimeoutMs = Math.min(60_000, ctl.timeoutMs);
  const nodeSock = ctl.nodeSocket(f.node, v.driver, f.nodeCsiSocket);
  const ctrl = await connectCsi(ctl.controllerSocket(v.driver, f.csiSocket), { callTimeoutMs });
  let publishContext: Record<string, string> = {};
  try {
    if ((await controllerCaps(ctrl)).has("PUBLISH_UNPUBLISH_VOLUME")) {
      const r = await withRetry(`ControllerPublishVolume ${name} → ${f.node}`, deadline, () =>
        ctrl.call<{ publish_context?: Record<string, string> }>("Controller", "ControllerPublishVolume", {
          volume_id: name,
          node_id: f.node,
          volume_capability: cap,
          readonly: !!f.readonly,
          volume_context: volumeContext,
        }),
      );
      publishContext = r.publish_context ?? {};
    }
  } finally {
    ctrl.close();
  }
  mkdirSync(target, { recursive: true }); // kubelet creates the target directory
  const node = await connectCsi(nodeSock, { callTimeoutMs });
  try {
    await withRetry(`NodePublishVolume ${name} on ${f.node}`, deadline, () =>
      node.nodePublishVolume({
        volume_id: name,
        publish_context: publishContext,
        target_path: target,
        volume_capability: cap,
        readonly: !!f.readonly,
        volume_context: volumeContext,
      }),
    );
  } finally {
    node.close();
  }
  const after = await requireVolume(ctl, name);
  return {
    sections: [{ columns: volumeColumns, rows: [after.row] }],
    text: `mounted ${name} at ${target} on ${f.node}`,
    data: { volume: name, node: f.node, path: target, publishContext },
  };
}

export function registerVolumeMount(volume: Command, ctl: () => Ctl): void {
  volume
    .command("mount <name>")
    .description("publish a volume on a node and mount it at a path (as the attacher and kubelet do)")
    .requiredOption("--node <name>", "the node whose CSI node service mounts it")
    .requiredOption("--path <dir>", "the mount point (created if missing)")
    .option("--readonly", "mount read-only")
    .option("--csi-socket <path>", "the driver's CSI controller socket (default: the dev cluster's)")
    .option("--node-csi-socket <path>", "the node's CSI socket (default: the dev cluster's <state>/nodes/<node>/<driver>.sock)")
    .action(async (name: string, o: MountFlags) => {
      const c = ctl();
      c.print(await mountVolume(c, name, o));
    });
}
