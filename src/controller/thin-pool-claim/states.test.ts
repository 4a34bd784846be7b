import { test } from "node:test";
import assert from "node:assert/strict";
import { decideThinPoolClaim, type ThinPoolClaimFacts } from "./states.ts";

const GiB = 1024 ** 3;
const base = (o: Partial<ThinPoolClaimFacts> = {}): ThinPoolClaimFacts => ({
  name: "tpc-1",
  state: "",
  nodeName: "n1",
  description: { poolName: "LocalStorage_PoolHDD", capacity: 10, overProvisionRatio: "2.0" },
  pool: { name: "LocalStorage_PoolHDD", freeCapacityBytes: 20 * GiB },
  lsnExists: true,
  ...o,
});

test("ThinPoolClaim: scenario table", () => {
  const rows: Array<[string, ThinPoolClaimFacts, object | RegExp]> = [
    ["new → Pending", base(), { next: "Pending" }],
    [
      "ratio below 1.0 refused",
      base({ description: { poolName: "LocalStorage_PoolHDD", capacity: 10, overProvisionRatio: "0.5" } }),
      /tpc-1: overProvisionRatio 0.5 must be at least 1.0/,
    ],
    ["ratio not a number", base({ description: { poolName: "LocalStorage_PoolHDD", capacity: 10, overProvisionRatio: "lots" } }), /not a decimal number/],
    ["no node", base({ nodeName: undefined }), /spec.nodeName is required/],
    ["Pending, fits → ToBeConsumed", base({ state: "Pending" }), { next: "ToBeConsumed" }],
    [
      "Pending, no room",
      base({ state: "Pending", pool: { name: "LocalStorage_PoolHDD", freeCapacityBytes: 11 * GiB } }),
      /not enough free space in pool LocalStorage_PoolHDD on node n1/,
    ],
    ["Pending, pool missing", base({ state: "Pending", pool: undefined }), /storage pool LocalStorage_PoolHDD does not exist on node n1/],
    ["Pending, no LSN", base({ state: "Pending", lsnExists: false }), /node n1 has no LocalStorageNode/],
    [
      "Pending, would shrink",
      base({ state: "Pending", pool: { name: "LocalStorage_PoolHDD", freeCapacityBytes: 20 * GiB, thinPool: { size: 12 * GiB, metadataSize: GiB } } }),
      /never shrink/,
    ],
    [
      "Pending, grow existing by 2 GiB",
      base({ state: "Pending", pool: { name: "LocalStorage_PoolHDD", freeCapacityBytes: 2 * GiB, thinPool: { size: 8 * GiB, metadataSize: GiB } } }),
      { next: "ToBeConsumed" },
    ],
    ["ToBeConsumed: the node's turn", base({ state: "ToBeConsumed" }), { wait: true }],
    ["Consumed → ToBeDeleted", base({ state: "Consumed" }), { next: "ToBeDeleted" }],
    ["ToBeDeleted → Deleted", base({ state: "ToBeDeleted" }), { next: "Deleted" }],
    ["Deleted → delete", base({ state: "Deleted" }), { deleteObject: true }],
  ];
  for (const [name, facts, want] of rows) {
    const d = decideThinPoolClaim(facts);
    if (want instanceof RegExp) {
      assert.ok("refuse" in d, name);
      assert.match((d as { refuse: string }).refuse, want, name);
    } else assert.deepEqual(d, want, name);
  }
});
