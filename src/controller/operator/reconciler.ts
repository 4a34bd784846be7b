// The operator's reconciler: one key (the Cluster's name). Gathers facts from informers on Cluster,
// LocalDisk, LocalDiskClaim, LocalDiskNode, LocalStorageNode, Node and StorageClass; runs the actions
// states.ts decides; writes Cluster status once, only when it changed. Every action checks what exists
// first, so a crash between an action and the status write re-runs it harmlessly.

import { HwError } from "../../api/errors.ts";
import { clusterKind, type Cluster as ClusterT } from "../../api/kinds/cluster.ts";
import { localDiskClaimKind, type LocalDiskClaim as LdcT } from "../../api/kinds/local-disk-claim.ts";
import { localDiskNodeKind, type LocalDiskNode as LdnT } from "../../api/kinds/local-disk-node.ts";
import { localDiskKind, type LocalDisk as LdT } from "../../api/kinds/local-disk.ts";
import { localStorageNodeKind, type LocalStorageNode as LsnT } from "../../api/kinds/local-storage-node.ts";
import { NodeStates } from "../../api/names.ts";
import type { KubeClient } from "../../kube/client.ts";
import { Controller } from "../../kube/controller.ts";
import { Informer } from "../../kube/informer.ts";
import { NODE } from "../../kube/resources.ts";
import type { KubeObject, Logger } from "../../kube/types.ts";
import { claimsToCreate, disksToReserve, type LocalDisk as ApiDisk } from "./claims.ts";
import { STORAGE_CLASS, type StorageClass } from "../../kube/resources.ts";
import { decidePhase, healthOf, type ComponentFacts } from "./states.ts";
import { desiredStorageClasses } from "./storage-classes.ts";

type Cluster = ClusterT & KubeObject;
type LocalDisk = LdT & KubeObject;
type LocalDiskClaim = LdcT & KubeObject;
type LocalDiskNode = LdnT & KubeObject;
type LocalStorageNode = LsnT & KubeObject;

export interface OperatorOptions {
  client: KubeClient;
  clusterName: string;
  log: Logger;
  resyncMs?: number;
}

type ReadyObj = { metadata?: { name?: string }; status?: { state?: string } };

function component(nodes: KubeObject[], objs: ReadyObj[], kind: string) {
  const names = nodes.map((n) => n.metadata!.name!).sort();
  const pods = names.map((node) => ({
    name: `${kind}-${node}`,
    node,
    status: objs.find((o) => o.metadata?.name === node)?.status?.state === NodeStates.Ready ? "Running" : "Pending",
  }));
  const facts: ComponentFacts = { desired: names.length, available: pods.filter((p) => p.status === "Running").length };
  return {
    facts,
    status: {
      instances: { pods, desiredPodCount: facts.desired, availablePodCount: facts.available, workloadType: "DaemonSet", workloadName: kind },
      health: healthOf(facts),
    },
  };
}

export function startOperatorController(o: OperatorOptions): Controller {
  const c = o.client;
  const resync = o.resyncMs ?? 30_000;
  const inf = <T extends KubeObject>(d: Parameters<KubeClient["forKind"]>[0]) => new Informer<T>(c.forKind<T>(d), { resyncPeriodMs: resync, log: o.log });
  const clusters = inf<Cluster>(clusterKind);
  const disks = inf<LocalDisk>(localDiskKind);
  const claims = inf<LocalDiskClaim>(localDiskClaimKind);
  const ldns = inf<LocalDiskNode>(localDiskNodeKind);
  const lsns = inf<LocalStorageNode>(localStorageNodeKind);
  const nodes = inf<KubeObject>(NODE);
  const scs = inf<StorageClass & KubeObject>(STORAGE_CLASS);
  const clusterC = c.forKind<Cluster>(clusterKind);
  const ldC = c.forKind<LocalDisk>(localDiskKind);
  const ldcC = c.forKind<LocalDiskClaim>(localDiskClaimKind);
  const scC = c.forKind<StorageClass & KubeObject>(STORAGE_CLASS);

  const ctl = new Controller({
    name: "hwameistor-operator",
    log: o.log,
    events: { client: c, component: "hwameistor-operator" },
    reconcile: async (key) => {
      const cluster = clusters.getByName(key);
      if (!cluster) return;
      const nodeList = nodes.list();
      const ldm = component(nodeList, ldns.list(), "hwameistor-local-disk-manager");
      const ls = component(nodeList, lsns.list(), "hwameistor-local-storage");
      const spec = cluster.spec ?? {};
      const decision = decidePhase({ phase: cluster.status?.phase, notClaimDisk: !!spec.notClaimDisk, localDiskManager: ldm.facts });
      for (const a of decision.actions) {
        if (a === "reserveDisks") {
          for (const d of disksToReserve(disks.list() as ApiDisk[], spec.diskReserveConfigurations)) {
            await ldC.patch(d.metadata!.name!, { spec: { reserved: true } });
            o.log.info({ disk: d.metadata!.name, node: d.spec.nodeName }, "reserved disk (diskReserveConfigurations)");
          }
        } else if (a === "createClaims") {
          for (const ldc of claimsToCreate(disks.list() as ApiDisk[], claims.list())) {
            // The informer may lag a claim created by our previous run: ALREADY_EXISTS is that case.
            await ldcC.create(ldc as LocalDiskClaim).catch((e: unknown) => {
              if (!(e instanceof HwError && e.code === "ALREADY_EXISTS")) throw e;
            });
            o.log.info({ claim: ldc.metadata!.name }, "created LocalDiskClaim");
            void ctl.recordEvent(
              cluster,
              "Normal",
              "DiskClaimed",
              `created LocalDiskClaim ${ldc.metadata!.name} for the free ${ldc.spec.description?.diskType} disks of ${ldc.spec.nodeName}`,
            );
          }
        } else if (a === "createStorageClasses") {
          for (const sc of desiredStorageClasses(spec, lsns.list(), ldns.list())) {
            if (scs.getByName(sc.metadata!.name!) || (await scC.get(sc.metadata!.name!))) continue; // never rewritten: SC parameters are immutable
            await scC.create(sc as StorageClass & KubeObject).catch((e: unknown) => {
              if (!(e instanceof HwError && e.code === "ALREADY_EXISTS")) throw e;
            });
            o.log.info({ storageClass: sc.metadata!.name }, "created StorageClass");
            void ctl.recordEvent(
              cluster,
              "Normal",
              "StorageClassCreated",
              `created StorageClass ${sc.metadata!.name} (a ${sc.parameters?.poolClass ?? sc.parameters?.diskType} pool has capacity)`,
            );
          }
        }
      }
      const status = {
        ...(cluster.status ?? {}),
        installedCRDS: true,
        phase: decision.next,
        componentStatus: { ...(cluster.status?.componentStatus ?? {}), localDiskManager: ldm.status, localStorage: ls.status },
      };
      if (JSON.stringify(status) !== JSON.stringify(cluster.status ?? {})) {
        await clusterC.updateStatus({ ...cluster, status });
        if (decision.next !== (cluster.status?.phase ?? ""))
          o.log.info({ cluster: key, from: cluster.status?.phase ?? "", to: decision.next }, "cluster phase");
      }
      // Phases step one at a time (each visible in status); the next step runs at once.
      return decision.next !== (cluster.status?.phase ?? "") ? { requeueAfterMs: 0 } : undefined;
    },
  });
  const toCluster = () => o.clusterName;
  // Only the Cluster it was started for (--cluster-name) is a key: another Cluster object gets no claims, classes
  // or status from it.
  ctl.watch(clusters, (x) => (x.metadata?.name === o.clusterName ? o.clusterName : undefined));
  for (const i of [disks, claims, ldns, lsns, nodes, scs] as Informer<any>[]) ctl.watch(i, toCluster);
  return ctl;
}
