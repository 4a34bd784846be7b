// What the supervisor does once the API server answers: register the CRDs of deploy/crds (create, or update
// when the stored one differs) and create the Cluster resource that describes this installation (§1.18;
// created once — a user's later edits are kept).

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { clusterKind } from "../api/kinds/cluster.ts";
import { API_VERSION, Kinds } from "../api/names.ts";
import type { KubeClient } from "../kube/client.ts";
import { CRD } from "../kube/resources.ts";
import type { KubeObject } from "../kube/types.ts";
import { CLUSTER_NAME } from "./layout.ts";
import type { ClusterOptions } from "./options.ts";
import { REPO_ROOT } from "./processes.ts";

export const CRD_DIR = join(REPO_ROOT, "deploy/crds");

export async function applyCrds(client: KubeClient, dir = CRD_DIR): Promise<number> {
  const crds = client.forKind(CRD);
  let n = 0;
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith(".yaml"))
    .sort()) {
    const want = parse(readFileSync(join(dir, f), "utf8")) as KubeObject & { spec: unknown };
    const name = want.metadata!.name!;
    const cur = (await crds.get(name)) as (KubeObject & { spec?: unknown }) | undefined;
    if (!cur) await crds.create(want);
    else if (JSON.stringify(cur.spec) !== JSON.stringify(want.spec)) {
      await crds.update({ ...want, metadata: { ...want.metadata, resourceVersion: cur.metadata?.resourceVersion } });
    }
    n++;
  }
  return n;
}

/** The Cluster resource `up` creates (fields our operator reads; the original's defaults). */
export function clusterResource(o: ClusterOptions): KubeObject & { spec: Record<string, unknown> } {
  return {
    apiVersion: API_VERSION,
    kind: Kinds.Cluster,
    metadata: { name: CLUSTER_NAME },
    spec: {
      targetNamespace: "hwameistor",
      notClaimDisk: o.notClaimDisk,
      storageClass: { allowVolumeExpansion: true, reclaimPolicy: "Retain", fsType: "xfs" },
      localDiskManager: {},
      localStorage: {},
      diskReserveConfigurations: [],
    },
  };
}

export async function ensureClusterResource(client: KubeClient, o: ClusterOptions): Promise<void> {
  const c = client.forKind(clusterKind);
  if (await c.get(CLUSTER_NAME)) return; // created once; later edits belong to the user
  await c.create(clusterResource(o)).catch(async (e) => {
    if (!(await c.get(CLUSTER_NAME))) throw e; // lost a race with a restarted supervisor: fine
  });
}
