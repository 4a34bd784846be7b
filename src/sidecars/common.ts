// What every sidecar shares: the driver behind a CSI socket (name and controller capabilities, asked over
// gRPC as the real sidecars do), the CSI volume capability of a PV or PVC, node topology from CSINode +
// Node labels, Kubernetes quantities of byte counts, and the options, resync and retry of every sidecar's loop.
// Pure except connectDriver().

import type { CoreNode, Pv } from "../api/core.ts";
import { isHwError, type HwError } from "../api/errors.ts";
import { connectCsi, type CsiClient } from "../csi/client.ts";
import type { AccessMode, ControllerCapabilityType, Topology, VolumeCapability } from "../csi/types.ts";
import type { KubeClient } from "../kube/client.ts";
import { Controller, type ControllerOptions } from "../kube/controller.ts";
import type { RoleOptions } from "../kube/informer-factory.ts";
import type { Logger } from "../kube/types.ts";

export interface Driver {
  name: string;
  csi: CsiClient;
  controllerCaps: Set<ControllerCapabilityType>;
  /** VOLUME_ACCESSIBILITY_CONSTRAINTS: the driver takes topology requirements. */
  topology: boolean;
}

/** Connects to a CSI controller socket and asks who it is (GetPluginInfo, capabilities). */
export async function connectDriver(socketPath: string, timeoutMs = 60_000): Promise<Driver> {
  const csi = await connectCsi(socketPath, { timeoutMs });
  const info = await csi.getPluginInfo();
  const plugin = await csi.getPluginCapabilities();
  const ctl = await csi.controllerGetCapabilities();
  return {
    name: info.name,
    csi,
    controllerCaps: new Set(ctl.capabilities.map((c) => c.rpc?.type).filter((t): t is ControllerCapabilityType => !!t)),
    topology: plugin.capabilities.some((c) => c.service?.type === "VOLUME_ACCESSIBILITY_CONSTRAINTS"),
  };
}

/** Kubernetes access mode → CSI access mode (external-provisioner's mapping for drivers without SINGLE_NODE_MULTI_WRITER). */
export function csiAccessMode(mode: string): AccessMode {
  switch (mode) {
    case "ReadWriteOnce":
    case "ReadWriteOncePod":
      return "SINGLE_NODE_WRITER";
    case "ReadOnlyMany":
      return "MULTI_NODE_READER_ONLY";
    case "ReadWriteMany":
      return "MULTI_NODE_MULTI_WRITER";
    default:
      return "UNKNOWN";
  }
}

/** One CSI capability per access mode, block or mount (with fsType and mount flags). */
export function volumeCapabilities(
  accessModes: string[],
  volumeMode: string | undefined,
  fsType: string | undefined,
  mountFlags: string[] = [],
): VolumeCapability[] {
  return accessModes.map((m) =>
    volumeMode === "Block"
      ? { block: {}, access_mode: { mode: csiAccessMode(m) } }
      : { mount: { fs_type: fsType ?? "", mount_flags: mountFlags }, access_mode: { mode: csiAccessMode(m) } },
  );
}

/** The capability a PV is used with (attacher, resizer): its first access mode. */
export function pvCapability(pv: Pv): VolumeCapability {
  return volumeCapabilities([(pv.spec?.accessModes ?? ["ReadWriteOnce"])[0]!], pv.spec?.volumeMode, pv.spec?.csi?.fsType, pv.spec?.mountOptions)[0]!;
}

export interface CsiNodeDriver {
  name: string;
  nodeID: string;
  topologyKeys?: string[] | null;
}
export interface CsiNodeShape {
  metadata?: { name?: string };
  spec?: { drivers?: CsiNodeDriver[] };
}

/** The driver's entry in a node's CSINode (what the kubelet registers when the node plugin starts). */
export function csiNodeDriver(csiNode: CsiNodeShape | undefined, driver: string): CsiNodeDriver | undefined {
  return csiNode?.spec?.drivers?.find((d) => d.name === driver);
}

/** A node's topology segment for the driver: CSINode's topologyKeys, valued from the Node's labels. */
export function nodeTopology(node: CoreNode | undefined, csiNode: CsiNodeShape | undefined, driver: string): Topology | undefined {
  const d = csiNodeDriver(csiNode, driver);
  if (!node || !d) return undefined;
  const labels = node.metadata?.labels ?? {};
  const segments: Record<string, string> = {};
  for (const k of d.topologyKeys ?? []) {
    const v = labels[k];
    if (v === undefined) return undefined;
    segments[k] = v;
  }
  return { segments };
}

/** Bytes as a Kubernetes quantity the way resource.NewQuantity(n, BinarySI) prints it: "1Gi", "1536Mi", "1000". */
export { toBinarySI as bytesQuantity } from "../api/quantity.ts";

/** A CSI error as the sidecars print it: "rpc error: code = ResourceExhausted desc = …". */
export function rpcError(e: unknown): string {
  const h = e as HwError;
  const names: Record<string, string> = {
    INVALID_ARGUMENT: "InvalidArgument",
    NOT_FOUND: "NotFound",
    ALREADY_EXISTS: "AlreadyExists",
    RESOURCE_EXHAUSTED: "ResourceExhausted",
    FAILED_PRECONDITION: "FailedPrecondition",
    ABORTED: "Aborted",
    OUT_OF_RANGE: "OutOfRange",
    UNIMPLEMENTED: "Unimplemented",
    INTERNAL: "Internal",
    UNAVAILABLE: "Unavailable",
    DEADLINE_EXCEEDED: "DeadlineExceeded",
    UNKNOWN: "Unknown",
    PERMISSION_DENIED: "PermissionDenied",
    CANCELLED: "Canceled",
  };
  if (h && typeof h === "object" && "code" in h && typeof h.code === "string") return `rpc error: code = ${names[h.code] ?? h.code} desc = ${h.message}`;
  return String((e as Error)?.message ?? e);
}

/** CSI codes after which the operation may still be running in the driver (upstream's "in progress"). */
export function isInProgress(e: unknown): boolean {
  const code = (e as HwError)?.code;
  return code === "DEADLINE_EXCEEDED" || code === "UNAVAILABLE" || code === "ABORTED" || code === "CANCELLED";
}

/** What a CSI sidecar is started with: a role's options, the driver it calls and the deadline of a CSI call. */
export interface SidecarOptions extends RoleOptions {
  driver: Driver;
  timeoutMs?: number;
}

/** Informers of a sidecar resync every minute; a failed item is retried after 1 s, doubling up to 5 min (upstream's defaults). */
export const SIDECAR_RESYNC_MS = 60_000;
export const SIDECAR_RETRY = { baseDelayMs: 1000, maxDelayMs: 300_000 };

/** While the driver does not answer at all, an item is retried this often, its backoff not growing. */
export const DRIVER_DOWN_RETRY_MS = 1000;

/**
 * A sidecar's work loop: the upstream retry, and Events as `component` when it records any. A driver that does
 * not answer (killed, restarting) is not the item's failure: upstream's sidecars exit when they lose the driver's
 * connection and start afresh once it is back, so no item carries a backoff from the outage. Here the sidecar
 * lives on, so such a failure retries every second without counting: without this an attachment failed ten times
 * during a 16 s controller restart waited up to 5 min (the backoff's cap) for its next try.
 */
export function sidecarController(
  client: KubeClient,
  log: Logger,
  c: Pick<ControllerOptions, "name" | "workers" | "reconcile" | "queue"> & { component?: string },
): Controller {
  const { component, reconcile, ...rest } = c;
  return new Controller({
    queue: SIDECAR_RETRY,
    ...rest,
    reconcile: async (key, signal) => {
      try {
        return await reconcile(key, signal);
      } catch (e) {
        if (!(isHwError(e) && e.reason === "CsiUnavailable")) throw e;
        log.info({ controller: c.name, key, err: e.message }, "the CSI driver does not answer; retrying in 1 s");
        return { requeueAfterMs: DRIVER_DOWN_RETRY_MS };
      }
    },
    log,
    ...(component ? { events: { client, component } } : {}),
  });
}
