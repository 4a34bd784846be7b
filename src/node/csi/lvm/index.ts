// The lvm.hwameistor.io driver on a node: CSI Identity + Node services on `<csiSocketDir>/lvm.sock`.
// The replicas behind it are realised by src/node/storage (startLocalStorage starts both).

import path from "node:path";
import { identityService } from "../../../csi/identity.ts";
import { startCsiServer } from "../../../csi/server.ts";
import type { NodeContext, Service } from "../../context.ts";
import type { HwameistorClients } from "../../../kube/hwameistor.ts";
import type { NodeReplicas } from "../../storage/replicas.ts";
import { LvmDriver as LvmNodeDriver } from "../../../csi/capabilities.ts";
import { lvmNodeService } from "./node.ts";

export const LVM_SOCKET_NAME = "lvm.sock";

export async function startLvmDriverNode(ctx: NodeContext, c: HwameistorClients, replicas: NodeReplicas): Promise<Service & { socketPath: string }> {
  const socketPath = path.join(ctx.csiSocketDir, LVM_SOCKET_NAME);
  const csi = await startCsiServer({
    socketPath,
    identity: identityService(LvmNodeDriver),
    node: lvmNodeService({ nodeName: ctx.nodeName, c, replicas, stateDir: ctx.stateDir, log: ctx.log }),
    log: ctx.log,
  });
  return { socketPath, stop: () => csi.stop() };
}
