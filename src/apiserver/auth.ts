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

/** Checks an Authorization header; throws 401 Unauthorized. */
export function authenticate(header: string | undefined, token: string): void {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  const given = Buffer.from(m?.[1]?.trim() ?? "");
  const want = Buffer.from(token);
  if (given.length !== want.length || !timingSafeEqual(given, want)) {
    throw new HwError("UNAUTHENTICATED", "Unauthorized", "Unauthorized", { httpStatus: 401, statusReason: "Unauthorized" });
  }
}
