import { test } from "node:test";
import assert from "node:assert/strict";
import { blockPublishPath, blockStagingPath, podDeviceLink, publishPath, stagingPath } from "./paths.ts";

test("kubelet CSI paths are upstream's", () => {
  // sha256("pvc-1") of the volume handle, as kubelet ≥ 1.24 names the staging directory
  assert.equal(
    stagingPath("/var/lib/kubelet", "lvm.hwameistor.io", "pvc-1"),
    "/var/lib/kubelet/plugins/kubernetes.io/csi/lvm.hwameistor.io/f2868e1aa7cab669517cd9f5ab1b7957c0b92df38fef583267e34e1acc8253fe/globalmount",
  );
  assert.equal(publishPath("/k", "uid-1", "pvc-1"), "/k/pods/uid-1/volumes/kubernetes.io~csi/pvc-1/mount");
  assert.equal(blockStagingPath("/k", "pvc-1"), "/k/plugins/kubernetes.io/csi/volumeDevices/staging/pvc-1");
  assert.equal(blockPublishPath("/k", "pvc-1", "uid-1"), "/k/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-1/uid-1");
  assert.equal(podDeviceLink("/k", "uid-1", "pvc-1"), "/k/pods/uid-1/volumeDevices/kubernetes.io~csi/pvc-1");
});
