// /cluster/volumes/* (and the volume operations): reads from the caches; every action creates or patches the
// resource the controllers act on — LocalVolumeMigrate `migrate-<vol>`, LocalVolumeConvert `convert-<vol>`,
// a PVC request or a LocalVolumeExpand `<vol>`, a LocalVolumeSnapshot — exactly as kubectl or the CSI
// sidecars would. Checks that need no controller run first (names, nodes, sizes, pool space), so bad input
// changes nothing; the controllers decide the rest and report it in the resource's status.

import { randomUUID } from "node:crypto";
import { HwError, notFound } from "../../api/errors.ts";
import { AnnotationValues, Annotations, ObjectNames, OperationStates, VolumeStates } from "../../api/names.ts";
import type { LocalVolumeObject } from "../../kube/hwameistor.ts";
import { isNotFound } from "../../kube/transport.ts";
import { PVC } from "../../kube/resources.ts";
import type { KubeObject } from "../../kube/types.ts";
import { snapshotPasses, snapshotsList } from "./snapshots.ts";
import { badBody } from "../errors.ts";
import { formatBytes, toBinarySI } from "../../api/quantity.ts";
import { parseCapacity, roundUpExtent } from "../quantity.ts";
import { exactMatches, nameMatches, queryString, type ListSpec } from "../query.ts";
import { listRoute, objectSchema, type Route, type RouteDeps } from "../route.ts";
import { nameOf } from "../views.ts";
import { listEvents, eventsList } from "./cluster.ts";

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const TERMINAL = new Set<string>([OperationStates.Completed, OperationStates.Aborted, OperationStates.Failed]);

export const volumesList: ListSpec<LocalVolumeObject> = {
  filters: ["volumeName", "name", "state", "namespace", "group", "nodeName"],
  sorts: {
    name: (v) => nameOf(v),
    time: (v) => v.metadata?.creationTimestamp ?? "",
    capacity: (v) => v.spec?.requiredCapacityBytes ?? 0,
    state: (v) => v.status?.state ?? "",
    namespace: (v) => v.spec?.pvcNamespace ?? "",
  },
  defaultSort: { key: "name", dir: "asc" },
};

/** Nodes holding the volume's replicas: its config, else its replicas, else its accessibility. */
export function replicaNodes(d: RouteDeps, lv: LocalVolumeObject): string[] {
  const cfg = (lv.spec?.config?.replicas ?? []).map((r) => r.hostname).filter(Boolean) as string[];
  if (cfg.length) return cfg;
  const lvr = d.cache
    .list("lvr")
    .filter((r) => r.spec?.volumeName === nameOf(lv))
    .map((r) => r.spec?.nodeName ?? "")
    .filter(Boolean);
  return lvr.length ? lvr : (lv.spec?.accessibility?.nodes ?? []);
}

function requireVolume(d: RouteDeps, name: string): LocalVolumeObject {
  const lv = d.cache.get("lv", name);
  if (!lv) throw notFound(`volume ${name}`, "list volumes with GET /cluster/volumes");
  return lv;
}

function refuseDeleting(lv: LocalVolumeObject, what: string): void {
  if (lv.spec?.delete || lv.status?.state === VolumeStates.ToBeDeleted || lv.status?.state === VolumeStates.Deleted || lv.metadata?.deletionTimestamp) {
    throw new HwError("FAILED_PRECONDITION", "VolumeBeingDeleted", `volume ${nameOf(lv)} is being deleted; it cannot be ${what}`);
  }
}

/** Deletes a finished operation object of the same name so a new one can be created (the controller deletes Completed ones itself). */
async function clearFinished(
  rc: { delete(name: string): Promise<boolean> },
  cur: (KubeObject & { status?: { state?: string } }) | undefined,
  what: string,
): Promise<void> {
  if (!cur) return;
  if (!TERMINAL.has(cur.status?.state ?? "")) {
    throw new HwError("FAILED_PRECONDITION", "OperationUnderWay", `${what} ${nameOf(cur)} is already under way (state ${cur.status?.state || "new"})`, {
      hint: 'wait for it to finish, or abort it with {"abort": true}',
    });
  }
  await rc.delete(nameOf(cur));
}

export function volumeRoutes(d: RouteDeps): Route[] {
  const c = d.cache;
  const cl = c.clients;
  /** GET the volume's operation: the object named `<prefix><volume>`, else any of that kind for the volume. */
  const operationRoute = (op: string, kind: "lvmigrate" | "lvconvert" | "lvexpand", kindName: string, what: string, prefix = ""): Route => ({
    method: "GET",
    path: `/cluster/volumes/:volumeName/${op}`,
    tag: "Volumes",
    summary: `The volume's ${what} (${kindName} ${prefix ? `${prefix}<volume>` : "named after the volume"})`,
    returns: kindName,
    handler: ({ params }) => {
      const lv = requireVolume(d, params.volumeName!);
      const x = c.get(kind, `${prefix}${nameOf(lv)}`) ?? c.list(kind).find((o) => o.spec?.volumeName === nameOf(lv));
      if (!x) throw notFound(`${what} of volume ${nameOf(lv)}`, `start one with POST .../${op}`);
      return x;
    },
  });
  return [
    listRoute({
      path: "/cluster/volumes",
      tag: "Volumes",
      summary: "LocalVolumes",
      list: volumesList,
      returns: "{items: LocalVolume[], pagination}",
      items: () => c.list("lv"),
      matches: (v, f, fuzzy) =>
        nameMatches(nameOf(v), f.volumeName ?? f.name, fuzzy) &&
        exactMatches(v.status?.state, f.state) &&
        nameMatches(v.spec?.pvcNamespace, f.namespace, false) &&
        nameMatches(v.spec?.volumegroup, f.group, fuzzy) &&
        (f.nodeName === undefined || replicaNodes(d, v).includes(f.nodeName)),
    }),
    {
      method: "GET",
      path: "/cluster/volumes/:volumeName",
      tag: "Volumes",
      summary: "One LocalVolume",
      returns: "LocalVolume",
      handler: ({ params }) => requireVolume(d, params.volumeName!),
    },
    {
      method: "GET",
      path: "/cluster/volumes/:volumeName/replicas",
      tag: "Volumes",
      summary: "The volume's replicas (LocalVolumeReplica)",
      query: { volumeReplicaName: "replica name filter (substring)", state: "replica state (exact)" },
      returns: "{volumeName, volumeReplicas: LocalVolumeReplica[]}",
      handler: ({ params, query }) => {
        const lv = requireVolume(d, params.volumeName!);
        const nameF = queryString(query, "volumeReplicaName");
        const stateF = queryString(query, "state");
        const items = c
          .list("lvr")
          .filter((r) => r.spec?.volumeName === nameOf(lv) && nameMatches(nameOf(r), nameF, true) && exactMatches(r.status?.state, stateF))
          .sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
        return { volumeName: nameOf(lv), volumeReplicas: items };
      },
    },
    {
      method: "GET",
      path: "/cluster/volumes/:volumeName/operations",
      tag: "Volumes",
      summary: "The volume's migrations, conversions and expansions",
      query: { volumeEventName: "operation name filter (substring)", state: "operation state (exact)" },
      returns: "{volumeName, volumeMigrateOperations, VolumeConvertOperations, VolumeExpandOperations}",
      handler: ({ params, query }) => {
        const lv = requireVolume(d, params.volumeName!);
        const nameF = queryString(query, "volumeEventName");
        const stateF = queryString(query, "state");
        const mine = <T extends KubeObject & { spec?: { volumeName?: string }; status?: { state?: string } }>(xs: T[]) =>
          xs.filter((o) => o.spec?.volumeName === nameOf(lv) && nameMatches(nameOf(o), nameF, true) && exactMatches(o.status?.state, stateF));
        return {
          volumeName: nameOf(lv),
          volumeMigrateOperations: mine(c.list("lvmigrate")),
          VolumeConvertOperations: mine(c.list("lvconvert")),
          VolumeExpandOperations: mine(c.list("lvexpand")),
        };
      },
    },
    {
      method: "GET",
      path: "/cluster/volumes/:volumeName/events",
      tag: "Volumes",
      summary: "The volume's records in the operation log",
      list: eventsList as ListSpec<never>,
      returns: "{items: EventAction[], pagination}",
      handler: ({ params, query }) => {
        const lv = requireVolume(d, params.volumeName!);
        return listEvents(d, query, { resourceName: nameOf(lv) });
      },
    },
    listRoute({
      path: "/cluster/volumes/:volumeName/snapshot",
      tag: "Volumes",
      summary: "The volume's snapshots (LocalVolumeSnapshot)",
      list: snapshotsList,
      returns: "{items: LocalVolumeSnapshot[], pagination}",
      items: ({ params }) => {
        const lv = requireVolume(d, params.volumeName!);
        return c.list("lvs").filter((s) => s.spec?.sourceVolume === nameOf(lv));
      },
      matches: snapshotPasses,
    }),
    {
      method: "POST",
      path: "/cluster/volumes/:volumeName/snapshot",
      tag: "Volumes",
      summary: "Take a snapshot (addition: creates a LocalVolumeSnapshot, as the CSI driver's CreateSnapshot does)",
      body: objectSchema({ name: { type: "string", description: "snapshot name (default snapcontent-<uuid>)" } }),
      returns: "{data: {Name, capacityBytes, sourceVolume}}",
      handler: async ({ params, body }) => {
        const lv = requireVolume(d, params.volumeName!);
        const name = (body as { name?: string } | undefined)?.name || `${ObjectNames.SnapContentPrefix}-${randomUUID()}`;
        if (name.length > 253 || !DNS1123.test(name))
          throw badBody("name", `${JSON.stringify(name)} is not a valid resource name (lower-case letters, digits, '-' and '.')`);
        refuseDeleting(lv, "snapshotted");
        if (lv.status?.state !== VolumeStates.Ready)
          throw new HwError(
            "FAILED_PRECONDITION",
            "VolumeNotReady",
            `volume ${nameOf(lv)} is not Ready (state ${lv.status?.state || "new"}); snapshot it when it is`,
          );
        const nodes = replicaNodes(d, lv);
        if (nodes.length !== 1)
          throw new HwError(
            "FAILED_PRECONDITION",
            "HaVolume",
            `volume ${nameOf(lv)} has replicas on ${nodes.join(", ")}: snapshots of HA volumes are not supported (as the original)`,
          );
        if (c.get("lvs", name)) throw new HwError("ALREADY_EXISTS", "SnapshotExists", `snapshot ${name} already exists`, { httpStatus: 409 });
        const bytes = lv.status?.allocatedCapacityBytes || lv.spec?.requiredCapacityBytes || 0;
        await cl.lvs.create({
          metadata: { name },
          spec: { sourceVolume: nameOf(lv), accessibility: { nodes }, requiredCapacityBytes: bytes, delete: false },
        } as never);
        d.log.info({ snapshot: name, volume: nameOf(lv) }, "LocalVolumeSnapshot created");
        return { data: { Name: name, capacityBytes: bytes, sourceVolume: nameOf(lv) } };
      },
    },
    operationRoute("migrate", "lvmigrate", "LocalVolumeMigrate", "migration", ObjectNames.MigratePrefix),
    {
      method: "POST",
      path: "/cluster/volumes/:volumeName/migrate",
      tag: "Volumes",
      summary: "Migrate the volume's replica off srcNode (creates LocalVolumeMigrate migrate-<volume>), or abort it",
      body: objectSchema(
        {
          srcNode: { type: "string", minLength: 1, description: "node holding the replica to move" },
          selectedNode: { type: "string", description: "suggested target node (empty: the controller chooses)" },
          replicaAffinity: { type: "string", enum: ["need", "forbid", ""], description: "default need" },
          abort: { type: "boolean" },
        },
        ["srcNode"],
      ),
      returns: "{data: {volumeName, srcNode, selectedNode, replicaAffinity}}",
      handler: async ({ params, body }) => {
        const lv = requireVolume(d, params.volumeName!);
        const b = body as { srcNode: string; selectedNode?: string; replicaAffinity?: string; abort?: boolean };
        const name = `${ObjectNames.MigratePrefix}${nameOf(lv)}`;
        const affinity = b.replicaAffinity || AnnotationValues.ReplicaAffinityNeed;
        const data = { volumeName: nameOf(lv), srcNode: b.srcNode, selectedNode: b.selectedNode ?? "", replicaAffinity: affinity };
        const cur = c.get("lvmigrate", name);
        if (b.abort) {
          if (!cur) throw notFound(`migration ${name} of volume ${nameOf(lv)}`, "nothing to abort");
          await cl.lvmigrate.patch(name, { spec: { abort: true } });
          return { data };
        }
        refuseDeleting(lv, "migrated");
        const nodes = replicaNodes(d, lv);
        if (!nodes.includes(b.srcNode))
          throw badBody("srcNode", `volume ${nameOf(lv)} has no replica on node ${b.srcNode} (replicas on: ${nodes.join(", ") || "none"})`);
        if (b.selectedNode) {
          if (b.selectedNode === b.srcNode) throw badBody("selectedNode", `the target node must differ from srcNode ${b.srcNode}`);
          if (!c.get("lsn", b.selectedNode)) {
            const others = c
              .list("lsn")
              .map(nameOf)
              .filter((n) => !nodes.includes(n));
            const fix = others.length ? `choose one of ${others.join(", ")}, or leave it empty for the controller to choose` : "add a storage node first";
            throw badBody("selectedNode", `node ${b.selectedNode} is not a storage node (LocalStorageNode): ${fix}`);
          }
          if (nodes.includes(b.selectedNode)) throw badBody("selectedNode", `volume ${nameOf(lv)} already has a replica on node ${b.selectedNode}`);
        }
        await clearFinished(cl.lvmigrate, cur, "migration");
        await cl.lvmigrate.create({
          metadata: { name, annotations: { [Annotations.ReplicaAffinity]: affinity } },
          spec: {
            volumeName: nameOf(lv),
            sourceNode: b.srcNode,
            targetNodesSuggested: b.selectedNode ? [b.selectedNode] : [],
            migrateAllVols: true,
            abort: false,
          },
        } as never);
        d.log.info({ migrate: name, volume: nameOf(lv), from: b.srcNode, to: b.selectedNode }, "LocalVolumeMigrate created");
        return { data };
      },
    },
    operationRoute("convert", "lvconvert", "LocalVolumeConvert", "conversion", ObjectNames.ConvertPrefix),
    {
      method: "POST",
      path: "/cluster/volumes/:volumeName/convert",
      tag: "Volumes",
      summary: "Convert a convertible 1-replica volume to 2 replicas (creates LocalVolumeConvert convert-<volume>), or abort it",
      body: objectSchema({ abort: { type: "boolean" } }),
      returns: "{data: {volumeName, replicaNum}}",
      handler: async ({ params, body }) => {
        const lv = requireVolume(d, params.volumeName!);
        const name = `${ObjectNames.ConvertPrefix}${nameOf(lv)}`;
        const cur = c.get("lvconvert", name);
        if ((body as { abort?: boolean } | undefined)?.abort) {
          if (!cur) throw notFound(`conversion ${name} of volume ${nameOf(lv)}`, "nothing to abort");
          await cl.lvconvert.patch(name, { spec: { abort: true } });
          return { data: { volumeName: nameOf(lv), replicaNum: 2 } };
        }
        refuseDeleting(lv, "converted");
        if (!lv.spec?.convertible)
          throw new HwError("FAILED_PRECONDITION", "Inconvertible", `Inconvertible volume: ${nameOf(lv)} (created with convertible: false)`, {
            hint: 'only volumes of a StorageClass with convertible: "true" can become HA',
          });
        if ((lv.spec?.replicaNumber ?? 1) !== 1)
          throw new HwError("FAILED_PRECONDITION", "AlreadyHA", `volume ${nameOf(lv)} already has ${lv.spec?.replicaNumber} replicas`);
        await clearFinished(cl.lvconvert, cur, "conversion");
        await cl.lvconvert.create({ metadata: { name }, spec: { volumeName: nameOf(lv), replicaNumber: 2, abort: false } } as never);
        d.log.info({ convert: name, volume: nameOf(lv) }, "LocalVolumeConvert created");
        return { data: { volumeName: nameOf(lv), replicaNum: 2 } };
      },
    },
    operationRoute("expand", "lvexpand", "LocalVolumeExpand", "expansion"),
    {
      method: "POST",
      path: "/cluster/volumes/:volumeName/expand",
      tag: "Volumes",
      summary:
        "Grow the volume to targetCapacity: raises its PVC's request when it has one (the resizer follows), else creates the LocalVolumeExpand; or abort it",
      body: objectSchema({ targetCapacity: { type: ["string", "integer"], description: "e.g. 2Gi or bytes" }, abort: { type: "boolean" } }),
      returns: "{data: {volumeName, targetCapacityBytes, via}}",
      handler: async ({ params, body }) => {
        const lv = requireVolume(d, params.volumeName!);
        const b = (body ?? {}) as { targetCapacity?: string | number; abort?: boolean };
        const cur = c.get("lvexpand", nameOf(lv));
        if (b.abort) {
          if (!cur) throw notFound(`expansion of volume ${nameOf(lv)}`, "nothing to abort");
          await cl.lvexpand.patch(nameOf(lv), { spec: { abort: true } });
          return { data: { volumeName: nameOf(lv), targetCapacityBytes: cur.spec?.requiredCapacityBytes ?? 0, via: "LocalVolumeExpand" } };
        }
        const target = roundUpExtent(parseCapacity(b.targetCapacity, "targetCapacity"));
        refuseDeleting(lv, "expanded");
        const have = Math.max(lv.spec?.requiredCapacityBytes ?? 0, lv.status?.allocatedCapacityBytes ?? 0);
        if (target < have)
          throw badBody("targetCapacity", `volume ${nameOf(lv)} has ${formatBytes(have)}; shrinking to ${formatBytes(target)} is not supported`);
        if (target === have) throw badBody("targetCapacity", `volume ${nameOf(lv)} already has ${formatBytes(have)}`);
        if (cur && !TERMINAL.has(cur.status?.state ?? "")) {
          throw new HwError(
            "FAILED_PRECONDITION",
            "OperationUnderWay",
            `volume ${nameOf(lv)} is being expanded to ${formatBytes(cur.spec?.requiredCapacityBytes ?? 0)} already`,
            { hint: "wait for it to finish or abort it" },
          );
        }
        const delta = target - have;
        const pool = lv.spec?.poolName ?? "";
        const short: string[] = [];
        for (const node of replicaNodes(d, lv)) {
          const p = c.get("lsn", node)?.status?.pools?.[pool];
          const free = p?.freeCapacityBytes ?? 0;
          if (free < delta) short.push(`pool ${pool} on node ${node} has ${formatBytes(free)} free, the growth needs ${formatBytes(delta)}`);
        }
        if (short.length)
          throw new HwError("RESOURCE_EXHAUSTED", "PoolCannotGrow", `cannot grow volume ${nameOf(lv)} to ${formatBytes(target)}: ${short.join("; ")}`, {
            hint: "free space in the pool, or expand the pool (POST /cluster/pools/expand)",
            httpStatus: 409,
          });
        // The original raises the PVC request and lets the external-resizer call ControllerExpandVolume.
        const pvcs = d.client.forKind<KubeObject>(PVC);
        const ns = lv.spec?.pvcNamespace;
        const pvcName = lv.spec?.pvcName;
        const pvc = ns && pvcName ? await pvcs.get(pvcName, ns).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e))) : undefined;
        if (pvc) {
          await pvcs.patch(pvcName!, { spec: { resources: { requests: { storage: toBinarySI(target) } } } }, { namespace: ns });
          d.log.info({ volume: nameOf(lv), pvc: `${ns}/${pvcName}`, bytes: target }, "PVC request raised");
          return { data: { volumeName: nameOf(lv), targetCapacityBytes: target, via: "PersistentVolumeClaim" } };
        }
        // No PVC (standalone / dev cluster): the object ControllerExpandVolume itself creates.
        if (cur) await cl.lvexpand.delete(nameOf(lv));
        await cl.lvexpand.create({ metadata: { name: nameOf(lv) }, spec: { volumeName: nameOf(lv), requiredCapacityBytes: target, abort: false } } as never);
        d.log.info({ volume: nameOf(lv), bytes: target }, "LocalVolumeExpand created");
        return { data: { volumeName: nameOf(lv), targetCapacityBytes: target, via: "LocalVolumeExpand" } };
      },
    },
  ];
}
