import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { applyDefaults, assertValid, pruneUnknownFields, validateObject } from "./validate.ts";
import { isHwError, toKubeStatus } from "./errors.ts";
import { API_VERSION, Owners } from "./names.ts";

const seeds = parseAllDocuments(readFileSync(new URL("../../test/fixtures/seed-examples.yaml", import.meta.url), "utf8"))
  .map((d) => d.toJS() as any)
  .filter((o) => o?.apiVersion === API_VERSION);

test("every hwameistor document of seed-examples.yaml is valid after defaulting", () => {
  assert.ok(seeds.length >= 6);
  for (const obj of seeds) {
    applyDefaults(obj.kind, obj);
    assert.deepEqual(validateObject(obj.kind, obj), [], `${obj.kind} ${obj.metadata.name}`);
  }
});

test("a LocalDiskClaim without owner defaults to local-storage", () => {
  const ldc = seeds.find((o) => o.metadata.name === "k8s-worker-4-expand");
  assert.equal(ldc.spec.owner, Owners.LocalStorage);
  const bare: any = { apiVersion: API_VERSION, kind: "LocalDiskClaim", metadata: { name: "x" }, spec: { nodeName: "n1" } };
  assert.equal(validateObject("LocalDiskClaim", bare)[0]?.field, "spec.owner");
  applyDefaults("LocalDiskClaim", bare);
  assert.equal(bare.spec.owner, "local-storage");
  assert.deepEqual(validateObject("ldc", bare), []);
});

test("defaults of the original CRDs are applied", () => {
  const lv: any = { spec: { requiredCapacityBytes: 4194304, accessibility: { nodes: ["n1"] }, volumeEncrypt: {} }, status: {} };
  applyDefaults("LocalVolume", lv);
  assert.equal(lv.spec.convertible, false);
  assert.equal(lv.spec.delete, false);
  assert.deepEqual(lv.spec.accessibility.zones, ["default"]);
  assert.deepEqual(lv.spec.accessibility.regions, ["default"]);
  assert.deepEqual(lv.spec.volumeEncrypt, { enable: false, type: "LUKS" });
  assert.equal(lv.status.rawblock, false);
  assert.deepEqual(validateObject("lv", lv), []);

  const mig: any = { spec: { volumeName: "v", sourceNode: "n", targetNodesSuggested: [] } };
  applyDefaults("lvmigrate", mig);
  assert.equal(mig.spec.migrateAllVols, true);
  assert.equal(mig.spec.abort, false);

  const lsn: any = { spec: { topogoly: {} } };
  applyDefaults("lsn", lsn);
  assert.deepEqual(lsn.spec.topogoly, { zone: "default", region: "default" });

  const rsr: any = { spec: { nodeName: "n", volumeSnapshotRestore: "r", sourceVolumeSnapshot: "s" } };
  applyDefaults("lvrsrestore", rsr);
  assert.equal(rsr.spec.restoreType, "create");
  assert.deepEqual(validateObject("lvrsrestore", rsr), []);

  const tpc: any = { spec: { nodeName: "n", description: { poolName: "LocalStorage_PoolHDD", capacity: 10 } } };
  applyDefaults("tpc", tpc);
  assert.equal(tpc.spec.description.overProvisionRatio, "1.0");
  assert.equal(tpc.spec.description.poolMetadataSize, 1);
  assert.deepEqual(validateObject("tpc", tpc), []);
});

test("defaults apply inside maps and do not create missing parents; nulls are dropped", () => {
  const lsn: any = { spec: { hostname: "n1", topogoly: null }, status: { pools: { LocalStorage_PoolHDD: { name: "LocalStorage_PoolHDD" } } } };
  applyDefaults("LocalStorageNode", lsn);
  assert.equal("topogoly" in lsn.spec, false);
  const lv: any = { spec: { requiredCapacityBytes: 4194304 } };
  applyDefaults("LocalVolume", lv);
  assert.equal(lv.status, undefined);
  assert.equal(lv.spec.accessibility, undefined);
});

function fieldsOf(kind: string, obj: unknown): Record<string, string> {
  return Object.fromEntries(validateObject(kind, obj).map((c) => [c.field, c.reason]));
}

test("bad objects are rejected with the field named", () => {
  assert.deepEqual(fieldsOf("LocalVolume", { spec: { replicaNumber: 7, requiredCapacityBytes: 1000 } }), {
    "spec.replicaNumber": "FieldValueInvalid",
    "spec.requiredCapacityBytes": "FieldValueInvalid",
  });
  assert.deepEqual(fieldsOf("LocalVolume", { spec: { replicaNumber: 0 } }), { "spec.replicaNumber": "FieldValueInvalid" });
  assert.deepEqual(fieldsOf("LocalVolumeConvert", { spec: { replicaNumber: 4 } }), { "spec.replicaNumber": "FieldValueInvalid" }); // 2 or 3 (docs/compatibility.md)
  assert.deepEqual(fieldsOf("lvsrestore", { spec: { sourceVolumeSnapshot: "s", restoreType: "clone" } }), {
    "spec.restoreType": "FieldValueNotSupported",
  });
  assert.deepEqual(fieldsOf("ld", { spec: { nodeName: "n", state: "Gone" }, status: { claimState: "Unclaimed" } }), {
    "spec.state": "FieldValueNotSupported",
    "status.claimState": "FieldValueNotSupported",
  });
  assert.deepEqual(fieldsOf("LocalVolumeMigrate", { spec: { volumeName: "v", sourceNode: "n" } }), {
    "spec.targetNodesSuggested": "FieldValueRequired",
  });
  assert.deepEqual(fieldsOf("ResizePolicy", { spec: { warningThreshold: 60, resizeThreshold: 80 } }), {
    "spec.nodePoolUsageLimit": "FieldValueRequired",
  });
  assert.deepEqual(fieldsOf("tpc", { spec: { description: { poolName: "p", capacity: 0 } } }), {
    "spec.description.capacity": "FieldValueInvalid",
  });
  assert.deepEqual(fieldsOf("evt", { spec: { resourceType: "Node", resourceName: "n" } }), { "spec.resourceType": "FieldValueNotSupported" });
  assert.deepEqual(fieldsOf("ldc", { spec: { nodeName: "n", owner: "x", diskRefs: [{ name: 5 }] } }), {
    "spec.diskRefs[0].name": "FieldValueTypeInvalid",
  });
  assert.deepEqual(fieldsOf("lsn", { status: { pools: { LocalStorage_PoolHDD: { freeCapacityBytes: "lots" } } } }), {
    "status.pools[LocalStorage_PoolHDD].freeCapacityBytes": "FieldValueTypeInvalid",
  });
  assert.deepEqual(
    fieldsOf("lvr", { status: { conditions: [{ type: "Ready", status: "Maybe", reason: "Ready", message: "", lastTransitionTime: "yesterday" }] } }),
    {
      "status.conditions[0].status": "FieldValueNotSupported",
      "status.conditions[0].lastTransitionTime": "FieldValueInvalid",
    },
  );
});

test("messages read like the API server's", () => {
  const [c] = validateObject("lv", { spec: { replicaNumber: 7 } });
  assert.equal(c!.message, "Invalid value: 7: spec.replicaNumber in body should be less than or equal to 4");
  const [e] = validateObject("lvsrestore", { spec: { sourceVolumeSnapshot: "s", restoreType: "clone" } });
  assert.equal(e!.message, 'Unsupported value: "clone": supported values: "rollback", "create"');
});

test("assertValid throws a 422 Invalid HwError carrying the causes", () => {
  try {
    assertValid("LocalVolume", { metadata: { name: "pvc-1" }, spec: { replicaNumber: 7 } });
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(isHwError(e));
    const status = toKubeStatus(e);
    assert.equal(status.code, 422);
    assert.equal(status.reason, "Invalid");
    assert.match(String(status.message), /^LocalVolume\.hwameistor\.io "pvc-1" is invalid: \[spec\.replicaNumber: /);
    assert.equal((status.details as any).causes[0].field, "spec.replicaNumber");
  }
  assert.doesNotThrow(() => assertValid("lv", { spec: {} }));
});

test("unknown kinds are a NOT_FOUND HwError; kinds resolve by plural and short name", () => {
  assert.throws(
    () => validateObject("Pod", {}),
    (e: unknown) => isHwError(e) && e.code === "NOT_FOUND",
  );
  assert.deepEqual(validateObject("localvolumes", { spec: {} }), []);
  assert.deepEqual(validateObject("lvrsnaprestore", {}), []);
});

test("pruneUnknownFields drops unknown fields but keeps metadata and preserve-unknown-fields blocks", () => {
  const obj: any = {
    metadata: { name: "c", whatever: 1 },
    spec: {
      bogus: true,
      scheduler: { disable: false, kubeScheduler: { image: { tag: "v1" } } },
      storageClass: { fsType: "xfs", extra: 1 },
    },
    status: { componentStatus: { scheduler: { health: "Normal" } } },
  };
  assert.deepEqual(pruneUnknownFields("Cluster", obj), ["spec.bogus"]);
  assert.deepEqual(obj.spec.scheduler.kubeScheduler, { image: { tag: "v1" } });
  assert.equal(obj.spec.storageClass.extra, 1);
  assert.equal(obj.metadata.whatever, 1);
  const lvg: any = { spec: { pods: ["p"], volumes: [{ pvc: "a", junk: 1 }] }, status: { x: 1 } };
  assert.deepEqual(pruneUnknownFields("lvg", lvg), ["spec.volumes[0].junk", "status.x"]);
  const ldn: any = { status: { pools: { LocalDisk_PoolHDD: { name: "p", junk: 2 } } } };
  assert.deepEqual(pruneUnknownFields("ldn", ldn), ["status.pools[LocalDisk_PoolHDD].junk"]);
});
