import { test } from "node:test";
import assert from "node:assert/strict";
import type { Pod, StatefulSet } from "../../api/core.ts";
import { decide, newPod, ordinalOf, ownerRefOf, type Action } from "./states.ts";

const sts = (replicas: number, extra: Partial<NonNullable<StatefulSet["spec"]>> = {}): StatefulSet => ({
  metadata: { name: "db", namespace: "ns", uid: "u-1", generation: 3 },
  spec: {
    replicas,
    serviceName: "db",
    selector: { matchLabels: { app: "db" } },
    template: {
      metadata: { labels: { app: "db" } },
      spec: { containers: [{ name: "c", command: ["sleep", "1"] }], volumes: [{ name: "scratch", emptyDir: {} }] },
    },
    volumeClaimTemplates: [
      { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: "hdd", resources: { requests: { storage: "1Gi" } } } },
    ],
    ...extra,
  },
});
const pod = (n: number, phase = "Running", ready = true, deleting = false): Pod => ({
  metadata: { name: `db-${n}`, namespace: "ns", ownerReferences: [ownerRefOf(sts(1))], ...(deleting ? { deletionTimestamp: "t" } : {}) },
  spec: { containers: [] },
  status: { phase, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});
const claim = (n: number) => ({ metadata: { name: `data-db-${n}`, namespace: "ns" } });
const summary = (a: Action[]) =>
  a.map((x) => (x.type === "createClaim" ? `claim ${x.claim.metadata!.name}` : x.type === "createPod" ? `pod ${x.pod.metadata!.name}` : `delete ${x.name}`));

test("StatefulSet decisions (OrderedReady and Parallel) — table", () => {
  const rows: Array<[string, StatefulSet, Pod[], number[], string[]]> = [
    ["empty → claim and pod 0", sts(2), [], [], ["claim data-db-0", "pod db-0"]],
    ["claim exists → only the pod", sts(2), [], [0], ["pod db-0"]],
    ["pod 0 not ready → wait", sts(2), [pod(0, "Pending", false)], [0], []],
    ["pod 0 ready → pod 1", sts(2), [pod(0)], [0], ["claim data-db-1", "pod db-1"]],
    ["all there → nothing", sts(2), [pod(0), pod(1)], [0, 1], []],
    ["scale down → highest first", sts(1), [pod(0), pod(1), pod(2)], [0, 1, 2], ["delete db-2"]],
    ["scale down waits for a terminating pod", sts(1), [pod(0), pod(1), pod(2, "Running", true, true)], [0, 1, 2], []],
    ["pod 0 deleted → recreated (its claim is kept)", sts(2), [pod(1)], [0, 1], ["pod db-0"]],
    ["a failed pod is deleted (recreated later)", sts(2), [pod(0, "Failed", false), pod(1)], [0, 1], ["delete db-0"]],
    [
      "Parallel → everything at once",
      sts(3, { podManagementPolicy: "Parallel" }),
      [],
      [],
      ["claim data-db-0", "pod db-0", "claim data-db-1", "pod db-1", "claim data-db-2", "pod db-2"],
    ],
    ["Parallel scale down → all surplus", sts(0, { podManagementPolicy: "Parallel" }), [pod(0), pod(1)], [0, 1], ["delete db-1", "delete db-0"]],
    ["ordinals.start", sts(1, { ordinals: { start: 5 } }), [], [], ["claim data-db-5", "pod db-5"]],
  ];
  for (const [what, s, pods, claims, want] of rows) assert.deepEqual(summary(decide(s, pods, claims.map(claim)).actions), want, what);
  const st = decide(sts(2), [pod(0), pod(1, "Pending", false)], []).status;
  assert.deepEqual(st, { observedGeneration: 3, replicas: 2, readyReplicas: 1, availableReplicas: 1, currentReplicas: 2, updatedReplicas: 2 });
});

test("StatefulSet pod identity: name, labels, owner, hostname/subdomain, claims replace template volumes", () => {
  const p = newPod(sts(2), 1);
  assert.equal(p.metadata!.name, "db-1");
  assert.deepEqual(p.metadata!.labels, { app: "db", "statefulset.kubernetes.io/pod-name": "db-1", "apps.kubernetes.io/pod-index": "1" });
  assert.deepEqual(p.metadata!.ownerReferences, [
    { apiVersion: "apps/v1", kind: "StatefulSet", name: "db", uid: "u-1", controller: true, blockOwnerDeletion: true },
  ]);
  assert.equal(p.spec!.hostname, "db-1");
  assert.equal(p.spec!.subdomain, "db");
  assert.deepEqual(p.spec!.volumes, [
    { name: "scratch", emptyDir: {} },
    { name: "data", persistentVolumeClaim: { claimName: "data-db-1" } },
  ]);
  assert.equal(ordinalOf("db", "db-10"), 10);
  assert.equal(ordinalOf("db", "db-01"), undefined);
  assert.equal(ordinalOf("db", "dbx-1"), undefined);
});
