// How many watches the API server holds per resource: kube-apiserver's gauge
// apiserver_longrunning_requests{verb="WATCH",group,resource} from its /metrics (the embedded API server
// serves the same series). Tests and the control-plane benchmark use it to check that a process watches each
// kind once.

import type { KubeClient } from "./client.ts";

/** "group/resource" ("" group for core) → open watches, summed over scope/version/subresource labels. */
export async function watchCounts(client: KubeClient, signal?: AbortSignal): Promise<Map<string, number>> {
  const text = await client.transport.requestText({ method: "GET", path: "/metrics", signal });
  return parseWatchCounts(text);
}

export function parseWatchCounts(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_longrunning_requests{")) continue;
    const m = /^apiserver_longrunning_requests\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (labels.verb !== "WATCH" || labels.resource === undefined) continue;
    const k = `${labels.group ?? ""}/${labels.resource}`;
    out.set(k, (out.get(k) ?? 0) + Number(m[2]));
  }
  return out;
}
