// A dev cluster (`hwameistor cluster up`, the sources run through tsx) for end-to-end tests of workloads:
// the real kubectl against it, its processes by name (cluster.json), `kill -9` of one of them and the wait
// for the supervisor's restart, and what of the cluster is on the host (container processes, kubelet mounts,
// loop devices) to assert that nothing leaked. `down()` runs `cluster down --purge` and reports what was
// left; call it from `after` so a failing test cleans up too.
// eslint-disable-next-line no-restricted-imports -- tests run the real binaries
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, watch } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { commandLineOf, isAlive } from "../../src/host/netns/daemon.ts";
import { findContainerProcesses } from "../../src/host/container/container.ts";
import { listLoops, type LoopDevice } from "../../src/host/loop/loop.ts";
import { listMounts, type MountInfo } from "../../src/host/mount/mount.ts";
import { netnsPrefix } from "../../src/devcluster/layout.ts";
import { kubectlRunner } from "./kubectl.ts";

const repo = resolve(import.meta.dirname, "../..");

export interface ClusterProcess {
  pid?: number;
  restarts?: number;
}

export interface TestCluster {
  dir: string;
  state: string;
  kubeconfig: string;
  k: ReturnType<typeof kubectlRunner>;
  /** `bin/hwameistor args` with this cluster's environment. */
  hw(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  processes(): Record<string, ClusterProcess>;
  /** SIGKILL to the cluster's process `name` (only if its pid is alive and runs from this state dir). */
  kill(name: string): ClusterProcess & { killed: boolean };
  /**
   * kill -9 of everything of `node`, as if the machine died: the supervisor first (so nothing is restarted — the
   * cluster keeps running without it), then the node agent, its data plane, and its pods' processes (each
   * container shim with all its descendants). The dead data plane's FUSE mount is then detached lazily, as a
   * dead machine's mounts vanish: left in place it answers ENOTCONN, and mkfs.btrfs anywhere on this host
   * refuses to run while any mount point cannot be stat'ed. Answers the pids killed.
   */
  killNode(node: string): Promise<number[]>;
  /** Until the supervisor has restarted `name` after `before` (a value kill() returned). */
  restarted(name: string, before: ClusterProcess, timeoutMs?: number): Promise<void>;
  /** The network namespace of `node` (clusters started with `--netns`). */
  netns(node: string): string;
  /** `cluster down --purge`; answers the loop devices and mounts of the cluster still there afterwards. */
  down(): Promise<{ loops: LoopDevice[]; mounts: MountInfo[]; stderr: string }>;
}

export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 90_000, everyMs = 300): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(cond)
      .catch(() => false))
  ) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `args`: more `cluster up` flags (e.g. `--netns`). */
export async function startTestCluster(o: { prefix: string; nodes: number; args?: string[] }): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), `hw-${o.prefix}-`));
  const state = join(dir, "state");
  const kubeconfig = join(state, "kubeconfig");
  const hw = (args: string[], timeoutMs = 300_000) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
      execFile(
        join(repo, "bin", "hwameistor"),
        args,
        { cwd: repo, timeout: timeoutMs, maxBuffer: 32 * 2 ** 20, env: { ...process.env, HWAMEISTOR_TSX: "1" } },
        (err, stdout, stderr) => res({ code: err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0, stdout, stderr }),
      );
    });
  const processes = () => JSON.parse(readFileSync(join(state, "cluster.json"), "utf8")).processes as Record<string, ClusterProcess>;
  const ours = (pid: number | undefined) => !!pid && isAlive(pid) && commandLineOf(pid).some((a) => a.includes(state));
  const cluster: TestCluster = {
    dir,
    state,
    kubeconfig,
    k: kubectlRunner(kubeconfig, { HOME: dir }),
    hw,
    processes,
    netns: (node) => `${netnsPrefix(state)}${node}`,
    kill(name) {
      const p = processes()[name];
      if (!p) throw new Error(`the cluster has no process ${name}`);
      if (!ours(p.pid)) return { ...p, killed: false };
      process.kill(p.pid!, "SIGKILL");
      return { ...p, killed: true };
    },
    async killNode(node) {
      const sup = JSON.parse(readFileSync(join(state, "cluster.json"), "utf8")).supervisor?.pid as number | undefined;
      if (sup && isAlive(sup) && commandLineOf(sup).some((a) => a.includes(state))) process.kill(sup, "SIGKILL");
      const pids = [node, `${node}-dataplane`].map((n) => processes()[n]?.pid).filter((p): p is number => ours(p));
      for (const shim of findContainerProcesses(join(state, "nodes", node, "kubelet") + "/")) pids.push(...withDescendants(shim.pid));
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
      const fuse = join(state, "nodes", node, "fuse");
      if ((await listMounts()).some((m) => m.target === fuse))
        await new Promise<void>((res, rej) =>
          execFile("umount", ["-l", "--", fuse], (err, _o, stderr) => (err ? rej(new Error(`umount -l ${fuse}: ${stderr}`)) : res())),
        );
      return pids;
    },
    async restarted(name, before, timeoutMs = 90_000) {
      await waitFor(
        `${name} restarted by the supervisor`,
        () => {
          const p = processes()[name];
          return !!p && (p.restarts ?? 0) > (before.restarts ?? 0) && p.pid !== before.pid && ours(p.pid);
        },
        timeoutMs,
      );
    },
    async down() {
      let stderr = "";
      if (existsSync(state)) {
        const r = await hw(["cluster", "down", "--purge", "--state-dir", state]);
        stderr = r.code === 0 ? "" : r.stderr;
      }
      const loops = (await listLoops()).filter((l) => l.backFile.startsWith(dir + "/"));
      const mounts = (await listMounts()).filter((m) => m.target.startsWith(dir + "/"));
      await rm(dir, { recursive: true, force: true });
      return { loops, mounts, stderr };
    },
  };
  const up = await hw(["cluster", "up", "--state-dir", state, "--nodes", String(o.nodes), ...testFileFsArgs(), ...(o.args ?? [])]);
  if (up.code !== 0) {
    await cluster.down().catch(() => undefined);
    throw new Error(`cluster up exited ${up.code}: ${up.stderr}`);
  }
  return cluster;
}

/** `pid` and every process below it (from /proc/<pid>/stat's parent pid). */
function withDescendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after its last ")"
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

/** What of a cluster runs or is mounted on the host: container shims, kubelet mounts, loop devices. */
export async function hostObjects(state: string): Promise<{ containers: number[]; kubeletMounts: string[]; loops: string[] }> {
  return {
    containers: findContainerProcesses(`${state}/`).map((c) => c.pid),
    kubeletMounts: (await listMounts()).filter((m) => m.target.startsWith(state + "/") && m.target.includes("/kubelet/")).map((m) => m.target),
    loops: (await listLoops()).filter((l) => l.backFile.startsWith(state + "/")).map((l) => l.backFile),
  };
}

/**
 * Native processes of the cluster that nothing supervises: a `hwameistor-copy` (migration copier) holding a file of
 * this cluster or one of its loop devices open — a copy outliving its stream — and a `hwameistor-dataplane` of this
 * state dir whose pid is not the one cluster.json records. Other clusters' copiers on this machine hold only their
 * own files, so they are not counted. Each as "pid: command line".
 */
export async function strayNativeProcesses(c: TestCluster): Promise<string[]> {
  const loops = new Map((await listLoops()).map((l) => [l.name, l.backFile]));
  const ours = (target: string) => target.startsWith(c.dir + "/") || (loops.get(target) ?? "").startsWith(c.dir + "/");
  const supervised = new Set(Object.values(c.processes()).map((p) => p.pid));
  const out: string[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const argv = commandLineOf(Number(e));
    const bin = basename(argv[0] ?? "");
    let stray = false;
    if (bin === "hwameistor-copy") {
      try {
        stray = readdirSync(`/proc/${e}/fd`).some((fd) => {
          try {
            return ours(readlinkSync(`/proc/${e}/fd/${fd}`));
          } catch {
            return false; // closed meanwhile
          }
        });
      } catch {
        // exited meanwhile
      }
    } else if (bin === "hwameistor-dataplane") stray = argv.some((a) => a.includes(c.state)) && !supervised.has(Number(e));
    if (stray) out.push(`${e}: ${argv.join(" ")}`);
  }
  return out;
}

/**
 * `kubectl get <resource> -A -w`, one line per object and event, printed as `fields` (JSONPath expressions) and
 * handed to `onLine` split. The first lines are the objects as they are, then every change, in the order the API
 * server made them. kubectl is stopped by `stop()`; `ended()` says whether it exited by itself before (the server
 * closed the watch: changes after that were not seen).
 */
export interface FieldWatch {
  /** Resolves once kubectl's watch request is answered: from then on no change is missed. */
  ready: Promise<void>;
  stop(): void;
  ended(): boolean;
  output(): string;
}

export function watchFields(c: TestCluster, label: string, resource: string, fields: string[], onLine: (f: string[], line: string) => void): FieldWatch {
  // "|" between fields: kubectl's watch output goes through a tabwriter, which turns tabs into spaces.
  const jsonpath = `jsonpath=${fields.join("|")}{"\\n"}`;
  // -v=6 logs each request with its status: "…?…watch=true 200 OK" says the watch is established, so an
  // action started after `ready` cannot slip by unseen (under load kubectl takes seconds to get there).
  const w = c.k.start(["get", resource, "-A", "-w", "-o", jsonpath, "-v=6"]);
  const ready = new Promise<void>((res, rej) => {
    let err = "";
    const t = setTimeout(() => rej(new Error(`${label}: kubectl's watch not established in 60 s: ${err.slice(-800)}`)), 60_000);
    w.child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (/watch=true\S* 200 OK/.test(err)) {
        clearTimeout(t);
        res();
      }
    });
  });
  ready.catch(() => undefined);
  let stopped = false;
  let exitedEarly = false;
  w.child.on("exit", () => (exitedEarly ||= !stopped));
  let buf = "";
  w.child.stdout!.on("data", (d: Buffer) => {
    if (stopped) return;
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const line of lines)
      if (!stopped)
        onLine(
          line.split("|").map((x) => x.trim()),
          line,
        );
  });
  return {
    ready,
    output: w.output,
    ended: () => exitedEarly,
    stop() {
      stopped = true;
      if (w.child.exitCode === null) w.child.kill("SIGTERM");
    },
  };
}

/**
 * A kill point: a watch of `resource` printing `fields`; the first line for which `victim` answers a process name
 * gets that process killed -9 — at once, so the kill lands while the components are still reacting to that very
 * change — and then waits for the supervisor's restart.
 */
export interface KillPoint {
  /** Shown in failures: "controller when the LocalVolume appears". */
  label: string;
  resource: string;
  fields: string[];
  /** The process to kill for this line (several: killed together, back to back), or undefined to keep watching. */
  victim: (f: string[]) => string | string[] | undefined;
  /**
   * Run right after the kill, before the restart: what the kill found (added to `done`'s message); throws when the
   * kill did not land where it was meant to (e.g. the phase it aimed at had already passed).
   */
  check?: () => Promise<string>;
}

export interface ArmedKill {
  label: string;
  /** Resolves once kubectl's watch request is answered: from then on no change is missed. */
  ready: Promise<void>;
  /** Resolves once the process was killed and restarted; rejects if the point never came. */
  done: Promise<string>;
  /** "pending", or what `done` resolved or rejected with (for failure messages). */
  status(): string;
  /** Whether the kill was sent: true from the instant of the kill, before `done` (which waits for the restart). */
  fired(): boolean;
  stop(): void;
}

/** What fires a kill: calls `fire(process, what happened)` on the event that should kill it. */
interface Trigger {
  ready: Promise<void>;
  stop(): void;
  output(): string;
}

/** The first `fire` kills its process(es) -9, runs `check`, then waits for the supervisor's restart(s). */
function armTrigger(
  c: TestCluster,
  label: string,
  start: (fire: (name: string | string[], what: string) => void) => Trigger,
  check: (() => Promise<string>) | undefined,
  timeoutMs: number,
): ArmedKill {
  let fired = false;
  let resolve!: (m: string) => void;
  let reject!: (e: Error) => void;
  const done = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
  const t = start((names, what) => {
    if (fired) return;
    fired = true;
    t.stop();
    clearTimeout(timer);
    const victims = typeof names === "string" ? [names] : names;
    const before = victims.map((name) => ({ name, p: c.kill(name) }));
    const missed = before.filter((b) => !b.p.killed).map((b) => b.name);
    if (missed.length) return reject(new Error(`${label}: ${missed.join(", ")} not running at the kill point (still restarting from an earlier kill?)`));
    (check?.() ?? Promise.resolve(""))
      .then(async (found) => {
        for (const b of before) await c.restarted(b.name, b.p);
        resolve(`${label}: killed ${before.map((b) => `${b.name} (pid ${b.p.pid})`).join(" and ")} ${what}${found ? `; ${found}` : ""}`);
      })
      .catch(reject);
  });
  const timer = setTimeout(() => {
    t.stop();
    reject(new Error(`kill point never reached: ${label} (${t.output().slice(-800)})`));
  }, timeoutMs);
  let status = `pending: ${label}`;
  done.then(
    (m) => (status = `done: ${m}`),
    (e: Error) => (status = `failed: ${e.message}`),
  );
  return { label, ready: t.ready, done, stop: t.stop, status: () => status, fired: () => fired };
}

/** Starts watching for `kp` (call before the action that reaches it). */
export function armKill(c: TestCluster, kp: KillPoint, timeoutMs = 120_000): ArmedKill {
  const start = (fire: (name: string | string[], what: string) => void): Trigger => {
    const w = watchFields(c, kp.label, kp.resource, kp.fields, (f, line) => {
      const name = kp.victim(f);
      if (name) fire(name, `on "${line}"`);
    });
    return { ready: w.ready, stop: w.stop, output: () => `watch output: ${w.output()}` };
  };
  return armTrigger(c, kp.label, start, kp.check, timeoutMs);
}

/**
 * A kill point on the filesystem: `victim` is killed -9 the moment a file whose name `match`es appears in one of
 * `dirs` (inotify) — e.g. a node agent half-way through making a replica's file.
 */
export function armFileKill(
  c: TestCluster,
  o: { label: string; dirs: string[]; match: (file: string) => boolean; victim: string; check?: () => Promise<string> },
  timeoutMs = 120_000,
): ArmedKill {
  const start = (fire: (name: string | string[], what: string) => void): Trigger => {
    const ws = o.dirs.map((d) =>
      watch(d, (_event, f) => {
        if (f && o.match(f.toString())) fire(o.victim, `when ${join(d, f.toString())} appeared`);
      }),
    );
    return { ready: Promise.resolve(), stop: () => ws.forEach((w) => w.close()), output: () => `watching ${o.dirs.join(", ") || "no directory"}` };
  };
  return armTrigger(c, o.label, start, o.check, timeoutMs);
}

/** The warnings and errors of the cluster's process logs (pino JSON lines, level ≥ 40), last `n` per process. */
export function logProblems(state: string, processes: string[], n = 8): string {
  return processes
    .map((name) => {
      const file = join(state, "logs", `${name}.log`);
      if (!existsSync(file)) return `--- ${name}: no log`;
      const lines = readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => /"level":(4|5|6)0/.test(l) || l.includes("[supervisor]"));
      return `--- ${name}:\n${lines
        .slice(-n)
        .map((l) => l.slice(0, 400))
        .join("\n")}`;
    })
    .join("\n");
}

/** HWAMEISTOR_TEST_FILE_FS=xfs runs a test's node agents on the file engine's one-XFS-per-disk pools (`--file-fs`). */
export function testFileFsArgs(): string[] {
  return process.env.HWAMEISTOR_TEST_FILE_FS ? ["--file-fs", process.env.HWAMEISTOR_TEST_FILE_FS] : [];
}
