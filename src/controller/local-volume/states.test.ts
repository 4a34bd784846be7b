import { test } from "node:test";
import assert from "node:assert/strict";
import type { VolumeConfig } from "../../api/kinds/local-volume.ts";
import { StoragePools } from "../../api/names.ts";
import { type Lv } from "../../kube/hwameistor.ts";
import type { StorageNodeView } from "../../api/placement/placement.ts";
import { allocateConfig, sameConfig, stableJson } from "./allocate.ts";
import { decide, type Action, type LocalVolumeFacts, type ReplicaFact } from "./states.ts";

const G = 1024 ** 3;
const cfg = (hosts: string[], o: Partial<VolumeConfig> = {}): VolumeConfig => ({
  version: 1,
  volumeName: "pvc-1",
  requiredCapacityBytes: G,
  convertible: false,
  resourceID: -1,
  readyToInitialize: false,
  initialized: false,
  replicas: hosts.map((h, i) => ({ id: i + 1, hostname: h, ip: `10.0.0.${i + 1}`, primary: i === 0 })),
  ...o,
});
const lv = (state: string | undefined, spec: Partial<NonNullable<Lv["spec"]>> = {}): Lv => ({
  metadata: { name: "pvc-1" },
  spec: { poolName: StoragePools.HDD, requiredCapacityBytes: G, replicaNumber: 1, accessibility: { nodes: ["a"] }, ...spec },
  status: { state, rawblock: false },
});
const rep = (name: string, nodeName: string, state: string, o: Partial<ReplicaFact> = {}): ReplicaFact => ({
  name,
  nodeName,
  state,
  delete: false,
  allocatedCapacityBytes: G,
  ...o,
});
const types = (a: Action[]) => a.map((x) => ("name" in x ? `${x.type}:${x.name}` : "nodeName" in x ? `${x.type}:${x.nodeName}` : x.type));

interface Row {
  what: string;
  lv: Lv;
  facts: LocalVolumeFacts;
  state: string;
  actions: string[];
  status?: Record<string, unknown>;
  message?: RegExp;
}

/** The failover rows' volume: 2 replicas at epoch 3, primary a, status Ready plus `status`. */
const haAB = (status: Partial<NonNullable<Lv["status"]>>): Lv => ({
  ...lv("Ready", {
    config: cfg(["a", "b"], { convertible: true, resourceID: 0, version: 3 }),
    replicaNumber: 2,
    convertible: true,
    accessibility: { nodes: ["a", "b"] },
  }),
  status: { state: "Ready", rawblock: false, ...status },
});
/** a's node is dead; both replicas report synced. */
const deadA = {
  replicas: [rep("pvc-1-aaaaaa", "a", "Ready", { synced: true }), rep("pvc-1-bbbbbb", "b", "Ready", { synced: true })],
  deadNodes: new Set(["a"]),
};

const rows: Row[] = [
  { what: "new volume", lv: lv(undefined), facts: { replicas: [] }, state: "Creating", actions: [] },
  { what: "empty string is new too", lv: lv(""), facts: { replicas: [] }, state: "Creating", actions: [] },
  {
    what: "Creating: allocation writes config version+1",
    lv: lv("Creating"),
    facts: { replicas: [], allocation: { config: cfg(["a"], { version: 0 }) } },
    state: "Creating",
    actions: ["writeConfig"],
  },
  {
    what: "Creating: config written → NotReady",
    lv: lv("Creating", { config: cfg(["a"]) }),
    facts: { replicas: [], allocation: { config: cfg(["a"]) } },
    state: "NotReady",
    actions: [],
  },
  {
    what: "Creating: allocation fails → stays, says why",
    lv: lv("Creating"),
    facts: { replicas: [], allocation: { error: "no enough nodes for volume pvc-1" } },
    state: "Creating",
    actions: [],
    message: /no enough nodes/,
  },
  {
    what: "NotReady: creates the missing replica",
    lv: lv("NotReady", { config: cfg(["a"]) }),
    facts: { replicas: [] },
    state: "NotReady",
    actions: ["createReplica:a"],
    message: /no replica on a yet/,
  },
  {
    what: "NotReady: replica still creating",
    lv: lv("NotReady", { config: cfg(["a"]) }),
    facts: { replicas: [rep("pvc-1-abcdef", "a", "Creating")] },
    state: "NotReady",
    actions: [],
    message: /pvc-1-abcdef on a is Creating/,
  },
  {
    what: "NotReady → Ready with allocated capacity and replica names",
    lv: lv("NotReady", { config: cfg(["a"]) }),
    facts: { replicas: [rep("pvc-1-abcdef", "a", "Ready", { allocatedCapacityBytes: G + 4 * 1024 * 1024 })] },
    state: "Ready",
    actions: [],
    status: { allocatedCapacityBytes: G + 4 * 1024 * 1024, replicas: ["pvc-1-abcdef"] },
  },
  {
    what: "Ready: a replica that fell back → NotReady",
    lv: lv("Ready", { config: cfg(["a"]) }),
    facts: { replicas: [rep("pvc-1-abcdef", "a", "NotReady")] },
    state: "NotReady",
    actions: [],
  },
  {
    what: "Ready: accessibility follows config hosts",
    lv: lv("Ready", { config: cfg(["a"]), accessibility: { nodes: [] } }),
    facts: { replicas: [rep("pvc-1-abcdef", "a", "Ready")] },
    state: "Ready",
    actions: ["setAccessibilityNodes"],
  },
  {
    what: "NotReady: stray replica off-config and a duplicate are marked for deletion; a Deleted one is removed",
    lv: lv("NotReady", { config: cfg(["a"]) }),
    facts: {
      replicas: [
        rep("pvc-1-aaaaaa", "a", "Ready", { creationTimestamp: "2026-01-01T00:00:00Z" }),
        rep("pvc-1-bbbbbb", "a", "Creating", { creationTimestamp: "2026-01-01T00:00:01Z" }),
        rep("pvc-1-cccccc", "x", "Ready"),
        rep("pvc-1-dddddd", "y", "Deleted", { delete: true }),
      ],
    },
    state: "Ready",
    actions: ["markReplicaDelete:pvc-1-cccccc", "markReplicaDelete:pvc-1-bbbbbb", "deleteReplicaObject:pvc-1-dddddd"],
  },
  { what: "Ready without config → Creating", lv: lv("Ready"), facts: { replicas: [] }, state: "Creating", actions: [], message: /no config/ },
  {
    what: "config short of replicaNumber → Creating",
    lv: lv("NotReady", { config: cfg(["a"]), replicaNumber: 2, convertible: true }),
    facts: { replicas: [] },
    state: "Creating",
    actions: [],
    message: /1 of 2 replicas/,
  },
  {
    what: "non-HA volume holding a resource id → Creating",
    lv: lv("Ready", { config: cfg(["a"], { resourceID: 3 }) }),
    facts: { replicas: [] },
    state: "Creating",
    actions: [],
  },
  {
    what: "required capacity grew → Creating",
    lv: lv("Ready", { config: cfg(["a"]), requiredCapacityBytes: 2 * G }),
    facts: { replicas: [] },
    state: "Creating",
    actions: [],
  },
  {
    what: "two replicas on two nodes: one Ready is not enough",
    lv: lv("NotReady", {
      config: cfg(["a", "b"], { convertible: true, resourceID: 0 }),
      replicaNumber: 2,
      convertible: true,
      accessibility: { nodes: ["a", "b"] },
    }),
    facts: { replicas: [rep("pvc-1-aaaaaa", "a", "Ready")] },
    state: "NotReady",
    actions: ["createReplica:b"],
  },
  {
    what: "two replicas both Ready → Ready",
    lv: lv("NotReady", {
      config: cfg(["a", "b"], { convertible: true, resourceID: 0 }),
      replicaNumber: 2,
      convertible: true,
      accessibility: { nodes: ["a", "b"] },
    }),
    facts: {
      replicas: [rep("pvc-1-aaaaaa", "a", "Ready", { synced: true }), rep("pvc-1-bbbbbb", "b", "Ready", { allocatedCapacityBytes: 2 * G, synced: true })],
    },
    state: "Ready",
    actions: [],
    status: {
      allocatedCapacityBytes: G,
      replicas: ["pvc-1-aaaaaa", "pvc-1-bbbbbb"],
      replicated: { status: "True", reason: "Replicated", message: "volume pvc-1: 2 of 2 replicas in sync" },
    },
  },
  {
    what: "HA: a Ready replica the primary does not report in sync → NotReady, Replicated=False Degraded",
    lv: lv("Ready", {
      config: cfg(["a", "b"], { convertible: true, resourceID: 0 }),
      replicaNumber: 2,
      convertible: true,
      accessibility: { nodes: ["a", "b"] },
    }),
    facts: { replicas: [rep("pvc-1-aaaaaa", "a", "Ready", { synced: true }), rep("pvc-1-bbbbbb", "b", "Ready", { synced: false })] },
    state: "NotReady",
    actions: [],
    message: /1 of 2 replicas in sync; behind: b \(Ready, not synced\)/,
  },
  {
    what: "HA: the primary's node is dead, b in sync → failover to b (epoch + 1), unpublished from a",
    lv: haAB({ publishedNode: "a" }),
    facts: deadA,
    state: "NotReady",
    actions: ["failover"],
    message: /primary node a is gone; b \(in sync\) is the primary at epoch 4/,
  },
  {
    what: "HA: the primary's node is dead, b not in sync → no failover onto a stale copy",
    lv: lv("Ready", {
      config: cfg(["a", "b"], { convertible: true, resourceID: 0 }),
      replicaNumber: 2,
      convertible: true,
      accessibility: { nodes: ["a", "b"] },
    }),
    facts: { replicas: [rep("pvc-1-aaaaaa", "a", "Ready", { synced: true }), rep("pvc-1-bbbbbb", "b", "Ready", { synced: false })], deadNodes: new Set(["a"]) },
    state: "NotReady",
    actions: [],
    message: /no replica on a live node is in sync/,
  },
  {
    what: "HA: the primary's node is dead, b synced by its (stale) replica status but outdated by the primary at this epoch → no failover",
    lv: haAB({ outdatedReplicas: { epoch: 3, nodes: ["b"] } }),
    facts: deadA,
    state: "NotReady",
    actions: [],
    message: /no replica on a live node is in sync/,
  },
  {
    what: "HA: an outdated list of an older epoch does not hold back a failover to b",
    lv: haAB({ outdatedReplicas: { epoch: 2, nodes: ["b"] } }),
    facts: deadA,
    state: "NotReady",
    actions: ["failover"],
    message: /b \(in sync\) is the primary at epoch 4/,
  },
  {
    what: "HA: a secondary's node is dead → no failover, degraded",
    lv: lv("Ready", {
      config: cfg(["a", "b"], { convertible: true, resourceID: 0 }),
      replicaNumber: 2,
      convertible: true,
      accessibility: { nodes: ["a", "b"] },
    }),
    facts: { replicas: [rep("pvc-1-aaaaaa", "a", "Ready", { synced: true }), rep("pvc-1-bbbbbb", "b", "Ready", { synced: false })], deadNodes: new Set(["b"]) },
    state: "NotReady",
    actions: [],
    message: /Degraded|behind: b/,
  },
  { what: "spec.delete → ToBeDeleted", lv: lv("Ready", { delete: true, config: cfg(["a"]) }), facts: { replicas: [] }, state: "ToBeDeleted", actions: [] },
  { what: "spec.delete while Creating → ToBeDeleted", lv: lv("Creating", { delete: true }), facts: { replicas: [] }, state: "ToBeDeleted", actions: [] },
  {
    what: "ToBeDeleted: marks live replicas",
    lv: lv("ToBeDeleted", { delete: true }),
    facts: { replicas: [rep("pvc-1-aaaaaa", "a", "Ready"), rep("pvc-1-bbbbbb", "b", "Creating", { delete: true })] },
    state: "ToBeDeleted",
    actions: ["markReplicaDelete:pvc-1-aaaaaa"],
    message: /waiting for pvc-1-aaaaaa on a, pvc-1-bbbbbb on b/,
  },
  {
    what: "ToBeDeleted: replicas Deleted → Deleted (objects removed)",
    lv: lv("ToBeDeleted", { delete: true }),
    facts: { replicas: [rep("pvc-1-aaaaaa", "a", "Deleted", { delete: true })] },
    state: "Deleted",
    actions: ["deleteReplicaObject:pvc-1-aaaaaa"],
  },
  { what: "ToBeDeleted: replicas gone → Deleted", lv: lv("ToBeDeleted", { delete: true }), facts: { replicas: [] }, state: "Deleted", actions: [] },
  {
    what: "Deleted → leave the group, remove the object",
    lv: lv("Deleted", { delete: true }),
    facts: { replicas: [] },
    state: "Deleted",
    actions: ["removeFromGroup", "deleteVolume"],
  },
];

test("LocalVolume state table", () => {
  for (const r of rows) {
    const d = decide(r.lv, r.facts);
    assert.equal(d.state, r.state, r.what);
    assert.deepEqual(types(d.actions), r.actions, r.what);
    if (r.status) assert.deepEqual(d.status, r.status, r.what);
    if (r.message) assert.match(d.message, r.message, r.what);
  }
});

test("failover writes the new primary first in accessibility and epoch + 1; the old primary stays as a secondary", () => {
  const d = decide(
    {
      ...lv("Ready", {
        config: cfg(["a", "b", "c"], { convertible: true, resourceID: 0, version: 7 }),
        replicaNumber: 3,
        convertible: true,
        accessibility: { nodes: ["a", "b", "c"] },
      }),
      status: { state: "Ready", rawblock: false, publishedNode: "a" },
    },
    {
      replicas: [rep("r-a", "a", "Ready", { synced: true }), rep("r-b", "b", "Ready", { synced: false }), rep("r-c", "c", "Ready", { synced: true })],
      deadNodes: new Set(["a"]),
    },
  );
  const f = d.actions.find((a) => a.type === "failover") as Extract<Action, { type: "failover" }>;
  assert.equal(f.config.version, 8);
  assert.deepEqual(
    f.config.replicas.map((r) => [r.hostname, r.primary]),
    [
      ["a", false],
      ["b", false],
      ["c", true],
    ],
  );
  assert.deepEqual(f.nodes, ["c", "a", "b"]);
  assert.equal(f.unpublish, true);
});

test("writeConfig bumps the version from the current config", () => {
  const d = decide(lv("Creating", { config: cfg(["a"], { version: 4 }), replicaNumber: 2, convertible: true }), {
    replicas: [],
    allocation: { config: cfg(["a", "b"], { version: 4, convertible: true, resourceID: 0 }) },
  });
  const w = d.actions[0] as Extract<Action, { type: "writeConfig" }>;
  assert.equal(w.config.version, 5);
});

const nodeView = (name: string, ip: string): StorageNodeView => ({ name, ready: true, state: "Ready", hostname: name, storageIP: ip, pools: {}, taints: [] });

test("allocateConfig: replicas from accessibility then candidates, ids, primary, resourceID (table)", () => {
  const nodes = [nodeView("a", "10.0.0.1"), nodeView("b", "10.0.0.2"), nodeView("c", "10.0.0.3")];
  const facts = { nodes, extraCandidates: [] as string[], usedResourceIDs: new Set<number>() };
  // non-HA: one replica on the accessibility node, resourceID -1, initialized false
  let a = allocateConfig(lv("Creating"), facts);
  assert.ok("config" in a);
  assert.deepEqual(a.config.replicas, [{ id: 1, hostname: "a", ip: "10.0.0.1", primary: true }]);
  assert.equal(a.config.resourceID, -1);
  assert.equal(a.config.initialized, false);
  assert.equal(a.config.version, 0);
  // HA: second replica from candidates, smallest free resource id, primary = accessibility.nodes[0]
  a = allocateConfig(lv("Creating", { replicaNumber: 2, convertible: true }), { ...facts, extraCandidates: ["c", "b"], usedResourceIDs: new Set([0, 1, 3]) });
  assert.ok("config" in a);
  assert.deepEqual(
    a.config.replicas.map((r) => [r.id, r.hostname, r.primary]),
    [
      [1, "a", true],
      [2, "c", false],
    ],
  );
  assert.equal(a.config.resourceID, 2);
  // existing replicas keep their ids; the missing one takes the smallest free id; resourceID is kept
  const cur = cfg(["b"], { convertible: true, resourceID: 7 });
  cur.replicas[0]!.id = 2;
  a = allocateConfig(lv("Creating", { replicaNumber: 2, convertible: true, config: cur, accessibility: { nodes: ["a"] } }), facts);
  assert.ok("config" in a);
  assert.deepEqual(
    a.config.replicas.map((r) => [r.id, r.hostname, r.primary]),
    [
      [2, "b", false],
      [1, "a", true],
    ],
  );
  assert.equal(a.config.resourceID, 7);
  // convertible flips back off: resourceID released
  a = allocateConfig(lv("Creating", { config: cfg(["a"], { resourceID: 7 }) }), facts);
  assert.ok("config" in a);
  assert.equal(a.config.resourceID, -1);
  // not enough nodes
  const e = allocateConfig(lv("Creating", { replicaNumber: 2, convertible: true }), facts);
  assert.ok("error" in e);
  assert.match(e.error, /no enough nodes for volume pvc-1: 1 of 2/);
  // a node without a LocalStorageNode is skipped
  const e2 = allocateConfig(lv("Creating", { accessibility: { nodes: ["zz"] } }), facts);
  assert.ok("error" in e2);
});

test("sameConfig ignores the version and key order", () => {
  const a = cfg(["a"]);
  const b = JSON.parse(stableJson({ ...a, version: 9 })) as VolumeConfig;
  assert.ok(sameConfig(a, b));
  assert.ok(!sameConfig(a, cfg(["b"])));
});

test("a volume failed over but still published on its dead old primary is unpublished (level-triggered: the controller may have died between the config and the status write)", () => {
  const failedOver = (publishedNode: string) => ({
    ...haAB({ publishedNode }),
    spec: { ...haAB({}).spec!, config: cfg(["b", "a"], { convertible: true, resourceID: 0, version: 4 }) },
  });
  const facts = {
    replicas: [rep("pvc-1-aaaaaa", "a", "Ready", { synced: false }), rep("pvc-1-bbbbbb", "b", "Ready", { synced: true })],
    deadNodes: new Set(["a"]),
  };
  const d = decide(failedOver("a"), facts);
  assert.deepEqual([d.state, types(d.actions), d.status.publishedNode], ["NotReady", [], ""]);
  // Published on the (live) primary, or on a dead node that is still the primary (no synced replica): left alone.
  assert.equal(decide(failedOver("b"), facts).status.publishedNode, undefined);
  assert.equal(
    decide(haAB({ publishedNode: "a" }), { ...facts, replicas: [rep("pvc-1-aaaaaa", "a", "Ready", { synced: true })] }).status.publishedNode,
    undefined,
  );
});
