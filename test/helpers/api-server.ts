// Test helper (integration tests only): the real embedded API server in a temp dir, restartable on the
// same data dir and port. Imported dynamically so the kube tests still load while src/apiserver is being
// written; `loadServer()` resolves undefined (and tests skip) when it cannot be imported.

import fs from "node:fs";
import { after, before } from "node:test";
import os from "node:os";
import path from "node:path";
import { toCrd } from "../../src/api/crd.ts";
import { kindDefinitions } from "../../src/api/kinds/index.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeConfig } from "../../src/kube/config.ts";
import { CRD } from "../../src/kube/resources.ts";
import type { KubeObject } from "../../src/kube/types.ts";

type StartFn = (
  opts: { dataDir: string; host?: string; port?: number; token?: string },
  tuning?: Record<string, unknown>,
) => Promise<{
  url: string;
  token: string;
  kubeconfigPath: string;
  close(): Promise<void>;
}>;

export const SERVER_UNAVAILABLE = "embedded API server not yet available";

export async function loadServer(): Promise<StartFn | undefined> {
  try {
    const mod = (await import("../../src/apiserver/server.ts")) as { startApiServer?: StartFn };
    return mod.startApiServer;
  } catch {
    return undefined;
  }
}

/**
 * The embedded API server of one test file: started before its tests, disposed after them, handed to `use`.
 * Returns the tests' `skip` option: the reason when the server cannot be loaded, else false.
 */
export async function withTestServer(use: (s: TestServer) => void): Promise<string | false> {
  const start = await loadServer();
  let srv: TestServer | undefined;
  before(async () => {
    if (start) use((srv = await new TestServer(start).up()));
  });
  after(async () => {
    await srv?.dispose();
  });
  return start ? false : SERVER_UNAVAILABLE;
}

export class TestServer {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-int-"));
  url = "";
  port = 0;
  kubeconfigPath = "";
  client!: KubeClient;
  private running?: { close(): Promise<void> };

  constructor(
    private readonly start: StartFn,
    private readonly tuning: Record<string, unknown> = {},
  ) {}

  /** Starts (or restarts on the same data dir and port). */
  async up(): Promise<this> {
    const s = await this.start({ dataDir: this.dir, port: this.port, host: "127.0.0.1" }, this.tuning);
    this.running = s;
    this.url = s.url;
    this.port = Number(new URL(s.url).port);
    this.kubeconfigPath = s.kubeconfigPath;
    this.client ??= new KubeClient(loadKubeConfig({ kubeconfigPath: s.kubeconfigPath }).kubeConfig);
    return this;
  }

  async down(): Promise<void> {
    const r = this.running;
    this.running = undefined;
    await r?.close();
  }

  /** Stops the server and removes its data dir. */
  async dispose(): Promise<void> {
    await this.down().catch(() => {});
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Another, independent server (own data dir and port). */
  another(): Promise<TestServer> {
    return new TestServer(this.start, this.tuning).up();
  }

  /** A fresh client (own connection pool) for the same server. */
  newClient(): KubeClient {
    return new KubeClient(loadKubeConfig({ kubeconfigPath: this.kubeconfigPath }).kubeConfig);
  }
}

/** Polls `cond` every 20 ms until true or timeoutMs (then throws with `what`). */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Creates the CRD of every kind (missing ones only) and waits until the server serves them. */
export async function applyKindCrds(client: KubeClient): Promise<void> {
  const crds = client.forKind(CRD);
  for (const def of kindDefinitions) {
    const crd = toCrd(def) as KubeObject;
    if (!(await crds.get(crd.metadata!.name!))) await crds.create(crd);
  }
  const first = client.forKind(kindDefinitions[0]!);
  await waitFor(
    "CRDs served",
    async () =>
      first.list().then(
        () => true,
        () => false,
      ),
    10_000,
  );
}

/** A started embedded API server serving every kind's CRD (for integration tests that cannot run without one). */
export async function startServerWithCrds(): Promise<TestServer> {
  const start = await loadServer();
  if (!start) throw new Error(SERVER_UNAVAILABLE);
  const srv = await new TestServer(start).up();
  await applyKindCrds(srv.client);
  return srv;
}

/**
 * The embedded API server with every kind's CRD for one test file (or `describe`): started before its tests
 * and handed to `use`; after them, the returned stop functions run (last added first, failures ignored) and the
 * server is disposed. Register processes and controllers a test starts in the returned array.
 */
export function useServerWithCrds(use: (s: TestServer) => void | Promise<void>): Array<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  let srv: TestServer | undefined;
  before(async () => {
    srv = await startServerWithCrds();
    await use(srv);
  });
  after(async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    await srv?.dispose();
  });
  return stops;
}
