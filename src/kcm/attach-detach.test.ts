import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pv, Pvc } from "../api/core.ts";
import { attachmentName, desiredAttachments } from "./attach-detach.ts";

const D = "lvm.hwameistor.io";
const claim = (): Pvc => ({ metadata: { name: "data", namespace: "ns", uid: "u-1" }, spec: { volumeName: "pvc-u-1" }, status: { phase: "Bound" } });

describe("attach/detach controller", () => {
  it("a VolumeAttachment per (PV, node) for scheduled, unfinished pods of bound CSI claims", () => {
    const pods = [
      {
        metadata: { namespace: "ns", name: "a" },
        spec: { nodeName: "n1", containers: [], volumes: [{ name: "v", persistentVolumeClaim: { claimName: "data" } }] },
      },
      {
        metadata: { namespace: "ns", name: "b" },
        spec: { nodeName: "n1", containers: [], volumes: [{ name: "v", persistentVolumeClaim: { claimName: "data" } }] },
      },
      {
        metadata: { namespace: "ns", name: "done" },
        spec: { nodeName: "n2", containers: [], volumes: [{ name: "v", persistentVolumeClaim: { claimName: "data" } }] },
        status: { phase: "Succeeded" },
      },
      { metadata: { namespace: "ns", name: "unscheduled" }, spec: { containers: [], volumes: [{ name: "v", persistentVolumeClaim: { claimName: "data" } }] } },
    ];
    const c = claim();
    const v: Pv = { metadata: { name: "pvc-u-1" }, spec: { csi: { driver: D, volumeHandle: "h" } } };
    const want = desiredAttachments(
      pods,
      (ns, n) => (ns === "ns" && n === "data" ? c : undefined),
      (n) => (n === "pvc-u-1" ? v : undefined),
      () => true,
    );
    assert.deepEqual(want, [{ name: attachmentName("pvc-u-1", D, "n1"), pv: "pvc-u-1", driver: D, node: "n1" }]);
    assert.match(want[0]!.name, /^csi-[0-9a-f]{64}$/);
    assert.deepEqual(
      desiredAttachments(
        pods,
        () => c,
        () => v,
        () => false,
      ),
      [],
      "attachRequired: false",
    );
  });
});
