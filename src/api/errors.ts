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

// Shorthands for the common cases; each names the object in its message.
export const notFound = (what: string, hint?: string) => new HwError("NOT_FOUND", "NotFound", `${what} not found`, { hint });
export const alreadyExists = (what: string) => new HwError("ALREADY_EXISTS", "AlreadyExists", `${what} already exists`);
export const invalid = (message: string, opts: HwErrorOptions = {}) => new HwError("INVALID_ARGUMENT", "Invalid", message, opts);
export const conflict = (message: string, hint?: string) =>
  new HwError("ABORTED", "Conflict", message, { hint, statusReason: "Conflict", httpStatus: 409 });
