// Host-test helper of the node agent's tests (disk manager, local storage): one agent on loop-attached image files.
import { join } from "node:path";
import type { KubeClient } from "../kube/client.ts";
import { silentLogger } from "../kube/types.ts";
import { startNodeAgent, type NodeAgent, type NodeAgentOptions } from "./agent.ts";

/** Node agent "n1" over the image files in `<dir>/disks` (attached by the test), state in `<dir>/state`, no disk CSI driver. */
export function startLoopDiskAgent(client: KubeClient, dir: string, o: Partial<NodeAgentOptions> = {}): Promise<NodeAgent> {
  return startNodeAgent({
    nodeName: "n1",
    client,
    devices: `file:${dir}/disks/*.img`,
    stateDir: join(dir, "state"),
    diskDriver: false,
    log: silentLogger,
    ...o,
  });
}
