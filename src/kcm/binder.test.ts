import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pv, Pvc, StorageClassShape } from "../api/core.ts";
import { decideClaim, decideVolume, type ClaimAction, type ClaimFacts, type VolumeAction } from "./binder.ts";

const claim = (
  o: {
    name?: string;
    uid?: string;
    cls?: string | null;
    size?: string;
    modes?: string[];
    volumeName?: string;
    ann?: Record<string, string>;
    mode?: string;
    selector?: unknown;
  } = {},
): Pvc => ({
  metadata: { name: o.name ?? "c1", namespace: "ns", uid: o.uid ?? "u1", annotations: o.ann },
  spec: {
    accessModes: o.modes ?? ["ReadWriteOnce"],
    resources: { requests: { storage: o.size ?? "1Gi" } },
    ...(o.cls === null ? {} : { storageClassName: o.cls ?? "local" }),
    ...(o.volumeName ? { volumeName: o.volumeName } : {}),
    ...(o.mode ? { volumeMode: o.mode } : {}),
    ...(o.selector ? { selector: o.selector } : {}),
  },
});
const volume = (
  o: {
    name?: string;
    cls?: string;
    size?: string;
    modes?: string[];
    ref?: { name: string; uid?: string };
    phase?: string;
    ann?: Record<string, string>;
    labels?: Record<string, string>;
    policy?: string;
    node?: string;
  } = {},
): Pv => ({
  metadata: { name: o.name ?? "pv1", annotations: o.ann, labels: o.labels },
  spec: {
    capacity: { storage: o.size ?? "1Gi" },
    accessModes: o.modes ?? ["ReadWriteOnce"],
    storageClassName: o.cls ?? "local",
    persistentVolumeReclaimPolicy: o.policy ?? "Retain",
    ...(o.ref ? { claimRef: { namespace: "ns", name: o.ref.name, uid: o.ref.uid } } : {}),
    ...(o.node
      ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [o.node] }] }] } } }
      : {}),
  },
  status: { phase: o.phase ?? "Available" },
});
const sc = (name: string, o: { wffc?: boolean; provisioner?: string; isDefault?: boolean } = {}): StorageClassShape => ({
  metadata: { name, annotations: o.isDefault ? { "storageclass.kubernetes.io/is-default-class": "true" } : {} },
  provisioner: o.provisioner ?? "lvm.hwameistor.io",
  volumeBindingMode: o.wffc ? "WaitForFirstConsumer" : "Immediate",
});
const classes = (...s: StorageClassShape[]) => new Map(s.map((x) => [x.metadata!.name!, x]));
const bound = { "pv.kubernetes.io/bind-completed": "yes" };

describe("PV controller: claims", () => {
  const cases: Array<[string, ClaimFacts, Partial<ClaimAction> & { kind: string }]> = [
    [
      "Immediate, no PV → hand to the external provisioner",
      { claim: claim(), volumes: [], classes: classes(sc("local")) },
      { kind: "provision", provisioner: "lvm.hwameistor.io" },
    ],
    [
      "already handed over → wait quietly",
      { claim: claim({ ann: { "volume.kubernetes.io/storage-provisioner": "lvm.hwameistor.io" } }), volumes: [], classes: classes(sc("local")) },
      { kind: "pending" },
    ],
    ["unknown class → Pending with ProvisioningFailed", { claim: claim({ cls: "nope" }), volumes: [], classes: classes(sc("local")) }, { kind: "pending" }],
    [
      "WFFC without a selected node → WaitForFirstConsumer",
      { claim: claim(), volumes: [volume()], classes: classes(sc("local", { wffc: true })) },
      { kind: "pending" },
    ],
    [
      "WFFC with a selected node and no PV → provision",
      { claim: claim({ ann: { "volume.kubernetes.io/selected-node": "n1" } }), volumes: [], classes: classes(sc("local", { wffc: true })) },
      { kind: "provision" },
    ],
    [
      "WFFC, selected node, static PV on that node → bind",
      {
        claim: claim({ ann: { "volume.kubernetes.io/selected-node": "n1" } }),
        volumes: [volume({ node: "n1" })],
        classes: classes(sc("local", { wffc: true })),
        selectedNodeLabels: { "kubernetes.io/hostname": "n1" },
      },
      { kind: "bind", volume: "pv1" } as any,
    ],
    [
      "WFFC, selected node, static PV on another node → provision",
      {
        claim: claim({ ann: { "volume.kubernetes.io/selected-node": "n1" } }),
        volumes: [volume({ node: "n2" })],
        classes: classes(sc("local", { wffc: true })),
        selectedNodeLabels: { "kubernetes.io/hostname": "n1" },
      },
      { kind: "provision" },
    ],
    [
      "static: smallest PV that fits wins",
      {
        claim: claim({ size: "2Gi" }),
        volumes: [volume({ name: "big", size: "10Gi" }), volume({ name: "small", size: "1Gi" }), volume({ name: "fit", size: "3Gi" })],
        classes: classes(sc("local")),
      },
      { kind: "bind", volume: "fit", pvBoundByController: true } as any,
    ],
    [
      "static: access mode not offered → no match, provision",
      { claim: claim({ modes: ["ReadWriteMany"] }), volumes: [volume()], classes: classes(sc("local")) },
      { kind: "provision" },
    ],
    ["static: another class → no match", { claim: claim({ cls: "" }), volumes: [volume()], classes: classes() }, { kind: "pending" }],
    [
      "static: volumeMode differs → no match",
      { claim: claim({ cls: "", mode: "Block" }), volumes: [volume({ cls: "" })], classes: classes() },
      { kind: "pending" },
    ],
    [
      "static: selector",
      {
        claim: claim({ cls: "", selector: { matchLabels: { tier: "gold" } } }),
        volumes: [volume({ cls: "", name: "a" }), volume({ cls: "", name: "b", labels: { tier: "gold" } })],
        classes: classes(),
      },
      { kind: "bind", volume: "b" } as any,
    ],
    [
      "PV pre-bound to the claim wins, even if bigger",
      { claim: claim(), volumes: [volume({ name: "small" }), volume({ name: "pre", size: "5Gi", ref: { name: "c1" } })], classes: classes(sc("local")) },
      { kind: "bind", volume: "pre", pvBoundByController: false } as any,
    ],
    [
      "PV bound to another claim is skipped",
      { claim: claim(), volumes: [volume({ ref: { name: "other", uid: "x" }, phase: "Bound" })], classes: classes(sc("local")) },
      { kind: "provision" },
    ],
    [
      "no class set → default class assigned",
      { claim: claim({ cls: null }), volumes: [], classes: classes(sc("a"), sc("b", { isDefault: true })) },
      { kind: "setDefaultClass", className: "b" } as any,
    ],
    [
      "volumeName given, PV free and fitting → bind",
      { claim: claim({ volumeName: "pv1" }), volumes: [volume()], classes: classes(sc("local")) },
      { kind: "bind", volume: "pv1", claimBoundByController: false } as any,
    ],
    [
      "volumeName given, PV too small → VolumeMismatch",
      { claim: claim({ volumeName: "pv1", size: "5Gi" }), volumes: [volume()], classes: classes(sc("local")) },
      { kind: "pending" },
    ],
    ["volumeName given, PV missing → Pending", { claim: claim({ volumeName: "pv9" }), volumes: [], classes: classes(sc("local")) }, { kind: "pending" }],
    [
      "volumeName given, PV bound elsewhere → Pending",
      { claim: claim({ volumeName: "pv1" }), volumes: [volume({ ref: { name: "other", uid: "x" } })], classes: classes(sc("local")) },
      { kind: "pending" },
    ],
    [
      "bound, PV agrees → bound",
      { claim: claim({ volumeName: "pv1", ann: bound }), volumes: [volume({ ref: { name: "c1", uid: "u1" }, phase: "Bound" })], classes: classes() },
      { kind: "bound", volume: "pv1" } as any,
    ],
    ["bound, PV gone → Lost", { claim: claim({ volumeName: "pv1", ann: bound }), volumes: [], classes: classes() }, { kind: "lost" }],
    [
      "bound, PV bound to another claim → Lost (misbound)",
      { claim: claim({ volumeName: "pv1", ann: bound }), volumes: [volume({ ref: { name: "c1", uid: "OLD" } })], classes: classes() },
      { kind: "lost" },
    ],
    [
      "bound, PV lost its claimRef → bind again",
      { claim: claim({ volumeName: "pv1", ann: bound }), volumes: [volume()], classes: classes() },
      { kind: "bind", volume: "pv1" } as any,
    ],
  ];
  for (const [name, facts, want] of cases) {
    it(name, () => {
      const got = decideClaim(facts);
      for (const [k, v] of Object.entries(want)) assert.deepEqual((got as any)[k], v, `${k} of ${JSON.stringify(got)}`);
    });
  }
  it("events and conditions name the reason and the fix", () => {
    const got = decideClaim({ claim: claim({ cls: "nope" }), volumes: [], classes: classes() });
    assert.equal(got.kind, "pending");
    if (got.kind !== "pending") return;
    assert.deepEqual(got.event, { type: "Warning", reason: "ProvisioningFailed", message: 'storageclass.storage.k8s.io "nope" not found' });
    assert.equal(got.condition?.reason, "StorageClassNotFound");
    assert.match(got.condition!.message, /create the StorageClass/);
  });
});

describe("PV controller: volumes", () => {
  const c = claim({ volumeName: "pv1", ann: bound });
  const cases: Array<[string, Pv, Pvc | undefined, Partial<VolumeAction> & { kind: string }]> = [
    ["no claimRef → Available", volume(), undefined, { kind: "phase", phase: "Available" } as any],
    ["pre-bound by name, claim absent → Available", volume({ ref: { name: "c1" } }), undefined, { kind: "phase", phase: "Available" } as any],
    ["bound both ways → Bound", volume({ ref: { name: "c1", uid: "u1" } }), c, { kind: "phase", phase: "Bound" } as any],
    ["claim gone, Retain → Released", volume({ ref: { name: "c1", uid: "u1" }, phase: "Bound" }), undefined, { kind: "phase", phase: "Released" } as any],
    ["claim recreated with a new uid → Released", volume({ ref: { name: "c1", uid: "u0" }, phase: "Bound" }), c, { kind: "phase", phase: "Released" } as any],
    [
      "claim gone, Delete, provisioned → Released (the provisioner deletes)",
      volume({ ref: { name: "c1", uid: "u1" }, policy: "Delete", ann: { "pv.kubernetes.io/provisioned-by": "lvm.hwameistor.io" } }),
      undefined,
      { kind: "phase", phase: "Released" } as any,
    ],
    [
      "claim gone, Delete, static → Failed (no deleter)",
      volume({ ref: { name: "c1", uid: "u1" }, policy: "Delete" }),
      undefined,
      { kind: "phase", phase: "Failed" } as any,
    ],
    [
      "claim exists, not yet bound to it → finish via the claim",
      volume({ ref: { name: "c1", uid: "u1" } }),
      claim(),
      { kind: "enqueueClaim", claim: "ns/c1" } as any,
    ],
    [
      "claim bound elsewhere, bound by controller → unbind",
      volume({ ref: { name: "c1", uid: "u1" }, ann: { "pv.kubernetes.io/bound-by-controller": "yes" } }),
      claim({ volumeName: "pv2", ann: bound }),
      { kind: "unbind" },
    ],
  ];
  for (const [name, v, cl, want] of cases) {
    it(name, () => {
      const got = decideVolume(v, cl);
      for (const [k, val] of Object.entries(want)) assert.deepEqual((got as any)[k], val, `${k} of ${JSON.stringify(got)}`);
    });
  }
});
