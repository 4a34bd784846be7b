// Node lifecycle against the REAL embedded API server, with short timings: a node agent's heartbeat (node Lease +
// Ready) and worker Leases run, then stop (the agent "dies"): the node lifecycle role marks the Node Ready=Unknown
// with the unreachable taints and an Event, the node-state check turns LocalStorageNode and LocalDiskNode Offline
// and the node's Ready replica NotReady; heartbeats resume: Ready=True, taints gone, LSN/LDN Ready again.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CoreNode } from "../../api/core.ts";
import { HWAMEISTOR_NAMESPACE, localDiskManagerWorkerLease, localStorageWorkerLease } from "../../api/names.ts";
import { nodeStateController } from "../../controller/node-state/reconciler.ts";
import { hwameistorClients, type HwameistorClients } from "../../kube/hwameistor.ts";
import { NodeHeartbeat } from "../../kube/node-lease.ts";
import { EVENT, NODE } from "../../kube/resources.ts";
import { silentLogger, type KubeObject } from "../../kube/types.ts";
import { WorkerLeases } from "../../kube/worker-lease.ts";
import { TestServer, useServerWithCrds, waitFor } from "../../../test/helpers/api-server.ts";
import { TaintKeys } from "./decide.ts";
import { nodeLifecycleController } from "./controller.ts";

let srv: TestServer | undefined;
let c!: HwameistorClients;
const stops = useServerWithCrds((s) => {
  srv = s;
  c = hwameistorClients(s.client);
});

const agent = () => {
  const hb = new NodeHeartbeat({
    client: srv!.client,
    nodeName: "n1",
    leaseDurationSeconds: 2,
    renewIntervalMs: 300,
    statusIntervalMs: 300,
    log: silentLogger,
  });
  const wl = new WorkerLeases({
    client: srv!.client,
    namespace: HWAMEISTOR_NAMESPACE,
    names: [localStorageWorkerLease("n1"), localDiskManagerWorkerLease("n1")],
    holder: "n1",
    leaseDurationSeconds: 2,
    renewIntervalMs: 300,
    log: silentLogger,
  });
  return { start: async () => (await hb.start(), await wl.start()), stop: async () => (await hb.stop(), await wl.stop()) };
};

test("lease expiry → Offline, unreachable, replicas NotReady; renewal → back to Ready", async () => {
  const a = agent();
  stops.push(() => a.stop());
  await a.start();
  for (const [rc, name] of [
    [c.lsn, "n1"],
    [c.ldn, "n1"],
  ] as const) {
    await (rc as typeof c.lsn).create({ metadata: { name }, spec: { hostname: name, nodeName: name } } as never);
    const o = (await (rc as typeof c.lsn).get(name))!;
    await (rc as typeof c.lsn).updateStatus({ ...o, status: { state: "Ready" } } as never);
  }
  await c.lvr.create({
    metadata: { name: "v1-abcdef" },
    spec: { volumeName: "v1", poolName: "LocalStorage_PoolHDD", nodeName: "n1", requiredCapacityBytes: 4194304 },
  } as never);
  const lvr = (await c.lvr.get("v1-abcdef"))!;
  await c.lvr.updateStatus({ ...lvr, status: { state: "Ready" } } as never);

  const nl = nodeLifecycleController({ client: srv!.client, log: silentLogger, nodeMonitorGracePeriodMs: 1500, nodeMonitorPeriodMs: 200 });
  await nl.start();
  stops.push(() => nl.stop());
  const ns = nodeStateController({ client: srv!.client, log: silentLogger, periodMs: 300 });
  ns.start();
  stops.push(() => ns.stop());

  const nodes = srv!.client.forKind<CoreNode & KubeObject>(NODE);
  const ready = async () => (await nodes.get("n1"))?.status?.conditions?.find((x) => x.type === "Ready");
  const taints = async () => ((await nodes.get("n1"))?.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort();
  await waitFor("Node Ready=True", async () => (await ready())?.status === "True");
  assert.deepEqual(await taints(), []);

  await a.stop(); // the agent dies: nothing renews
  await waitFor("Node Ready=Unknown", async () => (await ready())?.status === "Unknown", 8000);
  const r = await ready();
  assert.equal(r?.reason, "NodeStatusUnknown");
  assert.equal(r?.message, "Kubelet stopped posting node status.");
  await waitFor("unreachable taints", async () => (await taints()).join() === `${TaintKeys.Unreachable}:NoExecute,${TaintKeys.Unreachable}:NoSchedule`);
  await waitFor(
    "LSN, LDN Offline, replica NotReady",
    async () => {
      const [lsn, ldn, rep] = await Promise.all([c.lsn.get("n1"), c.ldn.get("n1"), c.lvr.get("v1-abcdef")]);
      return lsn?.status?.state === "Offline" && ldn?.status?.state === "Offline" && rep?.status?.state === "NotReady";
    },
    8000,
  );
  const events = await srv!.client
    .forKind<KubeObject & { reason?: string; involvedObject?: { name?: string; kind?: string } }>(EVENT)
    .list({ namespace: "default" });
  assert.ok(
    events.items.some((e) => e.reason === "NodeNotReady" && e.involvedObject?.kind === "Node" && e.involvedObject?.name === "n1"),
    "NodeNotReady event",
  );
  assert.ok(
    (await srv!.client.forKind<KubeObject & { reason?: string }>(EVENT).list({})).items.some((e) => e.reason === "NodeOffline"),
    "NodeOffline event on the LocalStorageNode",
  );

  const b = agent(); // back
  await b.start();
  stops.push(() => b.stop());
  await waitFor("Node Ready=True and untainted", async () => (await ready())?.status === "True" && (await taints()).length === 0, 8000);
  await waitFor(
    "LSN, LDN Ready",
    async () => {
      const [lsn, ldn] = await Promise.all([c.lsn.get("n1"), c.ldn.get("n1")]);
      return lsn?.status?.state === "Ready" && ldn?.status?.state === "Ready";
    },
    8000,
  );
  const all = await srv!.client.forKind<KubeObject & { reason?: string }>(EVENT).list({});
  assert.ok(
    all.items.some((e) => e.reason === "NodeReady"),
    "NodeReady event",
  );
});
