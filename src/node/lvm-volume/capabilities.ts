// The node half of the lvm.hwameistor.io capability table (fact sheet §3): identity name/version, topology
// key, node RPC capabilities, access modes, filesystems. It belongs next to DiskDriver in
// src/csi/capabilities.ts as `LvmDriver` (the controller side owns that file and adds the controller
// capabilities); this copy keeps the node service independent until it lands there.

import { DriverVendorVersions, Drivers, TopologyKeys } from "../../api/names.ts";
import type { DriverCapabilities } from "../../csi/capabilities.ts";

export const LvmNodeDriver: DriverCapabilities = {
  name: Drivers.Lvm,
  vendorVersion: DriverVendorVersions.Lvm,
  topologyKey: TopologyKeys.LvmNode,
  plugin: ["CONTROLLER_SERVICE", "VOLUME_ACCESSIBILITY_CONSTRAINTS"],
  controller: [],
  node: ["EXPAND_VOLUME", "GET_VOLUME_STATS", "VOLUME_CONDITION"],
  accessModes: ["SINGLE_NODE_WRITER"],
  accessTypes: ["block", "mount"],
  fsTypes: ["xfs", "ext4"],
};
