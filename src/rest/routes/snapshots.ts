// /cluster/snapshots, /cluster/snapshot/:name/snapshot and /cluster/volumegroups: read-only views of the
// LocalVolumeSnapshots and LocalVolumeGroups (a volume's own snapshots are listed under /cluster/volumes).

import { notFound } from "../../api/errors.ts";
import type { KubeObject } from "../../kube/types.ts";
import { exactMatches, nameMatches, type ListSpec } from "../query.ts";
import { listRoute, type Route, type RouteDeps } from "../route.ts";
import { nameOf } from "../views.ts";

export type SnapshotItem = KubeObject & { spec?: { sourceVolume?: string; requiredCapacityBytes?: number }; status?: { state?: string } };
export const snapshotsList: ListSpec<SnapshotItem> = {
  filters: ["snapshotName", "name", "volumeName", "state"],
  sorts: {
    name: (s) => nameOf(s),
    time: (s) => s.metadata?.creationTimestamp ?? "",
    volume: (s) => s.spec?.sourceVolume ?? "",
    capacity: (s) => s.spec?.requiredCapacityBytes ?? 0,
    state: (s) => s.status?.state ?? "",
  },
  defaultSort: { key: "time", dir: "desc" },
};

export const snapshotPasses = (s: SnapshotItem, f: Record<string, string>, fuzzy: boolean) =>
  nameMatches(nameOf(s), f.snapshotName ?? f.name, fuzzy) && exactMatches(s.status?.state, f.state);

const groupsList: ListSpec<KubeObject> = {
  filters: ["name"],
  sorts: {
    name: (g) => nameOf(g),
    namespace: (g) => String((g.spec as { namespace?: string } | undefined)?.namespace ?? ""),
    time: (g) => g.metadata?.creationTimestamp ?? "",
  },
  defaultSort: { key: "name", dir: "asc" },
};

export function snapshotAndGroupRoutes(d: RouteDeps): Route[] {
  const c = d.cache;
  return [
    listRoute({
      path: "/cluster/volumegroups",
      tag: "Volume groups",
      summary: "LocalVolumeGroups with their volumes",
      list: groupsList,
      returns: "{items: VolumeGroup[], pagination}",
      items: () => {
        const lvs = c.list("lv");
        return c.list("lvg").map((g) => ({ ...g, items: lvs.filter((v) => v.spec?.volumegroup === nameOf(g)) }));
      },
      matches: (g, f, fuzzy) => nameMatches(nameOf(g), f.name, fuzzy),
    }),
    {
      method: "GET",
      path: "/cluster/volumegroups/:vgName",
      tag: "Volume groups",
      summary: "One LocalVolumeGroup with its volumes",
      returns: "VolumeGroup",
      handler: ({ params }) => {
        const g = c.get("lvg", params.vgName!);
        if (!g) throw notFound(`volume group ${params.vgName}`, "list them with GET /cluster/volumegroups");
        return { ...g, items: c.list("lv").filter((v) => v.spec?.volumegroup === nameOf(g)) };
      },
    },
    listRoute({
      path: "/cluster/snapshots",
      tag: "Snapshots",
      summary: "LocalVolumeSnapshots",
      list: snapshotsList,
      returns: "{items: LocalVolumeSnapshot[], pagination}",
      items: () => c.list("lvs"),
      matches: (s, f, fuzzy) => snapshotPasses(s, f, fuzzy) && nameMatches(s.spec?.sourceVolume, f.volumeName, fuzzy),
    }),
    {
      method: "GET",
      path: "/cluster/snapshot/:snapshotName/snapshot",
      tag: "Snapshots",
      summary: "One LocalVolumeSnapshot",
      returns: "LocalVolumeSnapshot",
      handler: ({ params }) => {
        const s = c.get("lvs", params.snapshotName!);
        if (!s) throw notFound(`snapshot ${params.snapshotName}`, "list them with GET /cluster/snapshots");
        return s;
      },
    },
  ];
}
