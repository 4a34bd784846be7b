// Start a process inside a cgroup: the argv is prefixed with a tiny sh that moves itself into the cgroup
// (`cgroup.procs`, v1 per-hierarchy directory or v2 unified directory) and then execs the command, so the
// command and every child it forks are in the cgroup from their first instruction. No shell string is built
// from names: the directory and the argv reach sh as positional parameters ("$1", "$@").

import { join } from "node:path";

import { assertAbsolutePath } from "../validate.ts";

const MOVE_SELF_THEN_EXEC = 'echo $$ > "$1" && shift && exec "$@"';

/** The argv that runs `argv` inside the cgroup directory `dir` (pure). */
export function inCgroupArgv(dir: string, argv: string[]): string[] {
  assertAbsolutePath(dir);
  if (!argv.length) throw new Error("inCgroupArgv: empty argv");
  return ["sh", "-c", MOVE_SELF_THEN_EXEC, "sh", join(dir, "cgroup.procs"), ...argv];
}
