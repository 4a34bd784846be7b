// The REST auth flow of the original apiserver (reference §9): POST /cluster/auth/auth with {accessId,
// secretKey} → {token, expireAt (unix seconds)}; the token goes in the `Authorization` header (bare, as the
// original, or `Bearer <token>`); every route but the three auth routes answers 401 without a valid one.
// Tokens are random UUIDs valid `ttlMs` (default 7 days); expired ones are swept hourly and refused at once.
//
// Persistence: like the original, tokens live in the Secret `hwameistor-auth-tokens` of the system namespace
// so a restart keeps sessions; unlike the original we store SHA-256 digests of the tokens, never the tokens
// (a reader of the Secret cannot log in). Without a reachable Secret the store works in memory.
// Credentials are compared in constant time.

import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { KubeClient } from "../kube/client.ts";
import { isNotFound } from "../kube/transport.ts";
import type { KubeObject, Logger } from "../kube/types.ts";
import { silentLogger } from "../kube/types.ts";
import { HwError } from "../api/errors.ts";
import { unauthorized } from "./errors.ts";

export const AUTH_TOKENS_SECRET = "hwameistor-auth-tokens";
export const AUTH_HEADER = "authorization";
export const DEFAULT_TOKEN_TTL_MS = 7 * 24 * 3600_000;
/** Failed logins allowed per client address per window before further attempts are refused (429). */
export const LOGIN_FAILURES_ALLOWED = 5;
export const LOGIN_WINDOW_MS = 60_000;
const SWEEP_MS = 3600_000;

const SECRET = { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true } as const;

export interface AuthConfig {
  enabled: boolean;
  accessId?: string;
  secretKey?: string;
  ttlMs?: number;
}

type SecretObject = KubeObject & { data?: Record<string, string> };

const digest = (token: string) => createHash("sha256").update(token).digest("hex");

function sameString(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/** The token from an Authorization header: `Bearer <t>` or the bare token (the original's form). */
export function tokenFromHeader(h: string | string[] | undefined): string | undefined {
  const v = (Array.isArray(h) ? h[0] : h)?.trim();
  if (!v) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(v);
  return (m ? m[1]! : v).trim() || undefined;
}

export class TokenStore {
  /** digest → expiry (ms since epoch). */
  private readonly tokens = new Map<string, number>();
  private sweepTimer?: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();
  /** address → failed logins in the current window (a guess-the-key brake, not an account lockout). */
  private readonly failures = new Map<string, { count: number; since: number }>();
  readonly ttlMs: number;

  constructor(
    readonly config: AuthConfig,
    private readonly persist?: { client: KubeClient; namespace: string; log?: Logger },
    private readonly now: () => number = Date.now,
  ) {
    this.ttlMs = config.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    if (config.enabled && (!config.accessId || !config.secretKey)) {
      throw new Error("auth enabled without accessId and secretKey"); // the CLI makes sure both are set
    }
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Loads persisted tokens (best effort) and starts the hourly sweep. */
  async start(): Promise<void> {
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
    if (!this.persist || !this.config.enabled) return;
    try {
      const s = await this.secrets().get(AUTH_TOKENS_SECRET, this.persist.namespace);
      for (const [k, v] of Object.entries(s?.data ?? {})) {
        const exp = Number((JSON.parse(Buffer.from(v, "base64").toString()) as { ExpireAt?: number }).ExpireAt) * 1000;
        if (/^[0-9a-f]{64}$/.test(k) && exp > this.now()) this.tokens.set(k, exp);
      }
    } catch (e) {
      this.persist.log?.warn(
        { err: (e as Error).message },
        `auth tokens not loaded from Secret ${this.persist.namespace}/${AUTH_TOKENS_SECRET}; sessions start empty`,
      );
    }
  }

  stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    return this.saving;
  }

  /** Checks the credentials; returns a new token and its expiry in unix seconds. */
  login(accessId: string, secretKey: string, from = ""): { token: string; expireAt: number } {
    if (!this.config.enabled) throw unauthorized("authentication is not enabled on this server; no token is needed");
    const f = this.failures.get(from);
    if (f && this.now() - f.since > LOGIN_WINDOW_MS) this.failures.delete(from);
    const cur = this.failures.get(from);
    if (cur && cur.count >= LOGIN_FAILURES_ALLOWED) {
      const wait = Math.ceil((cur.since + LOGIN_WINDOW_MS - this.now()) / 1000);
      throw new HwError("RESOURCE_EXHAUSTED", "TooManyLogins", `too many failed logins from ${from || "this client"}; try again in ${wait} s`, {
        httpStatus: 429,
      });
    }
    const fail = (why: string) => {
      const c = this.failures.get(from) ?? { count: 0, since: this.now() };
      c.count++;
      this.failures.set(from, c);
      return unauthorized(why);
    };
    if (!accessId || !secretKey) throw fail("Fail to authorize, accessId and secretKey are required");
    const okId = sameString(accessId, this.config.accessId!);
    const okKey = sameString(secretKey, this.config.secretKey!);
    if (!okId || !okKey) throw fail("Fail to authorize, wrong accessId or secretKey");
    this.failures.delete(from);
    const token = randomUUID();
    const exp = this.now() + this.ttlMs;
    this.tokens.set(digest(token), exp);
    this.save();
    return { token, expireAt: Math.floor(exp / 1000) };
  }

  /** True for a known, unexpired token (an expired one is forgotten). */
  verify(token: string | undefined): boolean {
    if (!token) return false;
    const d = digest(token);
    const exp = this.tokens.get(d);
    if (exp === undefined) return false;
    if (exp <= this.now()) {
      this.tokens.delete(d);
      this.save();
      return false;
    }
    return true;
  }

  logout(token: string | undefined): void {
    if (!this.verify(token)) throw unauthorized("Fail to authorize, token verify failed");
    this.tokens.delete(digest(token!));
    this.save();
  }

  /** Throws 401 unless auth is off or the header carries a valid token. */
  check(header: string | string[] | undefined): void {
    if (!this.config.enabled) return;
    const t = tokenFromHeader(header);
    if (!t) throw unauthorized("Fail to authorize: no token in the Authorization header (log in with POST /apis/hwameistor.io/v1alpha1/cluster/auth/auth)");
    if (!this.verify(t)) throw unauthorized("Fail to authorize: the token is unknown or expired (log in again)");
  }

  sweep(): void {
    let changed = false;
    for (const [d, exp] of this.tokens) {
      if (exp <= this.now()) {
        this.tokens.delete(d);
        changed = true;
      }
    }
    if (changed) this.save();
  }

  get size(): number {
    return this.tokens.size;
  }

  private secrets() {
    return this.persist!.client.forKind<SecretObject>(SECRET);
  }

  /** Writes the digests to the Secret; serialised, failures logged (sessions then live in memory only). */
  private save(): void {
    if (!this.persist) return;
    const p = this.persist;
    const data: Record<string, string> = {};
    for (const [d, exp] of this.tokens) data[d] = Buffer.from(JSON.stringify({ ExpireAt: Math.floor(exp / 1000) })).toString("base64");
    this.saving = this.saving.then(async () => {
      try {
        const cur = await this.secrets().get(AUTH_TOKENS_SECRET, p.namespace);
        if (cur) await this.secrets().update({ ...cur, data });
        else
          await this.secrets().create({
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: AUTH_TOKENS_SECRET, namespace: p.namespace },
            type: "Opaque",
            data,
          });
      } catch (e) {
        if (!isNotFound(e)) (p.log ?? silentLogger).warn({ err: (e as Error).message }, `auth tokens not saved to Secret ${p.namespace}/${AUTH_TOKENS_SECRET}`);
      }
    });
  }
}
