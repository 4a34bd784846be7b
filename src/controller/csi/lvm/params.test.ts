import { test } from "node:test";
import assert from "node:assert/strict";
import type { HwError } from "../../../api/errors.ts";
import { ScParams, TopologyKeys } from "../../../api/names.ts";
import { capacityOf, nodeTopology, parseLvmParams, roundUpToExtent } from "./params.ts";

const MiB = 1024 * 1024;
const fails = (code: string, re: RegExp) => (e: HwError) => e.code === code && re.test(e.message);
const base = { [ScParams.PoolClass]: "HDD", [ScParams.ReplicaNumber]: "1" };

test("parseLvmParams: poolClass, replicaNumber, convertible rule, QoS, pvc defaults", () => {
  assert.deepEqual(parseLvmParams(base, "pvc-1"), {
    poolClass: "HDD",
    poolName: "LocalStorage_PoolHDD",
    replicaNumber: 1,
    convertible: false,
    volumeQoS: {},
    pvcName: "pvc-1",
    pvcNamespace: "default",
    thin: false,
  });
  assert.equal(parseLvmParams({ ...base, [ScParams.Thin]: "True" }, "v").thin, true);
  assert.deepEqual(parseLvmParams({ ...base, [ScParams.EncryptType]: "LUKS", [ScParams.EncryptSecret]: "kube-system/key1" }, "v").volumeEncrypt, {
    enable: true,
    type: "LUKS",
    secret: "kube-system/key1",
  });
  const p = parseLvmParams(
    {
      ...base,
      [ScParams.Convertible]: "TRUE",
      [ScParams.ProvisionIopsOnCreation]: "100",
      [ScParams.ProvisionThroughputOnCreation]: "1Mi",
      [ScParams.PvcName]: "data",
      [ScParams.PvcNamespace]: "ns1",
      poolType: "REGULAR",
      striped: "true",
    },
    "pvc-1",
  );
  assert.equal(p.convertible, true);
  assert.deepEqual(p.volumeQoS, { iops: "100", throughput: "1Mi" });
  assert.equal(`${p.pvcNamespace}/${p.pvcName}`, "ns1/data");
  // Parameters are optional: what the default StorageClass carries.
  assert.deepEqual(parseLvmParams(undefined, "v"), parseLvmParams({ [ScParams.PoolClass]: "HDD", [ScParams.ReplicaNumber]: "1" }, "v"));
  assert.equal(parseLvmParams({ [ScParams.PoolClass]: "SSD" }, "v").replicaNumber, 1);
});

test("parseLvmParams: 2 and 3 replicas parse (whether nodes can replicate is placement's check); 4 is refused", () => {
  for (const rn of ["2", "3"]) {
    const p = parseLvmParams({ ...base, [ScParams.ReplicaNumber]: rn }, "v");
    assert.equal(p.replicaNumber, Number(rn));
    assert.equal(p.convertible, true);
  }
  assert.throws(
    () => parseLvmParams({ ...base, [ScParams.ReplicaNumber]: "4" }, "v"),
    (e: HwError) => e.code === "INVALID_ARGUMENT" && /replicaNumber 4 is not supported \(at most 3\)/.test(e.message),
  );
});

test("parseLvmParams: bad input names the parameter (table)", () => {
  const rows: Array<[Record<string, string>, string, RegExp]> = [
    [{ ...base, [ScParams.PoolClass]: "Floppy" }, "INVALID_ARGUMENT", /poolClass "Floppy" is not one of HDD, SSD, NVMe/],
    [{ ...base, [ScParams.PoolClass]: "hdd" }, "INVALID_ARGUMENT", /poolClass "hdd"/],
    [{ ...base, [ScParams.ReplicaNumber]: "0" }, "INVALID_ARGUMENT", /replicaNumber "0"/],
    [{ ...base, [ScParams.ReplicaNumber]: "two" }, "INVALID_ARGUMENT", /replicaNumber "two"/],
    [{ ...base, [ScParams.ReplicaNumber]: "5" }, "INVALID_ARGUMENT", /replicaNumber "5"/],
    [{ ...base, [ScParams.ProvisionIopsOnCreation]: "100; rm -rf /" }, "INVALID_ARGUMENT", /provision-iops-on-creation/],
    [{ ...base, [ScParams.Thin]: "true", [ScParams.ReplicaNumber]: "2" }, "INVALID_ARGUMENT", /thin=true needs replicaNumber 1/], // thin pools are per node
    [{ ...base, [ScParams.Thin]: "true", [ScParams.Convertible]: "true" }, "INVALID_ARGUMENT", /thin=true needs/],
    [{ ...base, [ScParams.EncryptSecret]: "ns/s" }, "INVALID_ARGUMENT", /go together .* only encryptSecret is set/],
    [{ ...base, [ScParams.EncryptType]: "LUKS" }, "INVALID_ARGUMENT", /only encryptType is set/],
    [{ ...base, [ScParams.EncryptType]: "AES", [ScParams.EncryptSecret]: "ns/s" }, "INVALID_ARGUMENT", /encryptType "AES" is not one of LUKS/],
    [
      { ...base, [ScParams.EncryptType]: "LUKS", [ScParams.EncryptSecret]: "just-a-name" },
      "INVALID_ARGUMENT",
      /encryptSecret "just-a-name" is not "<namespace>\/<name>"/,
    ],
  ];
  for (const [params, code, re] of rows) assert.throws(() => parseLvmParams(params, "v"), fails(code, re), JSON.stringify(params));
});

test("capacityOf: required, limit-only, rounding to 4 MiB, errors (table)", () => {
  assert.equal(roundUpToExtent(1), 4 * MiB);
  assert.deepEqual(capacityOf({ required_bytes: String(1024 * MiB) }), { requiredBytes: 1024 * MiB, limitBytes: undefined });
  assert.deepEqual(capacityOf({ required_bytes: String(5 * MiB), limit_bytes: String(16 * MiB) }), { requiredBytes: 8 * MiB, limitBytes: 16 * MiB });
  assert.deepEqual(capacityOf({ limit_bytes: String(8 * MiB) }), { requiredBytes: 8 * MiB, limitBytes: 8 * MiB });
  // capacity_range is optional: the default size (and 0 means unset).
  assert.deepEqual(capacityOf(undefined), { requiredBytes: 1024 * MiB, limitBytes: undefined });
  assert.deepEqual(capacityOf({ required_bytes: "0" }), { requiredBytes: 1024 * MiB, limitBytes: undefined });
  assert.throws(() => capacityOf({ required_bytes: "-1" }), fails("INVALID_ARGUMENT", /required_bytes -1/));
  assert.throws(() => capacityOf({ required_bytes: String(8 * MiB), limit_bytes: String(4 * MiB) }), fails("INVALID_ARGUMENT", /limit_bytes .* below/));
  assert.throws(
    () => capacityOf({ required_bytes: String(5 * MiB), limit_bytes: String(6 * MiB) }),
    fails("OUT_OF_RANGE", /limit_bytes 6291456 is too small: 8388608 bytes after rounding/),
  );
});

test("capacityOf: a filesystem volume is at least its filesystem's minimum, else OUT_OF_RANGE", () => {
  // mkfs.xfs refuses under 300 MiB: a 256 MiB xfs request is provisioned at 300 MiB (capacity may exceed the request).
  assert.deepEqual(capacityOf({ required_bytes: String(256 * MiB) }, "xfs"), { requiredBytes: 300 * MiB, limitBytes: undefined });
  assert.deepEqual(capacityOf({ required_bytes: String(256 * MiB), limit_bytes: String(512 * MiB) }, "xfs"), {
    requiredBytes: 300 * MiB,
    limitBytes: 512 * MiB,
  });
  assert.deepEqual(capacityOf({ required_bytes: String(256 * MiB) }, "ext4"), { requiredBytes: 256 * MiB, limitBytes: undefined });
  assert.deepEqual(capacityOf({ required_bytes: String(256 * MiB) }), { requiredBytes: 256 * MiB, limitBytes: undefined }, "block: no filesystem minimum");
  assert.throws(
    () => capacityOf({ required_bytes: String(256 * MiB), limit_bytes: String(256 * MiB) }, "xfs"),
    fails("OUT_OF_RANGE", /a xfs filesystem needs at least 300 MiB/),
  );
});

test("nodeTopology: our key only", () => {
  const seg = (n: string) => ({ segments: { [TopologyKeys.LvmNode]: n } });
  assert.deepEqual(nodeTopology(undefined), { requisite: undefined, preferred: [] });
  assert.deepEqual(nodeTopology({ requisite: [seg("a"), seg("b"), seg("a")], preferred: [seg("b")] }), { requisite: ["a", "b"], preferred: ["b"] });
  assert.deepEqual(nodeTopology({ requisite: [{ segments: { zone: "z" } }] }), { requisite: undefined, preferred: [] });
});
