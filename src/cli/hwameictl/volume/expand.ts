// `hwameictl volume expand NAME --size 2Gi [--no-wait] [--node N --path P]`: what the external-resizer and
// kubelet do — ControllerExpandVolume on the driver's controller socket (it creates the LocalVolumeExpand and
// the pools are checked first), progress from the LocalVolumeExpand and LocalVolume every second on stderr,
// then NodeExpandVolume at --path on --node (the node where it is mounted) to grow the filesystem online.
// --no-wait submits the expansion and returns (the filesystem then grows at the next mount, or run the command
// again with --path). Shrinking, a disk volume, or a size beyond the pools: a precise error, nothing changed.

import { resolve } from "node:path";
import { HwError } from "../../../api/errors.ts";
import { localVolumeExpandKind } from "../../../api/kinds/local-volume-expand.ts";
import { connectCsi } from "../../../csi/client.ts";
import { formatBytes, parseSize } from "../../../api/quantity.ts";
import type { KubeObject } from "../../../kube/types.ts";
import type { View } from "../../print.ts";
import type { Ctl } from "../context.ts";
import { lvRow, mountCapability, requireVolume, withRetry } from "./common.ts";

export interface ExpandFlags {
  size: string;
  wait?: boolean;
  node?: string;
  path?: string;
  csiSocket?: string;
  nodeCsiSocket?: string;
}

type Lve = KubeObject & { status?: { state?: string; message?: string } };

export async function expandVolume(
  ctl: Ctl,
  name: string,
  f: ExpandFlags,
  progress: (line: string) => void = (l) => process.stderr.write(l + "\n"),
): Promise<View> {
  const bytes = parseSize(f.size, "--size");
  if (f.path && !f.node) throw new HwError("INVALID_ARGUMENT", "Invalid", "--path needs --node (the node the volume is mounted on)");
  const v = await requireVolume(ctl, name);
  if (v.driver !== "lvm")
    throw new HwError("FAILED_PRECONDITION", "NotExpandable", `volume ${name} is a whole-disk volume (disk.hwameistor.io); it cannot be expanded`);
  const before = v.row.capacityBytes;
  const lve = ctl.client.forKind<Lve>(localVolumeExpandKind);
  const deadline = Date.now() + (f.wait === false ? 3000 : ctl.timeoutMs);
  const csi = await connectCsi(ctl.controllerSocket("lvm", f.csiSocket), { callTimeoutMs: Math.min(60_000, ctl.timeoutMs) });
  let lastLine = "";
  const timer =
    f.wait === false
      ? undefined
      : setInterval(() => {
          void Promise.all([lve.get(name).catch(() => undefined), ctl.c.lv.get(name).catch(() => undefined)]).then(([e, lv]) => {
            const line = `expanding ${name}: ${formatBytes(lv?.status?.allocatedCapacityBytes ?? before)} → ${formatBytes(bytes)}${e ? ` — ${e.status?.state || "new"}${e.status?.message ? `: ${e.status.message}` : ""}` : ""}`;
            if (line !== lastLine) progress((lastLine = line));
          });
        }, 1000);
  let capacity: number | undefined;
  let nodeExpansion = true;
  try {
    const res = await withRetry(`ControllerExpandVolume ${name}`, deadline, () =>
      csi.call<{ capacity_bytes: string; node_expansion_required: boolean }>(
        "Controller",
        "ControllerExpandVolume",
        { volume_id: name, capacity_range: { required_bytes: String(bytes) } },
        { timeoutMs: Math.max(1000, Math.min(60_000, deadline - Date.now())) },
      ),
    ).catch((e: unknown) => {
      // --no-wait: the expansion is submitted; "still in progress" is the expected answer.
      if (f.wait === false && e instanceof HwError && ["UNAVAILABLE", "DEADLINE_EXCEEDED"].includes(e.code)) return undefined;
      throw e;
    });
    if (res) {
      capacity = Number(res.capacity_bytes);
      nodeExpansion = res.node_expansion_required;
    }
  } finally {
    if (timer) clearInterval(timer);
    csi.close();
  }
  if (capacity === undefined) {
    return {
      text: `expansion of ${name} to ${formatBytes(bytes)} submitted (hwameictl volume get ${name} shows progress)`,
      data: { volume: name, requestedBytes: bytes, submitted: true },
    };
  }
  let fs = "";
  if (f.node && f.path && nodeExpansion) {
    const node = await connectCsi(ctl.nodeSocket(f.node, "lvm", f.nodeCsiSocket), { callTimeoutMs: 60_000 });
    try {
      const fsType = v.row.fsType || "xfs";
      const r = await node.call<{ capacity_bytes: string }>("Node", "NodeExpandVolume", {
        volume_id: name,
        volume_path: resolve(f.path),
        capacity_range: { required_bytes: String(capacity) },
        volume_capability: mountCapability(fsType),
      });
      fs = `; filesystem at ${resolve(f.path)} on ${f.node} grown to ${formatBytes(Number(r.capacity_bytes))}`;
    } finally {
      node.close();
    }
  } else if (v.row.published && nodeExpansion) {
    fs = `; the filesystem grows at the next mount, or now with --node ${v.row.published} --path <mount point>`;
  }
  const after = lvRow((await ctl.c.lv.get(name)) ?? (v.object as never));
  return {
    sections: [
      {
        columns: [
          { header: "NAME", value: (r: typeof after) => r.name },
          { header: "CAPACITY", value: (r: typeof after) => formatBytes(r.capacityBytes) },
          { header: "STATE", value: (r: typeof after) => r.state },
        ],
        rows: [after],
      },
    ],
    text: `volume ${name} expanded from ${formatBytes(before)} to ${formatBytes(capacity)}${fs}`,
    data: { volume: name, capacityBytes: capacity, previousBytes: before, filesystemGrown: !!fs && !!f.path },
  };
}
