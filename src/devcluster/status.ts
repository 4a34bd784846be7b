// `hwameistor cluster status`: each process (pid, alive, restarts, log), each node (Node Ready, disk node,
// storage node, storage IP) and each pool (from LocalStorageNode and LocalDiskNode status), read from
// cluster.json and the API server. The API part is best effort: with the API server down the processes
// still show, and `apiError` says why the rest is missing.

import { poolRows, type PoolRow } from "../cli/hwameictl/pool/list.ts";
export type { PoolRow };
import { existsSync } from "node:fs";
import { HwError } from "../api/errors.ts";
import { localDiskNodeKind } from "../api/kinds/local-disk-node.ts";
import { localStorageNodeKind } from "../api/kinds/local-storage-node.ts";
import { commandLineOf, isAlive } from "../host/netns/daemon.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { NODE } from "../kube/resources.ts";
import type { KubeObject } from "../kube/types.ts";
import { layoutOf, networkPlan, nodeNames } from "./layout.ts";
import { isSameProcess, processSpecs } from "./processes.ts";
import { readState, type ClusterState } from "./state.ts";
import { supervisorAlive } from "./up.ts";

export interface ProcessRow {
  name: string;
  pid: number | "";
  state: "running" | "stopped";
  restarts: number;
  lastExit: string;
  netns: string;
  log: string;
}
export interface NodeRow {
  name: string;
  ready: string;
  diskNode: string;
  storageNode: string;
  storageIP: string;
}
export interface StatusResult {
  stateDir: string;
  status: ClusterState["status"];
  kubeconfig: string;
  api: string;
  supervisor: string;
  options: ClusterState["options"];
  processes: ProcessRow[];
  nodes: NodeRow[];
  pools: PoolRow[];
  apiError?: string;
  upDurationMs?: number;
}

export async function clusterStatus(stateDir: string): Promise<StatusResult> {
  const l = layoutOf(stateDir);
  const s = readState(l.clusterJson);
  if (!s) throw new HwError("NOT_FOUND", "NoDevCluster", `no dev cluster in ${l.stateDir}`, { hint: "start one with `hwameistor cluster up`" });
  const sup = s.supervisor?.pid;
  const supAlive = supervisorAlive(s);
  const plan = s.options.netns ? networkPlan(l.stateDir, nodeNames(s.options)) : undefined;
  const processes: ProcessRow[] = processSpecs(l.stateDir, s.options, s.api).map((spec) => {
    const p = s.processes[spec.name];
    const alive = !!p?.pid && isAlive(p.pid) && isSameProcess(spec, commandLineOf(p.pid));
    return {
      name: spec.name,
      pid: alive ? p!.pid! : "",
      state: alive ? "running" : "stopped",
      restarts: p?.restarts ?? 0,
      lastExit: p?.lastExit ?? "",
      netns: spec.netns ?? "",
      log: spec.logFile,
    };
  });
  const res: StatusResult = {
    stateDir: l.stateDir,
    status: supAlive ? s.status : "down",
    kubeconfig: l.kubeconfig,
    api: `https://${s.api.host}:${s.api.port}`,
    supervisor: supAlive ? `pid ${sup}` : "not running",
    options: s.options,
    processes,
    nodes: [],
    pools: [],
    upDurationMs: s.upDurationMs,
  };
  if (!existsSync(l.kubeconfig)) return { ...res, apiError: "no kubeconfig yet" };
  try {
    const c = new KubeClient(loadKubeConfig({ kubeconfigPath: l.kubeconfig }).kubeConfig, { timeoutMs: 3000 });
    const [nodes, ldns, lsns] = await Promise.all([
      c.forKind(NODE).list(),
      c
        .forKind(localDiskNodeKind)
        .list()
        .catch(() => ({ items: [] as KubeObject[] })),
      c
        .forKind(localStorageNodeKind)
        .list()
        .catch(() => ({ items: [] as KubeObject[] })),
    ]);
    const byName = (items: KubeObject[], n: string) => items.find((x) => x.metadata?.name === n) as (KubeObject & { spec?: any; status?: any }) | undefined;
    for (const name of nodeNames(s.options)) {
      const node = byName(nodes.items, name);
      const ready = (node?.status?.conditions as Array<{ type: string; status: string }> | undefined)?.find((c) => c.type === "Ready")?.status;
      const ldn = byName(ldns.items, name);
      const lsn = byName(lsns.items, name);
      res.nodes.push({
        name,
        ready: ready === "True" ? "Ready" : node ? "NotReady" : "missing",
        diskNode: ldn?.status?.state ?? "-",
        storageNode: lsn?.status?.state ?? "-",
        storageIP: lsn?.spec?.storageIP ?? plan?.nodes.find((n) => n.node === name)?.ip ?? "",
      });
      res.pools.push(...poolRows([lsn, ldn].filter((o) => o !== undefined)));
    }
  } catch (e) {
    res.apiError = (e as Error).message;
  }
  return res;
}
