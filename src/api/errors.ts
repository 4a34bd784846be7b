// One error vocabulary for the whole system (STYLE.md "Errors"). An HwError carries a gRPC canonical code,
// a stable PascalCase reason, a message that names the object, and an optional hint (the fix) and cause.
// `errorMappings` turns the code into a gRPC status (CSI), an HTTP status with a Kubernetes Status body
// (API server, webhook, REST), and a CLI exit code. Programmer errors stay plain Error and are never caught.

export type ErrorCode =
  | "OK"
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

/** One bad field of an object, in the shape of a Kubernetes StatusCause. */
export interface FieldCause {
  field: string;
  reason: string; // FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate, ...
  message: string;
}

export interface HwErrorOptions {
  hint?: string;
  cause?: unknown;
  causes?: FieldCause[];
  /** Kubernetes Status reason override (e.g. "Gone", "Expired", "Invalid"); defaults from the code. */
  statusReason?: string;
  /** HTTP status override where the code alone is ambiguous (410 Gone, 422 Invalid, 405). */
  httpStatus?: number;
  details?: { name?: string; group?: string; kind?: string };
}

export class HwError extends Error {
  readonly code: ErrorCode;
  readonly reason: string;
  readonly hint?: string;
  readonly causes?: FieldCause[];
  readonly statusReason?: string;
  readonly httpStatusOverride?: number;
  readonly details?: { name?: string; group?: string; kind?: string };

  constructor(code: ErrorCode, reason: string, message: string, opts: HwErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "HwError";
    this.code = code;
    this.reason = reason;
    this.hint = opts.hint;
    this.causes = opts.causes;
    this.statusReason = opts.statusReason;
    this.httpStatusOverride = opts.httpStatus;
    this.details = opts.details;
  }

  /** Message plus hint, for people (CLI, logs, condition messages). */
  get fullMessage(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export function isHwError(e: unknown): e is HwError {
  return e instanceof HwError;
}

interface Mapping {
  grpc: number;
  http: number;
  statusReason: string; // metav1.StatusReason
  exitCode: number; // CLI: 0 ok, 1 failed, 2 invalid usage, 3 not found, 4 conflict, 5 unavailable
}

export const errorMappings: Record<ErrorCode, Mapping> = {
  OK: { grpc: 0, http: 200, statusReason: "", exitCode: 0 },
  CANCELLED: { grpc: 1, http: 499, statusReason: "Timeout", exitCode: 1 },
  UNKNOWN: { grpc: 2, http: 500, statusReason: "InternalError", exitCode: 1 },
  INVALID_ARGUMENT: { grpc: 3, http: 422, statusReason: "Invalid", exitCode: 2 },
  DEADLINE_EXCEEDED: { grpc: 4, http: 504, statusReason: "Timeout", exitCode: 5 },
  NOT_FOUND: { grpc: 5, http: 404, statusReason: "NotFound", exitCode: 3 },
  ALREADY_EXISTS: { grpc: 6, http: 409, statusReason: "AlreadyExists", exitCode: 4 },
  PERMISSION_DENIED: { grpc: 7, http: 403, statusReason: "Forbidden", exitCode: 1 },
  RESOURCE_EXHAUSTED: { grpc: 8, http: 507, statusReason: "InternalError", exitCode: 1 },
  FAILED_PRECONDITION: { grpc: 9, http: 412, statusReason: "Invalid", exitCode: 1 },
  ABORTED: { grpc: 10, http: 409, statusReason: "Conflict", exitCode: 4 },
  OUT_OF_RANGE: { grpc: 11, http: 400, statusReason: "BadRequest", exitCode: 2 },
  UNIMPLEMENTED: { grpc: 12, http: 501, statusReason: "MethodNotAllowed", exitCode: 1 },
  INTERNAL: { grpc: 13, http: 500, statusReason: "InternalError", exitCode: 1 },
  UNAVAILABLE: { grpc: 14, http: 503, statusReason: "ServiceUnavailable", exitCode: 5 },
  DATA_LOSS: { grpc: 15, http: 500, statusReason: "InternalError", exitCode: 1 },
  UNAUTHENTICATED: { grpc: 16, http: 401, statusReason: "Unauthorized", exitCode: 1 },
};

export function httpStatusOf(e: HwError): number {
  return e.httpStatusOverride ?? errorMappings[e.code].http;
}

/** The Kubernetes `Status` body for an error (what kubectl prints as "Error from server (Reason): message"). */
export function toKubeStatus(e: HwError): Record<string, unknown> {
  const details: Record<string, unknown> = { ...(e.details ?? {}) };
  if (e.causes?.length) details.causes = e.causes;
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: e.fullMessage,
    reason: e.statusReason ?? errorMappings[e.code].statusReason,
    ...(Object.keys(details).length ? { details } : {}),
    code: httpStatusOf(e),
  };
}

export function exitCodeOf(e: unknown): number {
  return isHwError(e) ? errorMappings[e.code].exitCode : 1;
}

export function grpcCodeOf(e: HwError): number {
  return errorMappings[e.code].grpc;
}

// ---------------------------------------------------------------------------------------------------------
// The registry of reasons: every reason the system raises, each with its ONE code. A receiver never derives a
// code from a message: a node's error travels as {code, reason, message, hint} (ErrorStatus, in the status
// of the replica, snapshot or disk volume) and is rebuilt with `fromErrorStatus`. `src/api/errors.test.ts`
// checks that every `new HwError(code, reason…)`/`reclassify(code, reason…)` in src/ uses a registered
// reason with its registered code. New code should call `hwError(reason, message)`, which takes the code
// from here. (Reasons relayed from elsewhere — a Kubernetes Status reason, a foreign CSI driver — are not
// ours and are not listed.)

export const ErrorReasons = {
  // migration and node lifecycle (docs/migration.md): publish refused mid-migration, the node-to-node block stream
  VolumeMigrating: "UNAVAILABLE",
  TooManyRequests: "RESOURCE_EXHAUSTED",
  SyncStreamBroken: "UNAVAILABLE",
  SyncProtocolError: "INVALID_ARGUMENT",
  SyncTokenInvalid: "PERMISSION_DENIED",
  SyncVerifyFailed: "DATA_LOSS",
  // rebalancing (hwameictl volume rebalance): one migration at a time; a rebalance migration that did not move
  MigrationInProgress: "FAILED_PRECONDITION",
  RebalanceMigrationFailed: "ABORTED",
  SyncShortRead: "DATA_LOSS",
  SyncCancelled: "CANCELLED",
  SyncTargetTooSmall: "FAILED_PRECONDITION",
  SyncChecksumMismatch: "DATA_LOSS",
  // the native migration copier (src/host/copier/, dataplane/src/copier*.c)
  CopierNotBuilt: "FAILED_PRECONDITION",
  CopierFailed: "INTERNAL",
  CopierIOError: "DATA_LOSS",
  FiemapUnparsable: "INTERNAL",
  PrecopyUnsupported: "FAILED_PRECONDITION",
  // generic
  AlreadyExists: "ALREADY_EXISTS",
  BadRequest: "INVALID_ARGUMENT",
  Cancelled: "CANCELLED",
  ClientClosedRequest: "CANCELLED",
  Conflict: "ABORTED",
  Deleted: "ABORTED",
  Expired: "OUT_OF_RANGE",
  Forbidden: "PERMISSION_DENIED",
  InProgress: "UNAVAILABLE",
  InternalError: "INTERNAL",
  Invalid: "INVALID_ARGUMENT",
  InvalidToken: "ABORTED",
  MethodNotAllowed: "UNIMPLEMENTED",
  NotFound: "NOT_FOUND",
  NotImplemented: "UNIMPLEMENTED",
  OperationPending: "ABORTED",
  RequestEntityTooLarge: "RESOURCE_EXHAUSTED",
  ServiceUnavailable: "UNAVAILABLE",
  Timeout: "DEADLINE_EXCEEDED",
  Unauthorized: "UNAUTHENTICATED",
  UnsupportedMediaType: "INVALID_ARGUMENT",
  // processes and the machine (src/host)
  BackingFileNotFound: "NOT_FOUND",
  BadFilesystem: "FAILED_PRECONDITION",
  CgroupNotFound: "NOT_FOUND",
  CommandFailed: "INTERNAL",
  CommandSpawnFailed: "INTERNAL",
  CommandTimedOut: "DEADLINE_EXCEEDED",
  CorruptState: "DATA_LOSS",
  DeviceBusy: "UNAVAILABLE",
  DeviceInOtherVg: "FAILED_PRECONDITION",
  DeviceInUse: "UNAVAILABLE",
  DeviceNotEmpty: "FAILED_PRECONDITION",
  DeviceNotFound: "NOT_FOUND",
  DeviceTooSmall: "FAILED_PRECONDITION",
  FioJobFailed: "INTERNAL",
  ForeignSignature: "FAILED_PRECONDITION",
  LoopVanished: "INTERNAL",
  MountTargetBusy: "FAILED_PRECONDITION",
  NoCgroup: "FAILED_PRECONDITION",
  NoDeviceMapper: "FAILED_PRECONDITION",
  NoFreeLoopDevice: "RESOURCE_EXHAUSTED",
  NoSpace: "RESOURCE_EXHAUSTED",
  NotABlockDevice: "FAILED_PRECONDITION",
  NotAFile: "FAILED_PRECONDITION",
  NotMounted: "FAILED_PRECONDITION",
  OnlineResizeUnsupported: "FAILED_PRECONDITION",
  ReplaceRunning: "ALREADY_EXISTS",
  DiskReplaceFailed: "FAILED_PRECONDITION",
  ToolNotInstalled: "FAILED_PRECONDITION",
  UnparseableOutput: "INTERNAL",
  UnsupportedFsType: "INVALID_ARGUMENT",
  FsGrowUnsupported: "UNIMPLEMENTED",
  // kube runtime, kubeconfig, API server
  BadKubeconfig: "INVALID_ARGUMENT",
  BadWatchData: "UNAVAILABLE",
  CrdMissing: "FAILED_PRECONDITION",
  NoCluster: "FAILED_PRECONDITION",
  NoKubeconfig: "NOT_FOUND",
  NoSuchContext: "INVALID_ARGUMENT",
  NoResponseHeaders: "UNAVAILABLE",
  UnknownKind: "NOT_FOUND",
  UnsupportedKubeconfig: "UNIMPLEMENTED",
  // dev cluster
  BadClusterState: "FAILED_PRECONDITION",
  ClusterNotReady: "UNAVAILABLE",
  NoDevCluster: "NOT_FOUND",
  NoDisks: "INVALID_ARGUMENT",
  OptionsDiffer: "ABORTED",
  PreflightFailed: "FAILED_PRECONDITION",
  TeardownIncomplete: "UNAVAILABLE",
  // disks, pools, engines (node agent)
  DiskClaimed: "FAILED_PRECONDITION",
  DiskGone: "FAILED_PRECONDITION",
  ForeignData: "FAILED_PRECONDITION",
  FilesystemGone: "DATA_LOSS",
  InsufficientCapacity: "RESOURCE_EXHAUSTED",
  InvalidIoLimit: "INVALID_ARGUMENT",
  InvalidQuantity: "INVALID_ARGUMENT",
  InvalidSize: "INVALID_ARGUMENT",
  NoCapacity: "RESOURCE_EXHAUSTED",
  PoolClassMismatch: "INVALID_ARGUMENT",
  PoolDisksMissing: "UNAVAILABLE",
  PoolFsMissing: "INTERNAL",
  NotAPoolMember: "FAILED_PRECONDITION",
  ReplaceUnsupported: "FAILED_PRECONDITION",
  AlreadyAPoolMember: "FAILED_PRECONDITION",
  PoolIdentityMismatch: "FAILED_PRECONDITION",
  PoolMountConflict: "FAILED_PRECONDITION",
  PoolNotFound: "NOT_FOUND",
  PoolNotMounted: "UNAVAILABLE",
  ReflinkUnsupported: "FAILED_PRECONDITION",
  ReplicaDeviceMissing: "FAILED_PRECONDITION",
  ReplicaNotExpanded: "UNAVAILABLE",
  ReplicaNotFound: "FAILED_PRECONDITION",
  RollbackFailed: "FAILED_PRECONDITION",
  ShrinkRefused: "FAILED_PRECONDITION",
  SnapshotNotFound: "NOT_FOUND",
  UnknownEngine: "INVALID_ARGUMENT",
  UnknownPool: "INVALID_ARGUMENT",
  VolumeCountExceeded: "RESOURCE_EXHAUSTED",
  VolumeExists: "ALREADY_EXISTS",
  VolumeInUse: "FAILED_PRECONDITION",
  // CSI
  BeingDeleted: "ABORTED",
  CapacityOutOfRange: "OUT_OF_RANGE",
  CloneUnsupported: "UNIMPLEMENTED",
  CsiUnavailable: "UNAVAILABLE",
  EncryptionNotSupported: "UNIMPLEMENTED",
  ExpandAborted: "ABORTED",
  ExpandFailed: "FAILED_PRECONDITION",
  HaVolume: "FAILED_PRECONDITION",
  InPlaceOnly: "FAILED_PRECONDITION",
  InsufficientPoolCapacity: "OUT_OF_RANGE",
  NoCsiSocket: "UNAVAILABLE",
  NoDisk: "RESOURCE_EXHAUSTED",
  NoDiskAvailable: "RESOURCE_EXHAUSTED",
  NoDiskNode: "RESOURCE_EXHAUSTED",
  NoNodeFits: "RESOURCE_EXHAUSTED",
  NoReplicaOnNode: "FAILED_PRECONDITION",
  NodeNotFound: "NOT_FOUND",
  NotASocket: "FAILED_PRECONDITION",
  NotExpandable: "FAILED_PRECONDITION",
  NotServingReplica: "FAILED_PRECONDITION",
  PublishedElsewhere: "FAILED_PRECONDITION",
  ReplicationNotAvailable: "INVALID_ARGUMENT",
  ReplicaNotReady: "UNAVAILABLE",
  RestoreFailed: "FAILED_PRECONDITION",
  ShrinkNotSupported: "OUT_OF_RANGE",
  SnapshotExists: "ALREADY_EXISTS",
  SnapshotNotReady: "FAILED_PRECONDITION",
  SnapshotsNotYet: "UNIMPLEMENTED",
  TargetBusy: "ALREADY_EXISTS",
  ThinNotSupported: "UNIMPLEMENTED",
  TooSmall: "OUT_OF_RANGE",
  VolumeBeingDeleted: "FAILED_PRECONDITION",
  VolumeNotFound: "NOT_FOUND",
  VolumeNotReady: "FAILED_PRECONDITION",
  VolumePathNotFound: "NOT_FOUND",
  VolumePublished: "FAILED_PRECONDITION",
  WrongNode: "FAILED_PRECONDITION",
  // parts landed beside this registry (kubelet and kcm roles, containers, exporter, thin pools, encryption, …)
  BadBlockStat: "INTERNAL",
  BadJson: "INVALID_ARGUMENT",
  BadPath: "INVALID_ARGUMENT",
  BlockAsMount: "INVALID_ARGUMENT",
  CacheNotSynced: "UNAVAILABLE",
  DriverNotRegistered: "UNAVAILABLE",
  EmptyEncryptionKey: "INVALID_ARGUMENT",
  InvalidBody: "INVALID_ARGUMENT",
  InvalidCommand: "INVALID_ARGUMENT",
  InvalidEnvName: "INVALID_ARGUMENT",
  InvalidMountPath: "INVALID_ARGUMENT",
  InvalidOverProvisionRatio: "INVALID_ARGUMENT",
  InvalidParameter: "INVALID_ARGUMENT",
  InvalidPid: "INVALID_ARGUMENT",
  InvalidSubPath: "INVALID_ARGUMENT",
  InvalidUser: "INVALID_ARGUMENT",
  InvalidWorkingDir: "INVALID_ARGUMENT",
  MetricsPortBusy: "UNAVAILABLE",
  NameTaken: "ALREADY_EXISTS",
  NoCommand: "INVALID_ARGUMENT",
  NoThinPool: "FAILED_PRECONDITION",
  NoVolume: "INVALID_ARGUMENT",
  NodeHasVolumes: "FAILED_PRECONDITION",
  NotBlock: "INVALID_ARGUMENT",
  NotCsi: "FAILED_PRECONDITION",
  NothingToExtend: "INVALID_ARGUMENT",
  PvWithoutCapacity: "FAILED_PRECONDITION",
  SnapshotInvalid: "FAILED_PRECONDITION",
  SnapshotMerging: "FAILED_PRECONDITION",
  SnapshotMissing: "INTERNAL",
  SourceNotFound: "NOT_FOUND",
  SourceNotThin: "FAILED_PRECONDITION",
  TargetMissing: "FAILED_PRECONDITION",
  TargetTooSmall: "FAILED_PRECONDITION",
  ThickCloneIsSnapshotRestore: "FAILED_PRECONDITION",
  ThinPoolMissing: "INTERNAL",
  TooLarge: "INVALID_ARGUMENT",
  UnsupportedEnv: "INVALID_ARGUMENT",
  UnsupportedVolume: "INVALID_ARGUMENT",
  VolumeNotMountedYet: "UNAVAILABLE",
  WrongEncryptionKey: "PERMISSION_DENIED",
  AlreadyHA: "FAILED_PRECONDITION",
  DiskInUse: "FAILED_PRECONDITION",
  Inconvertible: "FAILED_PRECONDITION",
  NoFreeDisk: "FAILED_PRECONDITION",
  OperationUnderWay: "FAILED_PRECONDITION",
  PoolCannotGrow: "RESOURCE_EXHAUSTED",
  ThinPoolOverCommitted: "RESOURCE_EXHAUSTED",
  AlreadyOnTarget: "FAILED_PRECONDITION",
  ClaimPending: "ALREADY_EXISTS",
  NotConvertible: "FAILED_PRECONDITION",
  NotOnSourceNode: "FAILED_PRECONDITION",
  NotReady: "FAILED_PRECONDITION",
  OperationFinished: "FAILED_PRECONDITION",
  OperationInProgress: "ALREADY_EXISTS",
  SourceGone: "FAILED_PRECONDITION",
  InvalidEncryptSecret: "INVALID_ARGUMENT",
  EncryptSecretNotFound: "NOT_FOUND",
  EncryptSecretNoKey: "FAILED_PRECONDITION",
  EncryptSecretEmpty: "FAILED_PRECONDITION",
  PluginRegistrationFailed: "FAILED_PRECONDITION",
  NoRegistrationDir: "FAILED_PRECONDITION",
  UnknownEncryptType: "INVALID_ARGUMENT",
  EncryptionKeyMismatch: "FAILED_PRECONDITION",
  NoEncryptionSupport: "FAILED_PRECONDITION",
  DeviceNotActive: "UNAVAILABLE",
  TooManyLogins: "RESOURCE_EXHAUSTED",
  // native data plane (dataplane/, docs/dataplane.md): reasons its control socket answers with
  Busy: "FAILED_PRECONDITION",
  CorruptMetadata: "DATA_LOSS",
  Fenced: "FAILED_PRECONDITION",
  NotConfigured: "FAILED_PRECONDITION",
  NotPrimary: "FAILED_PRECONDITION",
  NotUpToDate: "FAILED_PRECONDITION",
  PeerNotFound: "NOT_FOUND",
  ProtocolMismatch: "FAILED_PRECONDITION",
  StaleEpoch: "FAILED_PRECONDITION",
  VolumeMismatch: "FAILED_PRECONDITION",
  // replication control (src/host/dataplane client, src/node/dataplane, docs/replication.md)
  DataplaneUnavailable: "UNAVAILABLE",
  DataplaneTimeout: "DEADLINE_EXCEEDED",
  DataplaneProtocolError: "INTERNAL",
  DataplaneError: "UNKNOWN",
  ReplicaNotInSync: "UNAVAILABLE",
  NoStorageIP: "FAILED_PRECONDITION",
} as const satisfies Record<string, ErrorCode>;

export type ErrorReason = keyof typeof ErrorReasons;

export const isErrorReason = (r: string): r is ErrorReason => Object.prototype.hasOwnProperty.call(ErrorReasons, r);

/** An HwError whose code is the reason's registered code. */
export function hwError(reason: ErrorReason, message: string, opts: HwErrorOptions = {}): HwError {
  return new HwError(ErrorReasons[reason], reason, message, opts);
}

/**
 * An error as it travels in an object's status (LocalVolumeReplica, LocalVolumeReplicaSnapshot,
 * LocalVolumeSnapshot, LocalDiskVolume `status.error`): the code and reason are kept as they were raised.
 */
export interface ErrorStatus {
  code: string;
  reason: string;
  message: string;
  hint?: string;
}

/** What goes into `status.error`. A plain Error is a programmer error and is not put into a status. */
export function toErrorStatus(e: HwError): ErrorStatus {
  return { code: e.code, reason: e.reason, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
}

const isErrorCode = (c: string): c is ErrorCode => Object.prototype.hasOwnProperty.call(errorMappings, c);

/**
 * The HwError a status carries, with its code and reason; `context` is prefixed to the message (the object
 * that failed). A code this build does not know (a newer node) becomes UNKNOWN, keeping the reason.
 */
export function fromErrorStatus(s: ErrorStatus, context?: string, moreHint?: string): HwError {
  const code: ErrorCode = isErrorCode(s.code) ? s.code : "UNKNOWN";
  const hint = [s.hint, moreHint].filter(Boolean).join("; ");
  return new HwError(code, s.reason, context ? `${context}: ${s.message}` : s.message, hint ? { hint } : {});
}

// Shorthands for the common cases; each names the object in its message.
export const notFound = (what: string, hint?: string) => new HwError("NOT_FOUND", "NotFound", `${what} not found`, { hint });
export const invalid = (message: string, opts: HwErrorOptions = {}) => new HwError("INVALID_ARGUMENT", "Invalid", message, opts);
export const conflict = (message: string, hint?: string) => new HwError("ABORTED", "Conflict", message, { hint, statusReason: "Conflict", httpStatus: 409 });
