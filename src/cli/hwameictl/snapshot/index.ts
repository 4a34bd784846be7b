// `hwameictl snapshot list|create|delete|restore|rollback`.
import type { Command } from "commander";
import type { Ctl } from "../context.ts";
import { registerSnapshotCreate } from "./create.ts";
import { registerSnapshotDelete } from "./delete.ts";
import { registerSnapshotList } from "./list.ts";
import { registerSnapshotRestore } from "./restore.ts";
import { registerSnapshotRollback } from "./rollback.ts";

export function registerSnapshotCommands(snapshot: Command, ctl: () => Ctl): void {
  registerSnapshotList(snapshot, ctl);
  registerSnapshotCreate(snapshot, ctl);
  registerSnapshotDelete(snapshot, ctl);
  registerSnapshotRestore(snapshot, ctl);
  registerSnapshotRollback(snapshot, ctl);
}
