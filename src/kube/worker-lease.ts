// The node agent's worker Leases (fact sheet §5.2): `hwameistor-local-storage-worker-<node>` and
// `hwameistor-local-disk-manager-worker-<node>` in the system namespace, held by the node's name, 30 s long,
// renewed every 15 s (the original runs a leader election per node with these timings). The controller's
// node-state check turns a node whose lease expired Offline (src/controller/node-state/).
// A failed renewal is logged and retried at the next tick; stop() leaves the Lease to expire (a stopped
// agent must look stopped).

import type { KubeClient, ResourceClient } from "./client.ts";
import { LEASE, NAMESPACE, microTime, type LeaseSpec } from "./resources.ts";
import { isAlreadyExists, isConflict } from "./transport.ts";
import { stderrLogger, type KubeObject, type Logger } from "./types.ts";

type LeaseObject = KubeObject & { spec?: LeaseSpec };

export interface WorkerLeaseOptions {
  client: KubeClient;
  namespace: string;
  /** Lease names to renew (one per worker role). */
  names: string[];
  holder: string;
  leaseDurationSeconds?: number;
  renewIntervalMs?: number;
  log?: Logger;
}

export class WorkerLeases {
  private readonly leases: ResourceClient<LeaseObject>;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;

  constructor(private readonly o: WorkerLeaseOptions) {
    this.leases = o.client.forKind<LeaseObject>(LEASE);
    this.log = o.log ?? stderrLogger;
  }

  async start(): Promise<void> {
    await this.ensureNamespace();
    await this.renewAll();
    this.timer = setInterval(() => {
      this.inFlight ??= this.renewAll()
        .catch((e: unknown) => this.log.warn({ leases: this.o.names, err: String(e) }, "worker lease renewal failed; retried at the next tick"))
        .finally(() => (this.inFlight = undefined));
    }, this.o.renewIntervalMs ?? 15_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
  }

  private async ensureNamespace(): Promise<void> {
    const namespaces = this.o.client.forKind(NAMESPACE);
    if (await namespaces.get(this.o.namespace)) return;
    try {
      await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: this.o.namespace } });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }

  async renewAll(): Promise<void> {
    for (const name of this.o.names) await this.renew(name);
  }

  private async renew(name: string): Promise<void> {
    const spec: LeaseSpec = { holderIdentity: this.o.holder, leaseDurationSeconds: this.o.leaseDurationSeconds ?? 30, renewTime: microTime() };
    const lease = await this.leases.get(name, this.o.namespace);
    try {
      if (!lease) {
        await this.leases.create({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: this.o.namespace }, spec });
        return;
      }
      await this.leases.update({ ...lease, spec: { ...lease.spec, ...spec, acquireTime: lease.spec?.acquireTime ?? spec.renewTime } });
    } catch (e) {
      if (!isConflict(e) && !isAlreadyExists(e)) throw e;
    }
  }
}
