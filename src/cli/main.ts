// `hwameistor`: the server-side binary (API server, controller, node agent, dev cluster, webhook, scheduler
// extender, exporter). The command tree is in program.ts.

import { exitCodeOf, isHwError } from "../api/errors.ts";
import { buildProgram } from "./program.ts";

buildProgram()
  .then((program) => program.parseAsync(process.argv))
  .catch((e: unknown) => {
    process.stderr.write(`hwameistor: ${isHwError(e) ? e.fullMessage : e instanceof Error ? e.message : String(e)}\n`);
    process.exit(exitCodeOf(e));
  });
