// The REST error body of the original apiserver, `{errcode, description}`, from the project's one error type.
// errcode is the HTTP status (the original mostly answered 500, or 203 for bad input — we answer the status
// that says what went wrong: 400 bad input, 401, 404 unknown name, 409 state conflict; docs/compatibility.md).
// The description names the object or the field and, where there is one, the fix.

import { HwError, errorMappings, isHwError } from "../api/errors.ts";

export interface ErrorBody {
  errcode: number;
  description: string;
}

/** HTTP status of an error on the REST surface. */
export function restStatusOf(e: HwError): number {
  if (e.httpStatusOverride) return e.httpStatusOverride;
  switch (e.code) {
    case "INVALID_ARGUMENT":
    case "OUT_OF_RANGE":
      return 400;
    case "FAILED_PRECONDITION":
      return 409;
    default:
      return errorMappings[e.code].http;
  }
}

/** Status and body for anything thrown by a handler; programmer errors become 500 with their message. */
export function toErrorBody(e: unknown): { status: number; body: ErrorBody } {
  if (isHwError(e)) {
    const status = restStatusOf(e);
    return { status, body: { errcode: status, description: e.fullMessage } };
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { status: 500, body: { errcode: 500, description: `internal error: ${msg}` } };
}

export const unauthorized = (why: string) => new HwError("UNAUTHENTICATED", "Unauthorized", why, { httpStatus: 401 });
export const badBody = (field: string, message: string) =>
  new HwError("INVALID_ARGUMENT", "InvalidBody", `body field ${field}: ${message}`, { causes: [{ field, reason: "FieldValueInvalid", message }] });
