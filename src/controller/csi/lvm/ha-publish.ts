// ControllerPublishVolume of a replicated volume (docs/replication.md): the volume is served by its primary's
// data plane, so it is published only where the primary is, at the current epoch, and only from a replica its
// primary reports in sync.
// - A replica that is not in sync: UNAVAILABLE ReplicaNotInSync (publishing it would serve stale data).
// - A synced replica on a node that is not the primary, the volume published nowhere: the primary moves there
//   (config.version + 1, the new primary first in accessibility.nodes) and the call answers UNAVAILABLE until
//   that node's data plane holds the new epoch as primary (the CSI caller retries).
// - The primary's node, but its data plane not yet primary at this epoch: UNAVAILABLE ReplicaNotReady.

import { HwError } from "../../../api/errors.ts";
import type { VolumeConfig } from "../../../api/kinds/local-volume.ts";
import { nameOf, type HwameistorClients, type Lv, type Lvr } from "../../../kube/hwameistor.ts";

export async function requireHaPrimary(c: HwameistorClients, lv: Lv, r: Lvr, node: string, published: boolean): Promise<void> {
  const name = nameOf(lv);
  const cfg = lv.spec?.config;
  if (!cfg) throw new HwError("UNAVAILABLE", "ReplicaNotReady", `volume ${name} has no config yet`, { hint: "retry; the controller is still placing it" });
  const primary = cfg.replicas.find((x) => x.primary)?.hostname;
  if (!r.status?.synced) {
    throw new HwError(
      "UNAVAILABLE",
      "ReplicaNotInSync",
      `replica ${nameOf(r)} of volume ${name} on node ${node} is not in sync with the primary${primary ? ` on ${primary}` : ""} (${r.status?.haState?.state ?? "no HA state"}${r.status?.haState?.reason ? `: ${r.status.haState.reason}` : ""}); publishing it would serve stale data`,
      { hint: `publish on ${primary ?? "the primary's node"}, or wait until the resync finishes (LocalVolumeReplica status.resync)` },
    );
  }
  if (primary !== node) {
    if (published) return; // the caller already refused: published elsewhere
    const config: VolumeConfig = { ...cfg, version: cfg.version + 1, replicas: cfg.replicas.map((x) => ({ ...x, primary: x.hostname === node })) };
    const nodes = [node, ...cfg.replicas.map((x) => x.hostname).filter((h) => h !== node)];
    await c.lv.update({ ...lv, spec: { ...lv.spec, config, accessibility: { ...lv.spec?.accessibility, nodes } } });
    throw new HwError("UNAVAILABLE", "ReplicaNotReady", `volume ${name}: its primary moves from ${primary ?? "none"} to ${node} (epoch ${config.version})`, {
      hint: "retry; the node's data plane takes over as primary",
    });
  }
  if (r.status?.haRole !== "primary" || r.status?.haEpoch !== cfg.version) {
    throw new HwError(
      "UNAVAILABLE",
      "ReplicaNotReady",
      `volume ${name}: the data plane on node ${node} is not yet the primary at epoch ${cfg.version} (it reports ${r.status?.haRole ?? "nothing"} at epoch ${r.status?.haEpoch ?? "none"})`,
      { hint: "retry; the node agent is configuring its data plane (LocalVolumeReplica status.haState)" },
    );
  }
}
