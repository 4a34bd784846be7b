// `hwameictl cluster install` and `hwameictl cluster event [--name]` (reference §9).
// install: the original installs HwameiStor through its operator from the CLI; here it creates the Cluster
// resource (cluster-sample, the operator's defaults) when there is none — the operator (`hwameistor cluster
// operator`, or the chart's) then claims disks and makes the pools and StorageClasses. An existing Cluster is left
// as it is. The CRDs and processes come from the chart or `hwameistor cluster up` (docs/install.md), not from here.
// event: the audit log (hwameistor.io Events, docs/auditor.md) as one table of records, oldest first.
import type { Command } from "commander";
import { notFound } from "../../../api/errors.ts";
import { API_VERSION, DEFAULT_CLUSTER_NAME, Kinds } from "../../../api/names.ts";
import { eventKind } from "../../../api/kinds/event.ts";
import type { EventObject } from "../../../kube/hwameistor.ts";
import type { View } from "../../print.ts";
import type { Ctl, Hmc } from "../context.ts";

export async function installCluster(ctl: Ctl, name: string): Promise<View> {
  const all = (await ctl.c.hmcluster.list()).items;
  const existing = all.find((c) => c.metadata?.name === name) ?? all[0];
  if (existing) {
    return { text: `Cluster ${existing.metadata!.name} exists (phase ${existing.status?.phase || "-"}); nothing to install`, data: existing };
  }
  const created = await ctl.c.hmcluster.create({ apiVersion: API_VERSION, kind: Kinds.Cluster, metadata: { name }, spec: {} } as Hmc);
  return {
    text: `Cluster ${name} created: the operator now claims the disks and creates the pools and StorageClasses (watch: hwameictl cluster info)`,
    data: created,
  };
}

interface EventRow {
  event: string;
  type: string;
  resource: string;
  time: string;
  action: string;
  state: string;
  id: string;
  content: string;
}

export async function listAuditEvents(ctl: Ctl, name?: string): Promise<View> {
  const c = ctl.client.forKind<EventObject>(eventKind);
  let items = (await c.list()).items;
  if (name) {
    items = items.filter((e) => e.metadata?.name === name || e.spec?.resourceName === name);
    if (!items.length)
      throw notFound(
        `audit Event ${JSON.stringify(name)}`,
        "kubectl get events.hwameistor.io lists them (names are <resourceType>-<resourceName>, lower case)",
      );
  }
  const rows: EventRow[] = items.flatMap((e) =>
    (e.spec?.records ?? []).map((r) => ({
      event: e.metadata?.name ?? "",
      type: e.spec?.resourceType ?? "",
      resource: e.spec?.resourceName ?? "",
      time: r.time ?? "",
      action: r.action ?? "",
      state: r.state ?? "",
      id: r.id ?? "",
      content: r.stateContent || r.actionContent || "",
    })),
  );
  rows.sort((a, b) => a.time.localeCompare(b.time) || a.event.localeCompare(b.event));
  return {
    sections: [
      {
        columns: [
          { header: "time", value: (r: EventRow) => r.time },
          { header: "type", value: (r: EventRow) => r.type },
          { header: "resource", value: (r: EventRow) => r.resource },
          { header: "action", value: (r: EventRow) => r.action },
          { header: "state", value: (r: EventRow) => r.state },
          { header: "id", value: (r: EventRow) => r.id, wide: true },
          { header: "content", value: (r: EventRow) => r.content, wide: true },
        ],
        rows,
        empty: "No audit records.",
      },
    ],
    data: items,
  };
}

export function registerClusterInstallEvent(cluster: Command, ctl: () => Ctl): void {
  cluster
    .command("install")
    .description("create the Cluster resource the operator installs from (cluster-sample), unless one exists")
    .option("--name <name>", "the Cluster's name", DEFAULT_CLUSTER_NAME)
    .action(async (o: { name: string }) => {
      const c = ctl();
      c.print(await installCluster(c, o.name));
    });
  cluster
    .command("event")
    .description("the audit log: records of the hwameistor.io Events, oldest first")
    .option("--name <name>", "one Event (e.g. volume-pvc-1) or one resource's name")
    .action(async (o: { name?: string }) => {
      const c = ctl();
      c.print(await listAuditEvents(c, o.name));
    });
}
