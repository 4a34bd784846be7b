// Where everything of a dev cluster lives inside its state dir (docs/devcluster.md "State dir"), and the
// names derived from it (network namespaces, interfaces, subnet) so that `down` can find what `up` made
// even when cluster.json is gone.

import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import type { ClusterOptions } from "./options.ts";

export const CLUSTER_NAME = "cluster-sample";

export interface Layout {
  stateDir: string;
  clusterJson: string;
  kubeconfig: string;
  apiserverDir: string;
  controllerDir: string;
  logsDir: string;
  nodesDir: string;
}

export function layoutOf(stateDir: string): Layout {
  const dir = resolve(stateDir);
  return {
    stateDir: dir,
    clusterJson: join(dir, "cluster.json"),
    kubeconfig: join(dir, "kubeconfig"),
    apiserverDir: join(dir, "apiserver"),
    controllerDir: join(dir, "controller"),
    logsDir: join(dir, "logs"),
    nodesDir: join(dir, "nodes"),
  };
}

export const nodeName = (i: number): string => `node-${i}`;
export const nodeNames = (o: Pick<ClusterOptions, "nodes">): string[] => Array.from({ length: o.nodes }, (_, i) => nodeName(i + 1));

export interface NodeLayout {
  name: string;
  /** The node's CSI socket dir: lvm.sock, disk.sock. */
  dir: string;
  disksDir: string;
  stateDir: string;
  diskFiles: string[];
  /** The node's data plane (docs/replication.md): control socket, state dir, FUSE mount point. */
  dataplane: { control: string; stateDir: string; fuseDir: string };
}

export function nodeLayout(l: Layout, name: string, disksPerNode: number): NodeLayout {
  const dir = join(l.nodesDir, name);
  const disksDir = join(dir, "disks");
  return {
    name,
    dir,
    disksDir,
    stateDir: join(dir, "state"),
    diskFiles: Array.from({ length: disksPerNode }, (_, i) => join(disksDir, `disk-${i + 1}.img`)),
    dataplane: { control: join(dir, "dataplane.sock"), stateDir: join(dir, "dataplane"), fuseDir: join(dir, "fuse") },
  };
}

/** CSI socket of a driver ("lvm" | "disk") on the controller or on a node. */
export const controllerSocket = (l: Layout, driver: "lvm" | "disk"): string => join(l.controllerDir, `${driver}.sock`);
export const nodeSocket = (l: Layout, node: string, driver: "lvm" | "disk"): string => join(l.nodesDir, node, `${driver}.sock`);
export const logFile = (l: Layout, process: string): string => join(l.logsDir, `${process}.log`);

// ---------------------------------------------------------------- network (--netns)

/** 4 hex digits from the state dir's absolute path: keeps two clusters on one machine apart. */
export function clusterId(stateDir: string): string {
  return createHash("sha1").update(resolve(stateDir)).digest("hex").slice(0, 4);
}

export interface NetworkPlan {
  bridge: string;
  /** The bridge's address: the API server listens here so every namespace reaches it. */
  hostIp: string;
  prefixLen: number;
  subnet: string;
  nodes: Array<{ node: string; netns: string; hostIf: string; nsIf: string; ip: string }>;
}

/**
 * Names and addresses for --netns: 10.209.X.0/24 with X from the cluster id (simplification: a fixed /16
 * whose third octet comes from a hash; preflight refuses a subnet the host already routes).
 */
export function networkPlan(stateDir: string, nodes: string[]): NetworkPlan {
  const id = clusterId(stateDir);
  const x = parseInt(id, 16) % 250;
  const base = `10.209.${x}`;
  return {
    bridge: `hwbr${id}`,
    hostIp: `${base}.1`,
    prefixLen: 24,
    subnet: `${base}.0/24`,
    nodes: nodes.map((node, i) => ({
      node,
      netns: `hwms-${id}-${node}`,
      hostIf: `hwv${id}n${i + 1}`,
      nsIf: `hwp${id}n${i + 1}`,
      ip: `${base}.${10 + i + 1}`,
    })),
  };
}

/** Prefix of every netns of this cluster (for cleanup without cluster.json). */
export const netnsPrefix = (stateDir: string): string => `hwms-${clusterId(stateDir)}-`;
