import assert from "node:assert/strict";
import { test } from "node:test";
import { pdbStatus } from "./disruption.ts";

const pod = (name: string, ready: boolean, extra: Record<string, unknown> = {}) =>
  ({
    metadata: { name, namespace: "ns", labels: { app: "x" }, ...extra },
    status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  }) as never;
const NOW = Date.parse("2026-01-01T00:10:00Z");

test("PodDisruptionBudget status: minAvailable, maxUnavailable, percentages, disrupted pods", () => {
  const pods = [
    pod("a", true),
    pod("b", true),
    pod("c", false),
    { ...(pod("d", true) as object), metadata: { name: "d", namespace: "ns", labels: { app: "y" } } } as never,
  ];
  const pdb = (spec: Record<string, unknown>, status: Record<string, unknown> = {}) =>
    ({ metadata: { name: "p", namespace: "ns", generation: 2 }, spec: { selector: { matchLabels: { app: "x" } }, ...spec }, status }) as never;
  const none = () => undefined;
  let s = pdbStatus(pdb({ minAvailable: 1 }), pods, none, NOW);
  assert.deepEqual([s.expectedPods, s.currentHealthy, s.desiredHealthy, s.disruptionsAllowed, s.observedGeneration], [3, 2, 1, 1, 2]);
  assert.equal(s.conditions?.[0]?.reason, "SufficientPods");
  s = pdbStatus(pdb({ minAvailable: 2 }), pods, none, NOW);
  assert.equal(s.disruptionsAllowed, 0);
  assert.equal(s.conditions?.[0]?.reason, "InsufficientPods");
  s = pdbStatus(pdb({ maxUnavailable: 1 }), pods, () => 3, NOW);
  assert.deepEqual([s.expectedPods, s.desiredHealthy, s.disruptionsAllowed], [3, 2, 0]);
  s = pdbStatus(pdb({ minAvailable: "50%" }), pods, () => 4, NOW);
  assert.deepEqual([s.expectedPods, s.desiredHealthy, s.disruptionsAllowed], [4, 2, 0]);
  // a pod just evicted counts as disrupted (not healthy) until it goes, at most 2 minutes
  s = pdbStatus(pdb({ minAvailable: 1 }, { disruptedPods: { a: "2026-01-01T00:09:30Z" } }), pods, none, NOW);
  assert.deepEqual([s.currentHealthy, s.disruptionsAllowed], [1, 0]);
  assert.deepEqual(s.disruptedPods, { a: "2026-01-01T00:09:30Z" });
  s = pdbStatus(pdb({ minAvailable: 1 }, { disruptedPods: { a: "2026-01-01T00:07:00Z" } }), pods, none, NOW);
  assert.equal(s.disruptedPods, undefined, "expired after 2 minutes");
});
