// `hwameictl cluster info`: the Cluster resource (phase, component health), totals, StorageClasses, API server.
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { formatBytes } from "../../../api/quantity.ts";
import type { View } from "../../print.ts";
import { driverShort, type Ctl } from "../context.ts";
import { poolRows } from "../pool/list.ts";

export async function clusterInfo(ctl: Ctl): Promise<View> {
  const [clusters, nodes, lsns, ldns, lds, lvs, ldvs, scs] = await Promise.all([
    ctl.c.hmcluster.list().catch(() => ({ items: [] })),
    ctl.c.node.list(),
    ctl.c.lsn.list(),
    ctl.c.ldn.list(),
    ctl.c.ld.list(),
    ctl.c.lv.list(),
    ctl.c.ldv.list(),
    ctl.sc.list(),
  ]);
  const pools = poolRows([...lsns.items, ...ldns.items]);
  const cluster = clusters.items[0];
  const comps = Object.entries(
    (cluster?.status?.componentStatus ?? {}) as Record<string, { health?: string; instances?: { availablePodCount?: number; desiredPodCount?: number } }>,
  );
  const info = {
    server: ctl.client.kubeConfig.getCurrentCluster()?.server ?? "",
    kubeconfig: ctl.kubeconfigSource,
    devCluster: existsSync(ctl.layout.clusterJson) ? ctl.layout.stateDir : null,
    cluster: cluster ? { name: cluster.metadata?.name, phase: cluster.status?.phase ?? "", notClaimDisk: !!cluster.spec?.notClaimDisk } : null,
    components: Object.fromEntries(
      comps.map(([k, v]) => [k, { health: v.health, available: v.instances?.availablePodCount, desired: v.instances?.desiredPodCount }]),
    ),
    nodes: nodes.items.length,
    disks: lds.items.length,
    pools: pools.length,
    capacityBytes: pools.reduce((a, p) => a + p.totalBytes, 0),
    freeBytes: pools.reduce((a, p) => a + p.freeBytes, 0),
    volumes: lvs.items.length + ldvs.items.length,
    storageClasses: scs.items
      .filter((s) => driverShort(s.provisioner))
      .map((s) => s.metadata!.name!)
      .sort(),
  };
  const kv = (k: string, v: unknown) => ({ k, v });
  const rows = [
    kv("API server", info.server),
    kv("kubeconfig", info.kubeconfig),
    ...(info.devCluster ? [kv("dev cluster", info.devCluster)] : []),
    kv(
      "Cluster",
      info.cluster ? `${info.cluster.name} phase=${info.cluster.phase || '""'}${info.cluster.notClaimDisk ? " notClaimDisk" : ""}` : "(no Cluster resource)",
    ),
    ...comps.map(([k, v]) => kv(`  ${k}`, `${v.health ?? "?"} (${v.instances?.availablePodCount ?? 0}/${v.instances?.desiredPodCount ?? 0})`)),
    kv("nodes", info.nodes),
    kv("disks", info.disks),
    kv("pools", `${info.pools} (${formatBytes(info.freeBytes)} free of ${formatBytes(info.capacityBytes)})`),
    kv("volumes", info.volumes),
    kv("StorageClasses", info.storageClasses.join(", ") || "(none)"),
  ];
  return {
    sections: [
      {
        columns: [
          { header: "", value: (r: { k: string }) => r.k },
          { header: "", value: (r: { v: unknown }) => r.v },
        ],
        rows,
        headers: false,
      },
    ],
    data: info,
  };
}

export function registerClusterInfo(cluster: Command, ctl: () => Ctl): void {
  cluster
    .command("info")
    .description("the installation: Cluster phase, components, capacity, StorageClasses")
    .action(async () => {
      const c = ctl();
      c.print(await clusterInfo(c));
    });
}
