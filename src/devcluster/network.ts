// --netns: one network namespace per node agent, each with a veth into a bridge on the host. The bridge
// has the plan's host address (the API server listens there, so every namespace reaches it); each node
// has its own storage IP. Mounts are not affected: agents enter only the network namespace (nsenter --net).

import { addNetns, deleteLink, deleteNetns, ensureBridge, ensureVeth, listNetns, listRoutes, netnsPath } from "../host/netns/netns.ts";
import { netnsPrefix, type NetworkPlan } from "./layout.ts";

export async function setupNetwork(plan: NetworkPlan): Promise<void> {
  await ensureBridge(plan.bridge, `${plan.hostIp}/${plan.prefixLen}`);
  for (const n of plan.nodes) {
    await addNetns(n.netns);
    await ensureVeth({ hostIf: n.hostIf, nsIf: n.nsIf, netns: n.netns, bridge: plan.bridge, cidr: `${n.ip}/${plan.prefixLen}` });
  }
}

/** Deletes every namespace of this cluster (by prefix, so leftovers of a crashed `up` go too) and the bridge. */
export async function teardownNetwork(stateDir: string, plan: NetworkPlan): Promise<string[]> {
  const removed: string[] = [];
  const prefix = netnsPrefix(stateDir);
  for (const ns of await listNetns()) {
    if (!ns.startsWith(prefix)) continue;
    await deleteNetns(ns);
    removed.push(`netns ${ns}`);
  }
  for (const n of plan.nodes) await deleteLink(n.hostIf); // normally gone with its peer's namespace
  const routes = await listRoutes();
  if (routes.some((r) => r.dev === plan.bridge)) removed.push(`bridge ${plan.bridge}`);
  await deleteLink(plan.bridge);
  return removed;
}

/** The interface that already routes the plan's subnet, if it is not our bridge (preflight). */
export async function subnetTakenBy(plan: NetworkPlan): Promise<string | undefined> {
  const r = (await listRoutes()).find((x) => x.dst === plan.subnet && x.dev !== plan.bridge);
  return r ? (r.dev ?? "another route") : undefined;
}

export { netnsPath };
