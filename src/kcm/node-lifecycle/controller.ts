// kube-controller-manager's node lifecycle controller, as this project plays it where no Kubernetes runs (dev
// cluster, standalone): every nodeMonitorPeriod each Node is checked against its Lease in kube-node-lease (renewed
// by the node agent's heartbeat, src/kube/node-lease.ts) and its Ready heartbeat; the decisions are in decide.ts.
// One key per Node; each pass requeues itself after nodeMonitorPeriod, so an expiring lease is noticed without
// any watch event. Writes: Node status.conditions (status subresource), spec.taints, Events on the Node.

import type { CoreNode } from "../../api/core.ts";
import type { KubeClient } from "../../kube/client.ts";
import { Controller } from "../../kube/controller.ts";
import { InformerFactory } from "../../kube/informer-factory.ts";
import { LEASE, NODE, NODE_LEASE_NAMESPACE, metaTime, type LeaseSpec } from "../../kube/resources.ts";
import { silentLogger, type KubeObject, type Logger } from "../../kube/types.ts";
import { ProbeClock } from "../../kube/probe-clock.ts";
import { decideNode } from "./decide.ts";

type NodeObj = CoreNode & KubeObject;
type LeaseObj = KubeObject & { spec?: LeaseSpec };

export interface NodeLifecycleOptions {
  client: KubeClient;
  informers?: InformerFactory;
  log?: Logger;
  /** --node-monitor-grace-period (upstream default 40 s; 50 s since 1.32). */
  nodeMonitorGracePeriodMs?: number;
  /** --node-monitor-period (upstream default 5 s). */
  nodeMonitorPeriodMs?: number;
}

export const NODE_LIFECYCLE_COMPONENT = "node-controller";

export function nodeLifecycleController(o: NodeLifecycleOptions) {
  const log = o.log ?? silentLogger;
  const f = o.informers ?? new InformerFactory(o.client, { log });
  const grace = o.nodeMonitorGracePeriodMs ?? 40_000;
  const period = o.nodeMonitorPeriodMs ?? 5_000;
  const nodes = o.client.forKind<NodeObj>(NODE);
  const inf = { node: f.for<NodeObj>(NODE), lease: f.for<LeaseObj>(LEASE) };
  const clock = new ProbeClock();
  const lastReady = new Map<string, string>();
  const ctl = new Controller({
    name: "node-lifecycle",
    log,
    events: { client: o.client, component: NODE_LIFECYCLE_COMPONENT },
    reconcile: (key) => sync(key),
  });
  ctl.watch(inf.node, (n) => n.metadata?.name);
  ctl.watch(inf.lease, (l) => (l.metadata?.namespace === NODE_LEASE_NAMESPACE ? l.metadata?.name : undefined));

  async function sync(name: string): Promise<{ requeueAfterMs: number } | void> {
    const node = inf.node.getByName(name);
    if (!node) {
      clock.forget(`lease/${name}`);
      clock.forget(`ready/${name}`);
      lastReady.delete(name);
      return;
    }
    const now = Date.now();
    const lease = inf.lease.getByName(name, NODE_LEASE_NAMESPACE);
    // A Node nothing heartbeats (no Lease: made by hand, or by a kubelet of a real cluster we do not manage)
    // is left alone, apart from the cordon taint.
    if (!lease) {
      const d = decideNode(node, true, metaTime(), lastReady.get(name));
      if (d.taints) await nodes.update({ ...node, spec: { ...node.spec, taints: d.taints } });
      return { requeueAfterMs: period };
    }
    const heartbeat = node.status?.conditions?.find((c) => c.type === "Ready")?.lastHeartbeatTime ?? "";
    const ages = [clock.observe(`ready/${name}`, heartbeat, now)];
    if (lease?.spec?.renewTime) ages.push(clock.observe(`lease/${name}`, lease.spec.renewTime, now));
    const heard = Math.min(...ages) < grace;
    const d = decideNode(node, heard, metaTime(), lastReady.get(name));
    let cur = node;
    if (d.conditions) {
      cur = await nodes.updateStatus({ ...cur, status: { ...cur.status, conditions: d.conditions } });
      log.info({ node: name }, "node stopped posting status: conditions Unknown");
    }
    if (d.taints) {
      cur = await nodes.update({ ...cur, spec: { ...cur.spec, taints: d.taints } });
      log.info({ node: name, taints: d.taints.map((t) => `${t.key}:${t.effect}`) }, "node taints updated");
    }
    if (d.event) await ctl.recordEvent({ ...cur, apiVersion: "v1", kind: "Node" }, d.event.type, d.event.reason, d.event.message);
    lastReady.set(name, cur.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "");
    return { requeueAfterMs: period };
  }

  return { controller: ctl, start: () => ctl.start(), stop: () => ctl.stop() };
}
