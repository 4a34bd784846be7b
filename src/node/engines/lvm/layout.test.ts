// The lvm engine's device-mapper decisions against recorded lvs output (src/host/lvm/testdata).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { isHwError } from "../../../api/errors.ts";
import { parseLvs } from "../../../host/lvm/lvm.ts";
import {
  checkSnapshotSpace,
  checkThinPoolClaim,
  checkThinProvision,
  decideRollback,
  isSnapshotLv,
  isVolumeLv,
  lvTimeToIso,
  overProvisionRatioOf,
  parseOverProvisionRatio,
  planThinPool,
  snapshotsOf,
  thinPoolOf,
  thinPoolWarnings,
  type RollbackFacts,
} from "./layout.ts";

const lvs = (f: string) => parseLvs(readFileSync(new URL(`../../../host/lvm/testdata/${f}`, import.meta.url), "utf8"));
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

test("recorded thin layout: volumes, snapshots and internals told apart", () => {
  const all = lvs("lvs-thin.json");
  assert.deepEqual(
    all
      .filter(isVolumeLv)
      .map((l) => l.name)
      .sort(),
    ["pvc-thick", "pvc-thin", "pvc-thin-clone"],
  );
  assert.deepEqual(
    all
      .filter(isSnapshotLv)
      .map((l) => l.name)
      .sort(),
    ["snapcontent-thin"],
  );
});

test("recorded: snapshots of a volume, thick and thin, with their state", () => {
  const thick = snapshotsOf(lvs("lvs-snapshot-thick.json"), "pvc-thick");
  assert.deepEqual(thick, [
    {
      snapshotName: "snapcontent-thick",
      sourceVolume: "pvc-thick",
      sizeBytes: 20 * MiB,
      creationTime: "2026-12-04T16:01:00Z",
      thin: false,
      merging: false,
      invalid: false,
      usedPercent: null,
    },
  ]);
  assert.equal(snapshotsOf(lvs("lvs-snapshot-thick.json"), "other").length, 0);
  const [thin] = snapshotsOf(lvs("lvs-thin.json"), "pvc-thin");
  assert.equal(thin!.thin, true);
  assert.equal(thin!.sizeBytes, 300 * MiB);
  assert.equal(snapshotsOf(lvs("lvs-snapshot-merging.json"))[0]!.merging, true);
  assert.equal(snapshotsOf(lvs("lvs-snapshot-invalid-SYNTHETIC.json"))[0]!.invalid, true);
  assert.equal(snapshotsOf(lvs("lvs-snapshot-active-SYNTHETIC.json"))[0]!.usedPercent, 12.5);
  assert.equal(lvTimeToIso("2026-12-04 17:01:00 +0100"), "2026-12-04T16:01:00Z");
  assert.equal(lvTimeToIso("garbage"), "garbage");
});

test("recorded thin pool accounting: virtual sizes of thin volumes, size × data% of thin snapshots", () => {
  const meta = thinPoolOf(lvs("lvs-thin.json"))!;
  assert.equal(meta.sizeBytes, 200 * MiB);
  assert.equal(meta.metadataSizeBytes, 8 * MiB);
  assert.equal(meta.totalProvisionedBytes, 600 * MiB); // pvc-thin + pvc-thin-clone; the snapshot's data% is unknown here
  assert.deepEqual(meta.thinVolumes, ["pvc-thin", "pvc-thin-clone", "snapcontent-thin"]);
  const active = thinPoolOf(lvs("lvs-thin-active-SYNTHETIC.json"))!;
  assert.equal(active.totalProvisionedBytes, 600 * MiB + Math.ceil(300 * MiB * 0.382));
  assert.equal(active.dataPercent, 23.41);
  assert.equal(thinPoolOf(lvs("lvs-snapshot-thick.json")), undefined);
  assert.deepEqual(thinPoolWarnings(active, "5.0"), []);
  assert.deepEqual(thinPoolWarnings(active, "4.0"), ["current provision ratio is pretty high"]);
});

test("bad input: a thin pool over-committed past its ratio is refused, naming the pool and the volume", () => {
  const u = thinPoolOf(lvs("lvs-thin.json"))!; // 600 MiB provisioned of 200 MiB
  checkThinProvision("LocalStorage_PoolHDD", "volume pvc-new", u, "3.5", 100 * MiB); // 700 ≤ 700
  assert.throws(
    () => checkThinProvision("LocalStorage_PoolHDD", "volume pvc-new", u, "3.5", 100 * MiB + 1),
    (e) =>
      isHwError(e) &&
      e.code === "RESOURCE_EXHAUSTED" &&
      /insufficient free space in thin pool LocalStorage_PoolHDD\/LocalStorage_ThinPool for volume pvc-new/.test(e.message) &&
      /overProvisionRatio 3.5/.test(e.message),
  );
  assert.throws(() => checkThinProvision("LocalStorage_PoolHDD", "volume pvc-new", undefined, "1.0", 1), /has no thin pool for thin volume volume pvc-new/);
  assert.throws(() => checkThinProvision("P", "v", u, "0.5", 1), /at least 1.0/);
  assert.throws(() => parseOverProvisionRatio("two", "claim x"), /claim x: overProvisionRatio "two" is not a decimal number/);
  assert.equal(parseOverProvisionRatio(undefined, "x"), 1);
  assert.equal(
    overProvisionRatioOf([{ description: { overProvisionRatio: "2.0" } }, { description: {} }, { description: { overProvisionRatio: "3.0" } }]),
    "3.0",
  );
  assert.equal(overProvisionRatioOf(undefined), "1.0");
});

test("bad input: a snapshot larger than the pool's free space", () => {
  checkSnapshotSpace("LocalStorage_PoolHDD", "snapcontent-1", 8 * MiB, 8 * MiB);
  assert.throws(
    () => checkSnapshotSpace("LocalStorage_PoolHDD", "snapcontent-1", GiB, 8 * MiB),
    /insufficient free space in pool LocalStorage_PoolHDD for snapshot snapcontent-1: snapsize 1073741824 bytes, free 8388608 bytes/,
  );
});

test("ThinPoolClaim: create, extend what grew, nothing; the controller's free-space check", () => {
  const u = thinPoolOf(lvs("lvs-thin.json"))!;
  assert.deepEqual(planThinPool(undefined, { capacity: 10 }), { kind: "create", capacityGiB: 10, metadataGiB: 1 });
  assert.deepEqual(planThinPool(u, { capacity: 10 }), { kind: "extend", capacityGiB: 10, metadataGiB: 1 });
  assert.deepEqual(planThinPool({ ...u, sizeBytes: 10 * GiB, metadataSizeBytes: GiB }, { capacity: 10, poolMetadataSize: 1 }), { kind: "none" });
  assert.deepEqual(planThinPool({ ...u, sizeBytes: 10 * GiB, metadataSizeBytes: GiB }, { capacity: 12 }), { kind: "extend", capacityGiB: 12 });
  const pool = { name: "LocalStorage_PoolHDD", freeCapacityBytes: 12 * GiB };
  assert.equal(checkThinPoolClaim("tpc-1", "n1", { capacity: 10 }, pool, pool.name), undefined); // 10 + 2 × 1
  assert.match(
    checkThinPoolClaim("tpc-1", "n1", { capacity: 11 }, pool, pool.name)!,
    /tpc-1: not enough free space in pool LocalStorage_PoolHDD on node n1: requires 13958643712 bytes/,
  );
  assert.match(
    checkThinPoolClaim("tpc-1", "n1", { capacity: 1 }, undefined, "LocalStorage_PoolSSD")!,
    /storage pool LocalStorage_PoolSSD does not exist on node n1/,
  );
  assert.match(checkThinPoolClaim("tpc-1", "n1", { capacity: 1 }, { ...pool, thinPool: { size: 2 * GiB, metadataSize: GiB } }, pool.name)!, /never shrink/);
  assert.equal(checkThinPoolClaim("tpc-1", "n1", { capacity: 20 }, { ...pool, thinPool: { size: 10 * GiB, metadataSize: GiB } }, pool.name), undefined);
});

test("rollback state machine: merge, merge on next activation, refresh once, done; refusals", () => {
  const snap = { merging: false, invalid: false, mergeFailed: false, origin: "pvc-1" };
  const origin = { deviceOpen: false, active: true, merging: false };
  const step = (f: RollbackFacts) => decideRollback("snapcontent-1", "pvc-1", f);
  const rows: Array<[string, RollbackFacts, string, RegExp?]> = [
    ["fresh, origin closed", { snapshot: snap, origin, mergeStarted: false }, "merge"],
    [
      "fresh, origin open (published)",
      { snapshot: snap, origin: { ...origin, deviceOpen: true }, mergeStarted: false },
      "fail",
      /volume pvc-1 is open on this node; unpublish it/,
    ],
    ["invalid snapshot", { snapshot: { ...snap, invalid: true }, origin, mergeStarted: false }, "fail", /invalid/],
    ["merge failed", { snapshot: { ...snap, merging: true, mergeFailed: true }, origin, mergeStarted: true }, "fail", /lv_merge_failed/],
    ["someone else's merge", { snapshot: { ...snap, merging: true }, origin, mergeStarted: false }, "fail", /already being merged/],
    ["crash after marker, before lvconvert", { snapshot: snap, origin, mergeStarted: true }, "merge"],
    [
      "delayed: origin open",
      { snapshot: { ...snap, merging: true }, origin: { ...origin, deviceOpen: true, merging: true }, mergeStarted: true },
      "wait",
      /next activation/,
    ],
    ["delayed, origin closed now", { snapshot: { ...snap, merging: true }, origin: { ...origin, merging: true }, mergeStarted: true }, "refresh"],
    ["merging after the refresh", { snapshot: { ...snap, merging: true }, origin: { ...origin, merging: true }, mergeStarted: true, refreshed: true }, "wait"],
    ["snapshot gone after our merge", { origin, mergeStarted: true }, "done"],
    ["snapshot gone, never merged", { origin, mergeStarted: false }, "fail", /does not exist/],
    ["origin gone", { snapshot: snap, mergeStarted: false }, "fail", /volume pvc-1, the origin/],
  ];
  for (const [name, facts, kind, msg] of rows) {
    const s = step(facts);
    assert.equal(s.kind, kind, name);
    if (msg) assert.match("message" in s ? s.message : "why" in s ? s.why : "", msg, name);
  }
});

test("rollback facts from recorded lvs: merging snapshot in brackets, delayed merge, finished merge", () => {
  const facts = (f: string, mergeStarted: boolean): RollbackFacts => {
    const all = lvs(f);
    const s = all.find((l) => l.name === "snapcontent-thick");
    const o = all.find((l) => l.name === "pvc-thick");
    return {
      snapshot: s && { merging: s.merging, invalid: s.snapshotInvalid, mergeFailed: s.mergeFailed, origin: s.origin },
      origin: o && { deviceOpen: o.deviceOpen, active: o.active, merging: o.merging },
      mergeStarted,
    };
  };
  assert.equal(decideRollback("snapcontent-thick", "pvc-thick", facts("lvs-snapshot-thick.json", false)).kind, "merge");
  assert.equal(decideRollback("snapcontent-thick", "pvc-thick", facts("lvs-snapshot-active-SYNTHETIC.json", false)).kind, "fail"); // origin open
  assert.equal(decideRollback("snapcontent-thick", "pvc-thick", facts("lvs-merge-delayed-SYNTHETIC.json", true)).kind, "wait");
  assert.equal(decideRollback("snapcontent-thick", "pvc-thick", facts("lvs-snapshot-merging.json", true)).kind, "refresh");
  assert.equal(decideRollback("snapcontent-thick", "pvc-thick", facts("lvs-merge-done-SYNTHETIC.json", true)).kind, "done");
  assert.equal(decideRollback("snapcontent-thick", "pvc-thick", facts("lvs-snapshot-invalid-SYNTHETIC.json", false)).kind, "fail");
});
