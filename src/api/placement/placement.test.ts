import { test } from "node:test";
import assert from "node:assert/strict";
import { StoragePools } from "../names.ts";
import type { LocalStorageNode as Lsn } from "../kinds/local-storage-node.ts";
import type { LocalVolume as Lv } from "../kinds/local-volume.ts";
import {
  blockingTaint,
  chooseNodes,
  getNodeCandidates,
  poolRejects,
  poolScore,
  storageNodeViews,
  type PoolCapacity,
  type StorageNodeView,
  type VolumeDemand,
} from "./placement.ts";

const G = 1024 ** 3;
const HDD = StoragePools.HDD;
const SSD = StoragePools.SSD;

function lsn(name: string, pools: Record<string, { total: number; used?: number; volumes?: string[]; count?: number }>, state = "Ready"): Lsn {
  return {
    metadata: { name },
    spec: { hostname: name, storageIP: `10.0.0.${name.length}` },
    status: {
      state,
      pools: Object.fromEntries(
        Object.entries(pools).map(([p, v]) => [
          p,
          {
            name: p,
            totalCapacityBytes: v.total,
            usedCapacityBytes: v.used ?? 0,
            freeCapacityBytes: v.total - (v.used ?? 0),
            totalVolumeCount: 1000,
            usedVolumeCount: v.count ?? v.volumes?.length ?? 0,
            volumes: v.volumes ?? [],
          },
        ]),
      ),
    },
  };
}
const pool = (total: number, used: number, o: Partial<PoolCapacity> = {}): PoolCapacity => ({
  totalBytes: total,
  usedBytes: used,
  freeBytes: total - used,
  totalVolumeCount: 1000,
  usedVolumeCount: 0,
  pendingBytes: 0,
  pendingCount: 0,
  ...o,
});
const view = (name: string, pools: Record<string, PoolCapacity>, o: Partial<StorageNodeView> = {}): StorageNodeView => ({
  name,
  ready: true,
  state: "Ready",
  hostname: name,
  storageIP: "",
  pools,
  taints: [],
  ...o,
});
const demand = (o: Partial<VolumeDemand> = {}): VolumeDemand => ({ name: "pvc-1", poolName: HDD, requiredBytes: G, replicaNumber: 1, ...o });

test("predicate: Σthick ≤ total − used and the volume count (table)", () => {
  const rows: Array<[string, PoolCapacity | undefined, number, RegExp | undefined]> = [
    ["fits exactly", pool(10 * G, 9 * G), G, undefined],
    ["one byte too many", pool(10 * G, 9 * G), G + 1, /has 1Gi free, needs 1Gi/],
    ["no pool", undefined, G, /no LocalStorage_PoolHDD pool/],
    ["volume count full", pool(10 * G, 0, { usedVolumeCount: 1000 }), G, /holds 1000 of 1000 volumes/],
    ["count one below the limit", pool(10 * G, 0, { usedVolumeCount: 999 }), G, undefined],
    ["larger than the pool's volume limit (one XFS per disk)", pool(10 * G, 0, { volumeLimitBytes: G / 2 }), G, /holds volumes of at most 512Mi .*needs 1Gi/],
    ["at the volume limit", pool(10 * G, 0, { volumeLimitBytes: G }), G, undefined],
  ];
  for (const [what, p, req, want] of rows) {
    const got = poolRejects(p, HDD, req);
    if (want) assert.match(got ?? "", want, what);
    else assert.equal(got, undefined, what);
  }
});

test("score: (1 − required/free) × 100 (table)", () => {
  const rows: Array<[PoolCapacity, number, number]> = [
    [pool(10 * G, 0), G, 90],
    [pool(10 * G, 8 * G), G, 50],
    [pool(4 * G, 0), 4 * G, 0],
    [pool(4 * G, 4 * G), G, 0],
  ];
  for (const [p, req, want] of rows) assert.equal(Math.round(poolScore(p, req)), want);
});

test("storageNodeViews: pending placements count until the node reports the volume", () => {
  const lsns = [lsn("a", { [HDD]: { total: 10 * G, used: G, volumes: ["pvc-done"] } }), lsn("b", { [HDD]: { total: 10 * G } }, "Offline")];
  const lv = (name: string, nodes: string[], o: Partial<NonNullable<Lv["spec"]>> = {}): Lv => ({
    metadata: { name },
    spec: { poolName: HDD, requiredCapacityBytes: 2 * G, accessibility: { nodes }, ...o },
  });
  const views = storageNodeViews(lsns, [
    lv("pvc-done", ["a"]), // realised: already in used
    lv("pvc-new", ["a"]), // pending
    lv("pvc-cfg", [], {
      config: {
        version: 1,
        volumeName: "pvc-cfg",
        requiredCapacityBytes: 3 * G,
        convertible: false,
        resourceID: -1,
        readyToInitialize: false,
        initialized: false,
        replicas: [{ id: 1, hostname: "a", ip: "", primary: true }],
      },
    }),
    lv("pvc-gone", ["a"], { delete: true }),
    lv("pvc-ssd", ["a"], { poolName: SSD }),
  ]);
  const a = views.find((v) => v.name === "a")!;
  assert.equal(a.pools[HDD]!.usedBytes, G + 2 * G + 3 * G);
  assert.equal(a.pools[HDD]!.pendingCount, 2);
  assert.equal(a.pools[HDD]!.usedVolumeCount, 3);
  assert.equal(views.find((v) => v.name === "b")!.ready, false);
});

test("getNodeCandidates: order by score, exclusions, not-Ready nodes, required and group nodes (table)", () => {
  const nodes = [
    view("a", { [HDD]: pool(10 * G, 8 * G) }),
    view("b", { [HDD]: pool(10 * G, 0) }),
    view("c", { [HDD]: pool(10 * G, 5 * G), [SSD]: pool(5 * G, 0) }),
    view("d", { [HDD]: pool(100 * G, 0) }, { ready: false, state: "Offline" }),
  ];
  const rows: Array<[string, Partial<VolumeDemand>, string[], RegExp?]> = [
    ["best score first", {}, ["b", "c", "a"]],
    ["pool class decides", { poolName: SSD }, ["c"]],
    ["too big for a", { requiredBytes: 3 * G }, ["b", "c"]],
    ["excluded node (already a replica)", { excludeNodes: ["b"] }, ["c", "a"]],
    ["required node comes first", { requiredNodes: ["a"] }, ["a", "b", "c"]],
    [
      "required node that does not fit fails",
      { requiredNodes: ["a"], requiredBytes: 3 * G },
      [],
      /required node a cannot hold volume pvc-1: LocalStorage_PoolHDD has 2Gi free/,
    ],
    ["required node that is offline fails", { requiredNodes: ["d"] }, [], /LocalStorageNode is Offline/],
    ["group with replicaNumber nodes binds", { groupNodes: ["a"] }, ["a"]],
    ["group node that does not fit: no candidate", { groupNodes: ["a"], requiredBytes: 3 * G }, []],
    ["group with fewer nodes than replicas is ignored", { groupNodes: ["a"], replicaNumber: 2 }, ["b", "c", "a"]],
  ];
  for (const [what, d, want, err] of rows) {
    const r = getNodeCandidates(nodes, demand(d));
    assert.deepEqual(
      r.candidates.map((c) => c.node),
      want,
      what,
    );
    if (err) assert.match(r.error ?? "", err, what);
    else assert.equal(r.error, undefined, what);
  }
  assert.match(getNodeCandidates(nodes, demand()).rejected.find((x) => x.node === "d")!.reason, /Offline/);
});

test("taints are honoured only for replicaNumber > 1, with tolerations", () => {
  const nodes = [
    view("a", { [HDD]: pool(10 * G, 0) }, { taints: [{ key: "maint", effect: "NoSchedule" }] }),
    view("b", { [HDD]: pool(10 * G, 5 * G) }, { taints: [{ key: "soft", effect: "PreferNoSchedule" }] }),
    view("c", { [HDD]: pool(10 * G, 6 * G) }),
  ];
  assert.deepEqual(
    getNodeCandidates(nodes, demand()).candidates.map((c) => c.node),
    ["a", "b", "c"],
  );
  assert.deepEqual(
    getNodeCandidates(nodes, demand({ replicaNumber: 2 })).candidates.map((c) => c.node),
    ["b", "c"],
  );
  const tol = [{ key: "maint", operator: "Exists" }];
  assert.deepEqual(
    getNodeCandidates(nodes, demand({ replicaNumber: 2, tolerations: tol })).candidates.map((c) => c.node),
    ["a", "b", "c"],
  );
  assert.equal(blockingTaint([{ key: "k", value: "v", effect: "NoExecute" }], [{ key: "k", operator: "Equal", value: "v" }]), undefined);
  assert.ok(blockingTaint([{ key: "k", value: "v", effect: "NoExecute" }], [{ key: "k", operator: "Equal", value: "w" }]));
  assert.equal(blockingTaint([{ key: "k", effect: "NoExecute" }], [{ operator: "Exists" }]), undefined);
});

test("chooseNodes: first preferred if it fits, else best requisite, else best; then fill (table)", () => {
  const r = {
    candidates: [
      { node: "b", score: 90 },
      { node: "c", score: 50 },
      { node: "a", score: 10 },
    ],
    rejected: [],
  };
  const rows: Array<[string, { requisite?: string[]; preferred: string[] }, number, string[] | undefined]> = [
    ["no topology → best", { preferred: [] }, 1, ["b"]],
    ["first preferred that fits", { requisite: ["a", "c"], preferred: ["a", "c"] }, 1, ["a"]],
    ["preferred not a candidate → best requisite", { requisite: ["x", "c", "a"], preferred: ["x"] }, 1, ["c"]],
    ["nothing requisite fits", { requisite: ["x"], preferred: ["x"] }, 1, undefined],
    ["two replicas: preferred then best other", { requisite: ["a"], preferred: ["a"] }, 2, ["a", "b"]],
    ["not enough candidates", { preferred: [] }, 4, undefined],
  ];
  for (const [what, topo, n, want] of rows) assert.deepEqual(chooseNodes(r, topo, n), want, what);
});
