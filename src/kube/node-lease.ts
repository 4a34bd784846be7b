// Kubelet-style node heartbeat for node agents in standalone mode (no kubelet): registers the core Node
// object, renews the Lease `<node>` in kube-node-lease (owned by the Node, like the kubelet's), and keeps the
// Node's Ready condition current (lastHeartbeatTime every status interval; lastTransitionTime only when
// the status flips). In a real cluster the kubelet does all this: leave `NodeHeartbeat` off there.
// Simplification: only the Ready condition is maintained; other conditions written by others are kept.

import type { KubeClient, ResourceClient } from "./client.ts";
import { LEASE, NAMESPACE, NODE, NODE_LEASE_NAMESPACE, metaTime, microTime, type LeaseSpec } from "./resources.ts";
import { isAlreadyExists, isConflict } from "./transport.ts";
import { stderrLogger, type KubeObject, type Logger } from "./types.ts";

export interface NodeCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export type NodeObject = KubeObject & {
  spec?: Record<string, unknown>;
  status?: {
    conditions?: NodeCondition[];
    addresses?: Array<{ type: string; address: string }>;
    nodeInfo?: Record<string, string>;
    [k: string]: unknown;
  };
};

type LeaseObject = KubeObject & { spec?: LeaseSpec };

export interface NodeHeartbeatOptions {
  client: KubeClient;
  nodeName: string;
  /** Lease duration (kubelet default 40 s). */
  leaseDurationSeconds?: number;
  /** Lease renew interval (kubelet: a quarter of the duration, 10 s). */
  renewIntervalMs?: number;
  /** Node status (Ready heartbeat) interval (kubelet's nodeStatusUpdateFrequency, 10 s). */
  statusIntervalMs?: number;
  /** Labels set on the Node at registration (kubernetes.io/hostname and kubernetes.io/os are added). */
  labels?: Record<string, string>;
  addresses?: Array<{ type: string; address: string }>;
  /** Readiness probe; default always ready. A string is the NotReady message. */
  isReady?: () => true | string | Promise<true | string>;
  log?: Logger;
}

export class NodeHeartbeat {
  private readonly nodes: ResourceClient<NodeObject>;
  private readonly leases: ResourceClient<LeaseObject>;
  private readonly log: Logger;
  private leaseTimer?: NodeJS.Timeout;
  private statusTimer?: NodeJS.Timeout;
  private nodeUid?: string;
  private inFlight = new Set<Promise<unknown>>();

  constructor(private readonly o: NodeHeartbeatOptions) {
    this.nodes = o.client.forKind<NodeObject>(NODE);
    this.leases = o.client.forKind<LeaseObject>(LEASE);
    this.log = o.log ?? stderrLogger;
  }

  /** Registers the Node, writes the first heartbeat and Lease (throws if that fails), then keeps them fresh. */
  async start(): Promise<void> {
    await this.registerNode();
    await this.ensureLeaseNamespace();
    await this.renewLease();
    await this.updateStatus();
    const renewMs = this.o.renewIntervalMs ?? 10_000;
    const statusMs = this.o.statusIntervalMs ?? 10_000;
    this.leaseTimer = setInterval(() => this.track(this.renewLease()), renewMs);
    this.statusTimer = setInterval(() => this.track(this.updateStatus()), statusMs);
  }

  /** Stops heartbeating. The Node then goes stale like a stopped kubelet's (nothing marks it NotReady here). */
  async stop(): Promise<void> {
    clearInterval(this.leaseTimer);
    clearInterval(this.statusTimer);
    await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((e) => this.log.warn({ node: this.o.nodeName, err: (e as Error)?.message ?? String(e) }, "node heartbeat failed"));
    this.inFlight.add(q);
    void q.finally(() => this.inFlight.delete(q));
  }

  private async registerNode(): Promise<void> {
    const name = this.o.nodeName;
    let node = await this.nodes.get(name);
    if (!node) {
      try {
        node = await this.nodes.create({
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name,
            labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", ...this.o.labels },
          },
          spec: {},
        });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        node = await this.nodes.get(name);
      }
    }
    this.nodeUid = node?.metadata?.uid;
  }

  private async ensureLeaseNamespace(): Promise<void> {
    const namespaces = this.o.client.forKind(NAMESPACE);
    if (await namespaces.get(NODE_LEASE_NAMESPACE)) return;
    try {
      await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NODE_LEASE_NAMESPACE } });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }

  /** Renews (or creates) the node Lease; a conflict is retried at the next tick. */
  async renewLease(): Promise<void> {
    const name = this.o.nodeName;
    const spec: LeaseSpec = {
      holderIdentity: name,
      leaseDurationSeconds: this.o.leaseDurationSeconds ?? 40,
      renewTime: microTime(),
    };
    const lease = await this.leases.get(name, NODE_LEASE_NAMESPACE);
    if (!lease) {
      await this.leases.create({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: {
          name,
          namespace: NODE_LEASE_NAMESPACE,
          ownerReferences: this.nodeUid ? [{ apiVersion: "v1", kind: "Node", name, uid: this.nodeUid }] : undefined,
        },
        spec,
      });
      return;
    }
    try {
      await this.leases.update({ ...lease, spec: { ...lease.spec, ...spec } });
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }

  /** Writes the Ready condition (heartbeat), preserving other conditions; re-registers a deleted Node. */
  async updateStatus(): Promise<void> {
    const probe = await (this.o.isReady?.() ?? true);
    for (let attempt = 0; attempt < 3; attempt++) {
      const node = await this.nodes.get(this.o.nodeName);
      if (!node) {
        await this.registerNode();
        continue;
      }
      const now = metaTime();
      const conditions = [...(node.status?.conditions ?? [])];
      const i = conditions.findIndex((c) => c.type === "Ready");
      const prev = i >= 0 ? conditions[i] : undefined;
      const status: NodeCondition["status"] = probe === true ? "True" : "False";
      const ready: NodeCondition = {
        type: "Ready",
        status,
        reason: probe === true ? "KubeletReady" : "KubeletNotReady",
        message: probe === true ? "hwameistor node agent is posting ready status" : probe,
        lastHeartbeatTime: now,
        lastTransitionTime: prev && prev.status === status ? (prev.lastTransitionTime ?? now) : now,
      };
      if (i >= 0) conditions[i] = ready;
      else conditions.push(ready);
      const statusBody = {
        ...node.status,
        conditions,
        ...(this.o.addresses ? { addresses: this.o.addresses } : {}),
      };
      try {
        await this.nodes.updateStatus({ ...node, status: statusBody });
        return;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
  }
}
