// Request validation for CSI handlers. Every failure is INVALID_ARGUMENT naming the field, and ids/names
// are checked here before they can reach a path, a command line or an object name.

import { HwError, invalid } from "../api/errors.ts";
import type { VolumeCapability } from "./types.ts";

/** `value` must be present and non-empty. */
export function requireField<T>(value: T | null | undefined, field: string): T {
  if (value === undefined || value === null || (typeof value === "string" && value === "") || (Array.isArray(value) && value.length === 0)) {
    throw invalid(`${field} is required`);
  }
  return value;
}

// A Kubernetes object name (DNS-1123 subdomain): our volume ids are object names (the PV name), so this is
// also what makes them safe as one path segment (no "/", no "..", no whitespace).
const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Whether `id` could be one of our volume/snapshot ids (an object name). */
export const isVolumeId = (id: string): boolean => id.length <= 253 && NAME_RE.test(id) && !id.includes("..");

/** A volume id / volume name: required and a valid object name (≤ 253, [a-z0-9.-], no ".."). */
export function validateVolumeId(id: string | undefined, field = "volume_id"): string {
  requireField(id, field);
  const v = id as string;
  if (v.length > 253 || !NAME_RE.test(v) || v.includes("..")) {
    throw invalid(`${field} ${JSON.stringify(v.slice(0, 80))} is not a valid volume id`, {
      hint: "volume ids are object names: lowercase letters, digits, '-' and '.', at most 253 characters",
    });
  }
  return v;
}

/** An absolute path without "." / ".." segments or control characters (target_path, volume_path). */
export function validatePath(p: string | undefined, field: string): string {
  requireField(p, field);
  const v = p as string;
  // eslint-disable-next-line no-control-regex
  if (!v.startsWith("/") || v.split("/").some((s) => s === "." || s === "..") || /[\x00-\x1f\x7f]/.test(v) || v.length > 4096) {
    throw invalid(`${field} ${JSON.stringify(v.slice(0, 120))} must be an absolute path without '.' or '..' segments`);
  }
  return v;
}

/**
 * NodeGetVolumeStats' / NodeExpandVolume's volume_path: required (INVALID_ARGUMENT); call after the volume
 * was found. A path that cannot be where the volume is published (relative, "."/".." segments, control
 * characters) is NOT_FOUND — the CSI answer for "the volume does not exist at this path" — never a path
 * that reaches the filesystem.
 */
export function volumePathOf(p: string | undefined, volume: string): string {
  const v = requireField(p, "volume_path");
  // eslint-disable-next-line no-control-regex
  if (!v.startsWith("/") || v.split("/").some((s) => s === "." || s === "..") || /[\x00-\x1f\x7f]/.test(v) || v.length > 4096) {
    throw new HwError("NOT_FOUND", "VolumePathNotFound", `volume ${volume} is not at volume_path ${JSON.stringify(v.slice(0, 120))}`, {
      hint: "volume_path is the absolute target (or staging) path the volume was published at",
    });
  }
  return v;
}

/** A node id as a Kubernetes node name. */
export function validateNodeId(id: string | undefined, field = "node_id"): string {
  requireField(id, field);
  const v = id as string;
  if (v.length > 253 || !NAME_RE.test(v)) throw invalid(`${field} ${JSON.stringify(v.slice(0, 80))} is not a valid node name`);
  return v;
}

/** Which access type a capability asks for; INVALID_ARGUMENT when neither block nor mount is set. */
export function accessTypeOf(cap: VolumeCapability, field: string): "block" | "mount" {
  if (cap.access_type === "block" || cap.block) return "block";
  if (cap.access_type === "mount" || cap.mount) return "mount";
  throw invalid(`${field}: access_type (block or mount) is required`);
}

/** A non-negative integer byte count from an int64 field; undefined when 0/absent (CSI: 0 = unset). */
export function bytesField(v: string | number | undefined, field: string): number | undefined {
  if (v === undefined || v === "" || v === 0 || v === "0") return undefined;
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${field} ${String(v)} is not a valid byte count`);
  return n;
}

/**
 * One page of a name-sorted list for ListVolumes/ListSnapshots: the token is the index of the next entry.
 * A negative max_entries is INVALID_ARGUMENT; a token that is not an index into the list is ABORTED (CSI spec).
 */
export function pageOf<T>(items: T[], req: { max_entries?: number; starting_token?: string }): { page: T[]; next_token: string } {
  const max = req.max_entries ?? 0;
  if (max < 0) throw invalid("max_entries must not be negative");
  const start = req.starting_token ? Number(req.starting_token) : 0;
  if (!Number.isSafeInteger(start) || start < 0 || start > items.length) {
    throw new HwError("ABORTED", "InvalidToken", `starting_token ${JSON.stringify(req.starting_token)} is not valid`);
  }
  const end = max > 0 ? Math.min(items.length, start + max) : items.length;
  return { page: items.slice(start, end), next_token: end < items.length ? String(end) : "" };
}
