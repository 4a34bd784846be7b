// `hwameictl node enable <node> <true|false>` (reference §9): sets the core Node label lvm.hwameistor.io/enable,
// which the local-storage DaemonSet of the original (and a chart's node selector here) honours. Disabling a node
// that still holds volume replicas or disk volumes is refused, naming them.
import type { Command } from "commander";
import { HwError, invalid } from "../../../api/errors.ts";
import { Labels } from "../../../api/names.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";

export function parseBool(v: string, what: string): boolean {
  if (v === "true") return true;
  if (v === "false") return false;
  throw invalid(`${what} ${JSON.stringify(v)} is not true or false`);
}

export async function enableNode(ctl: Ctl, node: string, enable: boolean): Promise<View> {
  await ctl.requireNode(node);
  if (!enable) {
    const replicas = (await ctl.c.lvr.list()).items.filter((r) => r.spec?.nodeName === node).map((r) => r.spec?.volumeName ?? r.metadata!.name!);
    const diskVolumes = (await ctl.c.ldv.list()).items.filter((v) => (v.spec?.accessibility?.nodes ?? []).includes(node)).map((v) => v.metadata!.name!);
    const held = [...new Set([...replicas, ...diskVolumes])].sort();
    if (held.length) {
      throw new HwError("FAILED_PRECONDITION", "NodeHasVolumes", `node ${node} still holds volumes: ${held.join(", ")}`, {
        hint: "migrate or delete them first (hwameictl volume migrate <vol> " + node + ")",
      });
    }
  }
  const value = String(enable);
  const n = await ctl.c.node.patch(node, { metadata: { labels: { [Labels.LvmEnable]: value } } });
  return {
    sections: [
      {
        columns: [
          { header: "node", value: (r: { node: string }) => r.node },
          { header: Labels.LvmEnable, value: (r: { value: string }) => r.value },
        ],
        rows: [{ node, value }],
      },
    ],
    data: n,
  };
}

export function registerNodeEnable(node: Command, ctl: () => Ctl): void {
  node
    .command("enable <node> <enable>")
    .description("enable (true) or disable (false) local storage on a node: the Node label lvm.hwameistor.io/enable")
    .action(async (name: string, v: string) => {
      const c = ctl();
      c.print(await enableNode(c, name, parseBool(v, "<enable>")));
    });
}
