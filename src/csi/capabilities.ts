// The capability tables the drivers advertise (fact sheet §3). One table per driver, read by identity.ts,
// controller.ts and node.ts, so what a driver says and what it does cannot drift apart.
//
// disk.hwameistor.io, differences from the original (docs/compatibility.md):
// - ListVolumes and ControllerGetVolume are advertised AND implemented (the original advertises them and
//   answers "not implemented"); VOLUME_CONDITION is advertised on the controller because both return one.
// - PUBLISH_UNPUBLISH_VOLUME is not advertised, like the original; since external-attacher is then not
//   needed, ControllerPublish/Unpublish answer UNIMPLEMENTED instead of the original's silent no-op, so a
//   misconfigured sidecar fails loudly.

import { DriverVendorVersions, Drivers, TopologyKeys } from "../api/names.ts";
import { invalid, notFound } from "../api/errors.ts";
import { accessTypeOf, requireField, validateVolumeId } from "./validate.ts";
import { csiNameOf } from "./volume-name.ts";
import type {
  AccessMode,
  CreateVolumeRequest,
  ValidateVolumeCapabilitiesRequest,
  ValidateVolumeCapabilitiesResponse,
  ControllerCapabilityType,
  VolumeCapability,
  NodeCapabilityType,
  NodeGetCapabilitiesResponse,
  NodeGetInfoResponse,
  PluginCapabilityType,
} from "./types.ts";

export interface DriverCapabilities {
  name: string;
  vendorVersion: string;
  topologyKey: string;
  plugin: PluginCapabilityType[];
  controller: ControllerCapabilityType[];
  node: NodeCapabilityType[];
  accessModes: AccessMode[];
  accessTypes: Array<"block" | "mount">;
  /** Filesystems NodePublish can create; the first is the default. */
  fsTypes: string[];
}

export const DiskDriver: DriverCapabilities = {
  name: Drivers.Disk,
  vendorVersion: DriverVendorVersions.Disk,
  topologyKey: TopologyKeys.DiskNode,
  plugin: ["CONTROLLER_SERVICE", "VOLUME_ACCESSIBILITY_CONSTRAINTS"],
  controller: ["CREATE_DELETE_VOLUME", "LIST_VOLUMES", "GET_VOLUME", "VOLUME_CONDITION"],
  node: ["GET_VOLUME_STATS", "VOLUME_CONDITION"],
  accessModes: ["SINGLE_NODE_WRITER"],
  accessTypes: ["block", "mount"],
  fsTypes: ["xfs", "ext4"],
};

// lvm.hwameistor.io: the original's tables (§3) plus GET_CAPACITY (for external-provisioner's storage
// capacity tracking). Advertised but answering UNIMPLEMENTED until their issues land (expansion,
// snapshots, clones): ControllerExpandVolume, Create/DeleteSnapshot, ListSnapshots, and CreateVolume with a
// volume_content_source. Mount fs default: xfs (the first of fsTypes), see LVM_DEFAULT_FS_TYPE.
export const LvmDriver: DriverCapabilities = {
  name: Drivers.Lvm,
  vendorVersion: DriverVendorVersions.Lvm,
  topologyKey: TopologyKeys.LvmNode,
  plugin: ["CONTROLLER_SERVICE", "VOLUME_ACCESSIBILITY_CONSTRAINTS"],
  controller: [
    "CREATE_DELETE_VOLUME",
    "PUBLISH_UNPUBLISH_VOLUME",
    "LIST_VOLUMES",
    "EXPAND_VOLUME",
    "GET_VOLUME",
    "VOLUME_CONDITION",
    "CREATE_DELETE_SNAPSHOT",
    "LIST_SNAPSHOTS",
    "CLONE_VOLUME",
    "GET_CAPACITY",
  ],
  node: ["EXPAND_VOLUME", "GET_VOLUME_STATS", "VOLUME_CONDITION"],
  accessModes: ["SINGLE_NODE_WRITER"],
  accessTypes: ["block", "mount"],
  fsTypes: ["xfs", "ext4"],
};

/**
 * The filesystem of an lvm volume whose capability names none. The original records "ext4" (what
 * mount-utils formats with by default); the StorageClasses of both installers say xfs, and our node agents
 * format xfs by default, so ControllerPublish records xfs (docs/compatibility.md).
 */
export const LVM_DEFAULT_FS_TYPE = "xfs";

export const pluginCapabilities = (d: DriverCapabilities) => ({
  capabilities: d.plugin.map((type) => ({ service: { type } })),
});
export const controllerCapabilities = (d: DriverCapabilities) => ({
  capabilities: d.controller.map((type) => ({ rpc: { type } })),
});
export const nodeCapabilities = (d: DriverCapabilities) => ({
  capabilities: d.node.map((type) => ({ rpc: { type } })),
});

/** NodeGetInfo and NodeGetCapabilities of a driver's node service on `nodeName` (topology: the driver's key). */
export const nodeInfoHandlers = (d: DriverCapabilities, nodeName: string) => ({
  async NodeGetInfo(): Promise<NodeGetInfoResponse> {
    return { node_id: nodeName, max_volumes_per_node: 0, accessible_topology: { segments: { [d.topologyKey]: nodeName } } };
  },
  async NodeGetCapabilities(): Promise<NodeGetCapabilitiesResponse> {
    return nodeCapabilities(d);
  },
});

/**
 * Whether `driver` serves every capability asked for (CreateVolume, ControllerPublish,
 * ValidateVolumeCapabilities): undefined when it does, else why not.
 */
export function unsupportedCapability(driver: DriverCapabilities, caps: VolumeCapability[]): string | undefined {
  for (const [i, c] of caps.entries()) {
    const type = accessTypeOf(c, `volume_capabilities[${i}]`);
    if (!driver.accessTypes.includes(type)) return `access type ${type} is not supported`;
    const mode = c.access_mode?.mode ?? "UNKNOWN";
    if (!driver.accessModes.includes(mode)) return `access mode ${mode} is not supported (only ${driver.accessModes.join(", ")})`;
    const fs = c.mount?.fs_type;
    if (type === "mount" && fs && !driver.fsTypes.includes(fs)) return `filesystem ${fs} is not supported (${driver.fsTypes.join(", ")})`;
  }
  return undefined;
}

/**
 * The checks every driver's CreateVolume starts with: the CSI name mapped to an object name (any string is a valid
 * CSI name, src/csi/volume-name.ts), capabilities present and each one served (INVALID_ARGUMENT otherwise).
 */
export function createVolumeHead(driver: DriverCapabilities, req: CreateVolumeRequest): { csiName: string; name: string; caps: VolumeCapability[] } {
  const { name: csiName, id: name } = csiNameOf(req.name);
  const caps = requireField(req.volume_capabilities, "volume_capabilities");
  const why = unsupportedCapability(driver, caps);
  if (why) throw invalid(`volume_capabilities: ${why}`);
  return { csiName, name, caps };
}

/** ValidateVolumeCapabilities of a driver: the volume must exist (`exists`, else NOT_FOUND), then each capability be served. */
export async function validateVolumeCapabilities(
  driver: DriverCapabilities,
  req: ValidateVolumeCapabilitiesRequest,
  exists: (volumeId: string) => Promise<boolean>,
): Promise<ValidateVolumeCapabilitiesResponse> {
  const name = validateVolumeId(req.volume_id);
  const caps = requireField(req.volume_capabilities, "volume_capabilities");
  if (!(await exists(name))) throw notFound(`volume ${name}`);
  const why = unsupportedCapability(driver, caps);
  if (why) return { message: why };
  return { confirmed: { volume_context: req.volume_context ?? {}, volume_capabilities: caps, parameters: req.parameters ?? {} } };
}
