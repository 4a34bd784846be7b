import { test } from "node:test";
import assert from "node:assert/strict";
import type { CoreNode, Pod, Pvc, StorageClassShape } from "../api/core.ts";
import type { LocalDiskNode } from "../api/kinds/local-disk-node.ts";
import type { LocalStorageNode } from "../api/kinds/local-storage-node.ts";
import type { LocalVolume } from "../api/kinds/local-volume.ts";
import { Annotations } from "../api/names.ts";
import { filterAndScore, planPodStorage, type StorageState } from "./storage.ts";

const GiB = 2 ** 30;
const HDD = "LocalStorage_PoolHDD";
const SSD = "LocalStorage_PoolSSD";

function lsn(name: string, pools: Record<string, { total: number; used?: number; volumes?: string[] }>, state = "Ready"): LocalStorageNode {
  const p: Record<string, object> = {};
  for (const [k, v] of Object.entries(pools)) {
    const used = v.used ?? 0;
    p[k] = {
      totalCapacityBytes: v.total,
      usedCapacityBytes: used,
      freeCapacityBytes: v.total - used,
      totalVolumeCount: 1000,
      usedVolumeCount: (v.volumes ?? []).length,
      volumes: v.volumes ?? [],
    };
  }
  return {
    metadata: { name },
    spec: { hostname: name, storageIP: "10.0.0.1" },
    status: { state, pools: p, replication: { available: true, address: "10.0.0.1:43000" } },
  } as LocalStorageNode;
}
const sc = (name: string, provisioner: string, parameters: Record<string, string>): StorageClassShape => ({
  metadata: { name },
  provisioner,
  parameters,
  volumeBindingMode: "WaitForFirstConsumer",
});
const pvc = (name: string, cls: string, size: string, extra: Partial<Pvc> = {}): Pvc => ({
  metadata: { name, namespace: "ns", ...(extra.metadata ?? {}) },
  spec: { storageClassName: cls, resources: { requests: { storage: size } }, ...(extra.spec ?? {}) },
  status: { phase: "Pending", ...(extra.status ?? {}) },
});
const pod = (claims: string[], extra: Partial<Pod["spec"]> = {}): Pod => ({
  metadata: { name: "p", namespace: "ns" },
  spec: { containers: [{ name: "c" }], volumes: claims.map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } })), ...extra },
});
const boundLv = (name: string, nodes: string[], extra: Partial<LocalVolume> = {}): LocalVolume => ({
  metadata: { name, ...(extra.metadata ?? {}) },
  spec: {
    poolName: HDD,
    requiredCapacityBytes: GiB,
    replicaNumber: nodes.length,
    accessibility: { nodes },
    config: {
      version: 1,
      volumeName: name,
      requiredCapacityBytes: GiB,
      convertible: false,
      resourceID: -1,
      readyToInitialize: true,
      initialized: true,
      replicas: nodes.map((h, i) => ({ id: i + 1, hostname: h, ip: "", primary: i === 0 })),
    },
  },
  status: { state: "Ready", rawblock: false, ...(extra.status ?? {}) },
});

const classes = [
  sc("hdd", "lvm.hwameistor.io", { poolClass: "HDD", replicaNumber: "1" }),
  sc("ssd", "lvm.hwameistor.io", { poolClass: "SSD", replicaNumber: "1" }),
  sc("ha", "lvm.hwameistor.io", { poolClass: "HDD", replicaNumber: "2" }),
  sc("disk", "disk.hwameistor.io", { diskType: "SSD" }),
  sc("other", "example.com/nfs", {}),
];

function base(): StorageState {
  return {
    storageClasses: classes,
    pvcs: [],
    lsns: [
      lsn("n1", { [HDD]: { total: 10 * GiB }, [SSD]: { total: 4 * GiB } }),
      lsn("n2", { [HDD]: { total: 10 * GiB, used: 6 * GiB } }),
      lsn("n3", { [HDD]: { total: 3 * GiB } }),
    ],
    lvs: [],
  };
}

test("filter: capacity per pool class, the pod's new volumes counted together (table)", () => {
  const rows: Array<[string, Pvc[], Record<string, boolean>]> = [
    ["one 2Gi HDD: every node with 2Gi free", [pvc("a", "hdd", "2Gi")], { n1: true, n2: true, n3: true }],
    ["one 4Gi HDD: n3 (3Gi) is out", [pvc("a", "hdd", "4Gi")], { n1: true, n2: true, n3: false }],
    ["two 2Gi HDD counted together (4Gi): n3 out, n2 (4Gi free) in", [pvc("a", "hdd", "2Gi"), pvc("b", "hdd", "2Gi")], { n1: true, n2: true, n3: false }],
    ["three 2Gi HDD together (6Gi): only n1", [pvc("a", "hdd", "2Gi"), pvc("b", "hdd", "2Gi"), pvc("c", "hdd", "2Gi")], { n1: true, n2: false, n3: false }],
    ["SSD exists only on n1", [pvc("a", "ssd", "1Gi")], { n1: true, n2: false, n3: false }],
    ["HDD 4Gi + SSD 4Gi: pools are separate sums", [pvc("a", "hdd", "4Gi"), pvc("b", "ssd", "4Gi")], { n1: true, n2: false, n3: false }],
    ["a non-HwameiStor class is ignored", [pvc("a", "other", "100Gi")], { n1: true, n2: true, n3: true }],
  ];
  for (const [what, claims, want] of rows) {
    const s = { ...base(), pvcs: claims };
    const v = filterAndScore(pod(claims.map((c) => c.metadata!.name!)), ["n1", "n2", "n3"], s);
    const got = Object.fromEntries(["n1", "n2", "n3"].map((n) => [n, !(n in v.failed)]));
    assert.deepEqual(got, want, what);
  }
});

test("filter: rejection reasons name the PVC, the pool and the fix", () => {
  const s = { ...base(), pvcs: [pvc("a", "hdd", "2Gi"), pvc("b", "hdd", "2Gi")] };
  const v = filterAndScore(pod(["a", "b"]), ["n3"], s);
  assert.match(v.failed.n3!, /persistentvolumeclaim "a": LocalStorage_PoolHDD has 3Gi free, needs 4Gi/);
  assert.match(v.failed.n3!, /2 new LocalStorage_PoolHDD volumes are counted together/);
  const none = filterAndScore(pod(["a"]), ["n1"], { ...base(), pvcs: [pvc("a", "hdd", "2Gi")], lsns: [] });
  assert.match(none.failed.n1!, /no LocalStorageNode/);
  const missing = filterAndScore(pod(["ghost"]), ["n1", "n2"], base());
  assert.deepEqual(Object.values(missing.failed), ['persistentvolumeclaim "ghost" not found', 'persistentvolumeclaim "ghost" not found']);
  const lost = filterAndScore(pod(["a"]), ["n1"], { ...base(), pvcs: [pvc("a", "hdd", "1Gi", { status: { phase: "Lost" } })] });
  assert.match(lost.failed.n1!, /"a" is Lost/);
});

test("filter: provisioned volumes pin the pod to their replicas (table)", () => {
  const bound = pvc("a", "hdd", "1Gi", { spec: { storageClassName: "hdd", volumeName: "pvc-1" }, status: { phase: "Bound" } });
  const rows: Array<[string, LocalVolume[], Record<string, boolean>]> = [
    ["replica on n2 only", [boundLv("pvc-1", ["n2"])], { n1: false, n2: true, n3: false }],
    ["replicas on n1 and n3", [boundLv("pvc-1", ["n1", "n3"])], { n1: true, n2: false, n3: true }],
    [
      "published on n3",
      [boundLv("pvc-1", ["n1", "n3"], { status: { state: "Ready", rawblock: false, publishedNode: "n3" } })],
      { n1: false, n2: false, n3: true },
    ],
    [
      "migrating: nowhere",
      [boundLv("pvc-1", ["n1"], { metadata: { annotations: { [Annotations.VolumeMigrateState]: "migrateStarted" } } })],
      { n1: false, n2: false, n3: false },
    ],
    ["LocalVolume missing: nowhere", [], { n1: false, n2: false, n3: false }],
    // A migration promoted its target (n3) and keeps the source (n1) until the target's disk read back equal; the
    // volume is released (migrateCompleted) while the source is still in the config: only the primary is a place.
    [
      "1 replica wanted, a migration's second replica in the config: the primary only",
      [
        boundLv("pvc-1", ["n3", "n1"], {
          metadata: { annotations: { [Annotations.VolumeMigrateState]: "migrateCompleted", [Annotations.MigrateExtraReplica]: "true" } },
        }),
      ].map((lv) => ({ ...lv, spec: { ...lv.spec!, replicaNumber: 2 } })),
      { n1: false, n2: false, n3: true },
    ],
  ];
  for (const [what, lvs, want] of rows) {
    const v = filterAndScore(pod(["a"]), ["n1", "n2", "n3"], { ...base(), pvcs: [bound], lvs });
    assert.deepEqual(Object.fromEntries(["n1", "n2", "n3"].map((n) => [n, !(n in v.failed)])), want, what);
  }
  const v = filterAndScore(pod(["a"]), ["n1"], { ...base(), pvcs: [bound], lvs: [boundLv("pvc-1", ["n2"])] });
  assert.match(v.failed.n1!, /no replica of volume pvc-1 .*replicas on n2/);
  const moving = boundLv("pvc-1", ["n3", "n1"], { metadata: { annotations: { [Annotations.MigrateExtraReplica]: "true" } } });
  const src = filterAndScore(pod(["a"]), ["n1"], { ...base(), pvcs: [bound], lvs: [{ ...moving, spec: { ...moving.spec!, replicaNumber: 2 } }] });
  assert.match(src.failed.n1!, /pvc-1 .*is served by its replica on n3; the one on this node is a migration's copy/);
  // A replica's node whose LocalStorageNode went Offline (agent's lease expired) is no place for the pod.
  const st = base();
  st.lsns = st.lsns.map((n) => (n.metadata?.name === "n1" ? { ...n, status: { ...n.status, state: "Offline" } } : n));
  const off = filterAndScore(pod(["a"]), ["n1", "n2", "n3"], { ...st, pvcs: [bound], lvs: [boundLv("pvc-1", ["n1", "n3"])] });
  assert.deepEqual(Object.keys(off.failed).sort(), ["n1", "n2"]);
  assert.match(off.failed.n1!, /LocalStorageNode is Offline .*cannot serve volume pvc-1/);
});

test("filter: a volume group of the pod binds the new volume to the group's node", () => {
  const bound = pvc("a", "hdd", "1Gi", { spec: { storageClassName: "hdd", volumeName: "pvc-1" }, status: { phase: "Bound" } });
  const s: StorageState = {
    ...base(),
    pvcs: [bound, pvc("b", "hdd", "1Gi")],
    lvs: [boundLv("pvc-1", ["n2"])],
    lvgs: [{ metadata: { name: "g" }, spec: { namespace: "ns", volumes: [{ pvc: "a", localvolume: "pvc-1" }], accessibility: { nodes: ["n2"] } } }],
  };
  const v = filterAndScore(pod(["a", "b"]), ["n1", "n2", "n3"], s);
  assert.deepEqual(
    v.feasible.map((f) => f.node),
    ["n2"],
  );
});

test("filter: replicaNumber 2 needs two candidates and respects taints unless tolerated or skipped", () => {
  const nodes: CoreNode[] = [{ metadata: { name: "n2" }, spec: { taints: [{ key: "dedicated", value: "db", effect: "NoSchedule" }] } }];
  const s: StorageState = { ...base(), pvcs: [pvc("a", "ha", "2Gi")], nodes };
  // n2 tainted, n3 too small for... 2Gi fits n3 (3Gi). Candidates n1, n3 → 2 ≥ 2.
  let v = filterAndScore(pod(["a"]), ["n1", "n2", "n3"], s);
  assert.deepEqual(Object.keys(v.failed), ["n2"]);
  assert.match(v.failed.n2!, /taint dedicated=db:NoSchedule not tolerated/);
  // 4Gi: n3 out, n2 tainted → only n1: fewer than 2 → every node fails.
  v = filterAndScore(pod(["a"]), ["n1", "n2", "n3"], { ...s, pvcs: [pvc("a", "ha", "4Gi")] });
  assert.equal(v.feasible.length, 0);
  assert.match(v.failed.n1!, /needs 2 nodes with room in LocalStorage_PoolHDD, only 1 have it/);
  // tolerated
  v = filterAndScore(pod(["a"], { tolerations: [{ key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" }] }), ["n1", "n2", "n3"], {
    ...s,
    pvcs: [pvc("a", "ha", "4Gi")],
  });
  assert.deepEqual(v.feasible.map((f) => f.node).sort(), ["n1", "n2"]);
  // skip annotation
  v = filterAndScore(pod(["a"]), ["n1", "n2", "n3"], {
    ...s,
    pvcs: [pvc("a", "ha", "4Gi", { metadata: { name: "a", namespace: "ns", annotations: { [Annotations.SkipAffinityAnnotations]: "true" } } })],
  });
  assert.deepEqual(v.feasible.map((f) => f.node).sort(), ["n1", "n2"]);
});

test("filter: step 1 writes the pod's affinity and tolerations into new lvm PVCs, only when changed", () => {
  const tolerations = [{ key: "k", operator: "Exists" }];
  const s = { ...base(), pvcs: [pvc("a", "hdd", "1Gi"), pvc("d", "disk", "1Gi")] };
  const plan = planPodStorage(pod(["a", "d"], { tolerations }), s);
  assert.deepEqual(plan.annotationPatches, [{ namespace: "ns", pvc: "a", annotations: { [Annotations.TolerationsAnnotations]: JSON.stringify(tolerations) } }]);
  const already = {
    ...base(),
    pvcs: [
      pvc("a", "hdd", "1Gi", { metadata: { name: "a", namespace: "ns", annotations: { [Annotations.TolerationsAnnotations]: JSON.stringify(tolerations) } } }),
    ],
  };
  assert.deepEqual(planPodStorage(pod(["a"], { tolerations }), already).annotationPatches, []);
});

test("filter: new volumes from a snapshot or a clone go where the source is", () => {
  const fromSnap = pvc("r", "hdd", "1Gi", {
    spec: { storageClassName: "hdd", dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "snap" } },
  });
  const s: StorageState = {
    ...base(),
    pvcs: [fromSnap],
    volumeSnapshots: [{ metadata: { name: "snap", namespace: "ns" }, status: { boundVolumeSnapshotContentName: "snapcontent-1" } }],
    volumeSnapshotContents: [{ metadata: { name: "snapcontent-1" }, status: { snapshotHandle: "snapcontent-1" } }],
    localVolumeSnapshots: [
      { metadata: { name: "snapcontent-1" }, spec: { sourceVolume: "pvc-1", requiredCapacityBytes: GiB, accessibility: { nodes: ["n2"] } } },
    ],
  };
  assert.deepEqual(
    filterAndScore(pod(["r"]), ["n1", "n2", "n3"], s).feasible.map((f) => f.node),
    ["n2"],
  );
  const unbound = filterAndScore(pod(["r"]), ["n2"], { ...s, volumeSnapshots: [{ metadata: { name: "snap", namespace: "ns" } }] });
  assert.match(unbound.failed.n2!, /VolumeSnapshot snap .* not bound/);

  const src = pvc("src", "hdd", "1Gi", { spec: { storageClassName: "hdd", volumeName: "pvc-1" }, status: { phase: "Bound" } });
  const clone = pvc("c", "hdd", "1Gi", { spec: { storageClassName: "hdd", dataSource: { kind: "PersistentVolumeClaim", name: "src" } } });
  const cs: StorageState = { ...base(), pvcs: [src, clone], lvs: [boundLv("pvc-1", ["n3"])] };
  assert.deepEqual(
    filterAndScore(pod(["c"]), ["n1", "n2", "n3"], cs).feasible.map((f) => f.node),
    ["n3"],
  );
});

test("filter: disk volumes — LocalDiskNode Ready, i-th largest PVC fits i-th largest free disk", () => {
  const ldn = (name: string, disks: number[], state = "Ready"): LocalDiskNode => ({
    metadata: { name },
    spec: { nodeName: name },
    status: {
      state,
      pools: { LocalDisk_PoolSSD: { disks: disks.map((c, i) => ({ devPath: `/dev/sd${i}`, capacityBytes: c * GiB, state: "Available", type: "SSD" })) } },
    },
  });
  const s: StorageState = { ...base(), ldns: [ldn("n1", [10, 2]), ldn("n2", [5, 5]), ldn("n3", [20], "Offline")] };
  const rows: Array<[string, string[], Record<string, boolean>]> = [
    ["one 4Gi", ["4Gi"], { n1: true, n2: true, n3: false }],
    ["8Gi + 4Gi: n1's second disk is 2Gi", ["8Gi", "4Gi"], { n1: false, n2: false, n3: false }],
    ["5Gi + 2Gi", ["5Gi", "2Gi"], { n1: true, n2: true, n3: false }],
    ["three volumes, two disks", ["1Gi", "1Gi", "1Gi"], { n1: false, n2: false, n3: false }],
  ];
  for (const [what, sizes, want] of rows) {
    const claims = sizes.map((z, i) => pvc(`d${i}`, "disk", z));
    const v = filterAndScore(pod(claims.map((c) => c.metadata!.name!)), ["n1", "n2", "n3"], { ...s, pvcs: claims });
    assert.deepEqual(Object.fromEntries(["n1", "n2", "n3"].map((n) => [n, !(n in v.failed)])), want, what);
  }
  // Disk-only pod: no LocalStorageNode needed (deliberate fix of the original's quirk).
  const v = filterAndScore(pod(["d"]), ["n1"], { ...s, lsns: [], pvcs: [pvc("d", "disk", "1Gi")] });
  assert.deepEqual(v.failed, {});
});

test("score: floor(avg (free − request)/free × 100); disk counts 0; placed-but-unrealised volumes reduce free", () => {
  const s = { ...base(), pvcs: [pvc("a", "hdd", "2Gi")] };
  const v = filterAndScore(pod(["a"]), ["n1", "n2", "n3"], s);
  // n1: (10−2)/10 = 80; n2: free 4 → 50; n3: free 3 → 33
  assert.deepEqual(v.feasible, [
    { node: "n1", score: 80 },
    { node: "n2", score: 50 },
    { node: "n3", score: 33 },
  ]);
  // lvm + disk: (lvm + 0) / 200 × 100
  const mixed = {
    ...s,
    pvcs: [pvc("a", "hdd", "2Gi"), pvc("d", "disk", "1Gi")],
    ldns: [
      {
        metadata: { name: "n1" },
        spec: { nodeName: "n1" },
        status: { state: "Ready", pools: { LocalDisk_PoolSSD: { disks: [{ devPath: "/dev/x", capacityBytes: GiB, state: "Available" }] } } },
      },
    ],
  };
  assert.deepEqual(filterAndScore(pod(["a", "d"]), ["n1"], mixed).feasible, [{ node: "n1", score: 40 }]);
  // A 4Gi volume placed on n1 but not yet in the pool's volume list counts as used: (6−2)/6 = 66.
  const pending = {
    ...s,
    lvs: [
      {
        metadata: { name: "pvc-x" },
        spec: { poolName: HDD, requiredCapacityBytes: 4 * GiB, accessibility: { nodes: ["n1"] } },
        status: { rawblock: false },
      } as LocalVolume,
    ],
  };
  assert.equal(filterAndScore(pod(["a"]), ["n1"], pending).feasible[0]!.score, 66);
  // No volumes of ours: every node, score 0.
  assert.deepEqual(filterAndScore(pod([]), ["n1", "n2"], base()).feasible, [
    { node: "n1", score: 0 },
    { node: "n2", score: 0 },
  ]);
});

test("score: claims already sent to a node (selected-node, not provisioned yet) count as used there", () => {
  const sent = pvc("x", "hdd", "4Gi", { metadata: { name: "x", namespace: "ns", annotations: { "volume.kubernetes.io/selected-node": "n1" } } });
  const s = { ...base(), pvcs: [sent, pvc("a", "hdd", "2Gi")] };
  // n1: 10Gi total, 4Gi assumed → free 6 → (6−2)/6 = 66; without the assumption it would be 80.
  assert.equal(filterAndScore(pod(["a"]), ["n1"], s).feasible[0]!.score, 66);
  // once its LocalVolume exists, the LocalVolume counts instead (not twice)
  const lv = {
    metadata: { name: "pvc-x" },
    spec: { poolName: HDD, requiredCapacityBytes: 4 * GiB, pvcName: "x", pvcNamespace: "ns", accessibility: { nodes: ["n1"] } },
    status: { rawblock: false },
  } as LocalVolume;
  assert.equal(filterAndScore(pod(["a"]), ["n1"], { ...s, lvs: [lv] }).feasible[0]!.score, 66);
});
