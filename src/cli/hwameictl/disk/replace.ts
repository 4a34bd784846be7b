// `hwameictl disk replace NODE OLD NEW`: a LocalDiskAction `replace` (docs/disk-manager.md "Disk replacement") that
// moves the storage pool's data off OLD onto NEW online and then releases OLD; waits and prints the progress
// unless --no-wait. OLD and NEW are device paths or LocalDisk names on NODE. Refused before anything is created
// when either disk is unknown or the same; everything else (the new disk free, empty and large enough, the
// engine able to do it) is judged by the node agent, whose verdict is the action's status and Events.
import type { Command } from "commander";
import { HwError, invalid } from "../../../api/errors.ts";
import { API_VERSION, DiskActions, DiskReplaceStates, Kinds } from "../../../api/names.ts";
import type { Lda } from "../../../kube/hwameistor.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { findDisk } from "./reserve.ts";

export const replaceActionName = (oldDisk: string): string => `replace-${oldDisk}`;

const view = (a: Lda): View => ({
  sections: [
    {
      columns: [
        { header: "action", value: (x: Lda) => x.metadata?.name },
        { header: "node", value: (x: Lda) => x.spec?.replace?.nodeName },
        { header: "state", value: (x: Lda) => x.status?.state || "Pending" },
        { header: "progress", value: (x: Lda) => (x.status?.progressPercent === undefined ? "" : `${x.status.progressPercent}%`) },
        { header: "message", value: (x: Lda) => x.status?.message },
      ],
      rows: [a],
    },
  ],
  data: a,
});

export async function replaceDisk(ctl: Ctl, node: string, oldArg: string, newArg: string, o: { wait: boolean }): Promise<View> {
  const [oldLd, newLd] = [await findDisk(ctl, node, oldArg), await findDisk(ctl, node, newArg)];
  const oldDisk = oldLd.metadata!.name!;
  const newDisk = newLd.metadata!.name!;
  if (oldDisk === newDisk) throw invalid(`${oldArg} and ${newArg} are the same disk (${oldDisk}): name the disk that takes its place`);
  const lda = ctl.c.lda;
  const name = replaceActionName(oldDisk);
  const existing = await lda.get(name);
  if (existing?.status?.state === DiskReplaceStates.Replacing || (existing && !existing.status?.state)) {
    throw new HwError("ALREADY_EXISTS", "ReplaceRunning", `LocalDiskAction ${name} already replaces ${oldDisk} (${existing.status?.message ?? "starting"})`, {
      hint: `follow it: kubectl get localdiskaction ${name} -o yaml`,
    });
  }
  if (existing) await lda.delete(name); // a finished one (Succeeded/Failed): this is a new request
  let a = await lda.create({
    apiVersion: API_VERSION,
    kind: Kinds.LocalDiskAction,
    metadata: { name },
    spec: { action: DiskActions.Replace, replace: { nodeName: node, oldDisk, newDisk } },
  } as Lda);
  if (!o.wait) return view(a);
  const end = Date.now() + ctl.timeoutMs;
  let shown = "";
  while (a.status?.state !== DiskReplaceStates.Succeeded && a.status?.state !== DiskReplaceStates.Failed) {
    if (Date.now() > end) {
      throw new HwError(
        "DEADLINE_EXCEEDED",
        "Timeout",
        `LocalDiskAction ${name} is still ${a.status?.state || "pending"} after ${ctl.timeoutMs / 1000} s (${a.status?.message ?? ""})`,
        {
          hint: `it goes on in the node agent: kubectl get localdiskaction ${name} -o yaml (or a longer --timeout)`,
        },
      );
    }
    const line = a.status?.state ? `${a.status.state} ${a.status.progressPercent ?? 0}%: ${a.status.message ?? ""}` : "";
    if (line && line !== shown) process.stderr.write(`${line}\n`);
    shown = line;
    await new Promise((r) => setTimeout(r, 500));
    a = (await lda.get(name)) ?? a;
  }
  if (a.status?.state === DiskReplaceStates.Failed)
    throw new HwError("FAILED_PRECONDITION", "DiskReplaceFailed", a.status.message ?? `LocalDiskAction ${name} failed`);
  return view(a);
}

export function registerDiskReplace(disk: Command, ctl: () => Ctl): void {
  disk
    .command("replace <node> <old> <new>")
    .description("move a storage pool's data off disk <old> onto the empty disk <new> online, then release <old> (device paths or LocalDisk names)")
    .option("--no-wait", "create the LocalDiskAction and return at once")
    .action(async (node: string, oldDisk: string, newDisk: string, o: { wait: boolean }) => {
      const c = ctl();
      c.print(await replaceDisk(c, node, oldDisk, newDisk, o));
    });
}
