// Input checks every tool wrapper runs before it builds an argv. The runner never uses a shell, so these are
// not about quoting: they stop a value from being read as an option (`-f`), from escaping /dev (`..`), and
// from carrying whitespace or control characters that no real device, LV or path of ours has.

import { invalid } from "../api/errors.ts";

// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\s\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

function hasDotDotSegment(p: string): boolean {
  return p.split("/").some((s) => s === "..");
}

/** A device node path: `/dev/…`, no `..` segment, no empty segment, no whitespace or control characters. */
export function assertDevicePath(p: string): string {
  if (typeof p !== "string" || !p.startsWith("/dev/") || p.length <= 5) {
    throw invalid(`device path ${JSON.stringify(p)} must start with /dev/`);
  }
  if (
    hasDotDotSegment(p) ||
    p
      .split("/")
      .slice(1)
      .some((s) => s === "" || s === ".")
  ) {
    throw invalid(`device path ${JSON.stringify(p)} must not contain "..", "." or empty segments`);
  }
  if (CONTROL_OR_SPACE.test(p)) {
    throw invalid(`device path ${JSON.stringify(p)} must not contain whitespace or control characters`);
  }
  return p;
}

/**
 * A name safe as a Kubernetes object name part, LVM VG/LV name and file name: 1–127 characters of
 * `A-Z a-z 0-9 _ . + -`, not starting with `-`, not `.` or `..`. (LVM's own charset; k8s names are a subset.)
 */
export function assertSafeName(name: string): string {
  if (typeof name !== "string" || !/^[A-Za-z0-9_.+][A-Za-z0-9_.+-]{0,126}$/.test(name) || name === "." || name === "..") {
    throw invalid(`name ${JSON.stringify(name)} is not safe: use 1-127 characters of A-Z a-z 0-9 _ . + - not starting with "-"`);
  }
  return name;
}

/** An absolute path without `..` segments or control characters (spaces are allowed: no shell is involved). */
export function assertAbsolutePath(p: string): string {
  if (typeof p !== "string" || !p.startsWith("/")) throw invalid(`path ${JSON.stringify(p)} must be absolute`);
  if (hasDotDotSegment(p)) throw invalid(`path ${JSON.stringify(p)} must not contain ".." segments`);
  if (CONTROL.test(p)) throw invalid(`path ${JSON.stringify(p)} must not contain control characters`);
  return p;
}

/** A `major:minor` pair as the kernel prints it. */
export function assertMajorMinor(mm: string): string {
  if (!/^\d{1,10}:\d{1,10}$/.test(mm)) throw invalid(`device number ${JSON.stringify(mm)} must be "major:minor"`);
  return mm;
}

/** A non-negative safe integer (sizes, offsets, limits). */
export function assertNonNegativeInt(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${what} must be a non-negative integer, got ${n}`);
  return n;
}
