// /cluster/nodes/*, /cluster/pools/*, /cluster/localdisks, /cluster/localdisknodes. Actions patch the
// resources the agents and controllers watch: LocalDisk spec.reserved / spec.owner, the core Node label
// lvm.hwameistor.io/enable, a new LocalDiskClaim for a pool expansion.

import { randomUUID } from "node:crypto";
import { HwError, notFound } from "../../api/errors.ts";
import { Labels, Owners, POOL_CLASSES, VolumeStates } from "../../api/names.ts";
import type { LocalDiskObject } from "../../kube/hwameistor.ts";
import { badBody } from "../errors.ts";
import { exactMatches, nameMatches, type ListSpec } from "../query.ts";
import { listRoute, objectSchema, type ListRoute, type Route, type RouteContext, type RouteDeps } from "../route.ts";
import {
  diskMatches,
  localDiskInfo,
  nameOf,
  nodeNames,
  nodePools,
  storageNodeView,
  storagePools,
  type LocalDiskInfo,
  type StorageNodePool,
  type StorageNodeView,
  type StoragePoolView,
} from "../views.ts";

const driverStateOf = (n: StorageNodeView) => String((n.localStorageNode as { status?: { state?: string } }).status?.state ?? "");
const nodesList: ListSpec<StorageNodeView & { name: string }> = {
  filters: ["name", "nodeState", "driverState"],
  sorts: {
    name: (n) => n.name,
    nodeState: (n) => n.k8SNodeState,
    driverState: driverStateOf,
  },
  defaultSort: { key: "name", dir: "asc" },
};
const disksList: ListSpec<LocalDiskInfo> = {
  filters: ["name", "state", "owner", "nodeName"],
  sorts: { name: (d) => d.diskPathShort, capacity: (d) => d.totalCapacityBytes, state: (d) => d.status?.claimState ?? "", node: (d) => d.spec?.nodeName ?? "" },
  defaultSort: { key: "name", dir: "asc" },
};
const diskPasses = (x: LocalDiskInfo, f: Record<string, string>, fuzzy: boolean) =>
  (nameMatches(x.diskPathShort, f.name, fuzzy) || nameMatches(nameOf(x), f.name, fuzzy)) &&
  exactMatches(x.status?.claimState, f.state) &&
  exactMatches(x.spec?.owner, f.owner) &&
  exactMatches(x.spec?.nodeName, f.nodeName);
const poolsList: ListSpec<StoragePoolView> = {
  filters: ["name"],
  sorts: { name: (p) => p.poolName, capacity: (p) => p.totalCapacityBytes, used: (p) => p.allocatedCapacityBytes },
  defaultSort: { key: "name", dir: "asc" },
};
const nodePoolsList: ListSpec<StorageNodePool> = {
  filters: ["name"],
  sorts: { name: (p) => p.name ?? "", capacity: (p) => p.totalCapacityBytes ?? 0, used: (p) => p.usedCapacityBytes ?? 0 },
  defaultSort: { key: "name", dir: "asc" },
};
const migratesList: ListSpec<{ metadata?: { name?: string; creationTimestamp?: string }; status?: { state?: string } }> = {
  filters: ["migrateOperationName", "volumeName", "state"],
  sorts: { name: (m) => nameOf(m), time: (m) => m.metadata?.creationTimestamp ?? "", state: (m) => m.status?.state ?? "" },
  defaultSort: { key: "time", dir: "desc" },
};

export function nodeRoutes(d: RouteDeps): Route[] {
  const c = d.cache;
  const cl = c.clients;

  const names = () => nodeNames(c.list("lsn"), c.list("ldn"), c.list("node"));
  const view = (name: string) => storageNodeView(name, c.get("lsn", name), c.get("ldn", name), c.get("node", name), c.list("ld"));
  function requireNode(name: string): StorageNodeView {
    if (!names().includes(name)) throw notFound(`node ${name}`, "list nodes with GET /cluster/nodes");
    return view(name);
  }
  const nodeEnvelope = ({ params }: RouteContext) => {
    requireNode(params.nodeName!);
    return { nodeName: params.nodeName };
  };
  const disksOf = (node: string) => {
    const lsn = c.get("lsn", node);
    return c
      .list("ld")
      .filter((ld) => ld.spec?.nodeName === node)
      .map((ld) => localDiskInfo(ld, lsn));
  };
  function requireDisk(node: string, segment: string): LocalDiskObject {
    requireNode(node);
    const ld = c.list("ld").find((x) => x.spec?.nodeName === node && diskMatches(x, segment));
    if (!ld) throw notFound(`disk ${segment} on node ${node}`, `list the node's disks with GET /cluster/nodes/${node}/disks`);
    return ld;
  }
  function requireNodePool(node: string, pool: string): StorageNodePool {
    requireNode(node);
    const lsn = c.get("lsn", node);
    const p = lsn ? nodePools(lsn).find((x) => x.name === pool) : undefined;
    if (!p) throw notFound(`pool ${pool} on node ${node}`, `list the node's pools with GET /cluster/nodes/${node}/pools`);
    return p;
  }
  const poolDisks = (node: string, pool: string) => {
    const devs = new Set((requireNodePool(node, pool).disks ?? []).map((x) => x.devPath));
    return disksOf(node).filter((x) => devs.has(x.spec?.devicePath));
  };
  /** A list route of disks (every disks list takes the same filters). */
  const disksRoute = (r: Pick<ListRoute<LocalDiskInfo>, "path" | "tag" | "summary" | "returns" | "envelope" | "items">) =>
    listRoute<LocalDiskInfo>({ ...r, list: disksList, matches: diskPasses });
  /** A list route of storage nodes (the name field only sorts and filters; the answer is the view). */
  const nodesRoute = (r: Pick<ListRoute<StorageNodeView & { name: string }>, "path" | "tag" | "summary" | "returns" | "envelope" | "items" | "matches">) =>
    listRoute<StorageNodeView & { name: string }>({ ...r, list: nodesList, present: ({ name: _n, ...v }) => v });
  const nodeViews = (nodes: string[]) => nodes.map((n) => ({ ...view(n), name: n }));
  function requirePool(pool: string): StoragePoolView {
    const p = storagePools(c.list("lsn")).find((x) => x.poolName === pool);
    if (!p) throw notFound(`storage pool ${pool}`, "list pools with GET /cluster/pools");
    return p;
  }

  return [
    nodesRoute({
      path: "/cluster/nodes",
      tag: "Nodes",
      summary: "Storage nodes (LocalStorageNode, LocalDiskNode and the Kubernetes Node of each)",
      returns: "{items: StorageNode[], pagination}",
      items: () => nodeViews(names()),
      matches: (n, f, fuzzy) =>
        nameMatches(n.name, f.name, fuzzy) && exactMatches(n.k8SNodeState, f.nodeState) && exactMatches(driverStateOf(n), f.driverState),
    }),
    {
      method: "GET",
      path: "/cluster/nodes/:nodeName",
      tag: "Nodes",
      summary: "One storage node",
      returns: "StorageNode",
      handler: ({ params }) => requireNode(params.nodeName!),
    },
    {
      method: "POST",
      path: "/cluster/nodes/:nodeName",
      tag: "Nodes",
      summary: "Enable or disable LVM storage on the node (node label lvm.hwameistor.io/enable); disabling requires that no volume has a replica there",
      body: objectSchema({ enable: { type: "boolean" } }, ["enable"]),
      returns: "{success}",
      handler: async ({ params, body }) => {
        const name = params.nodeName!;
        requireNode(name);
        const enable = (body as { enable: boolean }).enable;
        if (!c.get("node", name)) throw notFound(`Kubernetes Node ${name}`, "the node agent registers it when it starts");
        if (!enable) {
          const vols = [
            ...new Set(
              c
                .list("lvr")
                .filter((r) => r.spec?.nodeName === name && r.status?.state !== VolumeStates.Deleted)
                .map((r) => r.spec?.volumeName ?? ""),
            ),
          ].sort();
          if (vols.length) {
            throw new HwError(
              "FAILED_PRECONDITION",
              "NodeHasVolumes",
              `node ${name} still holds replicas of ${vols.length} volume(s): ${vols.slice(0, 10).join(", ")}${vols.length > 10 ? ", …" : ""}`,
              {
                hint: "migrate or delete them first",
              },
            );
          }
        }
        await cl.node.patch(name, { metadata: { labels: { [Labels.LvmEnable]: String(enable) } } });
        d.log.info({ node: name, enable }, "node LVM enable label set");
        return { success: true };
      },
    },
    listRoute({
      path: "/cluster/nodes/:nodeName/migrates",
      tag: "Nodes",
      summary: "Migrations from or to the node",
      list: migratesList,
      returns: "{nodeName, items: LocalVolumeMigrate[], pagination}",
      envelope: nodeEnvelope,
      items: ({ params }) => {
        const node = params.nodeName!;
        return c
          .list("lvmigrate")
          .filter((m) => m.spec?.sourceNode === node || m.status?.targetNode === node || (m.spec?.targetNodesSuggested ?? []).includes(node));
      },
      matches: (m, f, fuzzy) =>
        nameMatches(nameOf(m), f.migrateOperationName, fuzzy) && nameMatches(m.spec?.volumeName, f.volumeName, fuzzy) && exactMatches(m.status?.state, f.state),
    }),
    disksRoute({
      path: "/cluster/nodes/:nodeName/disks",
      tag: "Nodes",
      summary: "The node's disks (LocalDisk with its pool and free capacity)",
      returns: "{nodeName, items: LocalDiskInfo[], pagination}",
      envelope: nodeEnvelope,
      items: ({ params }) => disksOf(params.nodeName!),
    }),
    {
      method: "GET",
      path: "/cluster/nodes/:nodeName/disks/:diskName",
      tag: "Nodes",
      summary: "One disk of the node, by device name (sdb), path or LocalDisk name",
      returns: "LocalDiskInfo",
      handler: ({ params }) => localDiskInfo(requireDisk(params.nodeName!, params.diskName!), c.get("lsn", params.nodeName!)),
    },
    {
      method: "POST",
      path: "/cluster/nodes/:nodeName/disks/:devicePath",
      tag: "Nodes",
      summary: "Reserve a disk (no pool will claim it) or release the reservation (LocalDisk spec.reserved)",
      body: objectSchema({ reserve: { type: "boolean" } }, ["reserve"]),
      returns: "{data: {diskName, reservedRsp | removeReservedRsp}}",
      handler: async ({ params, body }) => {
        const ld = requireDisk(params.nodeName!, params.devicePath!);
        const reserve = (body as { reserve: boolean }).reserve;
        const info = localDiskInfo(ld, c.get("lsn", params.nodeName!));
        if (reserve && (info.localStoragePooLName || ld.status?.claimState === "Bound")) {
          throw new HwError(
            "FAILED_PRECONDITION",
            "DiskInUse",
            `disk ${info.diskPathShort} (${nameOf(ld)}) on node ${params.nodeName} is in use${info.localStoragePooLName ? ` by pool ${info.localStoragePooLName}` : " (Bound)"}; it cannot be reserved`,
          );
        }
        if ((ld.spec?.reserved ?? false) !== reserve) await cl.ld.patch(nameOf(ld), { spec: { reserved: reserve } });
        d.log.info({ disk: nameOf(ld), reserve }, "LocalDisk reservation set");
        return { data: reserve ? { diskName: nameOf(ld), reservedRsp: "Succeed" } : { diskName: nameOf(ld), removeReservedRsp: "Succeed" } };
      },
    },
    {
      method: "POST",
      path: "/cluster/nodes/:nodeName/disks/:devicePath/owner",
      tag: "Nodes",
      summary: "Set a disk's owner (LocalDisk spec.owner): local-storage, local-disk-manager or system",
      body: objectSchema({ owner: { type: "string", enum: [Owners.LocalStorage, Owners.LocalDiskManager, Owners.System] } }, ["owner"]),
      returns: "{data: {diskName, owner}}",
      handler: async ({ params, body }) => {
        const ld = requireDisk(params.nodeName!, params.devicePath!);
        const owner = (body as { owner: string }).owner;
        if (ld.status?.claimState === "Bound" && (ld.spec?.owner ?? "") !== owner) {
          throw new HwError(
            "FAILED_PRECONDITION",
            "DiskInUse",
            `disk ${nameOf(ld)} on node ${params.nodeName} is Bound to ${ld.spec?.owner || "a claim"}; its owner cannot change`,
          );
        }
        if (ld.spec?.owner !== owner) await cl.ld.patch(nameOf(ld), { spec: { owner } });
        d.log.info({ disk: nameOf(ld), owner }, "LocalDisk owner set");
        return { data: { diskName: nameOf(ld), owner } };
      },
    },
    listRoute({
      path: "/cluster/nodes/:nodeName/pools",
      tag: "Nodes",
      summary: "The node's storage pools",
      list: nodePoolsList,
      returns: "{nodeName, items: StorageNodePool[], pagination}",
      envelope: nodeEnvelope,
      items: ({ params }) => {
        const lsn = c.get("lsn", params.nodeName!);
        return lsn ? nodePools(lsn) : [];
      },
      matches: (p, f, fuzzy) => nameMatches(p.name, f.name, fuzzy),
    }),
    {
      method: "GET",
      path: "/cluster/nodes/:nodeName/pools/:poolName",
      tag: "Nodes",
      summary: "One pool of the node",
      returns: "StorageNodePool",
      handler: ({ params }) => requireNodePool(params.nodeName!, params.poolName!),
    },
    disksRoute({
      path: "/cluster/nodes/:nodeName/pools/:poolName/disks",
      tag: "Nodes",
      summary: "The disks of one pool of the node",
      returns: "{poolName, nodeName, items: LocalDiskInfo[], pagination}",
      envelope: ({ params }) => ({ poolName: params.poolName, nodeName: params.nodeName }),
      items: ({ params }) => poolDisks(params.nodeName!, params.poolName!),
    }),
    {
      method: "GET",
      path: "/cluster/nodes/:nodeName/pools/:poolName/disks/:diskName",
      tag: "Nodes",
      summary: "One disk of one pool of the node",
      returns: "LocalDiskInfo",
      handler: ({ params }) => {
        const d0 = poolDisks(params.nodeName!, params.poolName!).find((x) => diskMatches(x, params.diskName!));
        if (!d0) throw notFound(`disk ${params.diskName} in pool ${params.poolName} on node ${params.nodeName}`);
        return d0;
      },
    },
    listRoute({
      path: "/cluster/pools",
      tag: "Pools",
      summary: "Storage pools across nodes (capacity summed per pool name)",
      list: poolsList,
      returns: "{items: StoragePool[], pagination}",
      items: () => storagePools(c.list("lsn")),
      matches: (p, f, fuzzy) => nameMatches(p.poolName, f.name, fuzzy),
    }),
    {
      method: "GET",
      path: "/cluster/pools/:poolName",
      tag: "Pools",
      summary: "One storage pool across nodes",
      returns: "StoragePool",
      handler: ({ params }) => requirePool(params.poolName!),
    },
    nodesRoute({
      path: "/cluster/pools/:poolName/nodes",
      tag: "Pools",
      summary: "The nodes that have the pool",
      returns: "{storagePoolName, items: StorageNode[], pagination}",
      envelope: ({ params }) => ({ storagePoolName: requirePool(params.poolName!).poolName }),
      items: ({ params }) => nodeViews(requirePool(params.poolName!).nodeNames),
      matches: (n, f, fuzzy) => nameMatches(n.name, f.name, fuzzy),
    }),
    disksRoute({
      path: "/cluster/pools/:poolName/nodes/:nodeName/disks",
      tag: "Pools",
      summary: "The disks of the pool on one node",
      returns: "{poolName, nodeName, items: LocalDiskInfo[], pagination}",
      envelope: ({ params }) => {
        requirePool(params.poolName!);
        return { poolName: params.poolName, nodeName: params.nodeName };
      },
      items: ({ params }) => poolDisks(params.nodeName!, params.poolName!),
    }),
    {
      method: "POST",
      path: "/cluster/pools/expand",
      tag: "Pools",
      summary: "Add the node's free disks of a class to its pool (creates a LocalDiskClaim)",
      body: objectSchema(
        {
          nodeName: { type: "string", minLength: 1 },
          diskType: { type: "string", enum: [...POOL_CLASSES] },
          owner: { type: "string", enum: [Owners.LocalStorage, Owners.LocalDiskManager, ""] },
        },
        ["nodeName", "diskType"],
      ),
      returns: "{success, claimName}",
      handler: async ({ body }) => {
        const b = body as { nodeName: string; diskType: string; owner?: string };
        if (!c.get("ldn", b.nodeName)) throw badBody("nodeName", `node ${b.nodeName} has no LocalDiskNode (is its node agent running?)`);
        const free = c
          .list("ld")
          .filter(
            (ld) =>
              ld.spec?.nodeName === b.nodeName &&
              ld.spec?.diskAttributes?.type === b.diskType &&
              ld.status?.claimState === "Available" &&
              !ld.spec?.reserved &&
              (ld.spec?.state ?? "Active") === "Active",
          );
        if (!free.length) {
          throw new HwError("FAILED_PRECONDITION", "NoFreeDisk", `node ${b.nodeName} has no free ${b.diskType} disk to add (Available, not reserved)`, {
            hint: `see GET /cluster/nodes/${b.nodeName}/disks; a disk holding data or a filesystem is never claimed`,
          });
        }
        const name = `${b.nodeName}-${b.diskType}-claim-${randomUUID()}`.toLowerCase();
        await cl.ldc.create({
          metadata: { name },
          spec: { nodeName: b.nodeName, owner: b.owner || Owners.LocalStorage, description: { diskType: b.diskType } },
        } as never);
        d.log.info({ claim: name, node: b.nodeName, diskType: b.diskType, disks: free.length }, "LocalDiskClaim created");
        return { success: true, claimName: name, disks: free.map((x) => x.spec?.devicePath) };
      },
    },
    disksRoute({
      path: "/cluster/localdisks",
      tag: "Disks",
      summary: "Every LocalDisk",
      returns: "{items: LocalDiskInfo[], pagination}",
      items: () => {
        const lsns = new Map(c.list("lsn").map((l) => [nameOf(l), l]));
        return c.list("ld").map((ld) => localDiskInfo(ld, lsns.get(ld.spec?.nodeName ?? "")));
      },
    }),
    {
      method: "GET",
      path: "/cluster/localdisknodes",
      tag: "Disks",
      summary: "Every LocalDiskNode",
      returns: "{items: LocalDiskNode[]}",
      handler: () => ({ items: [...c.list("ldn")].sort((a, b) => nameOf(a).localeCompare(nameOf(b))) }),
    },
  ];
}
