import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CLUSTER_METRICS, clusterSamples, goTimeString, smartSamples, unifiedPoolName, volumeType, type ClusterSnapshot } from "./cluster-metrics.ts";

const empty: ClusterSnapshot = {
  localDisks: [],
  localStorageNodes: [],
  localVolumes: [],
  localDiskVolumes: [],
  localVolumeReplicas: [],
  migrates: [],
  converts: [],
  expands: [],
  snapshots: [],
  smartResults: {},
};
const find = (s: ReturnType<typeof clusterSamples>, name: string, labels: Record<string, string>) =>
  s.filter((x) => CLUSTER_METRICS[x.metric].name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));

test("pool names and volume types as the original names them", () => {
  assert.equal(unifiedPoolName("LocalStorage_PoolHDD"), "HDD");
  assert.equal(unifiedPoolName("LocalStorage_PoolNVMe"), "NVMe");
  assert.equal(unifiedPoolName("SSD"), "SSD");
  assert.equal(unifiedPoolName("weird"), "Unknown");
  assert.equal(unifiedPoolName(undefined), "Unknown");
  assert.equal(volumeType({ spec: { convertible: false, replicaNumber: 2 } }), "NonHA");
  assert.equal(volumeType({ spec: { convertible: true, replicaNumber: 2 } }), "HA");
  assert.equal(volumeType({ spec: { convertible: true, replicaNumber: 1 } }), "Convertible");
  assert.equal(goTimeString("2026-12-04T23:28:01Z"), "2026-12-04 23:28:01 +0000 UTC");
});

test("local disk: uuid label, owner empty → Unknown, status = claimState, value = capacity", () => {
  const s = clusterSamples(
    {
      ...empty,
      localDisks: [
        {
          metadata: { name: "localdisk-a" },
          spec: {
            uuid: "u-1",
            nodeName: "n1",
            devicePath: "/dev/sdb",
            capacity: 1e9,
            reserved: true,
            owner: "",
            diskAttributes: { type: "SSD" },
            supportSmart: true,
            smartInfo: { overallHealth: "Failed" },
          },
          status: { claimState: "Bound" },
        },
      ],
    },
    0,
  );
  const [d] = find(s, "hwameistor_localdisk_capacity", {});
  assert.deepEqual(d!.labels, { uuid: "u-1", nodeName: "n1", type: "SSD", devPath: "/dev/sdb", reserved: "true", owner: "Unknown", status: "Bound" });
  assert.equal(d!.value, 1e9);
  assert.equal(find(s, "hwameistor_localdisk_smart_health", { health: "Failed", dev_path: "/dev/sdb" })[0]!.value, 1);
});

test("storage node: capacity and volume count with kind Total/Free/Used, status 1", () => {
  const s = clusterSamples(
    {
      ...empty,
      localStorageNodes: [
        {
          metadata: { name: "n1" },
          status: {
            state: "Ready",
            replication: { available: false, reason: "no /dev/fuse" },
            pools: {
              LocalStorage_PoolHDD: {
                totalCapacityBytes: 100,
                freeCapacityBytes: 60,
                usedCapacityBytes: 40,
                totalVolumeCount: 1000,
                freeVolumeCount: 998,
                usedVolumeCount: 2,
              },
            },
          },
        },
      ],
    },
    0,
  );
  const v = (name: string, kind: string) => find(s, name, { nodeName: "n1", poolName: "HDD", kind })[0]!.value;
  assert.deepEqual(
    [v("hwameistor_localstoragenode_capacity", "Total"), v("hwameistor_localstoragenode_capacity", "Free"), v("hwameistor_localstoragenode_capacity", "Used")],
    [100, 60, 40],
  );
  assert.deepEqual(
    [
      v("hwameistor_localstoragenode_volumecount", "Total"),
      v("hwameistor_localstoragenode_volumecount", "Free"),
      v("hwameistor_localstoragenode_volumecount", "Used"),
    ],
    [1000, 998, 2],
  );
  assert.equal(find(s, "hwameistor_localstoragenode_status", { nodeName: "n1", status: "Ready" })[0]!.value, 1);
  assert.equal(find(s, "hwameistor_localstoragenode_replication_available", { node_name: "n1" })[0]!.value, 0);
});

test("volumes: LVM and disk volumes on the same metrics; replicas; operations' age and status", () => {
  const created = "2026-12-04T10:00:00Z";
  const now = Date.parse(created) + 90_000;
  const s = clusterSamples(
    {
      ...empty,
      localVolumes: [
        {
          metadata: { name: "pvc-1" },
          spec: { poolName: "LocalStorage_PoolHDD", convertible: true, replicaNumber: 1 },
          status: { allocatedCapacityBytes: 2048, usedCapacityBytes: 512, publishedNode: "n2", state: "Ready" },
        },
      ],
      localDiskVolumes: [
        {
          metadata: { name: "pvc-d" },
          spec: { diskType: "HDD", accessibility: { nodes: ["n3"] } },
          status: { allocatedCapacityBytes: 4096, mountPoints: [{ targetPath: "/x" }], state: "Ready" },
        },
      ],
      localVolumeReplicas: [
        {
          metadata: { name: "pvc-1-abc" },
          spec: { nodeName: "n2", poolName: "LocalStorage_PoolHDD", volumeName: "pvc-1" },
          status: { allocatedCapacityBytes: 2048, state: "Ready", synced: true, resync: { doneBytes: 3, totalBytes: 8, dirtyBytes: 5 } },
        },
      ],
      migrates: [
        {
          metadata: { name: "migrate-pvc-1", creationTimestamp: created },
          spec: { volumeName: "pvc-1", sourceNode: "n2" },
          status: { targetNode: "n3", state: "InProgress" },
        },
      ],
      expands: [{ metadata: { name: "pvc-1", creationTimestamp: created }, spec: { volumeName: "pvc-1" }, status: { state: "Completed" } }],
    },
    now,
  );
  assert.equal(
    find(s, "hwameistor_localvolume_capacity", { volumeName: "pvc-1", poolName: "HDD", type: "Convertible", mountedOn: "n2", kind: "Allocated" })[0]!.value,
    2048,
  );
  assert.equal(find(s, "hwameistor_localvolume_capacity", { volumeName: "pvc-1", kind: "Used" })[0]!.value, 512);
  assert.equal(find(s, "hwameistor_localvolume_status", { volumeName: "pvc-1", status: "Ready" })[0]!.value, 1);
  assert.equal(
    find(s, "hwameistor_localvolume_capacity", { volumeName: "pvc-d", type: "Disk", poolName: "HDD", mountedOn: "n3", kind: "Allocated" })[0]!.value,
    4096,
  );
  assert.equal(find(s, "hwameistor_localvolumereplica_capacity", { nodeName: "n2", poolName: "HDD", volumeName: "pvc-1" })[0]!.value, 2048);
  assert.equal(find(s, "hwameistor_localvolumereplica_status", { status: "Ready" }).length, 1);
  assert.equal(find(s, "hwameistor_localvolumereplica_synced", { volume_name: "pvc-1" })[0]!.value, 1);
  const resync = (kind: string) => find(s, "hwameistor_localvolumereplica_resync_bytes", { volume_name: "pvc-1", node_name: "n2", kind })[0]!.value;
  assert.deepEqual([resync("done"), resync("total"), resync("dirty")], [3, 8, 5]);
  assert.equal(
    find(s, "hwameistor_localvolumemigrate_duration", { volumeName: "pvc-1", startTime: "2026-12-04 10:00:00 +0000 UTC", from: "n2", to: "n3" })[0]!.value,
    90,
  );
  assert.equal(find(s, "hwameistor_localvolumemigrate_status", { volumeName: "pvc-1", status: "InProgress" })[0]!.value, 1);
  assert.equal(find(s, "hwameistor_localvolumeexpand_duration", { volumeName: "pvc-1" })[0]!.value, 90);
  assert.equal(find(s, "hwameistor_localvolumeexpand_status", { status: "Completed" }).length, 1);
});

test("ata_smart_attribute: four value types per attribute from smartctl JSON; junk yields nothing", () => {
  const doc = JSON.parse(readFileSync(join(import.meta.dirname, "testdata/smart-result-SYNTHETIC.json"), "utf8"));
  const s = smartSamples("n1", JSON.stringify([doc]));
  const table = doc.ata_smart_attributes?.table ?? [];
  assert.ok(table.length > 0, "the testdata has an attribute table");
  assert.equal(s.length, table.length * 4);
  const a = table[0];
  const raw = s.find((x) => x.labels.attribute_id === String(a.id) && x.labels.attribute_value_type === "raw")!;
  assert.equal(raw.value, a.raw.value);
  assert.equal(raw.labels.node, "n1");
  assert.equal(raw.labels.attribute_name, a.name);
  assert.equal(raw.labels.attribute_flags_short, a.flags.string);
  assert.deepEqual(smartSamples("n1", "{not json"), []);
});
