import assert from "node:assert/strict";
import { test } from "node:test";
import type { CoreNode } from "../../api/core.ts";
import { ProbeClock } from "../../kube/probe-clock.ts";
import { TaintKeys, decideNode, desiredTaints } from "./decide.ts";

const NOW = "2026-01-01T00:01:00Z";
const node = (ready: string | undefined, extra: Partial<CoreNode> = {}): CoreNode => ({
  metadata: { name: "n1" },
  spec: { ...extra.spec },
  status: {
    conditions: ready
      ? [
          { type: "Ready", status: ready, reason: "KubeletReady", lastHeartbeatTime: "2026-01-01T00:00:00Z", lastTransitionTime: "2026-01-01T00:00:00Z" },
          { type: "DiskPressure", status: "False", lastHeartbeatTime: "2026-01-01T00:00:00Z" },
        ]
      : [],
  },
});
const keys = (t: { key: string; effect: string }[] | undefined) => (t ?? []).map((x) => `${x.key}:${x.effect}`).sort();

test("node lifecycle decision table", () => {
  const rows: Array<{ name: string; n: CoreNode; heard: boolean; prev?: string; conds?: string; taints?: string[]; event?: string }> = [
    { name: "heard, Ready: nothing to do", n: node("True"), heard: true },
    {
      name: "not heard: kubelet conditions Unknown, unreachable taints, NodeNotReady",
      n: node("True"),
      heard: false,
      conds: "Ready=Unknown/NodeStatusUnknown,DiskPressure=Unknown/NodeStatusUnknown",
      taints: [`${TaintKeys.Unreachable}:NoExecute`, `${TaintKeys.Unreachable}:NoSchedule`],
      event: "NodeNotReady",
    },
    {
      name: "never posted: NodeStatusNeverUpdated",
      n: node(undefined),
      heard: false,
      conds: "Ready=Unknown/NodeStatusNeverUpdated",
      taints: [`${TaintKeys.Unreachable}:NoExecute`, `${TaintKeys.Unreachable}:NoSchedule`],
    },
    {
      name: "heard again but Ready still Unknown: taints stay until the kubelet posts",
      n: {
        ...node("Unknown"),
        spec: {
          taints: [
            { key: TaintKeys.Unreachable, effect: "NoSchedule" },
            { key: TaintKeys.Unreachable, effect: "NoExecute" },
          ],
        },
      },
      heard: true,
      prev: "Unknown",
    },
    {
      name: "Ready True again: unreachable taints removed, NodeReady",
      n: {
        ...node("True"),
        spec: {
          taints: [
            { key: TaintKeys.Unreachable, effect: "NoSchedule" },
            { key: "user", effect: "NoSchedule" },
          ],
        },
      },
      heard: true,
      prev: "Unknown",
      taints: ["user:NoSchedule"],
      event: "NodeReady",
    },
    {
      name: "Ready False: not-ready taints",
      n: node("False"),
      heard: true,
      prev: "False",
      taints: [`${TaintKeys.NotReady}:NoExecute`, `${TaintKeys.NotReady}:NoSchedule`],
    },
    {
      name: "cordoned: unschedulable taint",
      n: { ...node("True"), spec: { unschedulable: true } },
      heard: true,
      taints: [`${TaintKeys.Unschedulable}:NoSchedule`],
    },
    {
      name: "uncordoned: unschedulable taint removed",
      n: { ...node("True"), spec: { taints: [{ key: TaintKeys.Unschedulable, effect: "NoSchedule" }] } },
      heard: true,
      taints: [],
    },
  ];
  for (const r of rows) {
    const d = decideNode(r.n, r.heard, NOW, r.prev);
    const conds = d.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`).join(",");
    assert.equal(conds, r.conds, `${r.name}: conditions`);
    assert.deepEqual(d.taints === undefined ? undefined : keys(d.taints), r.taints === undefined ? undefined : [...r.taints].sort(), `${r.name}: taints`);
    assert.equal(d.event?.reason, r.event, `${r.name}: event`);
  }
});

test("the NoExecute taint carries timeAdded; the old heartbeat is kept", () => {
  const d = decideNode(node("True"), false, NOW);
  assert.equal(d.taints?.find((t) => t.effect === "NoExecute")?.timeAdded, NOW);
  assert.equal(d.conditions?.find((c) => c.type === "Ready")?.lastHeartbeatTime, "2026-01-01T00:00:00Z");
  assert.equal(d.conditions?.find((c) => c.type === "Ready")?.lastTransitionTime, NOW);
  assert.deepEqual(desiredTaints("True", false), []);
});

test("probe clock: age since the value last changed, on our clock", () => {
  const c = new ProbeClock();
  assert.equal(c.observe("n", "a", 1000), 0);
  assert.equal(c.observe("n", "a", 5000), 4000);
  assert.equal(c.observe("n", "b", 6000), 0);
  assert.equal(c.observe("n", "b", 6500), 500);
});
