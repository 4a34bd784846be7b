// PostgreSQL as a pod, for end-to-end tests: the README's StatefulSet (deploy/examples/postgres-statefulset.yaml,
// the host's PostgreSQL 15 binaries run as the pod's process) under another name, port and class, and psql
// against it. Meant to be reused by tests that need a database on a HwameiStor volume (migration, failover).
// eslint-disable-next-line no-restricted-imports -- tests run the real psql
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { waitFor } from "./test-cluster.ts";

const repo = resolve(import.meta.dirname, "../..");
export const POSTGRES_EXAMPLE = join(repo, "deploy/examples/postgres-statefulset.yaml");
export const PSQL = "/usr/bin/psql";
/** The client binary itself (Debian's /usr/bin/psql is a perl wrapper: slower to start, for every transaction). */
export const PSQL_BIN = "/usr/lib/postgresql/15/bin/psql";

/** Why PostgreSQL tests cannot run here, or false. */
export const postgresMissing = (): string | false =>
  !existsSync("/usr/lib/postgresql/15/bin/postgres") || !existsSync(PSQL) ? "needs PostgreSQL 15 (apt-get install postgresql)" : false;

export interface PostgresOptions {
  /** StatefulSet name (pods `<name>-0`, claim `data-<name>-0`). */
  name: string;
  port: number;
  storageClassName?: string;
  size?: string;
}

/** The README's StatefulSet, renamed and on another port (JSON, for `kubectl apply -f -`). */
export function postgresStatefulSet(o: PostgresOptions): string {
  const sts = parse(readFileSync(POSTGRES_EXAMPLE, "utf8"));
  sts.metadata.name = o.name;
  sts.spec.serviceName = o.name;
  sts.spec.selector.matchLabels = { app: o.name };
  sts.spec.template.metadata.labels = { app: o.name };
  const c = sts.spec.template.spec.containers[0];
  const script: string = c.command[2];
  if (!script.includes("-p 5433")) throw new Error(`${POSTGRES_EXAMPLE}: the command no longer sets -p 5433; update test/helpers/postgres.ts`);
  c.command[2] = script.replace("-p 5433", `-p ${o.port}`); // its unix socket is /tmp/.s.PGSQL.<port>: unique too
  const probe: string[] | undefined = c.readinessProbe?.exec?.command;
  if (!probe?.includes("5433")) throw new Error(`${POSTGRES_EXAMPLE}: the readiness probe no longer names port 5433; update test/helpers/postgres.ts`);
  c.readinessProbe.exec.command = probe.map((a) => (a === "5433" ? String(o.port) : a));
  const t = sts.spec.volumeClaimTemplates[0];
  if (o.storageClassName) t.spec.storageClassName = o.storageClassName;
  if (o.size) t.spec.resources.requests.storage = o.size;
  return JSON.stringify(sts);
}

/** A TCP port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/**
 * psql -At -c sql; rejects with psql's stderr. `netns`: run it in that network namespace — with `cluster up
 * --netns` a pod shares its node's namespace, so its 127.0.0.1 is reachable only from there.
 */
export function psql(port: number, sql: string, timeoutMs = 20_000, netns?: string): Promise<string> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql];
  const [file, argv] = netns ? ["nsenter", [`--net=/run/netns/${netns}`, PSQL_BIN, ...args]] : [PSQL, args];
  return new Promise((res, rej) => {
    execFile(file, argv, { timeout: timeoutMs, env: { ...process.env, PGCONNECT_TIMEOUT: "5" } }, (err, stdout, stderr) =>
      err ? rej(new Error(`psql -p ${port}${netns ? ` (netns ${netns})` : ""} -c ${JSON.stringify(sql)}: ${stderr || err.message}`)) : res(stdout.trim()),
    );
  });
}

/** Until the server on `port` answers a query (a started container is not yet a server accepting connections). */
export const waitForPostgres = (port: number, timeoutMs = 90_000, netns?: () => Promise<string | undefined>): Promise<void> =>
  waitFor(`PostgreSQL on 127.0.0.1:${port} answering`, async () => (await psql(port, "select 1", 5000, await netns?.())) === "1", timeoutMs, 500);

export interface PostgresPod {
  name: string;
  port: number;
  /** `<name>-0`. */
  pod: string;
  /** The network namespace psql must run in now (the pod's node's), or undefined (the host's). */
  netns(): Promise<string | undefined>;
  /** `data-<name>-0`. */
  claim: string;
  query(sql: string): Promise<string>;
  /** Deletes the StatefulSet and its claim, and waits until the pod and the claim are gone. */
  remove(): Promise<void>;
}

/**
 * Applies the README's StatefulSet as `name` on a free port with the real kubectl (`k` from
 * test/helpers/kubectl.ts) and waits until the server answers queries.
 */
export async function startPostgres(
  k: { ok(args: string[], input?: string): Promise<string>; run(args: string[]): Promise<{ code: number; stdout: string }> },
  o: Omit<PostgresOptions, "port"> & { port?: number; timeoutMs?: number; netnsOf?: (node: string) => string },
): Promise<PostgresPod> {
  const port = o.port ?? (await freePort());
  await k.ok(["apply", "-f", "-"], postgresStatefulSet({ ...o, port }));
  const pod = `${o.name}-0`;
  const claim = `data-${o.name}-0`;
  // A dev cluster with --netns: the namespace of the node the pod is bound to now (it moves with the pod).
  const netns = async () => {
    if (!o.netnsOf) return undefined;
    const node = (await k.run(["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"])).stdout.trim();
    if (!node) throw new Error(`${pod} is not bound to a node`);
    return o.netnsOf(node);
  };
  await waitForPostgres(port, o.timeoutMs ?? 180_000, netns);
  return {
    name: o.name,
    port,
    pod,
    netns,
    claim,
    query: async (sql) => psql(port, sql, 20_000, await netns()),
    remove: async () => {
      await k.ok(["delete", "statefulset", o.name, "--ignore-not-found"]);
      await k.ok(["delete", "pvc", claim, "--ignore-not-found", "--wait=false"]);
      await waitFor(
        `${pod} and ${claim} gone`,
        async () => (await k.run(["get", "pod", pod])).code !== 0 && (await k.run(["get", "pvc", claim])).code !== 0,
        120_000,
      );
    },
  };
}
