// Bearer-token authentication of the embedded API server: one static token, kept in <dataDir>/token (0600).

import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HwError } from "../api/errors.ts";

/** Returns the given token, else the stored one, else a new random one written to <dataDir>/token (0600). */
export function loadOrCreateToken(dataDir: string, given?: string): string {
  if (given) return given;
  const file = join(dataDir, "token");
  if (existsSync(file)) {
    const t = readFileSync(file, "utf8").trim();
    if (t) return t;
  }
  const t = randomBytes(32).toString("hex");
  writeFileSync(file, t + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return t;
}

/** The user of the static token (the embedded server's administrator). */
export const ADMIN_USER = "hwameistor:admin";

const sameToken = (given: Buffer, want: string): boolean => {
  const w = Buffer.from(want);
  return given.length === w.length && timingSafeEqual(given, w);
};

/**
 * Checks an Authorization header against the static token, then the extra tokens (token → user name, like
 * kube-apiserver's --token-auth-file; tests give each component's emulated service account its own).
 * Returns the user; throws 401 Unauthorized. Simplification: authentication only, no authorization.
 */
export function authenticate(header: string | undefined, token: string, extraTokens: Record<string, string> = {}): string {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  const given = Buffer.from(m?.[1]?.trim() ?? "");
  if (sameToken(given, token)) return ADMIN_USER;
  for (const [t, user] of Object.entries(extraTokens)) if (sameToken(given, t)) return user;
  throw new HwError("UNAUTHENTICATED", "Unauthorized", "Unauthorized", { httpStatus: 401, statusReason: "Unauthorized" });
}
