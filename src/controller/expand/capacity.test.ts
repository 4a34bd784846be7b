import { test } from "node:test";
import assert from "node:assert/strict";
import { type Lsn, type Lv } from "../../kube/hwameistor.ts";
import { growthProblem } from "./capacity.ts";

const M = 2 ** 20;
const G = 2 ** 30;
const HDD = "LocalStorage_PoolHDD";
const lsn = (name: string, total: number, used: number, volumes: string[]): Lsn =>
  ({
    metadata: { name },
    status: {
      state: "Ready",
      pools: {
        [HDD]: {
          name: HDD,
          class: "HDD",
          type: "REGULAR",
          totalCapacityBytes: total,
          usedCapacityBytes: used,
          freeCapacityBytes: total - used,
          volumeCapacityBytesLimit: total,
          totalVolumeCount: 1000,
          usedVolumeCount: volumes.length,
          freeVolumeCount: 1000 - volumes.length,
          volumes,
        },
      },
    },
  }) as unknown as Lsn;
const lv = (bytes: number): Lv =>
  ({
    metadata: { name: "pvc-a" },
    spec: { poolName: HDD, requiredCapacityBytes: bytes, replicaNumber: 1, config: { replicas: [{ hostname: "n1" }], requiredCapacityBytes: bytes } },
    status: { allocatedCapacityBytes: bytes, state: "Ready" },
  }) as unknown as Lv;

test("capacity: a growth within the pool is fine; beyond it names the pool, the node and the numbers", () => {
  const v = lv(512 * M);
  const nodes = [lsn("n1", 2 * G, 512 * M, ["pvc-a"])];
  assert.equal(growthProblem(v, G, nodes, [v]), undefined);
  assert.equal(growthProblem(v, 256 * M, nodes, [v]), undefined, "no growth, no problem");
  assert.equal(
    growthProblem(v, 100 * G, nodes, [v]),
    "cannot grow volume pvc-a from 512Mi to 100Gi: pool LocalStorage_PoolHDD on node n1 has 1.5Gi free (2Gi total), the growth needs 99.5Gi",
  );
  assert.match(growthProblem(v, G, [], [v]) ?? "", /node n1 reports no LocalStorage_PoolHDD/);
});
