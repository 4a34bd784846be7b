// `hwameistor rest`: the REST API and web dashboard (the original's "apiserver" component; named `rest` here
// because `hwameistor apiserver` is our embedded Kubernetes API server). docs/rest-api.md has the flags.
//
// Secure by default: HTTPS (a self-signed certificate kept in --data-dir unless --tls-cert/--tls-key are
// given), token auth on (credentials from flags, the original's env EnableAuth/AuthAccessId/AuthSecretKey, or
// generated once into <data-dir>/credentials.json, 0600), listening on 127.0.0.1.

import type { Command } from "commander";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HwError } from "../api/errors.ts";
import { loadOrCreateServingCert } from "../host/tls/self-signed.ts";
import { DEFAULT_TOKEN_TTL_MS } from "../rest/auth.ts";
import { startRestServer } from "../rest/server.ts";
import { portOption, serve, serverCommand, type ServerFlags } from "./serve.ts";

interface RestFlags extends ServerFlags {
  host: string;
  port: number;
  dataDir: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp?: boolean;
  auth: boolean;
  accessId?: string;
  secretKeyFile?: string;
  tokenTtl: string;
  uiDir: string;
  systemNamespace: string;
}

const repo = resolve(import.meta.dirname, "../..");

/** "7d", "12h", "30m", "90s" or plain seconds → ms. */
export function parseDuration(v: string, flag: string): number {
  const m = /^(\d+)(d|h|m|s)?$/.exec(v.trim());
  if (!m || Number(m[1]) <= 0)
    throw new HwError("INVALID_ARGUMENT", "Invalid", `${flag} ${JSON.stringify(v)} must be a positive duration such as 7d, 12h, 30m or 90s`);
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[(m[2] ?? "s") as "d" | "h" | "m" | "s"];
}

/** Credentials: flags, then the original's env, then <dataDir>/credentials.json (made once). */
export function resolveCredentials(
  f: Pick<RestFlags, "auth" | "accessId" | "secretKeyFile" | "dataDir">,
  env = process.env,
): { enabled: boolean; accessId?: string; secretKey?: string; file?: string } {
  const envEnable = env.EnableAuth;
  const enabled = f.auth && (envEnable === undefined || envEnable.toLowerCase() === "true");
  if (!enabled) return { enabled: false };
  let accessId = f.accessId ?? env.AuthAccessId;
  let secretKey = f.secretKeyFile ? readFileSync(f.secretKeyFile, "utf8").trim() : env.AuthSecretKey;
  if (f.secretKeyFile && !secretKey) throw new HwError("INVALID_ARGUMENT", "Invalid", `--secret-key-file ${f.secretKeyFile} is empty`);
  if (accessId && secretKey) return { enabled, accessId, secretKey };
  if (accessId || secretKey) {
    throw new HwError(
      "INVALID_ARGUMENT",
      "Invalid",
      "give both the access id (--access-id or AuthAccessId) and the secret key (--secret-key-file or AuthSecretKey), or neither (then they are generated)",
    );
  }
  const file = join(f.dataDir, "credentials.json");
  if (existsSync(file)) {
    const c = JSON.parse(readFileSync(file, "utf8")) as { accessId?: string; secretKey?: string };
    accessId = c.accessId;
    secretKey = c.secretKey;
  }
  if (!accessId || !secretKey) {
    accessId = "admin";
    secretKey = randomBytes(18).toString("base64url");
    writeFileSync(file, JSON.stringify({ accessId, secretKey }, null, 2) + "\n", { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return { enabled, accessId, secretKey, file };
}

export function registerRestCommand(program: Command): void {
  const cmd = serverCommand(program, "rest", "run the REST API and the web dashboard (the original's apiserver component)")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", portOption(), 8443)
    .option("--data-dir <dir>", "where the self-signed certificate and generated credentials are kept", ".state/rest")
    .option("--tls-cert <file>", "serving certificate (PEM); with --tls-key")
    .option("--tls-key <file>", "serving key (PEM); with --tls-cert")
    .option("--insecure-http", "serve plain HTTP (behind a TLS-terminating proxy only)")
    .option("--no-auth", "no authentication (as the original with EnableAuth unset)")
    .option("--access-id <id>", "the accessId to log in with (or env AuthAccessId)")
    .option("--secret-key-file <file>", "file holding the secretKey (or env AuthSecretKey)")
    .option("--token-ttl <duration>", "token lifetime", "7d")
    .option("--ui-dir <dir>", "the built dashboard", join(repo, "ui", "dist"))
    .option("--system-namespace <ns>", "namespace of the auth tokens Secret and the component leases", "hwameistor");
  serve(cmd, async (o: RestFlags, { log, client }) => {
    if (!!o.tlsCert !== !!o.tlsKey) throw new HwError("INVALID_ARGUMENT", "Invalid", "--tls-cert and --tls-key go together");
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    const ttlMs = parseDuration(o.tokenTtl, "--token-ttl");
    const cred = resolveCredentials(o);
    const tls = o.insecureHttp
      ? undefined
      : o.tlsCert
        ? { certPem: readFileSync(o.tlsCert, "utf8"), keyPem: readFileSync(o.tlsKey!, "utf8") }
        : loadOrCreateServingCert(o.dataDir, o.host);
    if (o.insecureHttp) log.warn({}, "serving plain HTTP: tokens and credentials cross the network in clear");
    if (!cred.enabled) log.warn({}, "authentication is off: anyone who reaches the port can operate the cluster");
    const srv = await startRestServer({
      client: client(),
      host: o.host,
      port: o.port,
      tls,
      auth: { enabled: cred.enabled, accessId: cred.accessId, secretKey: cred.secretKey, ttlMs: ttlMs || DEFAULT_TOKEN_TTL_MS },
      uiDir: o.uiDir,
      systemNamespace: o.systemNamespace,
      log,
    });
    return {
      service: { stop: () => srv.close() },
      ready: {
        url: srv.url,
        swagger: `${srv.url}/swagger/index.html`,
        auth: cred.enabled,
        ...(cred.file ? { credentials: cred.file } : {}),
        ...(tls && !o.tlsCert ? { caCert: join(o.dataDir, "tls.crt") } : {}),
      },
    };
  });
}
