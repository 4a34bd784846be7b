// `hwameistor cluster down`: stop the supervisor (which stops its processes in reverse order), kill any
// process of ours it left behind, unmount everything mounted under the state dir or from its loop devices,
// detach every loop device backed by a file in the state dir, delete the network namespaces and sockets.
// `--purge` also deletes the state dir (disk files, the API server's data). Works without cluster.json
// (a crashed `up`): then it finds loops, mounts and namespaces by the state dir alone.

import { existsSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { findContainerProcesses, killContainer } from "../host/container/container.ts";
import { commandLineOf, isAlive, signalProcess } from "../host/netns/daemon.ts";
import { sleep } from "../kube/types.ts";
import { loopsOf, teardownMountsAndLoops } from "./disks.ts";
import { listLoops, type LoopDevice } from "../host/loop/loop.ts";
import { layoutOf, networkPlan, nodeNames } from "./layout.ts";
import { teardownNetwork } from "./network.ts";
import { isSameProcess, processSpecs } from "./processes.ts";
import { readState, updateState } from "./state.ts";
import { supervisorAlive } from "./up.ts";

export interface DownResult {
  stateDir: string;
  stopped: string[];
  unmounted: string[];
  detached: string[];
  network: string[];
  sockets: string[];
  purged: boolean;
  /** What could not be removed (each names the object). */
  left: string[];
}

async function waitGone(pids: number[], ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (pids.some(isAlive) && Date.now() < end) await sleep(100);
}

export async function clusterDown(o: { stateDir: string; purge?: boolean; progress?: (l: string) => void }): Promise<DownResult> {
  const say = o.progress ?? (() => {});
  const l = layoutOf(o.stateDir);
  const res: DownResult = { stateDir: l.stateDir, stopped: [], unmounted: [], detached: [], network: [], sockets: [], purged: false, left: [] };
  const state = existsSync(l.clusterJson) ? readState(l.clusterJson) : undefined;

  // 0. the loop devices of ours, listed while the data planes still serve their FUSE files (see ourLoops), and those
  //    an HA device link under the state dir points at (`<pool>-HA/<volume>` → a loop over the FUSE file <volume>),
  //    found even when a killed data plane took its FUSE mount (and so the loop's backing path) with it.
  const knownLoops = [...loopsOf(l.stateDir, await listLoops()), ...haLinkLoops(l.nodesDir)];

  // 1. processes: the supervisor first (it stops the rest in order), then stragglers.
  const sup = state?.supervisor?.pid;
  if (sup && supervisorAlive(state)) {
    say(`stopping supervisor (pid ${sup}) and its processes`);
    signalProcess(sup, "SIGTERM");
    await waitGone([sup], 40_000);
    if (isAlive(sup)) signalProcess(sup, "SIGKILL");
    res.stopped.push(`supervisor (pid ${sup})`);
  }
  if (state) {
    const specs = processSpecs(l.stateDir, state.options, state.api);
    const left = specs
      .map((s) => ({ s, pid: state.processes[s.name]?.pid }))
      .filter((x): x is { s: (typeof specs)[number]; pid: number } => !!x.pid && isAlive(x.pid) && isSameProcess(x.s, commandLineOf(x.pid)));
    for (const x of left) signalProcess(x.pid, "SIGTERM");
    await waitGone(
      left.map((x) => x.pid),
      10_000,
    );
    for (const x of left) if (isAlive(x.pid)) signalProcess(x.pid, "SIGKILL");
    await waitGone(
      left.map((x) => x.pid),
      5_000,
    );
    for (const x of left) res.stopped.push(`${x.s.name} (pid ${x.pid})`);
    for (const x of left) if (isAlive(x.pid)) res.left.push(`process ${x.s.name} (pid ${x.pid})`);
  }
  for (const name of Object.keys(state?.processes ?? {})) if (!res.stopped.some((s) => s.startsWith(name + " "))) res.stopped.push(name);
  // Pods' container processes outlive their node agent (as containers outlive a kubelet): stop them.
  const containers = findContainerProcesses(`${l.stateDir}/`);
  for (const c of containers) killContainer(c.pid, c.rcFile);
  await waitGone(
    containers.map((c) => c.pid),
    5_000,
  );
  for (const c of containers) res.stopped.push(`container (pid ${c.pid})`);
  for (const c of containers) if (isAlive(c.pid)) res.left.push(`container process ${c.pid} (${c.rcFile})`);

  // 2. mounts and loop devices
  const t = await teardownMountsAndLoops(l.stateDir, 6, knownLoops);
  res.unmounted = t.unmounted;
  res.detached = t.detached;
  res.left.push(...t.left);
  if (t.unmounted.length || t.detached.length) say(`unmounted ${t.unmounted.length}, detached ${t.detached.length} loop devices`);

  // 3. network namespaces (by the state dir's prefix, so leftovers of any node count go too)
  const nodes = state ? nodeNames(state.options) : existsSync(l.nodesDir) ? readdirSync(l.nodesDir) : [];
  try {
    res.network = await teardownNetwork(l.stateDir, networkPlan(l.stateDir, nodes));
  } catch (e) {
    res.left.push(`network: ${(e as Error).message}`);
  }

  // 4. sockets
  const socketDirs = [l.controllerDir, ...(existsSync(l.nodesDir) ? readdirSync(l.nodesDir).map((n) => join(l.nodesDir, n)) : [])];
  for (const d of socketDirs) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (!f.endsWith(".sock")) continue;
      rmSync(join(d, f), { force: true });
      res.sockets.push(join(d, f));
    }
  }

  if (state) {
    updateState(l.clusterJson, (s) => {
      s.status = "down";
      delete s.supervisor;
      for (const p of Object.values(s.processes)) delete p.pid;
    });
  }
  if (o.purge && res.left.length === 0 && existsSync(l.stateDir)) {
    rmSync(l.stateDir, { recursive: true, force: true });
    res.purged = true;
  } else if (o.purge && res.left.length) {
    res.left.push(`state dir ${l.stateDir} kept: something of the cluster is still in use`);
  }
  return res;
}

/** Loops that HA device links (`…/<pool>-HA/<volume>` → /dev/loopN) under the nodes' dirs point at, as `known` loops. */
function haLinkLoops(nodesDir: string): LoopDevice[] {
  const out: LoopDevice[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 6 || !existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isSymbolicLink() && dir.endsWith("-HA")) {
        const target = readlinkSync(p);
        if (/^\/dev\/loop\d+$/.test(target)) out.push({ name: target, backFile: `/fuse/${e.name}` } as LoopDevice);
      }
    }
  };
  walk(nodesDir, 0);
  return out;
}
