import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pv, Pvc, StorageClassShape } from "../../api/core.ts";
import { resizeDecision } from "../resizer/resizer.ts";
import { contentStatus, snapshotParameters } from "../snapshotter/snapshotter.ts";
import { nsToTime } from "../snapshotter/snapshot-controller.ts";
import { nodeTopology } from "../common.ts";
import { createVolumeRequest, persistentVolume, shouldDelete, shouldProvision } from "./decide.ts";

const D = "lvm.hwameistor.io";
const claim = (o: { ann?: Record<string, string>; volumeName?: string; deleting?: boolean; size?: string; modes?: string[]; mode?: string } = {}): Pvc => ({
  metadata: {
    name: "data",
    namespace: "ns",
    uid: "u-1",
    resourceVersion: "7",
    annotations: { "volume.kubernetes.io/storage-provisioner": D, ...o.ann },
    ...(o.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
  },
  spec: {
    accessModes: o.modes ?? ["ReadWriteOnce"],
    resources: { requests: { storage: o.size ?? "1Gi" } },
    storageClassName: "hdd",
    ...(o.volumeName ? { volumeName: o.volumeName } : {}),
    ...(o.mode ? { volumeMode: o.mode } : {}),
  },
});
const sc = (o: { wffc?: boolean; provisioner?: string; reclaim?: string; params?: Record<string, string> } = {}): StorageClassShape => ({
  metadata: { name: "hdd" },
  provisioner: o.provisioner ?? D,
  volumeBindingMode: o.wffc ? "WaitForFirstConsumer" : "Immediate",
  ...(o.reclaim ? { reclaimPolicy: o.reclaim } : {}),
  parameters: o.params ?? { poolClass: "HDD", replicaNumber: "1", "csi.storage.k8s.io/fstype": "xfs" },
});
const topo = (n: string) => ({ segments: { "topology.lvm.hwameistor.io/node": n } });

describe("external-provisioner: whether to provision", () => {
  const cases: Array<[string, Pvc, StorageClassShape | undefined, boolean, string | undefined]> = [
    ["a claim handed to this driver", claim(), sc(), false, undefined],
    [
      "not handed over by the PV controller",
      claim({ ann: { "volume.kubernetes.io/storage-provisioner": "other" } }),
      sc(),
      false,
      "claim not handed to this provisioner",
    ],
    ["class of another provisioner", claim(), sc({ provisioner: "x.io" }), false, "class not provisioned by this driver"],
    ["class missing", claim(), undefined, false, "class not provisioned by this driver"],
    ["WFFC without a selected node", claim(), sc({ wffc: true }), false, "waiting for the scheduler to select a node"],
    ["WFFC with a selected node", claim({ ann: { "volume.kubernetes.io/selected-node": "n1" } }), sc({ wffc: true }), false, undefined],
    ["already bound", claim({ volumeName: "pv1" }), sc(), false, "claim already names a volume"],
    ["being deleted", claim({ deleting: true }), sc(), false, "claim is being deleted"],
    ["PV pvc-<uid> exists (crash after CreateVolume and PV)", claim(), sc(), true, "volume already provisioned"],
  ];
  for (const [name, c, s, pvExists, skip] of cases) it(name, () => assert.equal(shouldProvision(c, s, D, pvExists)?.skip, skip));
});

describe("external-provisioner: the CreateVolume request", () => {
  it("names the volume pvc-<uid>, strips reserved keys, adds the metadata keys, one capability per access mode", () => {
    const r = createVolumeRequest({ claim: claim({ modes: ["ReadWriteOnce", "ReadOnlyMany"] }), sc: sc() });
    assert.equal(r.name, "pvc-u-1");
    assert.deepEqual(r.capacity_range, { required_bytes: String(2 ** 30) });
    assert.deepEqual(r.parameters, {
      poolClass: "HDD",
      replicaNumber: "1",
      "csi.storage.k8s.io/pvc/name": "data",
      "csi.storage.k8s.io/pvc/namespace": "ns",
      "csi.storage.k8s.io/pv/name": "pvc-u-1",
    });
    assert.deepEqual(r.volume_capabilities, [
      { mount: { fs_type: "xfs", mount_flags: [] }, access_mode: { mode: "SINGLE_NODE_WRITER" } },
      { mount: { fs_type: "xfs", mount_flags: [] }, access_mode: { mode: "MULTI_NODE_READER_ONLY" } },
    ]);
    assert.equal(r.accessibility_requirements, undefined);
  });
  it("block claims ask for block access; RWX maps to MULTI_NODE_MULTI_WRITER (the driver refuses it)", () => {
    const r = createVolumeRequest({ claim: claim({ mode: "Block", modes: ["ReadWriteMany"] }), sc: sc() });
    assert.deepEqual(r.volume_capabilities, [{ block: {}, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } }]);
  });
  it("strict topology: the selected node is the only requisite and preferred segment; Immediate: every registered node", () => {
    assert.deepEqual(createVolumeRequest({ claim: claim(), sc: sc(), selectedTopology: topo("n2") }).accessibility_requirements, {
      requisite: [topo("n2")],
      preferred: [topo("n2")],
    });
    assert.deepEqual(createVolumeRequest({ claim: claim(), sc: sc(), allTopologies: [topo("a"), topo("b")] }).accessibility_requirements, {
      requisite: [topo("a"), topo("b")],
      preferred: [topo("a"), topo("b")],
    });
  });
  it("a content source is passed; a request below the source's size is refused before any call", () => {
    const src = { snapshot: { snapshot_id: "snapcontent-1" } };
    assert.deepEqual(createVolumeRequest({ claim: claim(), sc: sc(), contentSource: src, sourceBytes: 2 ** 30 }).volume_content_source, src);
    assert.throws(
      () => createVolumeRequest({ claim: claim({ size: "512Mi" }), sc: sc(), contentSource: src, sourceBytes: 2 ** 30 }),
      /less than the size 1073741824 for the source; request at least 1Gi/,
    );
  });
  it("bad claims are refused with the fix", () => {
    assert.throws(() => createVolumeRequest({ claim: claim({ size: "lots" }), sc: sc() }), /requests.storage \(e.g. 1Gi\)/);
    assert.throws(() => createVolumeRequest({ claim: claim({ modes: [] }), sc: sc() }), /no spec.accessModes/);
  });
  it("node topology comes from CSINode topologyKeys valued by Node labels", () => {
    const node = { metadata: { name: "n1", labels: { "topology.lvm.hwameistor.io/node": "n1" } } };
    const csiNode = { spec: { drivers: [{ name: D, nodeID: "n1", topologyKeys: ["topology.lvm.hwameistor.io/node"] }] } };
    assert.deepEqual(nodeTopology(node, csiNode, D), topo("n1"));
    assert.equal(nodeTopology(node, undefined, D), undefined, "no registration, no topology");
    assert.equal(nodeTopology({ metadata: { name: "n1" } }, csiNode, D), undefined, "label missing");
  });
});

describe("external-provisioner: the PV", () => {
  const res = {
    volume: { volume_id: "pvc-u-1", capacity_bytes: String(2 ** 30), volume_context: { poolName: "LocalStorage_PoolHDD" }, accessible_topology: [topo("n1")] },
  };
  it("carries the CSI source, fsType, attributes, node affinity, claimRef, reclaim and the deletion finalizer", () => {
    const pv = persistentVolume({ claim: claim(), sc: sc(), driver: D, identity: "id-1", res, requestedBytes: 2 ** 30 });
    assert.equal(pv.metadata?.name, "pvc-u-1");
    assert.deepEqual(pv.metadata?.annotations, { "pv.kubernetes.io/provisioned-by": D });
    assert.deepEqual(pv.metadata?.finalizers, ["external-provisioner.volume.kubernetes.io/finalizer"]);
    assert.deepEqual(pv.spec?.capacity, { storage: "1Gi" });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Delete");
    assert.equal(pv.spec?.volumeMode, "Filesystem");
    assert.deepEqual(pv.spec?.csi, {
      driver: D,
      volumeHandle: "pvc-u-1",
      fsType: "xfs",
      volumeAttributes: { poolName: "LocalStorage_PoolHDD", "storage.kubernetes.io/csiProvisionerIdentity": "id-1" },
    });
    assert.deepEqual(pv.spec?.nodeAffinity, {
      required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "topology.lvm.hwameistor.io/node", operator: "In", values: ["n1"] }] }] },
    });
    assert.deepEqual(pv.spec?.claimRef, { kind: "PersistentVolumeClaim", apiVersion: "v1", namespace: "ns", name: "data", uid: "u-1", resourceVersion: "7" });
  });
  it("Retain: no deletion finalizer; block: no fsType", () => {
    const pv = persistentVolume({ claim: claim({ mode: "Block" }), sc: sc({ reclaim: "Retain" }), driver: D, identity: "id", res, requestedBytes: 1 });
    assert.equal(pv.metadata?.finalizers, undefined);
    assert.equal(pv.spec?.csi?.fsType, undefined);
    assert.equal(pv.spec?.volumeMode, "Block");
  });
});

describe("external-provisioner: whether to delete", () => {
  const pv = (o: { phase?: string; policy?: string; by?: string } = {}): Pv => ({
    metadata: { name: "pvc-u-1", annotations: { "pv.kubernetes.io/provisioned-by": o.by ?? D } },
    spec: {
      persistentVolumeReclaimPolicy: o.policy ?? "Delete",
      csi: { driver: D, volumeHandle: "pvc-u-1" },
      claimRef: { name: "data", namespace: "ns", uid: "u-1" },
    },
    status: { phase: o.phase ?? "Released" },
  });
  const cases: Array<[string, Pv, string[], string | undefined]> = [
    ["released, Delete, ours, detached", pv(), [], undefined],
    ["still Bound", pv({ phase: "Bound" }), [], "volume is not released"],
    ["Retain", pv({ policy: "Retain" }), [], "reclaim policy is not Delete"],
    ["another provisioner's", pv({ by: "x.io" }), [], "not provisioned by this driver"],
    ["still attached", pv(), ["n1"], "persistentvolume pvc-u-1 is still attached to node n1"],
  ];
  for (const [name, v, att, skip] of cases) it(name, () => assert.equal(shouldDelete(v, D, att)?.skip, skip));
});

describe("resizer and snapshotter decisions", () => {
  it("resizer: grow, refuse a shrink or a class without expansion, wait for the node", () => {
    const bound = (req: string, cap: string, conds: any[] = []): Pvc => ({
      ...claim({ size: req, volumeName: "pv" }),
      status: { phase: "Bound", capacity: { storage: cap }, conditions: conds },
    });
    const pv = (cap: string): Pv => ({ metadata: { name: "pv" }, spec: { capacity: { storage: cap }, csi: { driver: D, volumeHandle: "pv" } } });
    const exp = { ...sc(), allowVolumeExpansion: true };
    assert.deepEqual(resizeDecision(bound("2Gi", "1Gi"), pv("1Gi"), exp, D), { resize: { bytes: 2 * 2 ** 30, quantity: "2Gi" } });
    assert.match((resizeDecision(bound("2Gi", "1Gi"), pv("1Gi"), sc(), D) as any).refuse, /must support resize/);
    assert.match((resizeDecision(bound("1Gi", "2Gi"), pv("2Gi"), exp, D) as any).refuse, /cannot shrink/);
    assert.equal((resizeDecision(bound("1Gi", "1Gi"), pv("1Gi"), exp, D) as any).skip, "no growth");
    assert.equal(
      (resizeDecision(bound("2Gi", "1Gi", [{ type: "FileSystemResizePending", status: "True" }]), pv("2Gi"), exp, D) as any).skip,
      "waiting for the node expansion",
    );
  });
  it("snapshotter: CSI snapshot → content status; parameters; times", () => {
    assert.deepEqual(
      contentStatus({ snapshot_id: "snapcontent-1", size_bytes: "1073741824", ready_to_use: true, creation_time: { seconds: "1700000000", nanos: 0 } }),
      {
        snapshotHandle: "snapcontent-1",
        readyToUse: true,
        restoreSize: 1073741824,
        creationTime: 1700000000000000000,
        error: null,
      },
    );
    assert.equal(nsToTime(1700000000000000000), "2023-11-14T22:13:20Z");
    assert.deepEqual(
      snapshotParameters(
        { snapsize: "4194304", "csi.storage.k8s.io/snapshotter-secret-name": "s" },
        { metadata: { name: "snapcontent-1" }, spec: { volumeSnapshotRef: { name: "s1", namespace: "ns" } } },
      ),
      {
        snapsize: "4194304",
        "csi.storage.k8s.io/volumesnapshot/name": "s1",
        "csi.storage.k8s.io/volumesnapshot/namespace": "ns",
        "csi.storage.k8s.io/volumesnapshotcontent/name": "snapcontent-1",
      },
    );
  });
});
