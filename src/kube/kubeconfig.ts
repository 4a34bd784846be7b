// Our own kubeconfig model: what src/kube needs from a kubeconfig file or the in-cluster service account, and
// nothing more. Replaces @kubernetes/client-node's KubeConfig, whose import alone cost ~140 MiB of resident
// memory and ~2.6 s of CPU per process (docs/kube-runtime.md).
//
// Supported: clusters/users/contexts/current-context; cluster server, certificate-authority(-data),
// insecure-skip-tls-verify, tls-server-name; user token, tokenFile, client-certificate(-data),
// client-key(-data), username/password; context namespace. Relative file paths are resolved against the
// kubeconfig's directory (as kubectl does). Files (token, CA, certificate, key) are read each time the
// connection options are derived, so rotated tokens and certificates are picked up.
// Refused with an HwError naming the user/cluster entry: exec credential plugins, auth-provider, proxy-url.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { parse } from "yaml";
import { HwError } from "../api/errors.ts";

export interface KubeCluster {
  name: string;
  server: string;
  /** PEM of certificate-authority-data (decoded), preferred over caFile. */
  caData?: string;
  /** certificate-authority, absolute. */
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  /** proxy-url: not supported, refused when the cluster is used. */
  proxyUrl?: string;
}

export interface KubeUser {
  name: string;
  token?: string;
  /** tokenFile, absolute; re-read on every refresh (rotation). */
  tokenFile?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  /** Set when the entry uses an exec credential plugin (its command) — refused. */
  exec?: string;
  /** Set when the entry uses an auth-provider (its name) — refused. */
  authProvider?: string;
}

export interface KubeContext {
  name: string;
  cluster: string;
  user?: string;
  namespace?: string;
}

/** What the transport needs to reach the current cluster. */
export interface ConnectionOptions {
  server: string;
  /** For https.Agent (only meaningful for https servers). */
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean; servername?: string };
  headers: Record<string, string>;
}

export interface KubeConfigInit {
  clusters: readonly KubeCluster[];
  users: readonly KubeUser[];
  contexts: readonly KubeContext[];
  currentContext: string;
  /** Where it came from, for error messages ("/path/to/kubeconfig", "in-cluster", ...). */
  origin?: string;
}

export class KubeConfig {
  readonly clusters: readonly KubeCluster[];
  readonly users: readonly KubeUser[];
  readonly contexts: readonly KubeContext[];
  readonly currentContext: string;
  readonly origin: string;

  constructor(init: KubeConfigInit) {
    this.clusters = init.clusters;
    this.users = init.users;
    this.contexts = init.contexts;
    this.currentContext = init.currentContext;
    this.origin = init.origin ?? "kubeconfig";
  }

  /** Parses kubeconfig YAML; relative paths are resolved against `dir`. Throws HwError BadKubeconfig. */
  static fromYaml(text: string, opts: { dir?: string; origin?: string } = {}): KubeConfig {
    const origin = opts.origin ?? "kubeconfig";
    const bad = (msg: string, cause?: unknown) =>
      new HwError("INVALID_ARGUMENT", "BadKubeconfig", `${origin}: ${msg}`, { cause, hint: "fix the file or point --kubeconfig at another one" });
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (e) {
      throw bad(`not valid YAML: ${(e as Error).message}`, e);
    }
    if (doc === null || doc === undefined) doc = {};
    if (typeof doc !== "object" || Array.isArray(doc)) throw bad("not a kubeconfig (expected a mapping at the top)");
    const d = doc as Record<string, unknown>;
    const dir = opts.dir ?? process.cwd();
    const abs = (p: unknown, field: string): string | undefined => {
      const s = str(p, field);
      return s ? path.resolve(dir, s) : undefined;
    };
    const str = (v: unknown, field: string): string | undefined => {
      if (v === undefined || v === null || v === "") return undefined;
      if (typeof v !== "string") throw bad(`${field} must be a string`);
      return v;
    };
    const b64 = (v: unknown, field: string): string | undefined => {
      const s = str(v, field);
      return s === undefined ? undefined : Buffer.from(s, "base64").toString("utf8");
    };
    const list = (key: string, inner: string): Array<{ name: string; body: Record<string, unknown> }> => {
      const v = d[key];
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) throw bad(`${key} must be a list`);
      return v.map((e: unknown, i) => {
        if (!e || typeof e !== "object") throw bad(`${key}[${i}] must be a mapping`);
        const ent = e as Record<string, unknown>;
        const name = str(ent.name, `${key}[${i}].name`);
        if (!name) throw bad(`${key}[${i}] has no name`);
        const body = ent[inner] ?? {};
        if (typeof body !== "object" || Array.isArray(body)) throw bad(`${key} "${name}": ${inner} must be a mapping`);
        return { name, body: body as Record<string, unknown> };
      });
    };

    const clusters = list("clusters", "cluster").map(({ name, body: c }): KubeCluster => {
      const f = (k: string) => `cluster "${name}": ${k}`;
      return {
        name,
        server: str(c.server, f("server")) ?? "",
        caData: b64(c["certificate-authority-data"], f("certificate-authority-data")),
        caFile: abs(c["certificate-authority"], f("certificate-authority")),
        insecureSkipTlsVerify: c["insecure-skip-tls-verify"] === true || c["insecure-skip-tls-verify"] === "true",
        tlsServerName: str(c["tls-server-name"], f("tls-server-name")),
        proxyUrl: str(c["proxy-url"], f("proxy-url")),
      };
    });
    const users = list("users", "user").map(({ name, body: u }): KubeUser => {
      const f = (k: string) => `user "${name}": ${k}`;
      const exec = u.exec as Record<string, unknown> | undefined;
      const ap = u["auth-provider"] as Record<string, unknown> | undefined;
      return {
        name,
        token: str(u.token, f("token")),
        tokenFile: abs(u.tokenFile, f("tokenFile")),
        certData: b64(u["client-certificate-data"], f("client-certificate-data")),
        certFile: abs(u["client-certificate"], f("client-certificate")),
        keyData: b64(u["client-key-data"], f("client-key-data")),
        keyFile: abs(u["client-key"], f("client-key")),
        username: str(u.username, f("username")),
        password: str(u.password, f("password")),
        exec: exec ? String(exec.command ?? "(no command)") : undefined,
        authProvider: ap ? String(ap.name ?? "(unnamed)") : undefined,
      };
    });
    const contexts = list("contexts", "context").map(({ name, body: c }): KubeContext => ({
      name,
      cluster: str(c.cluster, `context "${name}": cluster`) ?? "",
      user: str(c.user, `context "${name}": user`),
      namespace: str(c.namespace, `context "${name}": namespace`)?.trim() || undefined,
    }));
    return new KubeConfig({ clusters, users, contexts, currentContext: str(d["current-context"], "current-context") ?? "", origin });
  }

  /** Reads and parses a kubeconfig file (relative paths inside it resolve against its directory). */
  static fromFile(file: string): KubeConfig {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw new HwError("INVALID_ARGUMENT", "BadKubeconfig", `kubeconfig ${file} cannot be read: ${(e as Error).message}`, { cause: e });
    }
    return KubeConfig.fromYaml(text, { dir: path.dirname(path.resolve(file)), origin: file });
  }

  /**
   * The in-cluster service account: https://KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT (IPv6 in brackets),
   * its CA, its token file (re-read on refresh, so projected-token rotation works) and namespace file.
   */
  static inCluster(host: string, port: string, saDir: string): KubeConfig {
    const h = net.isIPv6(host) ? `[${host}]` : host;
    let namespace: string | undefined;
    try {
      namespace = fs.readFileSync(path.join(saDir, "namespace"), "utf8").trim() || undefined;
    } catch {
      /* no namespace file: "default" */
    }
    const caFile = path.join(saDir, "ca.crt");
    return new KubeConfig({
      clusters: [{ name: "in-cluster", server: `https://${h}:${port}`, caFile: fs.existsSync(caFile) ? caFile : undefined }],
      users: [{ name: "in-cluster", tokenFile: path.join(saDir, "token") }],
      contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "in-cluster", namespace }],
      currentContext: "in-cluster",
      origin: "in-cluster",
    });
  }

  getContextObject(name: string): KubeContext | undefined {
    return this.contexts.find((c) => c.name === name);
  }

  getCurrentContext(): string {
    return this.currentContext;
  }

  getCurrentCluster(): KubeCluster | undefined {
    const ctx = this.getContextObject(this.currentContext);
    return ctx ? this.clusters.find((c) => c.name === ctx.cluster) : undefined;
  }

  getCurrentUser(): KubeUser | undefined {
    const ctx = this.getContextObject(this.currentContext);
    return ctx?.user ? this.users.find((u) => u.name === ctx.user) : undefined;
  }

  /** The same configuration with another current context (must exist: NoSuchContext otherwise). */
  withContext(name: string): KubeConfig {
    if (!this.getContextObject(name)) {
      throw new HwError("INVALID_ARGUMENT", "NoSuchContext", `kubeconfig ${this.origin} has no context "${name}"`);
    }
    return new KubeConfig({ ...this, currentContext: name });
  }

  /** Throws the HwError a connection would: unsupported auth (exec, auth-provider) or proxy, no cluster. */
  validate(): KubeCluster {
    const ctx = this.getContextObject(this.currentContext);
    if (!ctx) {
      throw new HwError(
        "INVALID_ARGUMENT",
        "BadKubeconfig",
        this.currentContext
          ? `kubeconfig ${this.origin}: current-context "${this.currentContext}" is not among its contexts`
          : `kubeconfig ${this.origin} has no current-context`,
        { hint: "set current-context, or pass --context" },
      );
    }
    const cluster = this.getCurrentCluster();
    if (!cluster?.server) {
      throw new HwError("INVALID_ARGUMENT", "BadKubeconfig", `kubeconfig ${this.origin}: context "${ctx.name}" has no cluster with a server`, {
        hint: "set current-context, or pass --context",
      });
    }
    if (cluster.proxyUrl) {
      throw new HwError(
        "UNIMPLEMENTED",
        "UnsupportedKubeconfig",
        `kubeconfig ${this.origin}: cluster "${cluster.name}" uses proxy-url, which hwameistor does not support`,
        {
          hint: "remove proxy-url and reach the API server directly",
        },
      );
    }
    const user = this.getCurrentUser();
    const how = user?.exec ? `an exec credential plugin (${user.exec})` : user?.authProvider ? `auth-provider "${user.authProvider}"` : undefined;
    if (user && how) {
      throw new HwError(
        "UNIMPLEMENTED",
        "UnsupportedKubeconfig",
        `kubeconfig ${this.origin}: user "${user.name}" uses ${how}, which hwameistor does not support`,
        {
          hint: "give that user a token (token or tokenFile) or a client certificate (client-certificate/client-key), e.g. a ServiceAccount token",
        },
      );
    }
    return cluster;
  }

  /** TLS options and auth headers for the current context; reads the token/CA/certificate files now. */
  connectionOptions(): ConnectionOptions {
    const cluster = this.validate();
    const user = this.getCurrentUser();
    const read = (file: string, what: string): string => {
      try {
        return fs.readFileSync(file, "utf8");
      } catch (e) {
        throw new HwError("INVALID_ARGUMENT", "BadKubeconfig", `kubeconfig ${this.origin}: ${what} ${file} cannot be read: ${(e as Error).message}`, {
          cause: e,
        });
      }
    };
    const tls: ConnectionOptions["tls"] = { rejectUnauthorized: !cluster.insecureSkipTlsVerify };
    const ca = cluster.caData ?? (cluster.caFile ? read(cluster.caFile, `cluster "${cluster.name}" certificate-authority`) : undefined);
    if (ca?.trim() && !cluster.insecureSkipTlsVerify) tls.ca = ca;
    if (cluster.tlsServerName) tls.servername = cluster.tlsServerName;
    const headers: Record<string, string> = {};
    if (user) {
      const cert = user.certData ?? (user.certFile ? read(user.certFile, `user "${user.name}" client-certificate`) : undefined);
      const key = user.keyData ?? (user.keyFile ? read(user.keyFile, `user "${user.name}" client-key`) : undefined);
      if (cert) tls.cert = cert;
      if (key) tls.key = key;
      const token = user.token ?? (user.tokenFile ? read(user.tokenFile, `user "${user.name}" tokenFile`).trim() : undefined);
      if (token) headers.Authorization = `Bearer ${token}`;
      else if (user.username !== undefined || user.password !== undefined) {
        headers.Authorization = "Basic " + Buffer.from(`${user.username ?? ""}:${user.password ?? ""}`).toString("base64");
      }
    }
    return { server: cluster.server.replace(/\/+$/, ""), tls, headers };
  }
}

/** A KubeConfig for a server URL and bearer token (what the embedded API server hands out). */
export function kubeConfigForServer(server: string, token?: string, opts: { insecure?: boolean; namespace?: string } = {}): KubeConfig {
  return new KubeConfig({
    clusters: [{ name: "hwameistor", server, insecureSkipTlsVerify: opts.insecure ?? server.startsWith("http:") }],
    users: [{ name: "hwameistor", ...(token ? { token } : {}) }],
    contexts: [{ name: "hwameistor", cluster: "hwameistor", user: "hwameistor", namespace: opts.namespace }],
    currentContext: "hwameistor",
    origin: server,
  });
}
