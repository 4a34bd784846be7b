// The disk.hwameistor.io driver on a node: the LocalDiskVolume reconciler and the CSI Identity + Node
// services on `<csiSocketDir>/disk.sock`. The node agent (src/node/agent.ts) calls startDiskDriverNode.

import path from "node:path";
import { DiskDriver } from "../../csi/capabilities.ts";
import { identityService } from "../../csi/identity.ts";
import { diskNodeService } from "../csi/disk/node.ts";
import { startCsiServer } from "../../csi/server.ts";
import type { NodeContext, Service } from "../context.ts";
import { diskVolumeController } from "./reconciler.ts";

export const DISK_SOCKET_NAME = "disk.sock";

export async function startDiskDriverNode(ctx: NodeContext): Promise<Service> {
  const ctl = diskVolumeController(ctx);
  await ctl.start();
  let csi;
  try {
    csi = await startCsiServer({
      socketPath: path.join(ctx.csiSocketDir, DISK_SOCKET_NAME),
      identity: identityService(DiskDriver),
      node: diskNodeService({ nodeName: ctx.nodeName, client: ctx.client, stateDir: ctx.stateDir, log: ctx.log }),
      log: ctx.log,
    });
  } catch (e) {
    await ctl.stop();
    throw e;
  }
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= Promise.all([csi.stop(), ctl.stop()]).then(() => {}));
  ctx.signal.addEventListener("abort", () => void stop(), { once: true });
  return { stop };
}
