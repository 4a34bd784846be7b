// The CSI messages this project uses, as proto-loader decodes them (keepCase: snake_case field names,
// int64 as decimal strings, enums as names, message fields null when absent). Typed enough for handlers
// and the client; fields we never read are left out. Requests built by our client may omit fields.

export type Int64 = string | number;

export type BlockVolume = Record<string, never>;
export interface MountVolume {
  fs_type?: string;
  mount_flags?: string[];
  volume_mount_group?: string;
}
export type AccessMode =
  | "UNKNOWN"
  | "SINGLE_NODE_WRITER"
  | "SINGLE_NODE_READER_ONLY"
  | "MULTI_NODE_READER_ONLY"
  | "MULTI_NODE_SINGLE_WRITER"
  | "MULTI_NODE_MULTI_WRITER"
  | "SINGLE_NODE_SINGLE_WRITER"
  | "SINGLE_NODE_MULTI_WRITER";
export interface VolumeCapability {
  block?: BlockVolume | null;
  mount?: MountVolume | null;
  access_type?: "block" | "mount";
  access_mode?: { mode?: AccessMode } | null;
}
export interface CapacityRange {
  required_bytes?: Int64;
  limit_bytes?: Int64;
}
export interface Topology {
  segments?: Record<string, string>;
}
export interface TopologyRequirement {
  requisite?: Topology[];
  preferred?: Topology[];
}
export interface VolumeCondition {
  abnormal: boolean;
  message: string;
}
export interface Volume {
  capacity_bytes?: Int64;
  volume_id: string;
  volume_context?: Record<string, string>;
  accessible_topology?: Topology[];
}

// ---------------------------------------------------------------- Identity
export interface GetPluginInfoResponse {
  name: string;
  vendor_version: string;
  manifest?: Record<string, string>;
}
export type PluginCapabilityType = "UNKNOWN" | "CONTROLLER_SERVICE" | "VOLUME_ACCESSIBILITY_CONSTRAINTS" | "GROUP_CONTROLLER_SERVICE";
export interface PluginCapability {
  service?: { type: PluginCapabilityType } | null;
}
export interface GetPluginCapabilitiesResponse {
  capabilities: PluginCapability[];
}
export interface ProbeResponse {
  ready?: { value: boolean } | null;
}

// ---------------------------------------------------------------- Controller
export interface CreateVolumeRequest {
  name?: string;
  capacity_range?: CapacityRange | null;
  volume_capabilities?: VolumeCapability[];
  parameters?: Record<string, string>;
  secrets?: Record<string, string>;
  volume_content_source?: unknown;
  accessibility_requirements?: TopologyRequirement | null;
  mutable_parameters?: Record<string, string>;
}
export interface CreateVolumeResponse {
  volume: Volume;
}
export interface DeleteVolumeRequest {
  volume_id?: string;
}
export interface ValidateVolumeCapabilitiesRequest {
  volume_id?: string;
  volume_context?: Record<string, string>;
  volume_capabilities?: VolumeCapability[];
  parameters?: Record<string, string>;
}
export interface ValidateVolumeCapabilitiesResponse {
  confirmed?: { volume_context?: Record<string, string>; volume_capabilities: VolumeCapability[]; parameters?: Record<string, string> } | null;
  message?: string;
}
export interface ListVolumesRequest {
  max_entries?: number;
  starting_token?: string;
}
export interface VolumeStatus {
  published_node_ids?: string[];
  volume_condition?: VolumeCondition | null;
}
export interface ListVolumesResponse {
  entries: Array<{ volume: Volume; status?: VolumeStatus | null }>;
  next_token: string;
}
export interface ControllerGetVolumeRequest {
  volume_id?: string;
}
export interface ControllerGetVolumeResponse {
  volume: Volume;
  status?: VolumeStatus | null;
}
export interface ControllerPublishVolumeRequest {
  volume_id?: string;
  node_id?: string;
  volume_capability?: VolumeCapability | null;
  readonly?: boolean;
  secrets?: Record<string, string>;
  volume_context?: Record<string, string>;
}
export interface ControllerPublishVolumeResponse {
  publish_context: Record<string, string>;
}
export interface ControllerUnpublishVolumeRequest {
  volume_id?: string;
  node_id?: string;
  secrets?: Record<string, string>;
}
export interface GetCapacityRequest {
  volume_capabilities?: VolumeCapability[];
  parameters?: Record<string, string>;
  accessible_topology?: Topology | null;
}
export interface GetCapacityResponse {
  available_capacity: Int64;
  maximum_volume_size?: { value: Int64 } | null;
  minimum_volume_size?: { value: Int64 } | null;
}
export type ControllerCapabilityType =
  | "CREATE_DELETE_VOLUME"
  | "PUBLISH_UNPUBLISH_VOLUME"
  | "LIST_VOLUMES"
  | "GET_CAPACITY"
  | "CREATE_DELETE_SNAPSHOT"
  | "LIST_SNAPSHOTS"
  | "CLONE_VOLUME"
  | "PUBLISH_READONLY"
  | "EXPAND_VOLUME"
  | "LIST_VOLUMES_PUBLISHED_NODES"
  | "VOLUME_CONDITION"
  | "GET_VOLUME"
  | "SINGLE_NODE_MULTI_WRITER"
  | "MODIFY_VOLUME";
export interface ControllerGetCapabilitiesResponse {
  capabilities: Array<{ rpc?: { type: ControllerCapabilityType } | null }>;
}

// ---------------------------------------------------------------- Node
export interface NodePublishVolumeRequest {
  volume_id?: string;
  publish_context?: Record<string, string>;
  staging_target_path?: string;
  target_path?: string;
  volume_capability?: VolumeCapability | null;
  readonly?: boolean;
  secrets?: Record<string, string>;
  volume_context?: Record<string, string>;
}
export interface NodeUnpublishVolumeRequest {
  volume_id?: string;
  target_path?: string;
}
export interface NodeGetVolumeStatsRequest {
  volume_id?: string;
  volume_path?: string;
  staging_target_path?: string;
}
export interface VolumeUsage {
  available?: Int64;
  total?: Int64;
  used?: Int64;
  unit: "UNKNOWN" | "BYTES" | "INODES";
}
export interface NodeGetVolumeStatsResponse {
  usage: VolumeUsage[];
  volume_condition?: VolumeCondition | null;
}
export type NodeCapabilityType =
  "STAGE_UNSTAGE_VOLUME" | "GET_VOLUME_STATS" | "EXPAND_VOLUME" | "VOLUME_CONDITION" | "SINGLE_NODE_MULTI_WRITER" | "VOLUME_MOUNT_GROUP";
export interface NodeGetCapabilitiesResponse {
  capabilities: Array<{ rpc?: { type: NodeCapabilityType } | null }>;
}
export interface NodeGetInfoResponse {
  node_id: string;
  max_volumes_per_node?: Int64;
  accessible_topology?: Topology | null;
}
