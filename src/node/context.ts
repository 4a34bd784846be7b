// What every part of a node agent is handed: who it is, how it reaches the API, where it keeps state.
// The agent (src/node/agent.ts) builds one NodeContext and starts each part with it.
import type { KubeClient } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { InformerFactory } from "../kube/informer-factory.ts";
import type { Logger } from "../kube/types.ts";

export interface NodeContext {
  nodeName: string;
  client: KubeClient;
  recorder: EventRecorder;
  log: Logger;
  /** Root of this node's persistent state (disk-pool symlinks, engine metadata); default /etc/hwameistor. */
  stateDir: string;
  /** Where this node's CSI sockets live: <csiSocketDir>/disk.sock, <csiSocketDir>/lvm.sock. */
  csiSocketDir: string;
  /** Stops every part the agent started. */
  signal: AbortSignal;
  /**
   * The agent's shared informers: the disk manager and local storage watch each kind once (LocalDisks, claims,
   * actions, LocalStorageNodes, ...). Parts started alone (tests) make their own.
   */
  informers?: InformerFactory;
}

export type { Service } from "../kube/types.ts";
