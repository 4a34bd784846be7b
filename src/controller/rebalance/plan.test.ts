import assert from "node:assert/strict";
import { test } from "node:test";
import { StoragePools } from "../../api/names.ts";
import type { StorageNodeView } from "../../api/placement/placement.ts";
import { planRebalance, type RebalanceInput, type RebalanceVolume } from "./plan.ts";

const G = 1024 ** 3;
const HDD = StoragePools.HDD;
const SSD = StoragePools.SSD;

/** A Ready node with pools {pool: [totalGiB, usedGiB]}. */
function node(name: string, pools: Record<string, [number, number]>, o: Partial<StorageNodeView> = {}): StorageNodeView {
  return {
    name,
    ready: true,
    state: "Ready",
    hostname: name,
    storageIP: "",
    taints: [],
    pools: Object.fromEntries(
      Object.entries(pools).map(([p, [t, u]]) => [
        p,
        { totalBytes: t * G, usedBytes: u * G, freeBytes: (t - u) * G, totalVolumeCount: 1000, usedVolumeCount: 0, pendingBytes: 0, pendingCount: 0 },
      ]),
    ),
    ...o,
  };
}
const vol = (name: string, on: string, gib: number, o: Partial<RebalanceVolume> = {}): RebalanceVolume => ({
  name,
  poolName: HDD,
  bytes: gib * G,
  nodes: [on],
  replicaNumber: 1,
  ...o,
});
const plan = (nodes: StorageNodeView[], volumes: RebalanceVolume[], o: Partial<RebalanceInput> = {}) =>
  planRebalance({ nodes, volumes, thresholdPercent: 80, ...o });
const movesOf = (p: ReturnType<typeof planRebalance>) => p.moves.map((m) => `${m.volumes.join("+")}:${m.from}>${m.to}`);
const skipsOf = (p: ReturnType<typeof planRebalance>) => p.skipped.map((s) => `${s.volume}@${s.node}`);

interface Case {
  name: string;
  nodes: StorageNodeView[];
  volumes: RebalanceVolume[];
  o?: Partial<RebalanceInput>;
  moves: string[];
  skipped?: string[];
  /** A regexp the skip reasons (joined) must match. */
  why?: RegExp;
  remaining?: number;
}

const cases: Case[] = [
  {
    name: "nothing above the threshold: no move",
    nodes: [node("a", { [HDD]: [10, 8] }), node("b", { [HDD]: [10, 0] })],
    volumes: [vol("v1", "a", 8)],
    moves: [],
  },
  {
    name: "the smallest volume that alone brings the node under goes, to the least full node",
    nodes: [node("a", { [HDD]: [10, 9] }), node("b", { [HDD]: [10, 5] }), node("c", { [HDD]: [10, 2] })],
    volumes: [vol("big", "a", 5), vol("mid", "a", 2), vol("small", "a", 1), vol("on-b", "b", 5), vol("on-c", "c", 2)],
    moves: ["small:a>c"],
  },
  {
    name: "no single volume is enough: largest first, as many as needed",
    nodes: [node("a", { [HDD]: [10, 10] }), node("b", { [HDD]: [10, 0] }), node("c", { [HDD]: [10, 0] })],
    volumes: [vol("v1", "a", 1), vol("v2", "a", 1), vol("v3", "a", 1), vol("v4", "a", 1), vol("v5", "a", 6)],
    moves: ["v5:a>b"],
  },
  {
    name: "equal sizes: the first volume by name goes, whatever its group is called",
    nodes: [node("a", { [HDD]: [10, 9] }), node("b", { [HDD]: [10, 0] })],
    volumes: [vol("v1", "a", 3, { group: "zzz" }), vol("v2", "a", 3, { group: "aaa" }), vol("v3", "a", 3)],
    moves: ["v1:a>b"],
  },
  {
    name: "several moves, targets alternate as they fill, never above the threshold",
    nodes: [node("a", { [HDD]: [10, 10] }), node("b", { [HDD]: [10, 7] }), node("c", { [HDD]: [10, 7] })],
    volumes: [vol("v1", "a", 1), vol("v2", "a", 1), vol("v3", "a", 1), vol("v4", "a", 1), vol("v5", "a", 1), vol("v6", "a", 5)],
    // a needs 2 GiB out; b and c have 1 GiB each below 80%; v6 alone would do but fits nowhere (tried first)
    moves: ["v1:a>b", "v2:a>c"],
    skipped: ["v6@a"],
    why: /no node can take it \(5Gi\): b: LocalStorage_PoolHDD has 3Gi free, needs 5Gi; c: /,
  },
  {
    name: "a target would go over the threshold: the volume stays, with the reason",
    nodes: [node("a", { [HDD]: [10, 9] }), node("b", { [HDD]: [10, 5] })],
    volumes: [vol("v1", "a", 4)],
    moves: [],
    skipped: ["v1@a"],
    why: /b: would be 90% full in LocalStorage_PoolHDD \(threshold 80%\)/,
    remaining: 1,
  },
  {
    name: "pool class: only a node with the volume's pool takes it",
    nodes: [node("a", { [SSD]: [10, 9] }), node("b", { [HDD]: [100, 0] }), node("c", { [SSD]: [10, 0] })],
    volumes: [vol("v1", "a", 5, { poolName: SSD })],
    moves: ["v1:a>c"],
  },
  {
    name: "no node with the pool class: skipped, each node named",
    nodes: [node("a", { [SSD]: [10, 9] }), node("b", { [HDD]: [100, 0] })],
    volumes: [vol("v1", "a", 9, { poolName: SSD })],
    moves: [],
    skipped: ["v1@a"],
    why: /b: no LocalStorage_PoolSSD pool/,
    remaining: 1,
  },
  {
    name: "the pool's volume limit (one disk of an XFS-per-disk pool) is respected",
    nodes: [
      node("a", { [HDD]: [10, 9] }),
      (() => {
        const n = node("b", { [HDD]: [20, 0] });
        n.pools[HDD]!.volumeLimitBytes = 4 * G;
        return n;
      })(),
      node("c", { [HDD]: [10, 3] }),
    ],
    volumes: [vol("v1", "a", 5)],
    moves: ["v1:a>c"],
  },
  {
    name: "busy volumes (snapshot, expansion, migration) are skipped with their reason; another one moves",
    nodes: [node("a", { [HDD]: [10, 10] }), node("b", { [HDD]: [10, 0] })],
    volumes: [vol("snap", "a", 3, { blocked: "has 1 snapshot(s)" }), vol("exp", "a", 3, { blocked: "being expanded" }), vol("ok", "a", 2), vol("x", "a", 2)],
    moves: ["ok:a>b"],
    skipped: ["exp@a", "snap@a"],
    why: /being expanded.*has 1 snapshot/,
  },
  {
    name: "HA volumes are skipped by default",
    nodes: [node("a", { [HDD]: [10, 9] }), node("b", { [HDD]: [10, 1] }), node("c", { [HDD]: [10, 0] })],
    volumes: [vol("ha", "a", 5, { nodes: ["a", "b"], replicaNumber: 2 })],
    moves: [],
    skipped: ["ha@a"],
    why: /replicated \(HA, 2 replicas\)/,
    remaining: 1,
  },
  {
    name: "HA volumes with includeReplicated: never onto the node of its other replica, and only where replication works",
    nodes: [
      node("a", { [HDD]: [10, 9] }),
      node("b", { [HDD]: [10, 1] }),
      node("c", { [HDD]: [10, 0] }, { noReplication: "no data plane" }),
      node("d", { [HDD]: [10, 2] }),
    ],
    volumes: [vol("ha", "a", 5, { nodes: ["a", "b"], replicaNumber: 2 })],
    o: { includeReplicated: true },
    moves: ["ha:a>d"],
  },
  {
    name: "a group moves as one unit, counted together on the target",
    nodes: [node("a", { [HDD]: [10, 10] }), node("b", { [HDD]: [10, 5] }), node("c", { [HDD]: [10, 0] })],
    volumes: [vol("g1", "a", 2, { group: "lvg" }), vol("g2", "a", 2, { group: "lvg" }), vol("solo", "a", 6)],
    // b could take one 2 GiB volume (→ 70%) but not both (→ 90%): the group goes to c
    moves: ["g1+g2:a>c"],
  },
  {
    name: "not Ready, cordoned (tainted) targets are refused",
    nodes: [
      node("a", { [HDD]: [10, 9] }),
      node("b", { [HDD]: [10, 0] }, { ready: false, state: "Offline" }),
      node("c", { [HDD]: [10, 0] }, { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] }),
      node("d", { [HDD]: [10, 4] }),
    ],
    volumes: [vol("v1", "a", 3)],
    moves: ["v1:a>d"],
  },
  {
    name: "--node: only that node sheds volumes",
    nodes: [node("a", { [HDD]: [10, 9] }), node("b", { [HDD]: [10, 9] }), node("c", { [HDD]: [10, 0] })],
    volumes: [vol("va", "a", 2), vol("vb", "b", 2)],
    o: { onlyNode: "b" },
    moves: ["vb:b>c"],
  },
  {
    name: "a volume in use on an offline-copy (lvm) node is skipped; an unpublished one moves",
    nodes: [node("a", { [HDD]: [10, 10] }), node("b", { [HDD]: [10, 0] })],
    volumes: [vol("used", "a", 5, { publishedNode: "a" }), vol("idle", "a", 3)],
    o: { offlineOnlyNodes: ["a"] },
    moves: ["idle:a>b"],
    skipped: ["used@a"],
    why: /engine copies offline only/,
  },
  {
    name: "fullest node first; a node that became a target is never a source again",
    nodes: [node("a", { [HDD]: [10, 9] }), node("b", { [HDD]: [10, 10] }), node("c", { [HDD]: [10, 0] })],
    volumes: [vol("va", "a", 2), vol("vb", "b", 3)],
    moves: ["vb:b>c", "va:a>c"],
  },
];

for (const c of cases) {
  test(`plan: ${c.name}`, () => {
    const p = plan(c.nodes, c.volumes, c.o);
    assert.deepEqual(movesOf(p), c.moves);
    assert.deepEqual(skipsOf(p).sort(), (c.skipped ?? []).sort());
    if (c.why) assert.match(p.skipped.map((s) => s.reason).join(" | "), c.why);
    assert.equal(p.remaining.length, c.remaining ?? 0, p.remaining.join("; "));
    // Invariants: no target ends above the threshold, no source of a move ends above it unless it says so.
    for (const m of p.moves) assert.ok(m.toPercent[1] <= 80, `${m.to} at ${m.toPercent[1]}%`);
    for (const f of p.fills) if (f.percentAfter > 80) assert.ok(p.remaining.some((r) => r.startsWith(`${f.node} `)) || f.percent > 80, `${f.node}`);
    // Deterministic: the same input, shuffled, gives the same plan.
    assert.deepEqual(plan([...c.nodes].reverse(), [...c.volumes].reverse(), c.o), p);
  });
}

test("plan: fills before and after, move percentages", () => {
  const p = plan([node("a", { [HDD]: [10, 9] }), node("b", { [HDD]: [10, 0] })], [vol("v1", "a", 2)]);
  assert.deepEqual(p.moves[0]!.fromPercent, [90, 70]);
  assert.deepEqual(p.moves[0]!.toPercent, [0, 20]);
  assert.deepEqual(
    p.fills.map((f) => [f.node, f.percent, f.percentAfter]),
    [
      ["a", 90, 70],
      ["b", 0, 20],
    ],
  );
});
