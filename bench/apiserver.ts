// Control-plane benchmark of the embedded API server, run as its own process (as in every runtime mode):
// create rate of N LocalVolumes, list latency at N objects (JSON and Table), watch delivery latency to 10
// watchers while the creates stream in, and the server's resident memory, split into the node binary, V8's heap
// and native memory (lib/proc.ts memoryBreakdown) at rest and with the N objects.
// eslint-disable-next-line no-restricted-imports -- the benchmark starts the server as a separate process
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { DAEMON_ENV } from "../src/devcluster/processes.ts";
import { describeMemory, memoryBreakdown, reportEnv, rssOf, type MemoryBreakdown, type Rss } from "./lib/proc.ts";
import { machineFacts, metric, percentile, writeCase, type CaseResult } from "./lib/report.ts";

const repo = resolve(import.meta.dirname, "..");

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** VmRSS/VmHWM of the server (it must be alive). */
function rssBytes(pid: number): Rss {
  const r = rssOf(pid);
  if (!r) throw new Error(`apiserver (pid ${pid}) is gone`);
  return r;
}

export async function benchApiServer(opts: { quick: boolean }): Promise<CaseResult> {
  const objects = opts.quick ? 10_000 : 20_000; // the figure is 10,000; full mode doubles it
  const watchers = 10;
  const concurrency = 16;
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "hwameistor-bench-api-"));
  const port = await freePort();
  const reportDir = join(dir, "reports");
  mkdirSync(reportDir);
  const proc = spawn(join(repo, "bin/hwameistor"), ["apiserver", "--data-dir", join(dir, "data"), "--port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    // The daemons' environment as the dev cluster and the chart set it (MALLOC_ARENA_MAX).
    env: { ...process.env, ...DAEMON_ENV, ...reportEnv(reportDir) },
  });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  try {
    // Wait for readiness and the token.
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`apiserver exited ${proc.exitCode}: ${stderr}`);
      if (existsSync(join(dir, "data", "token"))) {
        const ok = await fetch(`${base}/readyz`)
          .then((r) => r.ok)
          .catch(() => false);
        if (ok) break;
      }
      if (Date.now() > deadline) throw new Error(`apiserver not ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const token = readFileSync(join(dir, "data", "token"), "utf8").trim();
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const call = async (method: string, path: string, body?: unknown, accept?: string) => {
      const r = await fetch(base + path, {
        method,
        headers: accept ? { ...headers, accept } : headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
      return text;
    };
    // Register the CRDs, as `kubectl apply -f deploy/crds/` does.
    for (const f of readdirSync(join(repo, "deploy/crds")).filter((f) => f.endsWith(".yaml"))) {
      for (const doc of parseAllDocuments(readFileSync(join(repo, "deploy/crds", f), "utf8"))) {
        const crd = doc.toJSON();
        if (crd) await call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
      }
    }
    const lvPath = "/apis/hwameistor.io/v1alpha1/localvolumes";
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(base + lvPath, { headers }).then((r) => r.ok);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const memAtRest = rssBytes(proc.pid!);
    const partsAtRest = await memoryBreakdown(proc.pid!, reportDir);

    // Watchers: each records the receive time of every ADDED event.
    const sentAt = new Map<string, number>();
    let latencies: number[] = [];
    const aborts: AbortController[] = [];
    let received = 0;
    const watchDone: Promise<void>[] = [];
    for (let w = 0; w < watchers; w++) {
      const ac = new AbortController();
      aborts.push(ac);
      const res = await fetch(`${base}${lvPath}?watch=true&allowWatchBookmarks=true&resourceVersion=0`, {
        headers,
        signal: ac.signal,
      });
      if (!res.ok || !res.body) throw new Error(`watch: ${res.status}`);
      watchDone.push(
        (async () => {
          let buf = "";
          const decoder = new TextDecoder();
          try {
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
              buf += decoder.decode(chunk, { stream: true });
              let nl: number;
              while ((nl = buf.indexOf("\n")) >= 0) {
                const line = buf.slice(0, nl);
                buf = buf.slice(nl + 1);
                if (!line.trim()) continue;
                const ev = JSON.parse(line);
                if (ev.type !== "ADDED") continue;
                const t0 = sentAt.get(ev.object.metadata.name);
                if (t0 !== undefined) latencies.push(performance.now() - t0);
                received++;
              }
            }
          } catch (e) {
            if (!ac.signal.aborted) throw e;
          }
        })(),
      );
    }

    // Creates, `concurrency` in flight.
    const createStart = performance.now();
    let next = 0;
    const createOne = async (i: number) => {
      const name = `pvc-bench-${String(i).padStart(6, "0")}`;
      const lv = {
        apiVersion: "hwameistor.io/v1alpha1",
        kind: "LocalVolume",
        metadata: { name, labels: { bench: "apiserver", shard: String(i % 10) } },
        spec: {
          poolName: "LocalStorage_PoolHDD",
          replicaNumber: 1,
          requiredCapacityBytes: 1073741824,
          accessibility: { nodes: [`node-${i % 3}`] },
          pvcName: `data-${i}`,
          pvcNamespace: "default",
        },
      };
      sentAt.set(name, performance.now());
      await call("POST", lvPath, lv);
    };
    const worker = async () => {
      while (next < objects) await createOne(next++);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const createSeconds = (performance.now() - createStart) / 1000;
    const waitUntil = Date.now() + 30_000;
    while (received < objects * watchers && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
    const bulkLatencies = latencies.sort((a, b) => a - b);
    const bulkReceived = received;

    // Steady state: one write at a time (a controller's pace), each delivered to every watcher before the next.
    latencies = [];
    const steadyWrites = opts.quick ? 500 : 2000;
    for (let i = 0; i < steadyWrites; i++) {
      const before = latencies.length;
      await createOne(objects + i);
      const until = Date.now() + 5000;
      while (latencies.length < before + watchers && Date.now() < until) await new Promise((r) => setImmediate(r));
    }
    const memUnderLoad = rssBytes(proc.pid!);

    // List latency at N objects: JSON (what controllers do) and Table (what kubectl get does).
    const timeList = async (accept?: string, query = "") => {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        const body = await call("GET", lvPath + query, undefined, accept);
        samples.push(performance.now() - t);
        if (i === 0 && !query && !accept && JSON.parse(body).items.length !== total) throw new Error("list returned a wrong count");
      }
      return samples.sort((a, b) => a - b)[2]!;
    };
    const total = objects + steadyWrites;
    const listJsonMs = await timeList();
    const listTableMs = await timeList("application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
    const listSelectorMs = await timeList(undefined, "?labelSelector=shard%3D3");
    const listPageMs = await timeList(undefined, "?limit=500");
    const memAfter = rssBytes(proc.pid!);
    const partsAfter = await memoryBreakdown(proc.pid!, reportDir);
    const split = (m: MemoryBreakdown | undefined) => (m ? describeMemory(m) : "no diagnostic report");
    for (const ac of aborts) ac.abort();
    await Promise.allSettled(watchDone);
    // Idle for 30 s with the objects stored: what of the "after" figure was garbage V8 collects (and returns)
    // once the process is quiet (its memory reducer), and what stays.
    await new Promise((r) => setTimeout(r, 30_000));
    const memIdle = rssBytes(proc.pid!);
    const partsIdle = await memoryBreakdown(proc.pid!, reportDir);

    latencies.sort((a, b) => a - b);
    const result: CaseResult = {
      case: "apiserver",
      title: "Embedded API server: create, list, watch, memory",
      mode: opts.quick ? "quick" : "full",
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      machine: machineFacts(),
      params: { objects, watchers, createConcurrency: concurrency, steadyWrites },
      metrics: [
        metric("create rate", objects / createSeconds, "objects/s"),
        metric(`list ${objects} (JSON)`, listJsonMs, "ms", "< 500", "median of 5"),
        metric(`list ${objects} (Table, kubectl get)`, listTableMs, "ms", undefined, "median of 5"),
        metric(`list with label selector (1/10 match)`, listSelectorMs, "ms", undefined, "median of 5"),
        metric(`list first page of 500`, listPageMs, "ms", undefined, "median of 5"),
        metric(
          "watch delivery p50, steady",
          percentile(latencies, 50),
          "ms",
          undefined,
          `one create at a time; request sent → event, at each of ${watchers} watchers`,
        ),
        metric("watch delivery p99, steady", percentile(latencies, 99), "ms", "< 50", `${latencies.length} deliveries`),
        metric(
          "watch delivery p50, bulk load",
          percentile(bulkLatencies, 50),
          "ms",
          undefined,
          `${concurrency} creates in flight; includes queueing in the server`,
        ),
        metric("watch delivery p99, bulk load", percentile(bulkLatencies, 99), "ms", undefined, `${bulkLatencies.length} deliveries`),
        metric("watch events received (bulk)", bulkReceived, "events", `>= ${objects * watchers}`),
        metric("server RSS at rest (CRDs only)", memAtRest.rss / 2 ** 20, "MiB", undefined, split(partsAtRest)),
        // issue 16: API server < 120 MB with 10,000 objects
        metric(`server RSS with ${total} objects, after the load`, memAfter.rss / 2 ** 20, "MiB", "< 120", split(partsAfter)),
        metric(`server RSS with ${total} objects, 30 s idle after the load`, memIdle.rss / 2 ** 20, "MiB", "< 120", split(partsIdle)),
        metric("server peak RSS", Math.max(memUnderLoad.hwm, memAfter.hwm) / 2 ** 20, "MiB", "< 250"),
      ],
    };
    return result;
  } finally {
    proc.kill("SIGTERM");
    await new Promise((r) => {
      if (proc.exitCode !== null) return r(null);
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      proc.once("exit", () => (clearTimeout(t), r(null)));
    });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchApiServer({ quick: process.argv.includes("--quick") });
  console.log(JSON.stringify(r.metrics, null, 2));
  writeCase(r);
}
