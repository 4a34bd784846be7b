import { test } from "node:test";
import assert from "node:assert/strict";
import type { LocalDisk } from "../../../api/kinds/local-disk.ts";
import {
  desiredSpec,
  expandConditions,
  nextStatus,
  planConsumption,
  poolStatus,
  resolveStorageIP,
  setNodeConditions,
  withExtendRecord,
  type ClaimLike,
} from "./states.ts";

const GiB = 2 ** 30;
const disk = (name: string, dev: string, type = "HDD", extra: Partial<NonNullable<LocalDisk["spec"]>> = {}): [string, LocalDisk] => [
  name,
  { spec: { nodeName: "n1", devicePath: dev, state: "Active", diskAttributes: { type, devType: "disk" }, ...extra } } as LocalDisk,
];
const claim = (name: string, refs: string[], o: Partial<ClaimLike> & { owner?: string; node?: string } = {}): ClaimLike => ({
  name,
  status: o.status ?? "Bound",
  spec: { nodeName: o.node ?? "n1", owner: o.owner ?? "local-storage", diskRefs: refs.map((r) => ({ name: r })) },
});

test("storage IP: flag, then LSN spec, then Node annotation; invalid values are skipped", () => {
  assert.deepEqual(resolveStorageIP("10.0.0.1", "10.0.0.2", "10.0.0.3"), { ip: "10.0.0.1", source: "flag --storage-ip" });
  assert.equal(resolveStorageIP(undefined, "10.0.0.2", "10.0.0.3").ip, "10.0.0.2");
  assert.equal(resolveStorageIP("", "", "10.0.0.3").ip, "10.0.0.3");
  assert.equal(resolveStorageIP("999.1.1.1", "x", "; rm -rf /").ip, "");
});

test("LSN spec: hostname, storage IP and topology defaults; unchanged spec is not rewritten", () => {
  const s = desiredSpec(undefined, "n1", "10.0.0.1")!;
  assert.deepEqual(s, { hostname: "n1", storageIP: "10.0.0.1", topogoly: { zone: "default", region: "default" } });
  assert.equal(desiredSpec(s, "n1", "10.0.0.1"), undefined);
  assert.deepEqual(desiredSpec({ hostname: "h", topogoly: { zone: "z1" } }, "n1", ""), { hostname: "h", topogoly: { zone: "z1", region: "default" } });
});

test("consumption plan: only Bound local-storage claims of this node; disks grouped by class; wait vs skip", () => {
  const disks = new Map([
    disk("d1", "/dev/loop1"),
    disk("d2", "/dev/loop2", "SSD"),
    disk("d3", "/dev/loop3", "HDD", { partitioned: true }),
    disk("d4", "/dev/loop4", "HDD", { state: "Inactive" }),
    disk("d5", "/dev/loop5"),
  ]);
  const plans = planConsumption(
    "n1",
    [
      claim("a", ["d5", "d1", "d2", "d3"]),
      claim("b", ["d4"]),
      claim("other-node", ["d1"], { node: "n2" }),
      claim("ldm", ["d1"], { owner: "local-disk-manager" }),
      claim("pending", ["d1"], { status: "Pending" }),
      claim("gone", ["nope"]),
    ],
    disks,
  );
  assert.deepEqual(
    plans.map((p) => p.claim),
    ["a", "b", "gone"],
  );
  assert.deepEqual(plans[0]!.pools, [
    { poolName: "LocalStorage_PoolHDD", poolClass: "HDD", devices: ["/dev/loop1", "/dev/loop5"] },
    { poolName: "LocalStorage_PoolSSD", poolClass: "SSD", devices: ["/dev/loop2"] },
  ]);
  assert.deepEqual(plans[0]!.skipped, [{ disk: "d3", reason: "/dev/loop3 holds partitions or a filesystem" }]);
  assert.deepEqual(plans[1]!.waitingFor, ["LocalDisk d4 is Inactive"]);
  assert.deepEqual(plans[2]!.waitingFor, ["LocalDisk nope not found"]);
});

test("pool status: the original's LocalPool shape, disks InUse", () => {
  const p = poolStatus({
    name: "LocalStorage_PoolHDD",
    class: "HDD",
    path: "/p",
    totalCapacityBytes: 2 * GiB,
    usedCapacityBytes: GiB,
    freeCapacityBytes: GiB,
    volumeCapacityBytesLimit: 2 * GiB,
    totalVolumeCount: 1000,
    usedVolumeCount: 1,
    freeVolumeCount: 999,
    disks: [{ devPath: "/dev/loop1", capacityBytes: 2 * GiB }],
    volumes: ["pvc-1"],
  });
  assert.equal(p.type, "REGULAR");
  assert.deepEqual(p.disks, [{ devPath: "/dev/loop1", type: "HDD", capacityBytes: 2 * GiB, state: "InUse" }]);
  const st = nextStatus({ state: "Offline" }, [], []);
  assert.equal(st.state, "Ready");
  assert.equal(nextStatus({ state: "Maintain" }, [], []).state, "Maintain");
});

test("expansion conditions keep the real error text; success clears the failure", () => {
  const fail = setNodeConditions([], expandConditions({ claim: "c1", pools: [], error: "refusing to use /dev/loop9: it holds an ext4 signature" }), "t1");
  const ef = fail.find((c) => c.type === "ExpandFailure")!;
  assert.equal(ef.status, "True");
  assert.match(ef.message!, /ext4 signature/);
  const ok = setNodeConditions(fail, expandConditions({ claim: "c2", pools: ["LocalStorage_PoolHDD"] }), "t2");
  assert.equal(ok.find((c) => c.type === "ExpandFailure")!.status, "False");
  assert.equal(ok.find((c) => c.type === "ExpandSuccess")!.status, "True");
  assert.equal(setNodeConditions(ok, expandConditions({ claim: "c2", pools: ["LocalStorage_PoolHDD"] }), "t3")[0]!.lastUpdateTime, "t2");
});

test("poolExtendRecords: a claim is recorded once per pool", () => {
  const spec = { nodeName: "n1", owner: "local-storage", diskRefs: [{ name: "d1" }] };
  const r1 = withExtendRecord(undefined, "LocalStorage_PoolHDD", spec);
  assert.deepEqual(withExtendRecord(r1, "LocalStorage_PoolHDD", spec), r1);
  assert.equal(withExtendRecord(r1, "LocalStorage_PoolHDD", { ...spec, diskRefs: [{ name: "d2" }] }).LocalStorage_PoolHDD!.length, 2);
});

test("thin pool status: ratio from the latest ThinPoolClaim record, PoolState warning at ≥ 80 %, stable time", async () => {
  const { thinPoolStatus, engineFeatures } = await import("./states.ts");
  const t = {
    name: "LocalStorage_ThinPool",
    sizeBytes: 100,
    metadataSizeBytes: 10,
    dataPercent: 12.5,
    metadataPercent: 81,
    totalProvisionedBytes: 150,
    thinVolumes: ["pvc-a"],
  };
  const recs = [
    { uid: "u1", description: { poolName: "LocalStorage_PoolHDD", capacity: 1, overProvisionRatio: "2.0" } },
    { uid: "u2", description: { poolName: "LocalStorage_PoolHDD", capacity: 2 } },
  ];
  const s = thinPoolStatus(t, recs, undefined, "2026-12-04T00:00:00Z");
  assert.equal(s.overProvisionRatio, "2.0");
  assert.equal(s.currentProvisionRatio, "1.50");
  assert.equal(s.state!.reason, "PoolStateWarning");
  assert.equal(s.state!.message, "metadata usage is pretty high, please extend it");
  assert.equal(thinPoolStatus(t, recs, s, "2026-12-05T00:00:00Z").state!.lastTransitionTime, "2026-12-04T00:00:00Z");
  assert.equal(thinPoolStatus({ ...t, metadataPercent: 1 }, recs, s, "2026-12-05T00:00:00Z").state!.reason, "PoolStateNormal");
  assert.equal(thinPoolStatus(t, undefined, undefined, "x").overProvisionRatio, "1.0");
  const f = engineFeatures({ multiDiskPools: true, snapshots: { supported: true }, clones: { supported: true }, blockDevices: { supported: true } });
  assert.deepEqual(f.snapshots, { supported: true });
  assert.equal(f.thin!.supported, false);
  assert.match(f.encryption!.reason!, /dm-crypt/);
});
