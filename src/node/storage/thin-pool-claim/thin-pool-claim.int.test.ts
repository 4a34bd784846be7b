// ThinPoolClaim end to end against the REAL embedded API server: the controller's reconciler (validates the
// ratio, checks the node's pool has room, hands it over) and the node consumer with the real lvm engine on THIS
// kernel (no device-mapper → no thin pools): a bad ratio stays put with an event; a claim that fits reaches the
// node, which refuses with the probe's reason and changes nothing (claim stays ToBeConsumed, no record).
import { test } from "node:test";
import assert from "node:assert/strict";

import { thinPoolClaimController } from "../../../controller/thin-pool-claim/reconciler.ts";
import { EVENT } from "../../../kube/resources.ts";
import { EventRecorder } from "../../../kube/events.ts";
import { hwameistorClients, type HwameistorClients, type ThinPoolClaimObject } from "../../../kube/hwameistor.ts";
import { silentLogger, type KubeObject } from "../../../kube/types.ts";
import { useServerWithCrds, TestServer, waitFor } from "../../../../test/helpers/api-server.ts";
import { LvmEngine } from "../../engines/lvm/lvm-engine.ts";
import { thinPoolClaimNodeController } from "./reconciler.ts";

const GiB = 1024 ** 3;
let srv: TestServer | undefined;
let c!: HwameistorClients;
const stops = useServerWithCrds(async (s) => {
  srv = s;
  c = hwameistorClients(s.client);
  await c.lsn.create({ metadata: { name: "n1" }, spec: { hostname: "n1" } } as never);
  const lsn = (await c.lsn.get("n1"))!;
  await c.lsn.updateStatus({
    ...lsn,
    status: { state: "Ready", pools: { LocalStorage_PoolHDD: { name: "LocalStorage_PoolHDD", freeCapacityBytes: 20 * GiB, totalCapacityBytes: 20 * GiB } } },
  });
  const ctl = thinPoolClaimController({ client: s.client, log: silentLogger });
  await ctl.start();
  stops.push(() => ctl.stop());
  const engine = new LvmEngine({ deviceMapper: false });
  await engine.features();
  const ac = new AbortController();
  const ctx = {
    nodeName: "n1",
    client: s.client,
    recorder: new EventRecorder(s.client, { component: "test-node", log: silentLogger }),
    log: silentLogger,
    stateDir: "/nonexistent",
    csiSocketDir: "/nonexistent",
    signal: ac.signal,
  };
  const node = thinPoolClaimNodeController({ ctx, c, engine });
  await node.start();
  stops.push(() => node.stop());
});

const events = async (name: string) =>
  (
    (await srv!.client.forKind(EVENT).list({ namespace: "default" })).items as Array<
      KubeObject & { involvedObject?: { name?: string }; reason?: string; message?: string }
    >
  ).filter((e) => e.involvedObject?.name === name);

test("bad ratio: stays put with a ThinPoolClaimFail event naming the claim", async () => {
  await c.tpc.create({
    metadata: { name: "tpc-bad" },
    spec: { nodeName: "n1", description: { poolName: "LocalStorage_PoolHDD", capacity: 1, overProvisionRatio: "0.5" } },
  } as ThinPoolClaimObject);
  await waitFor("the refusal event", async () => (await events("tpc-bad")).some((e) => e.reason === "ThinPoolClaimFail"), 20_000);
  const e = (await events("tpc-bad")).find((x) => x.reason === "ThinPoolClaimFail")!;
  assert.match(e.message ?? "", /ThinPoolClaim tpc-bad: overProvisionRatio 0.5 must be at least 1.0/);
  assert.equal((await c.tpc.get("tpc-bad"))!.status?.status ?? "", "");
});

test("a claim that fits reaches the node; a node without device-mapper refuses it and changes nothing", async () => {
  await c.tpc.create({
    metadata: { name: "tpc-1" },
    spec: { nodeName: "n1", description: { poolName: "LocalStorage_PoolHDD", capacity: 10, overProvisionRatio: "2.0" } },
  } as ThinPoolClaimObject);
  await waitFor("ToBeConsumed", async () => (await c.tpc.get("tpc-1"))?.status?.status === "ToBeConsumed", 20_000);
  await waitFor("the node's refusal", async () => (await events("tpc-1")).some((e) => e.reason === "ThinPoolClaimFail"), 20_000);
  const e = (await events("tpc-1")).find((x) => x.reason === "ThinPoolClaimFail")!;
  assert.match(e.message ?? "", /ThinPoolClaim tpc-1: node n1 \(engine lvm\) cannot create thin pools: device-mapper unavailable/);
  assert.equal((await c.tpc.get("tpc-1"))!.status?.status, "ToBeConsumed");
  assert.equal((await c.lsn.get("n1"))!.status?.thinPoolExtendRecords, undefined, "no record: nothing was consumed");
  // Too big for the pool: the controller keeps it Pending with the reason.
  await c.tpc.create({
    metadata: { name: "tpc-big" },
    spec: { nodeName: "n1", description: { poolName: "LocalStorage_PoolHDD", capacity: 19 } },
  } as ThinPoolClaimObject);
  await waitFor(
    "the space refusal",
    async () => (await events("tpc-big")).some((x) => /not enough free space in pool LocalStorage_PoolHDD on node n1/.test(x.message ?? "")),
    20_000,
  );
  assert.equal((await c.tpc.get("tpc-big"))!.status?.status, "Pending");
});
