// `hwameictl lvs list [--volume] | rollback <snapshot>` (reference §9): LocalVolumeSnapshots — the original's noun
// for what `hwameictl snapshot` manages here (same handlers; `snapshot` also creates, deletes and restores).
import type { Command } from "commander";
import type { Ctl } from "../context.ts";
import { registerSnapshotList } from "../snapshot/list.ts";
import { registerSnapshotRollback } from "../snapshot/rollback.ts";

export function registerLvsCommands(program: Command, ctl: () => Ctl): void {
  const lvs = program.command("lvs").description("LocalVolumeSnapshots: list, rollback (the original's noun; see also `snapshot`)");
  registerSnapshotList(lvs, ctl);
  registerSnapshotRollback(lvs, ctl);
}
