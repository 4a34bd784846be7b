// `hwameictl`: a kubectl-like CLI over HwameiStor's resources, and the container orchestrator's part for
// volumes (CSI CreateVolume / ControllerPublish / NodePublish …) — docs/hwameictl.md.
// Commands live in src/cli/hwameictl/<noun>/<verb>.ts; each handler returns a View, print.ts renders it.

import { Command, type CommanderError } from "commander";
import { exitCodeOf, isHwError } from "../../api/errors.ts";
import { Ctl, type GlobalOpts } from "./context.ts";
import { registerClusterInfo } from "./cluster/info.ts";
import { registerDiskList } from "./disk/list.ts";
import { registerDiskReserve } from "./disk/reserve.ts";
import { registerDiskReplace } from "./disk/replace.ts";
import { registerNodeGet } from "./node/get.ts";
import { registerNodeList } from "./node/list.ts";
import { registerPoolList } from "./pool/list.ts";
import { registerSnapshotCommands } from "./snapshot/index.ts";
import { registerVolumeCreate } from "./volume/create.ts";
import { registerVolumeDelete } from "./volume/delete.ts";
import { registerVolumeGet } from "./volume/get.ts";
import { registerVolumeList } from "./volume/list.ts";
import { registerVolumeMount } from "./volume/mount.ts";
import { registerVolumeUnmount } from "./volume/unmount.ts";
import { registerVolumeOperations } from "./volume/operations.ts";
import { registerVolumeRebalance } from "./volume/rebalance.ts";
import { registerNodeEnable } from "./node/enable.ts";
import { registerNodeDrain } from "./node/drain.ts";
import { registerPoolExpand } from "./pool/expand.ts";
import { registerDiskOwner } from "./disk/owner.ts";
import { registerStorageClassCommands } from "./sc/index.ts";
import { registerVscCommands } from "./vsc/index.ts";
import { registerVsCommands } from "./vs/index.ts";
import { registerLvsCommands } from "./lvs/index.ts";
import { registerClusterInstallEvent } from "./cluster/install.ts";
import { registerCompletion } from "./completion.ts";

/**
 * The program. `io` is for tests running commands in-process: where output goes (default stdout) and what a
 * commander usage error does (default: exit 2).
 */
export function buildHwameictl(io: { out?: NodeJS.WritableStream; onUsageError?: (err: CommanderError) => never } = {}): Command {
  const program = new Command("hwameictl")
    .description("HwameiStor CLI: nodes, disks, pools, volumes")
    .option("--kubeconfig <file>", "kubeconfig (default: <state-dir>/kubeconfig of a dev cluster if it exists, else $KUBECONFIG, ~/.kube/config)")
    .option("--state-dir <dir>", "dev cluster state dir: kubeconfig and CSI sockets (default .state/cluster, or $HWAMEISTOR_STATE_DIR)")
    .option("-o, --output <format>", "table|wide|json|yaml", "table")
    .option("--timeout <seconds>", "how long volume operations may take", "120")
    .option("--debug", "print the kubeconfig and API server used to stderr; on failure print the error's causes and stack")
    .showHelpAfterError()
    .exitOverride(
      io.onUsageError ??
        ((err) => {
          // commander's own usage errors (unknown command/option, missing argument) are exit code 2
          process.exit(err.exitCode === 0 ? 0 : 2);
        }),
    );
  const ctl = () => new Ctl(program.opts<GlobalOpts>(), io.out);
  const noun = (name: string, description: string) => program.command(name).description(description);
  const node = noun("node", "storage nodes");
  registerNodeList(node, ctl);
  registerNodeGet(node, ctl);
  registerNodeEnable(node, ctl);
  registerNodeDrain(node, ctl);
  const disk = noun("disk", "local disks");
  registerDiskList(disk, ctl);
  registerDiskReserve(disk, ctl);
  registerDiskReplace(disk, ctl);
  registerDiskOwner(disk, ctl);
  const pool = noun("pool", "storage pools");
  registerPoolList(pool, ctl);
  registerPoolExpand(pool, ctl);
  const volume = noun("volume", "volumes (LocalVolume, LocalDiskVolume)");
  registerVolumeList(volume, ctl);
  registerVolumeGet(volume, ctl);
  registerVolumeCreate(volume, ctl);
  registerVolumeDelete(volume, ctl);
  registerVolumeMount(volume, ctl);
  registerVolumeUnmount(volume, ctl);
  registerVolumeOperations(volume, ctl); // migrate, convert, expand (+ abort, list)
  registerVolumeRebalance(volume, ctl);
  registerSnapshotCommands(noun("snapshot", "volume snapshots (LocalVolumeSnapshot): list, create, delete, restore, rollback"), ctl);
  const cluster = noun("cluster", "the installation");
  registerClusterInfo(cluster, ctl);
  registerClusterInstallEvent(cluster, ctl);
  registerStorageClassCommands(program, ctl);
  registerVscCommands(program, ctl);
  registerVsCommands(program, ctl);
  registerLvsCommands(program, ctl);
  registerCompletion(program, io.out);
  return program;
}

export async function runHwameictl(argv = process.argv): Promise<void> {
  try {
    await buildHwameictl().parseAsync(argv);
    process.exit(0); // keep-alive HTTP agents and gRPC channels would otherwise hold the process
  } catch (e) {
    process.stderr.write(`hwameictl: ${isHwError(e) ? e.fullMessage : e instanceof Error ? e.message : String(e)}\n`);
    if (argv.includes("--debug")) {
      for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) process.stderr.write(`${c instanceof Error ? c.stack : String(c)}\n`);
    }
    process.exit(exitCodeOf(e));
  }
}
