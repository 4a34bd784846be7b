// The supervisor (`hwameistor cluster supervise`, started detached by `cluster up`): starts the cluster's
// processes in order, bootstraps the API server (CRDs, the Cluster resource), restarts any process that
// exits (backoff 1 s doubling to 30 s, reset after 60 s of uptime) and logs each restart — in
// logs/supervisor.log and in the process's own log. SIGTERM stops the processes in reverse order (node
// agents together, then operator, controller, API server; SIGKILL after 10 s) and exits.
//
// A supervisor that was killed leaves its processes running; the next one adopts every process whose pid
// in cluster.json is alive with the same command line (watching it by polling, since it is not our child)
// instead of starting a second copy.

import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { sleep } from "../kube/types.ts";
import { commandLineOf, isAlive, signalProcess, startDaemon } from "../host/netns/daemon.ts";
import { netnsPath } from "../host/netns/netns.ts";
import { applyCrds, ensureClusterResource } from "./bootstrap.ts";
import { layoutOf, type Layout } from "./layout.ts";
import { REPO_ROOT, isSameProcess, processSpecs, type ProcessSpec } from "./processes.ts";
import { readState, updateState, type ClusterState } from "./state.ts";
import { join } from "node:path";

const BACKOFF_MS = [1000, 2000, 4000, 8000, 16000, 30000];
const HEALTHY_AFTER_MS = 60_000;
const STOP_GRACE_MS = 10_000;

interface Running {
  spec: ProcessSpec;
  pid: number;
  startedAt: number;
  restarts: number;
  /** Exits in a row that came before HEALTHY_AFTER_MS of uptime: picks the backoff (like the kubelet's crash loop). */
  quickExits: number;
  generation: number;
}

export const ts = (): string => new Date().toISOString();

export class Supervisor {
  private readonly l: Layout;
  private readonly state: ClusterState;
  private readonly specs: ProcessSpec[];
  private readonly running = new Map<string, Running>();
  private stopping = false;
  private readonly abort = new AbortController();

  constructor(
    stateDir: string,
    private readonly say: (line: string) => void = (line) => process.stdout.write(`${ts()} ${line}\n`),
  ) {
    this.l = layoutOf(stateDir);
    const s = readState(this.l.clusterJson);
    if (!s) throw new Error(`${this.l.clusterJson} does not exist: run \`hwameistor cluster up\``);
    this.state = s;
    this.specs = processSpecs(this.l.stateDir, s.options, s.api);
  }

  async run(): Promise<void> {
    mkdirSync(this.l.logsDir, { recursive: true });
    updateState(this.l.clusterJson, (s) => {
      s.supervisor = { pid: process.pid, startedAt: ts() };
      s.status = "starting";
    });
    this.say(`supervisor ${process.pid} starting ${this.specs.map((s) => s.name).join(", ")}`);
    for (const spec of this.specs) {
      if (this.stopping) return;
      const prev = this.state.processes[spec.name];
      await this.ensure(spec, prev?.restarts ?? 0, prev?.pid);
      if (spec.role === "apiserver") await this.bootstrap();
    }
    if (this.stopping) return;
    updateState(this.l.clusterJson, (s) => (s.status = "running"));
    this.say("all processes started");
  }

  /** Adopts the recorded process when it is still ours, else starts the spec. */
  private async ensure(spec: ProcessSpec, restarts: number, recordedPid?: number): Promise<void> {
    if (recordedPid && isAlive(recordedPid) && isSameProcess(spec, commandLineOf(recordedPid))) {
      this.say(`adopted ${spec.name} (pid ${recordedPid})`);
      const r: Running = { spec, pid: recordedPid, startedAt: Date.now(), restarts, quickExits: 0, generation: 0 };
      this.running.set(spec.name, r);
      void this.pollAdopted(r);
      return;
    }
    await this.start(spec, restarts);
  }

  private async start(spec: ProcessSpec, restarts: number, quickExits = 0): Promise<void> {
    const logOffset = existsSync(spec.logFile) ? statSync(spec.logFile).size : 0;
    const h = await startDaemon(spec.argv, {
      logFile: spec.logFile,
      cwd: REPO_ROOT,
      env: spec.env,
      nsenterNetPath: spec.netns ? netnsPath(spec.netns) : undefined,
    });
    const prev = this.running.get(spec.name);
    const r: Running = { spec, pid: h.pid, startedAt: Date.now(), restarts, quickExits, generation: (prev?.generation ?? 0) + 1 };
    this.running.set(spec.name, r);
    updateState(this.l.clusterJson, (s) => {
      s.processes[spec.name] = { ...(s.processes[spec.name] ?? { restarts: 0 }), pid: h.pid, startedAt: ts(), restarts, logOffset };
    });
    void h.exited.then((x) => this.onExit(r, x.signal ? `killed by ${x.signal}` : `exit code ${x.code}`));
  }

  private async pollAdopted(r: Running): Promise<void> {
    while (!this.stopping && this.running.get(r.spec.name) === r) {
      if (!isAlive(r.pid)) return this.onExit(r, "exited (adopted; status unknown)");
      await sleep(1000, this.abort.signal).catch(() => {});
    }
  }

  private async onExit(r: Running, how: string): Promise<void> {
    if (this.stopping || this.running.get(r.spec.name) !== r) return;
    const upMs = Date.now() - r.startedAt;
    const restarts = r.restarts + 1;
    // The backoff follows the current run of quick exits, not every restart ever: a process that was healthy for a
    // while and then dies once restarts after 1 s again.
    const quickExits = upMs > HEALTHY_AFTER_MS ? 0 : r.quickExits;
    const delay = BACKOFF_MS[Math.min(quickExits, BACKOFF_MS.length - 1)]!;
    const line = `process ${r.spec.name} (pid ${r.pid}) ${how} after ${Math.round(upMs / 1000)} s; restarting in ${delay} ms (restart #${restarts})`;
    this.say(line);
    appendFileSync(r.spec.logFile, `${ts()} [supervisor] ${line}\n`);
    updateState(this.l.clusterJson, (s) => {
      const p = (s.processes[r.spec.name] ??= { restarts: 0 });
      p.lastExit = `${ts()} ${how}`;
      p.restarts = restarts;
    });
    await sleep(delay, this.abort.signal).catch(() => {});
    if (this.stopping || this.running.get(r.spec.name) !== r) return;
    try {
      await this.start(r.spec, restarts, quickExits + 1);
      const now = this.running.get(r.spec.name)!;
      const msg = `restarted ${r.spec.name} as pid ${now.pid} (restart #${restarts})`;
      this.say(msg);
      appendFileSync(r.spec.logFile, `${ts()} [supervisor] ${msg}\n`);
    } catch (e) {
      this.say(`cannot restart ${r.spec.name}: ${(e as Error).message}`);
      void this.onExit({ ...r, restarts, quickExits: quickExits + 1 }, "could not be started");
    }
  }

  /** Waits for the API server, publishes its kubeconfig, applies the CRDs and the Cluster resource. */
  private async bootstrap(): Promise<void> {
    // Never gives up: the API server is restarted by us if it dies, and the rest is useless without it.
    const { host, port } = this.state.api;
    let warnAt = Date.now() + 60_000;
    for (;;) {
      if (this.stopping) return;
      try {
        const res = await fetch(`http://${host}:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (res.ok && existsSync(join(this.l.apiserverDir, "kubeconfig"))) {
          const src = join(this.l.apiserverDir, "kubeconfig");
          if (!existsSync(this.l.kubeconfig) || readFileSync(src, "utf8") !== readFileSync(this.l.kubeconfig, "utf8")) copyFileSync(src, this.l.kubeconfig);
          const client = new KubeClient(loadKubeConfig({ kubeconfigPath: this.l.kubeconfig }).kubeConfig, { userAgent: "hwameistor-devcluster" });
          const n = await applyCrds(client);
          await ensureClusterResource(client, this.state.options);
          this.say(`API server ready on ${host}:${port}; ${n} CRDs applied; Cluster resource present`);
          return;
        }
      } catch (e) {
        if (Date.now() > warnAt) this.say(`bootstrap not done yet: ${(e as Error).message}`);
      }
      if (Date.now() > warnAt) {
        this.say(`the API server has not answered on ${host}:${port} for a minute (see ${this.specs[0]!.logFile}); still waiting`);
        warnAt = Date.now() + 60_000;
      }
      await sleep(200);
    }
  }

  /** Stops every process in reverse start order; node agents together. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.abort.abort();
    updateState(this.l.clusterJson, (s) => (s.status = "stopping"));
    const order = [...this.specs].reverse();
    const nodes = order.filter((s) => s.role === "node");
    const rest = order.filter((s) => s.role !== "node");
    await Promise.all(nodes.map((s) => this.stopOne(s)));
    for (const s of rest) await this.stopOne(s);
    updateState(this.l.clusterJson, (s) => {
      for (const p of Object.values(s.processes)) delete p.pid;
      delete s.supervisor;
    });
    this.say("all processes stopped");
  }

  private async stopOne(spec: ProcessSpec): Promise<void> {
    const r = this.running.get(spec.name);
    const pid = r?.pid ?? this.state.processes[spec.name]?.pid;
    if (!pid || !isAlive(pid)) return;
    if (!r && !isSameProcess(spec, commandLineOf(pid))) return;
    signalProcess(pid, "SIGTERM");
    const end = Date.now() + STOP_GRACE_MS;
    while (isAlive(pid) && Date.now() < end) await sleep(100);
    if (isAlive(pid)) {
      this.say(`${spec.name} (pid ${pid}) ignored SIGTERM for ${STOP_GRACE_MS / 1000} s; SIGKILL`);
      signalProcess(pid, "SIGKILL");
    }
    this.say(`stopped ${spec.name} (pid ${pid})`);
  }
}
