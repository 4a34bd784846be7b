import { test } from "node:test";
import assert from "node:assert/strict";
import type { CoreNode, Pod, Pv, Pvc, StorageClassShape } from "../api/core.ts";
import type { LocalStorageNode } from "../api/kinds/local-storage-node.ts";
import { placePod, type PlacementInput } from "./place.ts";
import { nodeAffinityMismatch, termMatches } from "./predicates.ts";

const GiB = 2 ** 30;
const node = (name: string, extra: Partial<CoreNode> = {}, labels: Record<string, string> = {}): CoreNode => ({
  metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
  spec: { ...(extra.spec ?? {}) },
});
const lsn = (name: string, freeGiB: number): LocalStorageNode =>
  ({
    metadata: { name },
    spec: {},
    status: {
      state: "Ready",
      pools: {
        LocalStorage_PoolHDD: {
          totalCapacityBytes: freeGiB * GiB,
          usedCapacityBytes: 0,
          freeCapacityBytes: freeGiB * GiB,
          totalVolumeCount: 1000,
          usedVolumeCount: 0,
          volumes: [],
        },
      },
    },
  }) as LocalStorageNode;
const classes: StorageClassShape[] = [
  {
    metadata: { name: "hdd" },
    provisioner: "lvm.hwameistor.io",
    parameters: { poolClass: "HDD", replicaNumber: "1" },
    volumeBindingMode: "WaitForFirstConsumer",
  },
  { metadata: { name: "now" }, provisioner: "lvm.hwameistor.io", parameters: { poolClass: "HDD", replicaNumber: "1" }, volumeBindingMode: "Immediate" },
  {
    metadata: { name: "zoned" },
    provisioner: "example.com/x",
    volumeBindingMode: "WaitForFirstConsumer",
    allowedTopologies: [{ matchLabelExpressions: [{ key: "zone", values: ["a"] }] }],
  },
];
const pod = (spec: Partial<NonNullable<Pod["spec"]>> = {}, claims: string[] = []): Pod => ({
  metadata: { name: "p", namespace: "ns" },
  spec: { containers: [{ name: "c" }], volumes: claims.map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } })), ...spec },
});
const pvc = (name: string, cls: string, extra: Partial<Pvc> = {}): Pvc => ({
  metadata: { name, namespace: "ns" },
  spec: { storageClassName: cls, resources: { requests: { storage: "2Gi" } }, ...(extra.spec ?? {}) },
  status: { phase: "Pending", ...(extra.status ?? {}) },
});

function input(nodes: CoreNode[], pvcs: Pvc[] = [], pvs: Pv[] = []): PlacementInput {
  return { nodes, storage: { storageClasses: classes, pvcs, pvs, nodes, lsns: [lsn("n1", 10), lsn("n2", 3), lsn("n3", 5)], lvs: [] } };
}

test("placePod: kube-scheduler's storage-relevant filters (table)", () => {
  const cordoned = node("n1", { spec: { unschedulable: true } });
  const tainted = node("n2", { spec: { taints: [{ key: "k", value: "v", effect: "NoExecute" }] } });
  const rows: Array<[string, Pod, CoreNode[], Pvc[], Pv[], string | undefined, RegExp?]> = [
    ["cordoned node skipped", pod(), [cordoned, node("n2")], [], [], "n2"],
    [
      "cordoned but tolerated",
      pod({ tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }] }),
      [cordoned],
      [],
      [],
      "n1",
    ],
    ["untolerated NoExecute taint", pod(), [tainted], [], [], undefined, /1 node\(s\) had untolerated taint \{k: v\}/],
    ["tolerated with Exists and empty key", pod({ tolerations: [{ operator: "Exists" }] }), [tainted], [], [], "n2"],
    ["nodeSelector", pod({ nodeSelector: { disk: "fast" } }), [node("n1"), node("n2", {}, { disk: "fast" })], [], [], "n2"],
    [
      "required node affinity NotIn",
      pod({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: ["n1"] }] }],
            },
          },
        },
      }),
      [node("n1"), node("n3")],
      [],
      [],
      "n3",
    ],
    ["missing PVC", pod({}, ["x"]), [node("n1")], [], [], undefined, /persistentvolumeclaim "x" not found/],
    [
      "unbound Immediate PVC waits for the binder",
      pod({}, ["a"]),
      [node("n1")],
      [pvc("a", "now")],
      [],
      undefined,
      /pod has unbound immediate PersistentVolumeClaims/,
    ],
    [
      "bound PV's node affinity",
      pod({}, ["a"]),
      [node("n1"), node("n2"), node("n3")],
      [pvc("a", "other", { spec: { storageClassName: "other", volumeName: "pv-a" }, status: { phase: "Bound" } })],
      [
        {
          metadata: { name: "pv-a" },
          spec: {
            nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["n2"] }] }] } },
          },
        },
      ],
      "n2",
    ],
    ["WFFC class with allowedTopologies", pod({}, ["z"]), [node("n1"), node("n2", {}, { zone: "a" })], [pvc("z", "zoned")], [], "n2"],
  ];
  for (const [what, p, nodes, pvcs, pvs, want, msg] of rows) {
    const r = placePod(p, input(nodes, pvcs, pvs));
    assert.equal(r.node, want, what);
    if (msg) assert.match(r.message ?? "", msg, what);
  }
});

test("placePod: the hwameistor profile adds HwameiStor's filter and score; default-scheduler does not", () => {
  const nodes = [node("n1"), node("n2"), node("n3")];
  const claims = [pvc("a", "hdd", { spec: { storageClassName: "hdd", resources: { requests: { storage: "4Gi" } } } })];
  const hw = placePod(pod({ schedulerName: "hwameistor-scheduler" }, ["a"]), input(nodes, claims));
  assert.equal(hw.node, "n1"); // most free (score 60 vs n3 20; n2 too small)
  assert.match(hw.failed.n2 ?? "", /LocalStorage_PoolHDD has 3Gi free, needs 4Gi/);
  assert.deepEqual(hw.delayedPvcs, ["a"]);
  const def = placePod(pod({}, ["a"]), input(nodes, claims));
  assert.deepEqual(def.failed, {}); // storage is not looked at: ties broken by pods per node, then name
  const spread = placePod(pod({}, ["a"]), {
    ...input(nodes, claims),
    podsPerNode: new Map([
      ["n1", 2],
      ["n2", 1],
    ]),
  });
  assert.equal(spread.node, "n3");
  const none = placePod(
    pod({ schedulerName: "hwameistor-scheduler" }, ["a"]),
    input(nodes, [pvc("a", "hdd", { spec: { storageClassName: "hdd", resources: { requests: { storage: "40Gi" } } } })]),
  );
  assert.equal(none.node, undefined);
  assert.match(none.message!, /^0\/3 nodes are available: /);
});

test("placePod: preferred node affinity and PreferNoSchedule taints score", () => {
  const nodes = [node("n1", { spec: { taints: [{ key: "x", effect: "PreferNoSchedule" }] } }), node("n2"), node("n3", {}, { ssd: "yes" })];
  assert.equal(placePod(pod(), input(nodes)).node, "n2");
  const pref = pod({
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [{ key: "ssd", operator: "Exists" }] } }],
      },
    },
  });
  assert.equal(placePod(pref, input(nodes)).node, "n3");
});

test("node selector terms: operators and fields (table)", () => {
  const n = node("n1", {}, { size: "10", tier: "gold" });
  const rows: Array<[object, boolean]> = [
    [{ matchExpressions: [{ key: "tier", operator: "In", values: ["gold", "silver"] }] }, true],
    [{ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["gold"] }] }, false],
    [{ matchExpressions: [{ key: "missing", operator: "DoesNotExist" }] }, true],
    [{ matchExpressions: [{ key: "size", operator: "Gt", values: ["9"] }] }, true],
    [{ matchExpressions: [{ key: "size", operator: "Lt", values: ["9"] }] }, false],
    [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] }, true],
    [{}, false],
  ];
  for (const [term, want] of rows) assert.equal(termMatches(term, n), want, JSON.stringify(term));
  assert.equal(nodeAffinityMismatch(pod({ nodeSelector: { tier: "gold" } }), n), undefined);
});
