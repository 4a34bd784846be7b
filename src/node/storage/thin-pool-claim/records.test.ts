import { test } from "node:test";
import assert from "node:assert/strict";
import { overProvisionRatioOf } from "../../../api/thin-pool.ts";
import { withThinPoolRecord } from "./records.ts";

test("thin pool extend records: once per claim uid, the latest ratio wins", () => {
  const d1 = { poolName: "LocalStorage_PoolHDD", capacity: 10, overProvisionRatio: "2.0" };
  const s1 = withThinPoolRecord(undefined, { uid: "u1", nodeName: "n1", description: d1 })!;
  assert.deepEqual(s1.thinPoolExtendRecords, { LocalStorage_PoolHDD: [{ uid: "u1", nodeName: "n1", description: d1 }] });
  assert.equal(withThinPoolRecord(s1, { uid: "u1", nodeName: "n1", description: d1 }), s1, "a re-run after a crash adds nothing");
  const s2 = withThinPoolRecord(s1, { uid: "u2", nodeName: "n1", description: { poolName: "LocalStorage_PoolHDD", capacity: 20, overProvisionRatio: "3.0" } })!;
  assert.equal(s2.thinPoolExtendRecords!.LocalStorage_PoolHDD!.length, 2);
  assert.equal(overProvisionRatioOf(s2.thinPoolExtendRecords!.LocalStorage_PoolHDD), "3.0");
});
