// The kubelet's on-disk layout for CSI volumes (pkg/volume/csi of the kubelet), so a driver sees the paths
// it would see under a real kubelet, and this project's own files beside them:
//
// | what | path |
// |---|---|
// | staging (filesystem; only for drivers with STAGE_UNSTAGE_VOLUME) | <root>/plugins/kubernetes.io/csi/<driver>/<sha256(volumeHandle)>/globalmount |
// | publish (filesystem) | <root>/pods/<podUID>/volumes/kubernetes.io~csi/<pv>/mount |
// | staging (block) | <root>/plugins/kubernetes.io/csi/volumeDevices/staging/<pv> |
// | publish (block; a file the device is bound onto) | <root>/plugins/kubernetes.io/csi/volumeDevices/publish/<pv>/<podUID> |
// | the pod's device link (block) | <root>/pods/<podUID>/volumeDevices/kubernetes.io~csi/<pv> → the publish file |
// | container logs (ours; kubelet: /var/log/pods) | <root>/pods/<podUID>/logs/<container>/<restartCount>.log |
// | container exit status (ours) | <root>/pods/<podUID>/logs/<container>/<restartCount>.rc |
// | the pod's record (ours: pids, volumes, created paths) | <root>/pods/<podUID>/hwameistor-pod.json |

import { createHash } from "node:crypto";
import { join } from "node:path";

const CSI = "plugins/kubernetes.io/csi";
/** kubelet's EscapeQualifiedName: "/" → "~". */
const escape = (s: string): string => s.replace(/\//g, "~");

export const podDir = (root: string, uid: string): string => join(root, "pods", uid);
export const podsDir = (root: string): string => join(root, "pods");
export const podRecordPath = (root: string, uid: string): string => join(podDir(root, uid), "hwameistor-pod.json");

export function stagingPath(root: string, driver: string, volumeHandle: string): string {
  return join(root, CSI, escape(driver), createHash("sha256").update(volumeHandle).digest("hex"), "globalmount");
}
export const publishPath = (root: string, uid: string, pv: string): string => join(podDir(root, uid), "volumes", "kubernetes.io~csi", escape(pv), "mount");
export const blockStagingPath = (root: string, pv: string): string => join(root, CSI, "volumeDevices", "staging", escape(pv));
export const blockPublishPath = (root: string, pv: string, uid: string): string => join(root, CSI, "volumeDevices", "publish", escape(pv), uid);
export const podDeviceLink = (root: string, uid: string, pv: string): string => join(podDir(root, uid), "volumeDevices", "kubernetes.io~csi", escape(pv));

export const containerLogDir = (root: string, uid: string, container: string): string => join(podDir(root, uid), "logs", container);
export const containerLogPath = (root: string, uid: string, container: string, restart: number): string =>
  join(containerLogDir(root, uid, container), `${restart}.log`);
export const containerRcPath = (root: string, uid: string, container: string, restart: number): string =>
  join(containerLogDir(root, uid, container), `${restart}.rc`);
