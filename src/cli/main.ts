// `hwameistor`: the server-side binary (API server, controller, node agent, dev cluster). Each command
// registers itself from its own file; handlers throw HwError and the exit code follows errors.ts.

import { Command } from "commander";
import { exitCodeOf, isHwError } from "../api/errors.ts";
import { registerApiserverCommand } from "./apiserver.ts";
import { registerNodeCommand } from "./node.ts";
import { registerControllerCommand } from "./controller.ts";

export function buildProgram(): Command {
  const program = new Command("hwameistor").description("HwameiStor: Kubernetes-native local storage").showHelpAfterError();
  registerApiserverCommand(program);
  registerNodeCommand(program);
  registerControllerCommand(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    process.stderr.write(`hwameistor: ${isHwError(e) ? e.fullMessage : e instanceof Error ? e.message : String(e)}\n`);
    process.exit(exitCodeOf(e));
  });
