// Test harness for the native data plane (dataplane/, docs/dataplane.md): builds the binary, starts it as a real
// process and speaks its control protocol (newline-delimited JSON over a unix socket). Tests only; the node
// agent's client lives in src/.
// eslint-disable-next-line no-restricted-imports -- tests start the real processes
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createConnection, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { inCgroupArgv } from "../../src/host/cgroup/exec.ts";

export const repo = resolve(import.meta.dirname, "../..");
export const binary = join(repo, "dataplane/build/hwameistor-dataplane");
export const MiB = 1024 * 1024;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Builds the data plane (a no-op when up to date). */
export function buildDataplane(): void {
  execFileSync("make", ["-s", "-C", join(repo, "dataplane")], { stdio: "inherit" });
}

export interface DpOptions {
  node: string;
  dir: string; // holds control socket, state dir, fuse dir
  listen: string;
  netns?: string; // run inside this network namespace (nsenter --net)
  binary?: string; // another build (the bench's side-by-side baseline); default: this checkout's
  cgroupDir?: string; // start inside this cgroup (the bench's throttled "own disk" emulation): every thread, from its first instruction
}

export interface Answer {
  ok: boolean;
  error?: { code: string; reason: string; message: string };
  [k: string]: unknown;
}

/** One data plane process and a control connection to it. */
export class Dataplane {
  proc?: ChildProcess;
  log = "";
  private sock?: Socket;
  private nextId = 1;
  private waiting = new Map<number, (a: Answer) => void>();
  events: Record<string, unknown>[] = [];
  constructor(readonly o: DpOptions) {}

  get control() {
    return join(this.o.dir, "control.sock");
  }
  get stateDir() {
    return join(this.o.dir, "state");
  }
  get fuseDir() {
    return join(this.o.dir, "fuse");
  }

  async start(): Promise<void> {
    const args = ["--node", this.o.node, "--control", this.control, "--state-dir", this.stateDir, "--listen", this.o.listen, "--fuse-dir", this.fuseDir];
    const bin = this.o.binary ?? binary;
    // sh (cgroup) and nsenter both exec, so proc.pid is the data plane's own pid (the bench reads its /proc).
    const full = this.o.netns ? ["nsenter", `--net=/run/netns/${this.o.netns}`, bin, ...args] : [bin, ...args];
    const [cmd, ...argv] = this.o.cgroupDir ? inCgroupArgv(this.o.cgroupDir, full) : full;
    this.log = ""; // this run's log only: the ready line of a previous run must not count
    const proc = spawn(cmd!, argv, { stdio: ["ignore", "ignore", "pipe"] });
    this.proc = proc;
    proc.stderr!.on("data", (d: Buffer) => (this.log = (this.log + d.toString()).slice(-50_000)));
    const t0 = Date.now();
    while (!this.log.includes("ready (control")) {
      if (proc.exitCode !== null) throw new Error(`data plane ${this.o.node} exited ${proc.exitCode}:\n${this.log}`);
      if (Date.now() - t0 > 10_000) throw new Error(`data plane ${this.o.node} not ready in 10 s:\n${this.log}`);
      await sleep(20);
    }
    await this.connect();
  }

  private connect(): Promise<void> {
    return new Promise((res, rej) => {
      const s = createConnection(this.control);
      let buf = "";
      s.on("data", (d) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const m = JSON.parse(line) as Answer & { id?: number; event?: string };
          if (m.event !== undefined && m.id === undefined) this.events.push(m);
          else this.waiting.get(m.id!)?.(m);
        }
      });
      s.once("connect", () => res());
      s.once("error", rej);
      this.sock = s;
    });
  }

  /** Sends one request, resolves its answer (ok or not). */
  call(op: string, fields: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Answer> {
    const id = this.nextId++;
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`data plane ${this.o.node}: ${op} timed out\n${this.log}`)), timeoutMs);
      this.waiting.set(id, (a) => {
        clearTimeout(t);
        this.waiting.delete(id);
        res(a);
      });
      this.sock!.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    });
  }

  /** Like call, but throws on ok:false. */
  async must(op: string, fields: Record<string, unknown> = {}): Promise<Answer> {
    const a = await this.call(op, fields);
    if (!a.ok) throw new Error(`data plane ${this.o.node}: ${op} failed: ${JSON.stringify(a.error)}`);
    return a;
  }

  async volume(name: string): Promise<Record<string, unknown> & { peers: Record<string, unknown>[] }> {
    const a = await this.must("status", { volume: name });
    return (a.volumes as (Record<string, unknown> & { peers: Record<string, unknown>[] })[])[0]!;
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    const p = this.proc;
    this.sock?.destroy();
    this.sock = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const done = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
    p.kill(signal);
    return done;
  }
}

/** Whether a FUSE mount is at dir (a dead one included). */
export function fuseMounted(dir: string): boolean {
  try {
    return execFileSync("findmnt", ["-n", "-o", "FSTYPE", "--mountpoint", dir]).toString().includes("fuse");
  } catch {
    return false;
  }
}

/** Lazily unmounts a (possibly dead) FUSE mount left at dir. */
export function cleanupFuse(dir: string): void {
  for (let i = 0; i < 4 && fuseMounted(dir); i++) {
    try {
      execFileSync("umount", ["-l", dir]);
    } catch {
      break;
    }
  }
}

/** Two network namespaces joined by one veth pair, like two nodes with their own storage IPs. */
export interface NetnsPair {
  names: [string, string];
  ips: [string, string];
  ifs: [string, string];
}

/** mtu: the veth's (default 1500, as the dev cluster's). */
export function createNetnsPair(tag: string, mtu?: number): NetnsPair {
  const id = `${tag}${process.pid % 100000}`;
  const names: [string, string] = [`hwdp-${id}-a`, `hwdp-${id}-b`];
  const ifs: [string, string] = [`dpa${process.pid % 100000}`, `dpb${process.pid % 100000}`];
  // Addresses live inside the namespaces only: another test's namespaces may use the same ones.
  const ips: [string, string] = ["10.231.7.1", "10.231.7.2"];
  const ip = (...a: string[]) => execFileSync("ip", a, { stdio: ["ignore", "ignore", "pipe"] });
  for (const n of names) ip("netns", "add", n);
  ip("link", "add", ifs[0], "netns", names[0], "type", "veth", "peer", "name", ifs[1], "netns", names[1]);
  for (const i of [0, 1] as const) {
    ip("-n", names[i], "addr", "add", `${ips[i]}/24`, "dev", ifs[i]);
    if (mtu) ip("-n", names[i], "link", "set", ifs[i], "mtu", String(mtu));
    ip("-n", names[i], "link", "set", ifs[i], "up");
    ip("-n", names[i], "link", "set", "lo", "up");
  }
  return { names, ips, ifs };
}

export function deleteNetnsPair(p: NetnsPair | undefined): void {
  for (const n of p?.names ?? []) {
    try {
      execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}

/** Polls cond every 50 ms until true or the deadline; throws with what on timeout. */
export async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
