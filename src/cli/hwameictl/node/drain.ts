// `hwameictl node drain <node>` / `node uncordon <node>` (issue 13): drain cordons the node (spec.unschedulable,
// what `kubectl cordon` writes) — the evictor then migrates every volume with a replica there — and prints each
// of those volumes with its migration's state and message, so what holds a drain is named. Run it again to see
// the progress. Pods are evicted by `kubectl drain` (the Eviction API, PodDisruptionBudgets honoured); this
// command does not evict pods. Uncordon clears spec.unschedulable (a migration that has not started copying is
// aborted by the evictor). docs/migration.md.
import type { Command } from "commander";
import { ObjectNames } from "../../../api/names.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";

interface Row {
  volume: string;
  migration: string;
  state: string;
  target: string;
  message: string;
}

export async function drainStatus(ctl: Ctl, node: string): Promise<Row[]> {
  const replicas = (await ctl.c.lvr.list()).items.filter((r) => r.spec?.nodeName === node && !r.spec?.delete);
  const migrations = (await ctl.c.lvmigrate.list()).items;
  const volumes = [...new Set(replicas.map((r) => r.spec?.volumeName ?? ""))].filter(Boolean).sort();
  return volumes.map((v) => {
    const m = migrations.find((x) => x.spec?.volumeName === v || (x.status?.volumes ?? []).includes(v));
    return {
      volume: v,
      migration: m?.metadata?.name ?? `(none yet: ${ObjectNames.EvictorMigratePrefix}${v} comes within 10 s)`,
      state: m ? m.status?.state || "Pending" : "",
      target: m?.status?.targetNode ?? "",
      message: m?.status?.message ?? "",
    };
  });
}

export async function drainNode(ctl: Ctl, node: string, cordon: boolean): Promise<View> {
  await ctl.requireNode(node);
  const n = await ctl.c.node.patch(node, { spec: { unschedulable: cordon ? true : null } });
  const rows = cordon ? await drainStatus(ctl, node) : [];
  return {
    sections: [
      {
        title: cordon
          ? rows.length
            ? `node ${node} cordoned; its volumes move (pods: kubectl drain ${node} --ignore-daemonsets)`
            : `node ${node} cordoned; it holds no volume replica`
          : `node ${node} uncordoned`,
        columns: [
          { header: "volume", value: (r: Row) => r.volume },
          { header: "migration", value: (r: Row) => r.migration },
          { header: "state", value: (r: Row) => r.state },
          { header: "target", value: (r: Row) => r.target },
          { header: "message", value: (r: Row) => r.message },
        ],
        rows,
      },
    ],
    data: { node: n.metadata?.name, unschedulable: !!n.spec?.unschedulable, volumes: rows },
  };
}

export function registerNodeDrain(node: Command, ctl: () => Ctl): void {
  node
    .command("drain <node>")
    .description("cordon a node so its volumes migrate away (evictor), and show each volume's migration; run again for progress")
    .action(async (name: string) => {
      const c = ctl();
      c.print(await drainNode(c, name, true));
    });
  node
    .command("uncordon <node>")
    .description("make a node schedulable again (a migration not yet copying is aborted)")
    .action(async (name: string) => {
      const c = ctl();
      c.print(await drainNode(c, name, false));
    });
}
